"""Routines of the operations design: their steps, run one after another behind two gates.

Every step passes the contract-scope gate (its hosts must all be in `scope`) and, when it changes
hosts, the change gate (inside a maintenance window and outside any freeze, unless forced with a
reason, which is recorded). A step that fails does what its `on_failure` says: stop the routine,
continue with the next step, or escalate to the first tier and go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from opsrun.design.schema import WEEKDAYS, Calendar, Routine, Scope, Step

log = logging.getLogger(__name__)

StepStatus = Literal["succeeded", "failed", "refused", "skipped", "busy", "paused"]


@dataclass(frozen=True)
class Gate:
    """Whether a step may run, and why not (or why it runs although it should not: forced)."""

    allowed: bool
    reason: str = ""
    forced: str | None = None


@dataclass(frozen=True)
class StepOutcome:
    index: int
    title: str
    playbook: str
    status: StepStatus
    exit_code: int
    limit: str | None = None
    run_id: str | None = None
    reason: str = ""
    forced: str | None = None
    escalated_to: str | None = None


@dataclass
class RoutineRecord:
    """The record of one routine run, kept as routines/<id>.json beside the step runs."""

    routine_id: str
    routine: str
    ops_file: str
    started: datetime
    check: bool
    steps: list[StepOutcome] = field(default_factory=list)
    # Incidents the steps' findings opened or were seen again on: id, host, check, item, runbook, new.
    incidents: list[dict[str, Any]] = field(default_factory=list)
    # The first response to new incidents: incident, runbook, phase, step, run id, status, outcome.
    responses: list[dict[str, Any]] = field(default_factory=list)
    finished: datetime | None = None
    exit_code: int = 0
    started_by: str = "opsrun"
    status: str = "running"
    # Why a scheduled run did nothing: a holiday, a freeze.
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat(timespec="milliseconds")
        data["finished"] = self.finished.isoformat(timespec="milliseconds") if self.finished else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutineRecord:
        """A record as to_dict() wrote it (the run store keeps it so, for a paused run to resume)."""
        fields = dict(data)
        fields["started"] = datetime.fromisoformat(data["started"])
        fields["finished"] = datetime.fromisoformat(data["finished"]) if data.get("finished") else None
        fields["steps"] = [StepOutcome(**step) for step in data.get("steps", [])]
        return cls(**fields)


class ScopeResolver:
    """Resolves host patterns with Ansible's own inventory code, so `web:&prod:!db` means what it
    means to ansible-playbook."""

    def __init__(self, sources: Sequence[str]) -> None:
        # Imported here: the inventory code costs half a second, which only routines pay.
        from ansible.inventory.manager import InventoryManager  # type: ignore[import-untyped]  # noqa: PLC0415
        from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]  # noqa: PLC0415

        self._inventory = InventoryManager(loader=DataLoader(), sources=list(sources))

    def hosts(self, pattern: str) -> set[str]:
        return {host.name for host in self._inventory.get_hosts(pattern)}


def scope_gate(scope: Scope, step: Step, hosts: Callable[[str], set[str]]) -> tuple[Gate, str]:
    """May `step` run within the contract scope? Returns the gate and the --limit to run it with."""
    pattern = scope.host_pattern()
    in_scope = hosts(pattern)
    if not in_scope:
        return Gate(False, f"no host of the inventory is in the contract scope ({pattern})"), pattern
    if step.limit is None:
        return Gate(True), pattern
    wanted = hosts(step.limit)
    if not wanted:
        return Gate(False, f"the limit {step.limit!r} matches no host of the inventory"), step.limit
    outside = sorted(wanted - in_scope)
    if outside:
        return (
            Gate(
                False,
                f"{len(outside)} host(s) of the limit {step.limit!r} are outside the contract scope "
                f"({pattern}): {', '.join(outside)}",
            ),
            step.limit,
        )
    return Gate(True), step.limit


def schedule_gate(calendar: Calendar, routine: Routine, now: datetime) -> Gate:
    """May a scheduled run of ROUTINE go ahead now? The calendar is applied when the timer fires:
    a routine kept to business days skips holidays and weekends; one that changes hosts skips a
    freeze and the time outside the maintenance windows (a person can still run it with --force)."""
    local = calendar.local(now)
    day = local.date()
    if routine.business_days_only:
        if calendar.is_holiday(day):
            return Gate(False, f"{day.isoformat()} is a holiday")
        if WEEKDAYS[local.weekday()] not in calendar.business_hours.days:
            return Gate(False, f"{day.isoformat()} ({WEEKDAYS[local.weekday()]}) is not a business day")
    blocked = change_blocked(calendar, now) if routine.changes_hosts else None
    return Gate(False, blocked) if blocked else Gate(True)


def change_blocked(calendar: Calendar, now: datetime) -> str | None:
    """Why no change may be made at `now` (a freeze, no maintenance window), or None."""
    freeze = calendar.freeze_at(now)
    if freeze is not None:
        why = f"a change freeze is in force until {freeze.until.isoformat()}"
        return f"{why} ({freeze.reason})" if freeze.reason else why
    if not calendar.in_window(now):
        return f"{calendar.local(now).strftime('%Y-%m-%d %H:%M %Z')} is outside every maintenance window"
    return None


def change_gate(calendar: Calendar, step: Step, now: datetime, *, check: bool, force: str | None) -> Gate:
    """May a step that changes hosts run now? Check-mode runs change nothing and always may."""
    if not step.change or check or step.check_mode:
        return Gate(True)
    why = change_blocked(calendar, now)
    if why is None:
        return Gate(True)
    if force:
        return Gate(True, why, forced=force)
    return Gate(False, why)
