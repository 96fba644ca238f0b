"""`opsrun history` and `opsrun show RUN_ID`: the runs the run store keeps, and one run in detail.

The history lists routine runs and the playbook runs that are not steps of a routine, newest first.
`show` takes the id of either kind of run, or a prefix of it that names one run only. Both read the
store alone: a run whose directory was rotated away is still there, as its summary.

The module's imports stay light (the parsers are built for every command); the run store and rich
are imported by the functions that use them.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opsrun.collection import COLLECTION_PREFIX, short_name
from opsrun.errors import OpsrunError
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.state import RUNS_DIR_NAME

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

HISTORY_COMMAND = "history"
SHOW_COMMAND = "show"
DEFAULT_LIMIT = 20
# Statuses of playbook runs (ansible-runner's, and interrupted) and of routine runs.
STATUSES = (
    "running",
    "successful",
    "succeeded",
    "failed",
    "paused",
    "interrupted",
    "skipped",
    "canceled",
    "timeout",
    "error",
)
# A playbook run is "successful" (ansible-runner's word), a routine run "succeeded": one filter.
_SAME_STATUS = {"successful": ("successful", "succeeded"), "succeeded": ("successful", "succeeded")}
STATUS_STYLE = {
    "successful": "green",
    "succeeded": "green",
    "running": "yellow",
    "paused": "yellow",
    "skipped": "dim",
}
THRESHOLD_ORDER = {"warn": 0, "crit": 1}
FINDING_STYLE = {"crit": "bold red", "unknown": "magenta", "warn": "yellow"}
AMBIGUOUS_SHOWN = 5
ROTATED = "rotated away; the store keeps the summary"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class AddGlobalOptions(Protocol):
    """cli.py's function that adds --output, --state-dir and -v to a parser."""

    def __call__(self, parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None: ...


# ---------------------------------------------------------------------------------------------
# What the store holds, read into plain values


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _seconds(started: datetime, finished: datetime | None) -> float | None:
    return None if finished is None else round((finished - started).total_seconds(), 3)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class HostSummary:
    """How many hosts a run touched, and how many of them failed a task or could not be reached."""

    count: int
    failed: int
    unreachable: int

    @classmethod
    def of(cls, per_run_hosts: Iterable[Mapping[str, Mapping[str, int]]]) -> HostSummary:
        seen: set[str] = set()
        failed: set[str] = set()
        unreachable: set[str] = set()
        for hosts in per_run_hosts:
            for host, counts in hosts.items():
                seen.add(host)
                if counts.get("failed"):
                    failed.add(host)
                if counts.get("unreachable"):
                    unreachable.add(host)
        return cls(len(seen), len(failed), len(unreachable))

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "failed": self.failed, "unreachable": self.unreachable}

    def text(self) -> str:
        troubles = [
            f"{number} {what}"
            for number, what in ((self.failed, "failed"), (self.unreachable, "unreachable"))
            if number
        ]
        return f"{self.count} ({', '.join(troubles)})" if troubles else str(self.count)


@dataclass(frozen=True)
class HistoryRow:
    """One line of the history: a routine run or a playbook run of its own."""

    id: str
    kind: str
    what: str
    started: datetime
    finished: datetime | None
    status: str
    exit_code: int | None
    check: bool
    hosts: HostSummary
    findings_not_ok: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "what": self.what,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "duration_seconds": _seconds(self.started, self.finished),
            "status": self.status,
            "exit_code": self.exit_code,
            "check": self.check,
            "hosts": self.hosts.to_dict(),
            "findings_not_ok": self.findings_not_ok,
        }


@dataclass(frozen=True)
class HistoryFilter:
    """What `opsrun history` selects; None selects everything."""

    routine: str | None = None
    playbook: str | None = None
    status: str | None = None
    # UTC text as the store keeps times (store.time_text), compared as text.
    since: str | None = None


