"""The report's figures, computed from one month of the run store (monthdata.MonthData).

Definitions (docs/report.md says the same to the reader):
- availability of a host: the share of the month's health-check runs that list the host in which
  it was reachable and did not fail (no unreachable and no failed task in the run's recap);
- MTTA: the mean time from an incident's opening to its first acknowledgement (`ack`);
- MTTR: the mean time from an incident's opening to service restored, i.e. to the first event
  that made it mitigated (暫定対処) or, when it never was, resolved. Both are taken over the
  incidents opened in the month, with what happened before the month's end;
- a change: a run, not in check mode, of a change playbook (patching, service_restart) or of a
  routine step that ops.yml marks `change: true`.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from opsrun.findings import FINDINGS_KEY
from opsrun.incidents import Action, State
from opsrun.report.monthdata import IncidentRecord, MonthData, Run

HEALTH_CHECK = "health_check"
CHANGE_PLAYBOOKS = frozenset({"patching", "service_restart"})
FINDING_STATUSES = ("ok", "warn", "crit", "unknown")
RESTARTED = frozenset({"restarted", "reloaded"})

# (routine, step title) -> whether ops.yml marks that step as a change.
ChangeSteps = Callable[[str, str], bool]


@dataclass(frozen=True)
class Availability:
    host: str
    runs: int
    available: int

    @property
    def share(self) -> Fraction:
        return Fraction(self.available, self.runs)

    @property
    def percent(self) -> float:
        return float(self.share * 100)


@dataclass(frozen=True)
class IncidentFigures:
    opened: int
    resolved: int
    open_at_end: int
    mtta: timedelta | None
    acknowledged: int
    mttr: timedelta | None
    restored: int


@dataclass(frozen=True)
class PackageChange:
    at: datetime
    host: str
    name: str
    before: str
    after: str
    security: bool


@dataclass(frozen=True)
class HostPatch:
    at: datetime
    host: str
    status: str
    packages: list[PackageChange]
    reboot_needed: bool
    rebooted: bool
    failure: str


@dataclass(frozen=True)
class Backup:
    at: datetime
    host: str
    status: str
    period_key: str
    archive: str
    size: int
    created_now: bool
    message: str

    @property
    def verified(self) -> bool:
        # The role counts only an archive that the destination verified as a backup.
        return self.status == "backed_up"


@dataclass(frozen=True)
class RestoreCheck:
    at: datetime
    host: str
    verified: int
    unverified: int
    corrupt: int
    latest_verified: str
    extracted: bool

    @property
    def passed(self) -> bool:
        return self.corrupt == 0 and self.verified > 0


@dataclass(frozen=True)
class Restart:
    at: datetime
    host: str
    service: str
    action: str
    status: str
    message: str


@dataclass(frozen=True)
class Change:
    at: datetime
    run_id: str
    playbook: str
    routine: str | None
    step: str | None
    status: str
    hosts: int
    changed_hosts: int


@dataclass
class Trends:
    """Health values over the month: disk use per host and mount, memory use per host, findings per day."""

    disk: dict[tuple[str, str], list[tuple[datetime, float]]] = field(default_factory=dict)
    memory: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    per_day: dict[date, Counter[str]] = field(default_factory=dict)


def health_check_runs(data: MonthData) -> list[Run]:
    return [run for run in data.runs if run.playbook == HEALTH_CHECK or FINDINGS_KEY in run.published]


def availability(data: MonthData) -> list[Availability]:
    """Per host, in name order: in how many health-check runs it took part, and was available."""
    runs: Counter[str] = Counter()
    available: Counter[str] = Counter()
    for run in health_check_runs(data):
        for host, counts in run.hosts.items():
            runs[host] += 1
            if counts.failed == 0 and counts.unreachable == 0:
                available[host] += 1
    return [Availability(host, runs[host], available[host]) for host in sorted(runs)]


def _mean(durations: list[timedelta]) -> timedelta | None:
    if not durations:
        return None
    return sum(durations, timedelta()) / len(durations)


def incident_figures(data: MonthData) -> IncidentFigures:
    period = data.period
    opened = [record for record in data.incidents if period.contains(record.incident.opened)]
    to_ack: list[timedelta] = []
    to_restore: list[timedelta] = []
    for record in opened:
        acknowledged = time_to_acknowledge(record)
        if acknowledged is not None:
            to_ack.append(acknowledged)
        restored = time_to_restore(record)
        if restored is not None:
            to_restore.append(restored)
    resolved = sum(
        1
        for record in data.incidents
        if any(event.to_state is State.RESOLVED and period.contains(event.at) for event in record.events)
    )
    return IncidentFigures(
        opened=len(opened),
        resolved=resolved,
        open_at_end=sum(1 for record in data.incidents if record.state is not State.RESOLVED),
        mtta=_mean(to_ack),
        acknowledged=len(to_ack),
        mttr=_mean(to_restore),
        restored=len(to_restore),
    )


def time_to_acknowledge(record: IncidentRecord) -> timedelta | None:
    ack = record.first(kind=Action.ACK.value)
    return None if ack is None else ack.at - record.incident.opened


def time_to_restore(record: IncidentRecord) -> timedelta | None:
    restored = record.first(to_states=(State.MITIGATED,)) or record.first(to_states=(State.RESOLVED,))
    return None if restored is None else restored.at - record.incident.opened


def _published_hosts(run: Run, key: str) -> Iterable[tuple[str, Any]]:
    """The {host: value} a role published under `key` (aggregated over hosts), in host order."""
    value = run.published.get(key)
    if isinstance(value, dict):
        yield from sorted(value.items())


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool:
    # set_stats data went through templating: booleans may arrive as the text "True".
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _number(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def patches(data: MonthData) -> list[HostPatch]:
    """What the month's patching runs did on each host (check-mode runs and plans left out)."""
    result = []
    for run in data.runs:
        report = run.published.get("patching_report")
        if run.check_mode or not isinstance(report, dict):
            continue
        for entry in report.get("hosts") or []:
            if not isinstance(entry, dict) or _flag(entry.get("check_mode")):
                continue
            host = _text(entry.get("host"))
            reboot = _mapping(entry.get("reboot"))
            packages = [
                PackageChange(
                    at=run.started,
                    host=host,
                    name=_text(package.get("name")),
                    before=_text(package.get("from")),
                    after=_text(package.get("to")),
                    security=_flag(package.get("security")),
                )
                for package in entry.get("packages") or []
                if isinstance(package, dict)
            ]
            result.append(
                HostPatch(
                    at=run.started,
                    host=host,
                    status=_text(entry.get("status")),
                    packages=packages,
                    reboot_needed=_flag(reboot.get("needed")),
                    rebooted=_flag(reboot.get("done")),
                    failure=_text(entry.get("failure")),
                )
            )
    return result


