"""What a playbook run produced: per-host counts, failures, the exit code and the run record."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from opsrun.errors import ExitCode

MESSAGE_LIMIT = 240

# Runner.stats keys, as named in opsrun's output.
_STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failed": "failures",
    "unreachable": "dark",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


@dataclass(frozen=True)
class HostStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class Failure:
    """A host that failed a task or could not be reached, from the runner event that said so."""

    host: str
    task: str
    message: str
    unreachable: bool = False


def host_stats(stats: Mapping[str, Mapping[str, int]] | None) -> dict[str, HostStats]:
    """Per-host counts from Runner.stats (None when the playbook never reached its recap)."""
    if not stats:
        return {}
    hosts = sorted({host for per_host in stats.values() for host in per_host})
    return {
        host: HostStats(**{name: int(stats.get(key, {}).get(host, 0)) for name, key in _STATS_KEYS.items()})
        for host in hosts
    }


def exit_code_for(rc: int, status: str, hosts: Mapping[str, HostStats]) -> int:
    """opsrun's exit code: ansible-playbook's return code, or derived from the host counts.

    Like ansible-playbook: 4 when any host was unreachable, else 2 when any host failed. A
    non-zero return code of ansible-playbook is kept as it is; a run stopped by a signal is
    INTERRUPTED.
    """
    if status == "canceled":
        return ExitCode.INTERRUPTED
    if rc != 0:
        return rc
    if any(counts.unreachable for counts in hosts.values()):
        return ExitCode.HOSTS_UNREACHABLE
    if any(counts.failed for counts in hosts.values()):
        return ExitCode.HOSTS_FAILED
    return ExitCode.OK


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MESSAGE_LIMIT else flat[: MESSAGE_LIMIT - 1] + "…"


def failure_message(result: Mapping[str, Any]) -> str:
    """A short message from a task result (`res` of a runner_on_failed/unreachable event)."""
    if "censored" in result:
        return _shorten(str(result["censored"]))
    message = str(result.get("msg") or "").strip()
    stderr_lines = [line for line in str(result.get("stderr") or "").splitlines() if line.strip()]
    if stderr_lines and stderr_lines[-1] not in message:
        message = f"{message}: {stderr_lines[-1]}" if message else stderr_lines[-1]
    return _shorten(message or "the task failed without a message")


def failure_from_event(event: Mapping[str, Any]) -> Failure | None:
    """The failure an ansible-runner event reports, or None when it reports none."""
    kind = event.get("event")
    data = event.get("event_data") or {}
    if kind == "runner_on_failed" and not data.get("ignore_errors"):
        unreachable = False
    elif kind == "runner_on_unreachable":
        unreachable = True
    else:
        return None
    result = data.get("res")
    return Failure(
        host=str(data.get("host", "?")),
        task=str(data.get("task") or "?"),
        message=failure_message(result if isinstance(result, Mapping) else {}),
        unreachable=unreachable,
    )


@dataclass(frozen=True)
class RunRecord:
    """The record of one run, kept as result.json in its run directory."""

    run_id: str
    playbook: str
    playbook_path: str
    inventory: list[str]
    limit: str | None
    check: bool
    diff: bool
    started: datetime
    finished: datetime
    rc: int
    status: str
    exit_code: int
    hosts: dict[str, HostStats] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # ansible's own last messages, kept only when it stopped before reporting any host.
    ansible_output: list[str] = field(default_factory=list)
    # What the playbook published with set_stats, e.g. health_check_findings.
    published: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float:
        return round((self.finished - self.started).total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat(timespec="milliseconds")
        data["finished"] = self.finished.isoformat(timespec="milliseconds")
        data["duration_seconds"] = self.duration_seconds
        return data