def playbook_names(name: str) -> tuple[str, str]:
    """The names a collection playbook may be stored under: `ping` and `opsrun.ops.ping`."""
    short = short_name(name)
    return short, f"{COLLECTION_PREFIX}{short}"


def _where(selection: HistoryFilter, table: str) -> tuple[str, list[Any]]:
    """The conditions on `routine_runs rr` or `runs r` (`table` is the alias) and their parameters."""
    clauses: list[str] = []
    parameters: list[Any] = []
    if selection.routine is not None:
        clauses.append(f"{table}.routine = ?")
        parameters.append(selection.routine)
    if selection.playbook is not None:
        if table == "rr":
            # A routine run is selected when one of its steps ran the playbook.
            clauses.append(
                "EXISTS (SELECT 1 FROM runs s WHERE s.routine_run_id = rr.id AND s.playbook IN (?, ?))"
            )
        else:
            clauses.append("r.playbook IN (?, ?)")
        parameters.extend(playbook_names(selection.playbook))
    if selection.status is not None:
        statuses = _SAME_STATUS.get(selection.status, (selection.status,))
        clauses.append(f"{table}.status IN ({', '.join('?' * len(statuses))})")
        parameters.extend(statuses)
    if selection.since is not None:
        clauses.append(f"{table}.started >= ?")
        parameters.append(selection.since)
    return " AND ".join(clauses) or "1", parameters


def _hosts(text: str) -> dict[str, dict[str, int]]:
    hosts = json.loads(text)
    return hosts if isinstance(hosts, dict) else {}


def history_rows(connection: sqlite3.Connection, selection: HistoryFilter, limit: int) -> list[HistoryRow]:
    """The newest `limit` routine runs and playbook runs of their own that `selection` takes.

    A playbook run whose routine run is not in the store (recorded before routine runs were) is
    listed as a run of its own, so that nothing the store holds is out of sight.
    """
    routine_where, routine_parameters = _where(selection, "rr")
    run_where, run_parameters = _where(selection, "r")
    rows = connection.execute(
        f"""
        SELECT 'routine' AS kind, rr.id, rr.routine AS what, rr.started, rr.finished, rr.status,
            rr.exit_code, rr.check_mode, NULL AS hosts,
            (SELECT COUNT(*) FROM findings f JOIN runs s ON s.id = f.run_id
             WHERE s.routine_run_id = rr.id AND f.status != 'ok') AS not_ok
        FROM routine_runs rr WHERE {routine_where}
        UNION ALL
        SELECT 'playbook', r.id, r.playbook, r.started, r.finished, r.status, r.exit_code, r.check_mode,
            r.hosts, (SELECT COUNT(*) FROM findings f WHERE f.run_id = r.id AND f.status != 'ok')
        FROM runs r LEFT JOIN routine_runs parent ON parent.id = r.routine_run_id
        WHERE parent.id IS NULL AND {run_where}
        ORDER BY started DESC, id DESC
        LIMIT ?
        """,  # noqa: S608 - only the fixed clauses of _where are formatted in; values are parameters
        (*routine_parameters, *run_parameters, limit),
    ).fetchall()
    history = []
    for row in rows:
        if row["kind"] == "routine":
            step_hosts = connection.execute(
                "SELECT hosts FROM runs WHERE routine_run_id = ?", (row["id"],)
            ).fetchall()
            hosts = HostSummary.of(_hosts(step["hosts"]) for step in step_hosts)
        else:
            hosts = HostSummary.of([_hosts(row["hosts"])])
        started = datetime.fromisoformat(row["started"])
        history.append(
            HistoryRow(
                id=row["id"],
                kind=row["kind"],
                what=row["what"],
                started=started,
                finished=_time(row["finished"]),
                status=row["status"],
                exit_code=row["exit_code"],
                check=bool(row["check_mode"]),
                hosts=hosts,
                findings_not_ok=row["not_ok"],
            )
        )
    return history


