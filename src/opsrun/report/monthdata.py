"""What the run store holds for one calendar month: its runs, their findings, and its incidents.

The month is taken in one time zone (the calendar's of ops.yml, else UTC): it starts at local
midnight of its first day and ends at local midnight of the first day of the next month. A run
belongs to the month it started in. Incidents belong to a month when they were open during some
part of it; of their timelines only what happened before the month's end counts, so that a
report of a past month reads the same whenever it is made.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from opsrun.collection import short_name
from opsrun.errors import ExitCode, OpsrunError
from opsrun.incidents import Approval, Event, Incident, State
from opsrun.store import Store, parse_time, time_text

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month in a time zone: [start, end)."""

    month: str
    zone: ZoneInfo
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def days(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=offset) for offset in range((self.end.date() - first).days)]


def parse_month(text: str, zone: ZoneInfo) -> Period:
    """The month YYYY-MM in `zone`; an OpsrunError names what is wrong with the text."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise OpsrunError(
            f"--month {text!r} is not a month",
            hint="give the month as YYYY-MM, e.g. --month 2026-11",
            exit_code=ExitCode.USAGE,
        )
    year, month = int(match.group(1)), int(match.group(2))
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(*following, 1, tzinfo=zone)
    return Period(month=f"{year:04d}-{month:02d}", zone=zone, start=start, end=end)


def playbook_name(playbook: str) -> str:
    """A run's playbook as the collection names it: opsrun.ops.patching and dir/patching.yml -> patching."""
    name = short_name(playbook)
    return PurePosixPath(name).stem if name.endswith((".yml", ".yaml")) else name


@dataclass(frozen=True)
class HostCounts:
    ok: int
    changed: int
    failed: int
    unreachable: int


@dataclass(frozen=True)
class Run:
    id: str
    playbook: str
    routine: str | None
    step: str | None
    started: datetime
    status: str
    exit_code: int | None
    hosts: dict[str, HostCounts]
    check_mode: bool
    published: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    run_id: str
    at: datetime
    host: str
    check: str
    item: str
    status: str
    value: Any
    message: str


@dataclass(frozen=True)
class IncidentRecord:
    """An incident with its timeline and approvals as they stood at the end of the period."""

    incident: Incident
    events: list[Event]
    approvals: list[Approval]

    def first(self, *, kind: str | None = None, to_states: tuple[State, ...] = ()) -> Event | None:
        """The first event of `kind`, or the first that led to one of `to_states`."""
        for event in self.events:
            if (kind is not None and event.kind == kind) or (
                to_states and event.to_state in to_states and event.from_state is not event.to_state
            ):
                return event
        return None

    @property
    def state(self) -> State:
        return self.events[-1].to_state if self.events else self.incident.state


@dataclass(frozen=True)
class StepApproval:
    """A step of a routine run that waited at an approval gate and was approved."""

    routine_run_id: str
    step: str
    requested_by: str
    approved_by: str
    approver_tier: str
    approved_at: datetime


@dataclass(frozen=True)
class MonthData:
    period: Period
    runs: list[Run]
    findings: list[Finding]
    incidents: list[IncidentRecord]
    approvals: list[Approval]
    step_approvals: list[StepApproval] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.runs or self.incidents or self.approvals or self.step_approvals)


def _counts(raw: Any) -> HostCounts:
    counts = raw if isinstance(raw, dict) else {}
    return HostCounts(
        ok=int(counts.get("ok", 0)),
        changed=int(counts.get("changed", 0)),
        failed=int(counts.get("failed", 0)),
        unreachable=int(counts.get("unreachable", 0)),
    )


def _json(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _runs(rows: list[Any]) -> Iterator[Run]:
    for row in rows:
        hosts = _json(row["hosts"], {})
        published = _json(row["published"], {})
        yield Run(
            id=row["id"],
            playbook=playbook_name(row["playbook"]),
            routine=row["routine"],
            step=row["step"],
            started=parse_time(row["started"]),
            status=row["status"],
            exit_code=row["exit_code"],
            hosts={str(host): _counts(counts) for host, counts in hosts.items()}
            if isinstance(hosts, dict)
            else {},
            check_mode=bool(row["check_mode"]),
            published=published if isinstance(published, dict) else {},
        )


def read_month(store: Store, period: Period) -> MonthData:
    """Everything the report of `period` needs, read in one snapshot of the store."""
    start, end = time_text(period.start), time_text(period.end)
    with store.read() as connection:
        run_rows = connection.execute(
            "SELECT * FROM runs WHERE started >= ? AND started < ? ORDER BY started, id", (start, end)
        ).fetchall()
        finding_rows = connection.execute(
            """
            SELECT findings.*, runs.started FROM findings JOIN runs ON runs.id = findings.run_id
            WHERE runs.started >= ? AND runs.started < ? ORDER BY runs.started, findings.id
            """,
            (start, end),
        ).fetchall()
        # Open during the period: opened before its end and not resolved before its start.
        incident_rows = connection.execute(
            """
            SELECT * FROM incidents WHERE opened < ? AND id NOT IN (
                SELECT incident_id FROM incident_events WHERE to_state = 'resolved' AND at < ?
            ) ORDER BY opened, id
            """,
            (end, start),
        ).fetchall()
        event_rows = connection.execute(
            "SELECT * FROM incident_events WHERE at < ? ORDER BY incident_id, id", (end,)
        ).fetchall()
        approval_rows = connection.execute(
            "SELECT * FROM approvals WHERE approved_at < ? ORDER BY approved_at, id", (end,)
        ).fetchall()
        gate_rows = connection.execute(
            """
            SELECT * FROM gates WHERE state = 'approved' AND approved_at >= ? AND approved_at < ?
            ORDER BY approved_at, id
            """,
            (start, end),
        ).fetchall()
    events: dict[int, list[Event]] = {}
    for row in event_rows:
        events.setdefault(row["incident_id"], []).append(Event.from_row(row))
    approvals = [Approval.from_row(row) for row in approval_rows]
    incidents = [
        IncidentRecord(
            Incident.from_row(row),
            events.get(row["id"], []),
            [approval for approval in approvals if approval.incident_id == row["id"]],
        )
        for row in incident_rows
    ]
    findings = [
        Finding(
            run_id=row["run_id"],
            at=parse_time(row["started"]),
            host=row["host"],
            check=row["check_name"],
            item=row["item"],
            status=row["status"],
            value=_json(row["value"], None),
            message=row["message"],
        )
        for row in finding_rows
    ]
    return MonthData(
        period=period,
        runs=list(_runs(run_rows)),
        findings=findings,
        incidents=incidents,
        approvals=[approval for approval in approvals if period.contains(approval.approved_at)],
        step_approvals=[
            StepApproval(
                routine_run_id=row["routine_run_id"],
                step=row["step"],
                requested_by=row["requested_by"],
                approved_by=row["approved_by"],
                approver_tier=row["approver_tier"],
                approved_at=parse_time(row["approved_at"]),
            )
            for row in gate_rows
        ],
    )