def backups(data: MonthData) -> list[Backup]:
    result = []
    for run in data.runs:
        if run.check_mode:
            continue
        for host, outcome in _published_hosts(run, "log_backup"):
            if not isinstance(outcome, dict) or outcome.get("status") == "planned":
                continue
            result.append(
                Backup(
                    at=run.started,
                    host=host,
                    status=_text(outcome.get("status")),
                    period_key=_text(outcome.get("period_key")),
                    archive=_text(outcome.get("archive")),
                    size=_number(outcome.get("size")),
                    created_now=_flag(outcome.get("created_now")),
                    message=_text(outcome.get("message")),
                )
            )
    return result


def restore_checks(data: MonthData) -> list[RestoreCheck]:
    result = []
    for run in data.runs:
        for host, summary in _published_hosts(run, "log_backup_restore"):
            if not isinstance(summary, dict):
                continue
            counts = _mapping(summary.get("counts"))
            result.append(
                RestoreCheck(
                    at=run.started,
                    host=host,
                    verified=_number(counts.get("verified")),
                    unverified=_number(counts.get("unverified")),
                    corrupt=_number(counts.get("corrupt")),
                    latest_verified=_text(summary.get("latest_verified")),
                    extracted=bool(summary.get("extracted")),
                )
            )
    return result


def restarts(data: MonthData) -> list[Restart]:
    result = []
    for run in data.runs:
        if run.check_mode:
            continue
        for host, entries in _published_hosts(run, "service_restart_report"):
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict) or _text(entry.get("status")).startswith("would_"):
                    continue
                result.append(
                    Restart(
                        at=run.started,
                        host=host,
                        service=_text(entry.get("service")),
                        action=_text(entry.get("action")),
                        status=_text(entry.get("status")),
                        message=_text(entry.get("message")),
                    )
                )
    return result


def changes(data: MonthData, change_step: ChangeSteps | None = None) -> list[Change]:
    result = []
    for run in data.runs:
        marked = (
            change_step is not None
            and run.routine is not None
            and run.step is not None
            and change_step(run.routine, run.step)
        )
        if run.check_mode or not (marked or run.playbook in CHANGE_PLAYBOOKS):
            continue
        result.append(
            Change(
                at=run.started,
                run_id=run.id,
                playbook=run.playbook,
                routine=run.routine,
                step=run.step,
                status=run.status,
                hosts=len(run.hosts),
                changed_hosts=sum(1 for counts in run.hosts.values() if counts.changed),
            )
        )
    return result


def _percent(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def trends(data: MonthData) -> Trends:
    """Disk use (% of each mount), memory use (100 minus % available) and the findings per local day."""
    result = Trends()
    for finding in data.findings:
        day = data.period.local(finding.at).date()
        result.per_day.setdefault(day, Counter())[finding.status] += 1
        value = _percent(finding.value)
        if value is None:
            continue
        if finding.check == "disk":
            result.disk.setdefault((finding.host, finding.item), []).append((finding.at, value))
        elif finding.check == "memory" and finding.item == "available":
            result.memory.setdefault(finding.host, []).append((finding.at, round(100.0 - value, 1)))
    return result


@dataclass(frozen=True)
class ProblemFinding:
    """Findings that were not ok, per host, check and item: how often per status, the last message."""

    host: str
    check: str
    item: str
    counts: Counter[str]
    last_message: str


def problem_findings(data: MonthData) -> list[ProblemFinding]:
    grouped: dict[tuple[str, str, str], tuple[Counter[str], str]] = {}
    for finding in data.findings:
        if finding.status == "ok":
            continue
        key = (finding.host, finding.check, finding.item)
        counts, _ = grouped.get(key, (Counter(), ""))
        counts[finding.status] += 1
        grouped[key] = (counts, finding.message)
    return [
        ProblemFinding(host, check, item, counts, message)
        for (host, check, item), (counts, message) in sorted(grouped.items())
    ]