def find_run(connection: sqlite3.Connection, wanted: str, store_path: Path) -> tuple[str, str]:
    """(kind, id) of the run whose id is `wanted`, or the only one whose id starts with it."""
    if not wanted.strip():
        raise OpsrunError(
            "opsrun show: the run id is empty", hint="give a run id; 'opsrun history' lists them"
        )
    query = """
        SELECT 'routine' AS kind, id FROM routine_runs WHERE substr(id, 1, ?) = ?
        UNION ALL
        SELECT 'playbook', id FROM runs WHERE substr(id, 1, ?) = ?
        ORDER BY id
        """
    found = connection.execute(query, (len(wanted), wanted) * 2).fetchall()
    exact = [row for row in found if row["id"] == wanted]
    if exact or len(found) == 1:
        row = (exact or found)[0]
        return row["kind"], row["id"]
    if not found:
        raise OpsrunError(
            f"there is no run {wanted!r} in the run store {store_path}",
            hint="see the runs and their ids with 'opsrun history'",
        )
    shown = ", ".join(row["id"] for row in found[:AMBIGUOUS_SHOWN])
    more = f" and {len(found) - AMBIGUOUS_SHOWN} more" if len(found) > AMBIGUOUS_SHOWN else ""
    raise OpsrunError(
        f"{len(found)} runs have an id starting with {wanted!r}: {shown}{more}",
        hint="give more of the id; 'opsrun history' lists the runs",
    )


@dataclass(frozen=True)
class RunDetail:
    """A playbook run as the store keeps it, with where its artifacts are (or were)."""

    id: str
    playbook: str
    routine: str | None
    step: str | None
    routine_run_id: str | None
    started: datetime
    finished: datetime | None
    status: str
    exit_code: int | None
    check: bool
    hosts: dict[str, dict[str, int]]
    published: dict[str, Any]
    run_dir: Path
    findings: list[dict[str, Any]]
    incidents: list[dict[str, Any]]

    @property
    def kept(self) -> bool:
        return self.run_dir.is_dir()

    @property
    def host_summary(self) -> HostSummary:
        return HostSummary.of([self.hosts])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "playbook",
            "playbook": self.playbook,
            "routine": self.routine,
            "step": self.step,
            "routine_run_id": self.routine_run_id,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "duration_seconds": _seconds(self.started, self.finished),
            "status": self.status,
            "exit_code": self.exit_code,
            "check": self.check,
            "hosts": self.hosts,
            "host_summary": self.host_summary.to_dict(),
            "findings_not_ok": self.findings,
            "incidents": self.incidents,
            "published": self.published,
            "artifacts": {"run_dir": str(self.run_dir), "kept": self.kept},
        }


# Worst first, as the run summary lists them.
_FINDINGS_NOT_OK = """
    SELECT host, check_name, item, status, value, threshold, message FROM findings
    WHERE run_id = ? AND status != 'ok'
    ORDER BY CASE status WHEN 'crit' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END, host, check_name, item, id
    """


