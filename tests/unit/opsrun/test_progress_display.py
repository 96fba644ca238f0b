"""The run tracker and the progress displays, fed with runner events."""

import io
from typing import Any

from rich.console import Console

from opsrun.progress import LineDisplay, LiveDisplay, RunTracker, _HostTable
from opsrun.results import Failure


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(kind: str, stdout: str = "", **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": data, "stdout": stdout}


EVENTS = [
    event("playbook_on_start"),
    event("playbook_on_play_start", play="Patch the web tier"),
    event("playbook_on_task_start", task="Install updates"),
    event("runner_on_start", host="web1", task="Install updates"),
    event("runner_on_start", host="web2", task="Install updates"),
    event("runner_on_ok", host="web1", task="Install updates", res={"changed": True}),
    event("runner_on_failed", host="web2", task="Install updates", res={"msg": "no space left"}),
    event("runner_on_start", host="web1", task="Check disk"),
    event("runner_on_failed", host="web1", task="Check disk", ignore_errors=True, res={"msg": "low"}),
    event("runner_on_start", host="web1", task="Reboot"),
    event("runner_on_skipped", host="web1", task="Reboot"),
    event("runner_on_unreachable", host="db1", task="Reboot", res={"msg": "timed out"}),
]


def feed(tracker: RunTracker, clock: FakeClock, events: list[dict[str, Any]]) -> list[str | None]:
    hosts = []
    for item in events:
        clock.now += 1
        hosts.append(tracker.handle(item))
    return hosts


def test_tracker_follows_hosts_tasks_and_failures() -> None:
    clock = FakeClock()
    tracker = RunTracker(clock)
    hosts = feed(tracker, clock, EVENTS)
    assert hosts == [None, None, None, "web1", "web2", "web1", "web2", "web1", "web1", "web1", "web1", "db1"]
    assert tracker.play == "Patch the web tier"
    assert {host: (p.task, p.state) for host, p in tracker.hosts.items()} == {
        "web1": ("Reboot", "skipped"),
        "web2": ("Install updates", "failed"),
        "db1": ("Reboot", "unreachable"),
    }
    assert tracker.failures == [
        Failure("web2", "Install updates", "no space left"),
        Failure("db1", "Reboot", "timed out", unreachable=True),
    ]
    assert tracker.elapsed() == 12


def test_elapsed_runs_while_a_task_runs_and_stops_when_it_ends() -> None:
    clock = FakeClock()
    tracker = RunTracker(clock)
    tracker.handle(event("runner_on_start", host="web1", task="Slow"))
    clock.now += 5
    assert tracker.hosts["web1"].state == "running"
    assert tracker.hosts["web1"].elapsed(clock.now) == 5
    tracker.handle(event("runner_on_ok", host="web1", task="Slow", res={}))
    clock.now += 30
    assert tracker.hosts["web1"].state == "ok"
    assert tracker.hosts["web1"].elapsed(clock.now) == 5


def test_ansible_messages_are_kept_without_colour_codes() -> None:
    tracker = RunTracker(FakeClock())
    for line in ["\x1b[0;31m[ERROR]: no such module\x1b[0m", "", "   ", "  ^ column 7"]:
        tracker.handle(event("verbose", stdout=line))
    for number in range(20):
        tracker.handle(event("verbose", stdout=f"line {number}"))
    assert list(tracker.ansible_output)[-1] == "line 19"
    assert len(tracker.ansible_output) == 10
    tracker = RunTracker(FakeClock())
    for line in ["\x1b[0;31m[ERROR]: no such module\x1b[0m", "", "  ^ column 7"]:
        tracker.handle(event("verbose", stdout=line))
    assert list(tracker.ansible_output) == ["[ERROR]: no such module", "  ^ column 7"]


def test_line_display_prints_one_line_per_result() -> None:
    clock = FakeClock()
    tracker = RunTracker(clock)
    stream = io.StringIO()
    display = LineDisplay(tracker, Console(file=stream, width=200))
    with display:
        for item in EVENTS:
            clock.now += 1
            display.update(item, tracker.handle(item))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "PLAY Patch the web tier"
    assert lines[1:] == [
        "[    6.0s] web1 changed: Install updates",
        "[    7.0s] web2 failed: Install updates",
        "[    9.0s] web1 ignored: Check disk",
        "[   11.0s] web1 skipped: Reboot",
        "[   12.0s] db1 unreachable: Reboot",
    ]


def test_markup_in_names_is_printed_as_is() -> None:
    tracker = RunTracker(FakeClock())
    stream = io.StringIO()
    display = LineDisplay(tracker, Console(file=stream, width=200))
    item = event("runner_on_ok", host="[bold]web", task="Echo [red]x[/red]", res={})
    display.update(item, tracker.handle(item))
    assert "[bold]web ok: Echo [red]x[/red]" in stream.getvalue()


def test_live_table_shows_each_host() -> None:
    clock = FakeClock()
    tracker = RunTracker(clock)
    feed(tracker, clock, EVENTS[:5])
    clock.now += 2.5
    stream = io.StringIO()
    Console(file=stream, width=120).print(_HostTable(tracker))
    table = stream.getvalue()
    assert "Patch the web tier" in table
    for host in ("web1", "web2"):
        assert host in table
    assert "running" in table
    assert "Install updates" in table
    assert "3.5s" in table  # web1 started 1s before the last event, which was 2.5s ago


def test_live_display_starts_and_stops() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    tracker = RunTracker(FakeClock())
    with LiveDisplay(tracker, console) as display:
        item = event("runner_on_start", host="web1", task="Install updates")
        display.update(item, tracker.handle(item))
    assert "Install updates" in stream.getvalue()
