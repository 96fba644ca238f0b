"""Per-host counts, failures and the exit code, computed from Runner.stats and runner events."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsrun.commands.run import outcome_message
from opsrun.errors import ExitCode
from opsrun.results import (
    MESSAGE_LIMIT,
    Failure,
    HostStats,
    RunRecord,
    exit_code_for,
    failure_from_event,
    failure_message,
    host_stats,
)

STATS = {
    "ok": {"web1": 3, "web2": 1, "db1": 2},
    "changed": {"web1": 1},
    "failures": {"web2": 1},
    "dark": {"db1": 1},
    "skipped": {"web1": 2},
    "rescued": {},
    "ignored": {"web1": 1},
    "processed": {"web1": 1, "web2": 1, "db1": 1},
}


def test_host_stats_from_runner_stats() -> None:
    assert host_stats(STATS) == {
        "db1": HostStats(ok=2, unreachable=1),
        "web1": HostStats(ok=3, changed=1, skipped=2, ignored=1),
        "web2": HostStats(ok=1, failed=1),
    }


@pytest.mark.parametrize("stats", [None, {}])
def test_no_stats_no_hosts(stats: dict[str, dict[str, int]] | None) -> None:
    assert host_stats(stats) == {}


@pytest.mark.parametrize(
    ("rc", "status", "stats", "expected"),
    [
        (0, "successful", {"ok": {"a": 1}}, ExitCode.OK),
        (2, "failed", {"failures": {"a": 1}}, ExitCode.HOSTS_FAILED),
        (4, "failed", {"dark": {"a": 1}}, ExitCode.HOSTS_UNREACHABLE),
        (4, "failed", {"failures": {"a": 1}, "dark": {"b": 1}}, ExitCode.HOSTS_UNREACHABLE),
        # ansible-playbook's code passes through, whatever it is.
        (1, "failed", None, 1),
        (5, "failed", None, 5),
        (250, "failed", {"ok": {"a": 1}}, 250),
        (254, "timeout", None, 254),
        # A return code of 0 with failures counted (never seen; still not a success).
        (0, "successful", {"failures": {"a": 1}}, ExitCode.HOSTS_FAILED),
        (0, "successful", {"failures": {"a": 1}, "dark": {"b": 1}}, ExitCode.HOSTS_UNREACHABLE),
        (254, "canceled", {"ok": {"a": 1}}, ExitCode.INTERRUPTED),
    ],
)
def test_exit_code(rc: int, status: str, stats: dict[str, dict[str, int]] | None, expected: int) -> None:
    assert exit_code_for(rc, status, host_stats(stats)) == expected


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": data}


def test_failure_from_a_failed_task() -> None:
    failure = failure_from_event(
        event("runner_on_failed", host="web2", task="Restart nginx", res={"msg": "Unable to restart"})
    )
    assert failure == Failure(host="web2", task="Restart nginx", message="Unable to restart")


def test_failure_from_an_unreachable_host() -> None:
    failure = failure_from_event(
        event(
            "runner_on_unreachable", host="db1", task="Gather facts", res={"msg": "ssh: connection refused"}
        )
    )
    assert failure == Failure(
        host="db1", task="Gather facts", message="ssh: connection refused", unreachable=True
    )


@pytest.mark.parametrize(
    "kind_and_data",
    [
        ("runner_on_failed", {"host": "a", "task": "t", "ignore_errors": True, "res": {"msg": "x"}}),
        ("runner_on_ok", {"host": "a", "task": "t", "res": {}}),
        ("playbook_on_stats", {}),
    ],
)
def test_events_that_are_not_failures(kind_and_data: tuple[str, dict[str, Any]]) -> None:
    kind, data = kind_and_data
    assert failure_from_event(event(kind, **data)) is None


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            {"msg": "non-zero return code", "stderr": "line one\nls: no such file\n"},
            "non-zero return code: ls: no such file",
        ),
        ({"msg": "failed: boom", "stderr": "boom"}, "failed: boom"),
        ({"stderr": "only stderr"}, "only stderr"),
        ({"msg": "two\n  lines"}, "two lines"),
        ({"censored": "the output has been hidden"}, "the output has been hidden"),
        ({}, "the task failed without a message"),
    ],
)
def test_failure_messages(result: dict[str, Any], expected: str) -> None:
    assert failure_message(result) == expected


def test_long_failure_messages_are_cut() -> None:
    message = failure_message({"msg": "x" * 5000})
    assert len(message) == MESSAGE_LIMIT
    assert message.endswith("…")


def record(exit_code: int, failures: list[Failure], hosts: dict[str, HostStats] | None = None) -> RunRecord:
    started = datetime(2026, 1, 28, 12, 0, 0, tzinfo=UTC)
    return RunRecord(
        run_id="20260128T120000.000Z-abcdef",
        playbook="ping",
        playbook_path="/c/playbooks/ping.yml",
        inventory=["inv"],
        limit=None,
        check=False,
        diff=False,
        started=started,
        finished=started + timedelta(seconds=3, milliseconds=250),
        rc=exit_code,
        status="successful" if exit_code == 0 else "failed",
        exit_code=exit_code,
        hosts=hosts if hosts is not None else {"web1": HostStats(ok=1)},
        failures=failures,
    )


def test_run_record_as_json() -> None:
    data = record(2, [Failure("web1", "t", "m")]).to_dict()
    assert data["started"] == "2026-01-28T12:00:00.000+00:00"
    assert data["finished"] == "2026-01-28T12:00:03.250+00:00"
    assert data["duration_seconds"] == 3.25
    assert data["hosts"] == {
        "web1": {
            "ok": 1,
            "changed": 0,
            "failed": 0,
            "unreachable": 0,
            "skipped": 0,
            "rescued": 0,
            "ignored": 0,
        }
    }
    assert data["failures"] == [{"host": "web1", "task": "t", "message": "m", "unreachable": False}]


def test_outcome_messages_name_the_hosts() -> None:
    assert outcome_message(record(0, [])) == ""
    failures = [
        Failure("web2", "t", "m"),
        Failure("web1", "t", "m"),
        Failure("web1", "u", "m"),
        Failure("db1", "t", "m", unreachable=True),
    ]
    assert outcome_message(record(4, failures)) == (
        "ping failed on 2 host(s): web1, web2 and could not reach 1 host(s): db1"
    )
    assert outcome_message(record(4, [], hosts={})) == (
        "ansible-playbook exited with return code 4 before any host reported for ping"
    )
    assert outcome_message(record(ExitCode.INTERRUPTED, [])) == "the run of ping was interrupted"