def _decoded(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _incident(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "host": row["host"],
        "check": row["check_name"],
        "item": row["item"],
        "state": row["state"],
        "tier": row["tier"],
        "runbook": row["runbook"],
        "run_id": row["run_id"],
    }


def run_detail(connection: sqlite3.Connection, run_id: str, state_dir: Path) -> RunDetail:
    row = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    findings = [
        {
            "host": finding["host"],
            "check": finding["check_name"],
            "item": finding["item"],
            "status": finding["status"],
            "value": _decoded(finding["value"]),
            "threshold": _decoded(finding["threshold"]),
            "message": finding["message"],
        }
        for finding in connection.execute(_FINDINGS_NOT_OK, (run_id,))
    ]
    incidents = [
        _incident(incident)
        for incident in connection.execute("SELECT * FROM incidents WHERE run_id = ? ORDER BY id", (run_id,))
    ]
    return RunDetail(
        id=row["id"],
        playbook=row["playbook"],
        routine=row["routine"],
        step=row["step"],
        routine_run_id=row["routine_run_id"],
        started=datetime.fromisoformat(row["started"]),
        finished=_time(row["finished"]),
        status=row["status"],
        exit_code=row["exit_code"],
        check=bool(row["check_mode"]),
        hosts=_hosts(row["hosts"]),
        published=json.loads(row["published"]),
        run_dir=state_dir / RUNS_DIR_NAME / row["id"],
        findings=findings,
        incidents=incidents,
    )


@dataclass(frozen=True)
class StepDetail:
    """A step of a routine run: what its record says, and its playbook run when it ran one."""

    index: int | None
    title: str
    playbook: str
    status: str
    exit_code: int | None
    limit: str | None
    reason: str
    forced: str | None
    escalated_to: str | None
    run: RunDetail | None

    @property
    def note(self) -> str:
        """Why the step was refused or failed, that it was forced, whom it escalated to."""
        note = f"forced ({self.forced}): {self.reason}" if self.forced else self.reason
        if self.escalated_to:
            note = f"{note}; escalated to {self.escalated_to}".lstrip("; ")
        return note

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "title": self.title,
            "playbook": self.playbook,
            "status": self.status,
            "exit_code": self.exit_code,
            "limit": self.limit,
            "reason": self.reason,
            "forced": self.forced,
            "escalated_to": self.escalated_to,
            "run": None if self.run is None else self.run.to_dict(),
        }


@dataclass(frozen=True)
class ResponseDetail:
    """A playbook run of the first response to an incident: diagnose, first_response or verify."""

    incident: int | None
    runbook: str
    phase: str
    title: str
    status: str
    reason: str
    run: RunDetail | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "runbook": self.runbook,
            "phase": self.phase,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "run": None if self.run is None else self.run.to_dict(),
        }


