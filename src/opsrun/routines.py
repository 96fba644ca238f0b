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

from opsrun.design.schema import Calendar, OpsDesign, Scope, Step, Tier

log = logging.getLogger(__name__)

StepStatus = Literal["succeeded", "failed", "refused", "skipped"]


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
    finished: datetime | None = None
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat(timespec="milliseconds")
        data["finished"] = self.finished.isoformat(timespec="milliseconds") if self.finished else None
        return data


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


def change_gate(calendar: Calendar, step: Step, now: datetime, *, check: bool, force: str | None) -> Gate:
    """May a step that changes hosts run now? Check-mode runs change nothing and always may."""
    if not step.change or check or step.check_mode:
        return Gate(True)
    freeze = calendar.freeze_at(now)
    if freeze is not None:
        why = f"a change freeze is in force until {freeze.until.isoformat()}"
        if freeze.reason:
            why += f" ({freeze.reason})"
    elif not calendar.in_window(now):
        local = calendar.local(now)
        why = f"{local.strftime('%Y-%m-%d %H:%M %Z')} is outside every maintenance window"
    else:
        return Gate(True)
    if force:
        return Gate(True, why, forced=force)
    return Gate(False, why)


def first_tier(design: OpsDesign) -> Tier | None:
    return design.escalation[0] if design.escalation else None


def notify_tier(design: OpsDesign, tier: Tier, title: str, body: str) -> list[str]:
    """Send TITLE/BODY to every notification URL of the tier's contacts; returns what failed,
    each named by the contact and the URL's scheme only (the rest of a URL holds its token)."""
    import apprise  # noqa: PLC0415 - only escalations pay for it

    failed = []
    for name in tier.contacts:
        contact = design.contacts.get(name)
        if contact is None:
            failed.append(f"{name}: no such contact")
            continue
        for url, shown in zip(contact.notify, contact.redacted_notify(), strict=True):
            sender = apprise.Apprise()
            if not sender.add(url) or not sender.notify(title=title, body=body):
                failed.append(f"{name}: {shown}")
    return failed
