"""Live progress of a playbook run, fed by ansible-runner events."""

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from opsrun.results import Failure, failure_from_event

Clock = Callable[[], float]
OUTPUT_LINES_KEPT = 10

# Result events and the state they leave a host in.
_RESULT_STATES = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
_STATE_STYLES = {
    "running": "cyan",
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "ignored": "magenta",
    "skipped": "dim",
    "unreachable": "bold red",
}


@dataclass
class HostProgress:
    task: str
    state: str
    since: float
    until: float | None = None  # None while the task is running

    def elapsed(self, now: float) -> float:
        return (self.until if self.until is not None else now) - self.since


def _result_state(kind: str, data: Mapping[str, Any]) -> str:
    state = _RESULT_STATES[kind]
    result = data.get("res")
    if state == "ok" and isinstance(result, Mapping) and result.get("changed"):
        return "changed"
    if state == "failed" and data.get("ignore_errors"):
        return "ignored"
    return state


class RunTracker:
    """The state of a run as its events tell it: current play, per-host task and state, failures."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.play = ""
        self.hosts: dict[str, HostProgress] = {}
        self.failures: list[Failure] = []
        # ansible's own messages (errors, warnings), shown when it stops before any host reports.
        self.ansible_output: deque[str] = deque(maxlen=OUTPUT_LINES_KEPT)
        # What the playbook published with set_stats (per_host: false), from its final stats.
        self.published: dict[str, Any] = {}
        self.lock = threading.Lock()

    def handle(self, event: Mapping[str, Any]) -> str | None:
        """Record `event`; returns the host it concerns, if any."""
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        with self.lock:
            if kind == "playbook_on_play_start":
                self.play = str(data.get("play") or data.get("name") or "")
                return None
            if kind == "playbook_on_stats":
                published = data.get("artifact_data")
                if isinstance(published, Mapping):
                    self.published = dict(published)
                return None
            if kind == "verbose":
                line = Text.from_ansi(str(event.get("stdout") or "")).plain.rstrip()
                if line.strip():
                    self.ansible_output.append(line)
                return None
            host = data.get("host")
            if not host or (kind != "runner_on_start" and kind not in _RESULT_STATES):
                return None
            host = str(host)
            task = str(data.get("task") or "")
            if kind == "runner_on_start":
                self.hosts[host] = HostProgress(task=task, state="running", since=self.clock())
            else:
                previous = self.hosts.get(host)
                now = self.clock()
                since = previous.since if previous is not None and previous.task == task else now
                self.hosts[host] = HostProgress(
                    task=task, state=_result_state(kind, data), since=since, until=now
                )
                failure = failure_from_event(event)
                if failure is not None:
                    self.failures.append(failure)
            return host

    def elapsed(self) -> float:
        return self.clock() - self.started


class ProgressDisplay(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def update(self, event: Mapping[str, Any], host: str | None) -> None: ...


class _PlainDisplay:
    """A display with nothing to set up or tear down."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


class SilentDisplay(_PlainDisplay):
    """No progress at all (for --output json, whose stdout carries the envelope only)."""

    def update(self, event: Mapping[str, Any], host: str | None) -> None:
        return None


class LineDisplay(_PlainDisplay):
    """One plain line per play and per host result, for output that is not a terminal."""

    def __init__(self, tracker: RunTracker, console: Console) -> None:
        self.tracker = tracker
        self.console = console

    def update(self, event: Mapping[str, Any], host: str | None) -> None:
        if event.get("event") == "playbook_on_play_start":
            self.console.print(Text(f"PLAY {self.tracker.play}"), soft_wrap=True)
            return
        if host is None or event.get("event") == "runner_on_start":
            return
        progress = self.tracker.hosts[host]
        line = f"[{self.tracker.elapsed():7.1f}s] {host} {progress.state}: {progress.task}"
        self.console.print(Text(line), soft_wrap=True)


class _HostTable:
    """Renders the tracker afresh on every refresh, so elapsed times keep moving."""

    def __init__(self, tracker: RunTracker) -> None:
        self.tracker = tracker

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        tracker = self.tracker
        now = tracker.clock()
        title = f"{tracker.play or 'starting'} · {tracker.elapsed():.0f}s"
        table = Table(title=Text(title), title_justify="left", expand=False)
        table.add_column("host")
        table.add_column("state")
        table.add_column("task")
        table.add_column("elapsed", justify="right")
        with tracker.lock:
            rows = sorted(tracker.hosts.items())
        for host, progress in rows:
            table.add_row(
                Text(host),
                Text(progress.state, style=_STATE_STYLES.get(progress.state, "")),
                Text(progress.task),
                f"{progress.elapsed(now):.1f}s",
            )
        yield table


class LiveDisplay:
    """A live table on a terminal: per host, its current task, state and time on that task."""

    def __init__(self, tracker: RunTracker, console: Console) -> None:
        self.live = Live(_HostTable(tracker), console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> Self:
        self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.live.stop()

    def update(self, event: Mapping[str, Any], host: str | None) -> None:
        """Nothing to do: the live table re-reads the tracker on its own refreshes."""