@dataclass(frozen=True)
class RoutineRunDetail:
    """A routine run as the store keeps it: its steps and their runs, the first responses to the
    incidents they opened, its approval gates, incidents and notifications."""

    id: str
    routine: str
    ops_file: str
    started: datetime
    finished: datetime | None
    status: str
    exit_code: int | None
    check: bool
    started_by: str
    # Why a scheduled run did nothing (a holiday, a freeze); empty otherwise.
    skipped: str
    steps: list[StepDetail]
    responses: list[ResponseDetail]
    gates: list[dict[str, Any]]
    notifications: list[dict[str, Any]]

    @property
    def runs(self) -> list[RunDetail]:
        parts: list[StepDetail | ResponseDetail] = [*self.steps, *self.responses]
        return [part.run for part in parts if part.run is not None]

    @property
    def host_summary(self) -> HostSummary:
        return HostSummary.of(run.hosts for run in self.runs)

    @property
    def incidents(self) -> list[dict[str, Any]]:
        """The incidents its runs opened."""
        opened = [incident for run in self.runs for incident in run.incidents]
        return sorted(opened, key=lambda incident: int(incident["id"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "routine",
            "routine": self.routine,
            "ops_file": self.ops_file,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "duration_seconds": _seconds(self.started, self.finished),
            "status": self.status,
            "exit_code": self.exit_code,
            "check": self.check,
            "started_by": self.started_by,
            "skipped": self.skipped,
            "host_summary": self.host_summary.to_dict(),
            "steps": [step.to_dict() for step in self.steps],
            "responses": [response.to_dict() for response in self.responses],
            "gates": self.gates,
            "incidents": self.incidents,
            "notifications": self.notifications,
        }


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _optional_text(value: object) -> str | None:
    return str(value) if value else None


def routine_run_detail(
    connection: sqlite3.Connection, routine_run_id: str, state_dir: Path
) -> RoutineRunDetail:
    row = connection.execute("SELECT * FROM routine_runs WHERE id = ?", (routine_run_id,)).fetchone()
    runs = {
        run["id"]: run_detail(connection, run["id"], state_dir)
        for run in connection.execute(
            "SELECT id FROM runs WHERE routine_run_id = ? ORDER BY started, id", (routine_run_id,)
        )
    }
    record = json.loads(row["record"])
    steps = []
    for step in record.get("steps") or []:
        run_id = step.get("run_id")
        steps.append(
            StepDetail(
                index=_optional_int(step.get("index")),
                title=str(step.get("title") or ""),
                playbook=str(step.get("playbook") or ""),
                status=str(step.get("status") or ""),
                exit_code=_optional_int(step.get("exit_code")),
                limit=_optional_text(step.get("limit")),
                reason=str(step.get("reason") or ""),
                forced=_optional_text(step.get("forced")),
                escalated_to=_optional_text(step.get("escalated_to")),
                run=runs.pop(run_id, None) if run_id else None,
            )
        )
    responses = [
        ResponseDetail(
            incident=_optional_int(response.get("incident")),
            runbook=str(response.get("runbook") or ""),
            phase=str(response.get("phase") or ""),
            title=str(response.get("step") or ""),
            status=str(response.get("status") or ""),
            reason=str(response.get("reason") or ""),
            run=runs.pop(response["run_id"], None) if response.get("run_id") else None,
        )
        for response in record.get("responses") or []
    ]
    # Runs the record does not name yet: the steps of a routine run still going, or cut short.
    for run in runs.values():
        steps.append(
            StepDetail(
                index=None,
                title=run.step or "",
                playbook=run.playbook,
                status=run.status,
                exit_code=run.exit_code,
                limit=None,
                reason="",
                forced=None,
                escalated_to=None,
                run=run,
            )
        )
    gates = [
        dict(gate)
        for gate in connection.execute(
            """
            SELECT step_index, step, state, requested, requested_by, expires, approved_by, approver_tier,
                approved_at
            FROM gates WHERE routine_run_id = ? ORDER BY step_index
            """,
            (routine_run_id,),
        )
    ]
    notifications = [
        dict(notification) | {"delivered": bool(notification["delivered"])}
        for notification in connection.execute(
            """
            SELECT at, incident_id, tier, contact, channel, delivered, title FROM notifications
            WHERE routine_run_id = ? ORDER BY id
            """,
            (routine_run_id,),
        )
    ]
    return RoutineRunDetail(
        id=row["id"],
        routine=row["routine"],
        ops_file=row["ops_file"],
        started=datetime.fromisoformat(row["started"]),
        finished=_time(row["finished"]),
        status=row["status"],
        exit_code=row["exit_code"],
        check=bool(row["check_mode"]),
        started_by=row["started_by"],
        skipped=str(record.get("skipped") or ""),
        steps=steps,
        responses=responses,
        gates=gates,
        notifications=notifications,
    )


# ---------------------------------------------------------------------------------------------
# Human output


def local_time(moment: datetime | None) -> str:
    """A stored (UTC) moment in this machine's time zone."""
    return "" if moment is None else moment.astimezone().strftime(TIME_FORMAT)


def duration_text(started: datetime, finished: datetime | None) -> str:
    seconds = _seconds(started, finished)
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {second:02d}s"
    hours, minute = divmod(minutes, 60)
    return f"{hours}h {minute:02d}m"


def _status(status: str) -> Text:
    from rich.text import Text  # noqa: PLC0415

    return Text(status, style=STATUS_STYLE.get(status, "bold red"))


def _exit_code(code: int | None) -> Text:
    from rich.text import Text  # noqa: PLC0415

    return Text("" if code is None else str(code), style="" if not code else "bold red")


def history_table(rows: Sequence[HistoryRow]) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(title="Runs, newest first", title_justify="left")
    for column in ("id", "what", "started", "duration", "status", "exit", "hosts", "findings"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("exit", "findings") else "left"
        )
    for row in rows:
        what = Text(row.what)
        if row.kind == "routine":
            what = Text.assemble(("routine ", "dim"), row.what)
        if row.check:
            what.append(" (check)", style="dim")
        table.add_row(
            Text(row.id),
            what,
            local_time(row.started),
            duration_text(row.started, row.finished),
            _status(row.status),
            _exit_code(row.exit_code),
            # A run still going has no host counts yet: its playbook reports them at its end.
            "" if row.finished is None and not row.hosts.count else row.hosts.text(),
            Text(str(row.findings_not_ok), style="yellow" if row.findings_not_ok else ""),
        )
    return table


def _hosts_table(run: RunDetail) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(title="Hosts", title_justify="left")
    table.add_column("host")
    names = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
    for name in names:
        table.add_column(name, justify="right")
    trouble = {"changed": "yellow", "failed": "bold red", "unreachable": "bold red"}
    for host, counts in sorted(run.hosts.items()):
        cells = [
            Text(str(counts.get(name, 0)), style=trouble.get(name, "") if counts.get(name) else "")
            for name in names
        ]
        table.add_row(Text(host), *cells)
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        # The store keeps keys sorted; a threshold reads warn before crit.
        keys = sorted(value, key=lambda key: (THRESHOLD_ORDER.get(key, len(THRESHOLD_ORDER)), str(key)))
        return ", ".join(f"{key} {_cell(value[key])}" for key in keys if value[key] is not None)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _findings_table(findings: Sequence[Mapping[str, Any]]) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(title="Findings not ok", title_justify="left")
    for column in ("host", "check", "item", "status", "value", "threshold", "message"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(
            Text(finding["host"]),
            Text(finding["check"]),
            Text(finding["item"]),
            Text(finding["status"], style=FINDING_STYLE.get(finding["status"], "")),
            Text(_cell(finding["value"])),
            Text(_cell(finding["threshold"])),
            Text(finding["message"]),
        )
    return table


def _incidents_lines(incidents: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"Incident {incident['id']} opened: {incident['host']} {incident['check']}"
        + (f" {incident['item']}" if incident["item"] else "")
        + f" (runbook {incident['runbook'] or 'none'}), now {incident['state']}"
        + (f" at tier {incident['tier']}" if incident["tier"] else "")
        for incident in incidents
    ]


def _when_line(started: datetime, finished: datetime | None) -> str:
    line = f"  started {local_time(started)}"
    if finished is not None:
        line += f", finished {local_time(finished)} ({duration_text(started, finished)})"
    return line


def print_run(console: Console, run: RunDetail) -> None:
    from rich.text import Text  # noqa: PLC0415

    heading = Text(f"Run {run.id}: playbook {run.playbook}{' (check mode)' if run.check else ''} ")
    heading.append(run.status, style=STATUS_STYLE.get(run.status, "bold red"))
    if run.exit_code:
        heading.append(f", exit code {run.exit_code}", style="bold red")
    console.print(heading, soft_wrap=True)
    lines = [_when_line(run.started, run.finished)]
    if run.routine_run_id or run.routine:
        lines.append(
            f"  step {run.step!r} of routine {run.routine}"
            + (f", routine run {run.routine_run_id}" if run.routine_run_id else "")
        )
    lines.append(f"  hosts: {run.host_summary.text()}; findings not ok: {len(run.findings)}")
    lines.append(f"  artifacts: {run.run_dir if run.kept else ROTATED}")
    for line in lines:
        console.print(Text(line), soft_wrap=True)
    if run.hosts:
        console.print(_hosts_table(run))
    if run.findings:
        console.print(_findings_table(run.findings))
    for line in _incidents_lines(run.incidents):
        console.print(Text(line), soft_wrap=True)


def _steps_table(routine_run: RoutineRunDetail) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(title="Steps", title_justify="left")
    for column in ("#", "step", "playbook", "hosts", "duration", "status", "exit", "findings", "run", "note"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("exit", "findings") else "left"
        )
    for step in routine_run.steps:
        run = step.run
        table.add_row(
            "" if step.index is None else str(step.index),
            Text(step.title),
            Text(step.playbook),
            "" if run is None else run.host_summary.text(),
            "" if run is None else duration_text(run.started, run.finished),
            _status(step.status),
            _exit_code(step.exit_code),
            "" if run is None else str(len(run.findings)),
            Text("" if run is None else run.id),
            Text(step.note),
        )
    return table


def _responses_table(responses: Sequence[ResponseDetail]) -> Table:
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(title="First response to the incidents opened", title_justify="left")
    for column in ("incident", "phase", "step", "duration", "status", "run", "note"):
        table.add_column(column, overflow="fold", justify="right" if column == "incident" else "left")
    for response in responses:
        run = response.run
        table.add_row(
            "" if response.incident is None else str(response.incident),
            Text(response.phase),
            Text(response.title),
            "" if run is None else duration_text(run.started, run.finished),
            _status(response.status),
            Text("" if run is None else run.id),
            Text(response.reason),
        )
    return table


def _notification_line(notification: Mapping[str, Any]) -> str:
    about = f" about incident {notification['incident_id']}" if notification["incident_id"] else ""
    sent = "notified" if notification["delivered"] else "could not notify"
    return (
        f"{local_time(_time(notification['at']))} {sent} {notification['contact']} "
        f"({notification['tier']}, {notification['channel']}){about}: {notification['title']}"
    )


def _gate_line(gate: Mapping[str, Any]) -> str:
    line = (
        f"Approval gate before step {gate['step_index']} {gate['step']!r}: {gate['state']}, "
        f"asked by {gate['requested_by']} at {local_time(_time(gate['requested']))}"
    )
    if gate["state"] == "approved":
        return f"{line}; approved by {gate['approved_by']} ({gate['approver_tier']}) at " + local_time(
            _time(gate["approved_at"])
        )
    return f"{line}; expires {local_time(_time(gate['expires']))}"


def print_routine_run(console: Console, routine_run: RoutineRunDetail) -> None:
    from rich.text import Text  # noqa: PLC0415

    check = " (check mode)" if routine_run.check else ""
    heading = Text(f"Routine run {routine_run.id}: routine {routine_run.routine}{check} ")
    heading.append(routine_run.status, style=STATUS_STYLE.get(routine_run.status, "bold red"))
    if routine_run.exit_code:
        heading.append(f", exit code {routine_run.exit_code}", style="bold red")
    console.print(heading, soft_wrap=True)
    lines = [
        _when_line(routine_run.started, routine_run.finished),
        f"  started by {routine_run.started_by}, from {routine_run.ops_file}",
        f"  hosts: {routine_run.host_summary.text()}",
    ]
    if routine_run.skipped:
        lines.append(f"  skipped: {routine_run.skipped}")
    for line in lines:
        console.print(Text(line), soft_wrap=True)
    if routine_run.steps:
        console.print(_steps_table(routine_run))
    if routine_run.responses:
        console.print(_responses_table(routine_run.responses))
    lines = [
        *(_gate_line(gate) for gate in routine_run.gates),
        *_incidents_lines(routine_run.incidents),
        *(_notification_line(notification) for notification in routine_run.notifications),
    ]
    for line in lines:
        console.print(Text(line), soft_wrap=True)
    if routine_run.runs:
        console.print(Text("Each step's run in detail: opsrun show RUN", style="dim"), soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# The commands


def history(
    options: GlobalOptions,
    *,
    limit: int = DEFAULT_LIMIT,
    routine: str | None = None,
    playbook: str | None = None,
    status: str | None = None,
    since: date | None = None,
    console: Console | None = None,
) -> int:
    """Print the newest `limit` runs that the filters take (since: from local midnight of that day)."""
    from opsrun.store import open_store, time_text  # noqa: PLC0415

    since_text = (
        None if since is None else time_text(datetime(since.year, since.month, since.day).astimezone())
    )
    selection = HistoryFilter(routine=routine, playbook=playbook, status=status, since=since_text)
    with open_store(options.state_dir) as store, store.read() as connection:
        rows = history_rows(connection, selection, limit)
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(HISTORY_COMMAND, 0, {"runs": [row.to_dict() for row in rows]}))
        return 0
    from rich.console import Console  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    console = console or Console()
    if rows:
        console.print(history_table(rows))
    elif selection == HistoryFilter():
        console.print(Text(f"No runs in the run store {store.path} yet."), soft_wrap=True)
    else:
        console.print(Text("No runs match."), soft_wrap=True)
    return 0


def show(options: GlobalOptions, *, run_id: str, console: Console | None = None) -> int:
    """Print a routine run or a playbook run, found by its id or a prefix of it that is unique."""
    from opsrun.store import open_store  # noqa: PLC0415

    with open_store(options.state_dir) as store, store.read() as connection:
        kind, found = find_run(connection, run_id, store.path)
        detail: RunDetail | RoutineRunDetail = (
            routine_run_detail(connection, found, options.state_dir)
            if kind == "routine"
            else run_detail(connection, found, options.state_dir)
        )
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(SHOW_COMMAND, 0, {"run": detail.to_dict()}))
        return 0
    from rich.console import Console  # noqa: PLC0415

    console = console or Console()
    if isinstance(detail, RoutineRunDetail):
        print_routine_run(console, detail)
    else:
        print_run(console, detail)
    return 0


def handle_history(options: GlobalOptions, args: argparse.Namespace) -> int:
    return history(
        options,
        limit=args.limit,
        routine=args.routine,
        playbook=args.playbook,
        status=args.status,
        since=args.since,
    )


def handle_show(options: GlobalOptions, args: argparse.Namespace) -> int:
    return show(options, run_id=args.run_id)


# ---------------------------------------------------------------------------------------------
# The parsers


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of runs")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: give it as YYYY-MM-DD") from None


def add_history_parser(
    commands: argparse._SubParsersAction[Any], add_global_options: AddGlobalOptions
) -> None:
    parser = commands.add_parser(
        HISTORY_COMMAND,
        help="the runs the run store keeps, newest first: routine runs and playbook runs",
        description=(
            "List routine runs and the playbook runs that are not steps of a routine, newest first: id, "
            "what ran, when (local time), how long, status, exit code, hosts (with how many failed or were "
            "unreachable) and health findings that are not ok. See one in detail with 'opsrun show RUN_ID'."
        ),
    )
    add_global_options(parser, in_subcommand=True)
    parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N runs (default {DEFAULT_LIMIT})",
    )
    parser.add_argument("--routine", metavar="NAME", help="only the runs of this routine")
    parser.add_argument(
        "--playbook",
        metavar="NAME",
        help="only the runs of this playbook, and the routine runs with a step that ran it",
    )
    parser.add_argument(
        "--status",
        choices=STATUSES,
        help="only the runs with this status (successful and succeeded are the same)",
    )
    parser.add_argument(
        "--since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="only the runs started on that day (local time) or later",
    )


def add_show_parser(commands: argparse._SubParsersAction[Any], add_global_options: AddGlobalOptions) -> None:
    parser = commands.add_parser(
        SHOW_COMMAND,
        help="one run in detail: a routine run's steps, or a playbook run's hosts and findings",
        description=(
            "Show a routine run (its steps with their runs, durations, statuses, refusals and escalations, "
            "approval gates, the incidents it opened) or a playbook run (hosts with their counts, findings "
            "that are not ok, duration, status, and its artifact directory unless rotated away)."
        ),
    )
    add_global_options(parser, in_subcommand=True)
    parser.add_argument(
        "run_id", metavar="RUN_ID", help="a run id from 'opsrun history', or the start of one that is unique"
    )
