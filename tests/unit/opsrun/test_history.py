"""`opsrun history` and `opsrun show`: what they list and show of a run store filled as opsrun fills it."""

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runrecords import health_check_run

from opsrun import cli
from opsrun.commands import history
from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat
from opsrun.results import HostStats, RunRecord
from opsrun.store import Store, begin_run, open_store, record_run, time_text

T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
PING = "20261102T070000.000000Z-aaaaaa"
HEALTH = "20261102T080000.000000Z-bbbbbb"
DAILY = "20261102T090000.000000Z-daily"
STEP1 = "20261102T090001.000000Z-cccccc"
RESPONSE = "20261102T090040.000000Z-111111"
PAUSED = "20261102T093000.000000Z-patch"
STEP_P = "20261102T093001.000000Z-eeeeee"
RUNNING = "20261102T100000.000000Z-dddddd"
# 2026-11-02 01:00 in Tokyo, still 2026-11-01 in UTC.
OLD = "20261101T160000.000000Z-daily"
ORPHAN = "20261101T120000.000000Z-ffffff"
ALL_ROWS = [RUNNING, PAUSED, DAILY, HEALTH, PING, OLD, ORPHAN]

REFUSAL = "1 host(s) of the limit 'all' are outside the contract scope (web:db): lb1"


def run(run_id: str, playbook: str, started: datetime, seconds: float, **changes: Any) -> RunRecord:
    base = replace(health_check_run(run_id, started), playbook=playbook, playbook_path=f"{playbook}.yml")
    return replace(base, finished=started + timedelta(seconds=seconds), **changes)


def finding(host: str, check: str, status: str, item: str | None = None, **more: Any) -> dict[str, Any]:
    return {"host": host, "check": check, "item": item, "status": status, **more}


def insert_routine_run(
    store: Store, routine_run_id: str, routine: str, started: datetime, status: str, **more: Any
) -> None:
    with store.write() as connection:
        connection.execute(
            """
            INSERT INTO routine_runs (
                id, routine, ops_file, started, finished, status, exit_code, check_mode, started_by, record
            ) VALUES (?, ?, '/srv/ops/ops.yml', ?, ?, ?, ?, ?, 'cron', ?)
            """,
            (
                routine_run_id,
                routine,
                time_text(started),
                more.get("finished") and time_text(more["finished"]),
                status,
                more.get("exit_code"),
                int(more.get("check", False)),
                json.dumps(more.get("record", {})),
            ),
        )


def fill(store: Store) -> None:
    """Two runs of their own, a routine run with its step run and incident, a paused routine run at an
    approval gate, a run still running, an older routine run and a step run whose routine run is unknown."""
    record_run(
        store,
        run(
            PING,
            "ping",
            T0,
            4.2,
            status="failed",
            exit_code=4,
            hosts={
                "web1": HostStats(ok=1),
                "web2": HostStats(unreachable=1),
                "db1": HostStats(failed=1),
            },
        ),
    )
    health_findings = [
        finding("db1", "load", "warn", value=2.5, threshold={"warn": 2.0, "crit": 4.0}, message="load 2.5"),
        finding("web1", "disk_used", "crit", "/var", value=93.1, message="space of /var used: 93.1%"),
        finding("web1", "reachable", "ok"),
    ]
    record_run(
        store,
        run(
            HEALTH,
            "opsrun.ops.health_check",
            T0 + timedelta(hours=1),
            42,
            hosts={"web1": HostStats(ok=9), "db1": HostStats(ok=9)},
            published={"health_check_findings": health_findings},
        ),
    )
    daily_started = T0 + timedelta(hours=2)
    steps = [
        {
            "index": 1,
            "title": "Health check",
            "playbook": "health_check",
            "status": "succeeded",
            "exit_code": 0,
            "limit": "web:db",
            "run_id": STEP1,
            "reason": "",
            "forced": None,
            "escalated_to": None,
        },
        {
            "index": 2,
            "title": "Patch",
            "playbook": "patching",
            "status": "refused",
            "exit_code": 77,
            "limit": "all",
            "run_id": None,
            "reason": REFUSAL,
            "forced": None,
            "escalated_to": "l1",
        },
        {"index": 3, "title": "Back up logs", "playbook": "log_backup", "status": "skipped", "exit_code": 0},
    ]
    responses = [
        {
            "incident": 1,
            "runbook": "service-down",
            "phase": "first_response",
            "step": "Incident 1 first response 1: Restart nginx",
            "status": "succeeded",
            "run_id": RESPONSE,
            "reason": "",
        }
    ]
    insert_routine_run(
        store,
        DAILY,
        "daily",
        daily_started,
        "failed",
        finished=daily_started + timedelta(minutes=3, seconds=5),
        exit_code=77,
        record={"routine_id": DAILY, "routine": "daily", "steps": steps, "responses": responses},
    )
    record_run(
        store,
        run(
            STEP1,
            "health_check",
            daily_started + timedelta(seconds=1),
            30,
            hosts={"web1": HostStats(ok=9), "web2": HostStats(ok=8, failed=1)},
            published={
                "health_check_findings": [finding("web2", "service", "crit", "nginx", message="down")]
            },
        ),
        routine="daily",
        step="Health check",
        routine_run_id=DAILY,
    )
    record_run(
        store,
        run(
            RESPONSE,
            "service_restart",
            daily_started + timedelta(seconds=40),
            12,
            hosts={"web2": HostStats(ok=3)},
        ),
        routine="daily",
        step="Incident 1 first response 1: Restart nginx",
        routine_run_id=DAILY,
    )
    paused_started = T0 + timedelta(hours=2, minutes=30)
    insert_routine_run(store, PAUSED, "patch", paused_started, "paused", check=True)
    record_run(
        store,
        run(STEP_P, "ping", paused_started + timedelta(seconds=1), 3, hosts={"web1": HostStats(ok=1)}),
        routine="patch",
        step="Reachable",
        routine_run_id=PAUSED,
    )
    begin_run(store, run_id=RUNNING, playbook="ping", started=T0 + timedelta(hours=3), check=False)
    old_started = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    insert_routine_run(
        store, OLD, "daily", old_started, "succeeded", finished=old_started + timedelta(hours=1, minutes=2)
    )
    record_run(
        store,
        run(ORPHAN, "log_backup", datetime(2026, 11, 1, 12, 0, tzinfo=UTC), 5),
        routine="weekly",
        step="Back up logs",
    )
    with store.write() as connection:
        connection.execute(
            """
            INSERT INTO incidents (
                host, check_name, item, finding_status, message, runbook, state, tier, tier_since, opened,
                updated, last_seen, run_id
            ) VALUES ('web2', 'service', 'nginx', 'crit', 'down', 'service-down', 'open', 'l1', ?, ?, ?, ?, ?)
            """,
            (*[time_text(daily_started)] * 4, STEP1),
        )
        connection.execute(
            """
            INSERT INTO notifications (
                at, incident_id, routine_run_id, tier, contact, channel, delivered, title
            )
            VALUES (?, 1, ?, 'l2', 'lead', 'json', 1, 'opsrun: incident 1 escalated to l2')
            """,
            (time_text(daily_started + timedelta(minutes=2)), DAILY),
        )
        connection.execute(
            """
            INSERT INTO gates (routine_run_id, step_index, step, requested, requested_by, expires, state)
            VALUES (?, 2, 'Patch', ?, 'cron', ?, 'pending')
            """,
            (PAUSED, time_text(paused_started), time_text(paused_started + timedelta(hours=72))),
        )


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Asia/Tokyo (UTC+9, no summer time) for the test."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokyo: None) -> Path:
    monkeypatch.setenv("COLUMNS", "250")  # rich tables without wrapped cells
    state = tmp_path / ".opsrun"
    with open_store(state) as store:
        fill(store)
    return state


def parse(*argv: str) -> argparse.Namespace:
    """The arguments as cli.py parses them once both commands are added to it."""
    parser = cli._ArgumentParser(prog="opsrun")
    cli._add_global_options(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", required=True)
    history.add_history_parser(commands, cli._add_global_options)
    history.add_show_parser(commands, cli._add_global_options)
    return parser.parse_args(argv)


def command(state_dir: Path, *argv: str) -> int:
    args = parse(*argv)
    options = GlobalOptions(state_dir=state_dir, output=OutputFormat(args.output))
    handle = {"history": history.handle_history, "show": history.handle_show}[args.command]
    return handle(options, args)


def as_json(state_dir: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert command(state_dir, *argv, "--output", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == argv[0]
    assert document["ok"] is True
    return document["result"]


def ids(state_dir: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    return [row["id"] for row in as_json(state_dir, capsys, "history", *argv)["runs"]]


def test_history_lists_routine_runs_and_runs_of_their_own_newest_first(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ids(state_dir, capsys) == ALL_ROWS


def test_history_rows_as_json(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {row["id"]: row for row in as_json(state_dir, capsys, "history")["runs"]}
    ping = rows[PING]
    assert (ping["kind"], ping["what"], ping["status"], ping["exit_code"]) == (
        "playbook",
        "ping",
        "failed",
        4,
    )
    assert ping["hosts"] == {"count": 3, "failed": 1, "unreachable": 1}
    assert ping["duration_seconds"] == 4.2
    assert datetime.fromisoformat(ping["started"]) == T0
    assert rows[HEALTH]["findings_not_ok"] == 2
    daily = rows[DAILY]
    assert (daily["kind"], daily["what"], daily["status"], daily["exit_code"]) == (
        "routine",
        "daily",
        "failed",
        77,
    )
    # The routine run counts the hosts and findings of its step runs.
    assert daily["hosts"] == {"count": 2, "failed": 1, "unreachable": 0}
    assert daily["findings_not_ok"] == 1
    assert daily["duration_seconds"] == 185
    assert rows[PAUSED]["check"] is True
    running = rows[RUNNING]
    assert (running["status"], running["finished"], running["duration_seconds"]) == ("running", None, None)
    assert rows[ORPHAN]["kind"] == "playbook"


def test_history_table_in_local_time(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert command(state_dir, "history") == 0
    out = capsys.readouterr().out
    assert "Runs, newest first" in out
    lines = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in out.splitlines()
        if "│" in line and "Z-" in line
    }
    # 07:00 UTC is 16:00 in Tokyo.
    assert lines[PING] == [
        "ping",
        "2026-11-02 16:00:00",
        "4.2s",
        "failed",
        "4",
        "3 (1 failed, 1 unreachable)",
        "0",
    ]
    assert lines[DAILY] == [
        "routine daily",
        "2026-11-02 18:00:00",
        "3m 05s",
        "failed",
        "77",
        "2 (1 failed)",
        "1",
    ]
    assert lines[OLD][1:3] == ["2026-11-02 01:00:00", "1h 02m"]
    assert lines[PAUSED][0] == "routine patch (check)"
    assert lines[RUNNING][1:6] == ["2026-11-02 19:00:00", "", "running", "", ""]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--routine", "daily"], [DAILY, OLD]),
        (["--routine", "weekly"], [ORPHAN]),
        # A playbook by either of its names, and the routine runs with a step that ran it.
        (["--playbook", "health_check"], [DAILY, HEALTH]),
        (["--playbook", "opsrun.ops.health_check"], [DAILY, HEALTH]),
        (["--playbook", "ping"], [RUNNING, PAUSED, PING]),
        (["--playbook", "service_restart"], [DAILY]),
        (["--status", "failed"], [DAILY, PING]),
        (["--status", "succeeded"], [HEALTH, OLD, ORPHAN]),
        (["--status", "successful"], [HEALTH, OLD, ORPHAN]),
        (["--status", "paused"], [PAUSED]),
        # From midnight in Tokyo: OLD started at 01:00 there, ORPHAN the day before.
        (["--since", "2026-11-02"], ALL_ROWS[:-1]),
        (["--since", "2026-11-03"], []),
        (["--limit", "2"], ALL_ROWS[:2]),
        (["--routine", "daily", "--status", "failed", "--since", "2026-11-02"], [DAILY]),
    ],
)
def test_history_filters(
    state_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    assert ids(state_dir, capsys, *argv) == expected


def test_history_says_when_nothing_is_there(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(state_dir, "history", "--since", "2026-11-03") == 0
    assert capsys.readouterr().out == "No runs match.\n"
    empty = tmp_path / "empty"
    assert command(empty, "history") == 0
    assert capsys.readouterr().out == f"No runs in the run store {empty / 'opsrun.db'} yet.\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2026-13-01"], "argument --since: '2026-13-01' is not a date: give it as YYYY-MM-DD"),
        (["--since", "yesterday"], "argument --since: 'yesterday' is not a date: give it as YYYY-MM-DD"),
        (["--limit", "0"], "argument --limit: '0' is not a positive whole number of runs"),
        (["--limit", "ten"], "argument --limit: 'ten' is not a positive whole number of runs"),
        (["--status", "fine"], "argument --status: invalid choice: 'fine'"),
    ],
)
def test_bad_history_options_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(OpsrunError) as raised:
        parse("history", *argv)
    assert message in raised.value.message
    assert raised.value.exit_code == ExitCode.USAGE


def test_show_a_playbook_run_as_json(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shown = as_json(state_dir, capsys, "show", HEALTH)["run"]
    assert (shown["kind"], shown["playbook"], shown["status"], shown["exit_code"]) == (
        "playbook",
        "opsrun.ops.health_check",
        "successful",
        0,
    )
    assert shown["duration_seconds"] == 42
    assert shown["hosts"]["web1"]["ok"] == 9
    assert shown["host_summary"] == {"count": 2, "failed": 0, "unreachable": 0}
    # Worst first, the ok finding left out; value and threshold as they were published.
    assert [(item["host"], item["check"], item["status"]) for item in shown["findings_not_ok"]] == [
        ("web1", "disk_used", "crit"),
        ("db1", "load", "warn"),
    ]
    assert shown["findings_not_ok"][1]["threshold"] == {"warn": 2.0, "crit": 4.0}
    assert shown["artifacts"] == {"run_dir": str(state_dir / "runs" / HEALTH), "kept": False}


def test_show_a_playbook_run(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (state_dir / "runs" / PING).mkdir(parents=True)
    assert command(state_dir, "show", PING) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Run {PING}: playbook ping failed, exit code 4\n")
    assert "  started 2026-11-02 16:00:00, finished 2026-11-02 16:00:04 (4.2s)\n" in out
    assert "  hosts: 3 (1 failed, 1 unreachable); findings not ok: 0\n" in out
    assert f"  artifacts: {state_dir / 'runs' / PING}\n" in out
    host_rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert [cell.strip() for cell in host_rows["web2"].split("│")[2:-1]] == [
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
        "0",
    ]


def test_a_rotated_run_keeps_its_summary(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert command(state_dir, "show", HEALTH) == 0
    out = capsys.readouterr().out
    assert "  artifacts: rotated away; the store keeps the summary\n" in out
    assert "Findings not ok" in out
    assert "space of /var used: 93.1%" in out
    assert "warn 2, crit 4" in out


def test_show_a_step_run_names_its_routine_run_and_incident(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(state_dir, "show", STEP1) == 0
    out = capsys.readouterr().out
    assert f"  step 'Health check' of routine daily, routine run {DAILY}\n" in out
    assert "Incident 1 opened: web2 service nginx (runbook service-down), now open at tier l1\n" in out


def test_show_a_routine_run_as_json(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shown = as_json(state_dir, capsys, "show", DAILY)["run"]
    assert (shown["kind"], shown["routine"], shown["status"], shown["exit_code"], shown["started_by"]) == (
        "routine",
        "daily",
        "failed",
        77,
        "cron",
    )
    assert shown["duration_seconds"] == 185
    steps = shown["steps"]
    assert [(step["index"], step["status"]) for step in steps] == [
        (1, "succeeded"),
        (2, "refused"),
        (3, "skipped"),
    ]
    assert steps[0]["run"]["id"] == STEP1
    assert steps[0]["run"]["duration_seconds"] == 30
    assert steps[0]["run"]["findings_not_ok"][0]["check"] == "service"
    assert (steps[1]["run"], steps[1]["reason"], steps[1]["escalated_to"]) == (None, REFUSAL, "l1")
    assert [(incident["id"], incident["host"], incident["state"]) for incident in shown["incidents"]] == [
        (1, "web2", "open")
    ]
    [response] = shown["responses"]
    assert (response["incident"], response["phase"], response["status"], response["run"]["id"]) == (
        1,
        "first_response",
        "succeeded",
        RESPONSE,
    )
    assert response["run"]["playbook"] == "service_restart"
    [notification] = shown["notifications"]
    assert (notification["tier"], notification["contact"], notification["delivered"]) == ("l2", "lead", True)
    assert shown["host_summary"] == {"count": 2, "failed": 1, "unreachable": 0}


def test_show_a_routine_run(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert command(state_dir, "show", DAILY) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Routine run {DAILY}: routine daily failed, exit code 77\n")
    assert "  started 2026-11-02 18:00:00, finished 2026-11-02 18:03:05 (3m 05s)\n" in out
    assert "  started by cron, from /srv/ops/ops.yml\n" in out
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in out.splitlines()
        if line.count("│") > 8 and line.split("│")[1].strip().isdigit()
    }
    assert rows["1"] == [
        "Health check",
        "health_check",
        "2 (1 failed)",
        "30.0s",
        "succeeded",
        "0",
        "1",
        STEP1,
        "",
    ]
    assert rows["2"][:7] == ["Patch", "patching", "", "", "refused", "77", ""]
    assert rows["2"][8] == f"{REFUSAL}; escalated to l1"
    assert rows["3"][4] == "skipped"
    assert "First response to the incidents opened" in out
    response_row = next(line for line in out.splitlines() if RESPONSE in line)
    assert [cell.strip() for cell in response_row.split("│")[1:-1]] == [
        "1",
        "first_response",
        "Incident 1 first response 1: Restart nginx",
        "12.0s",
        "succeeded",
        RESPONSE,
        "",
    ]
    assert (
        "2026-11-02 18:02:00 notified lead (l2, json) about incident 1: opsrun: incident 1 escalated to l2\n"
        in out
    )
    assert "Incident 1 opened: web2 service nginx (runbook service-down), now open at tier l1\n" in out


def test_a_paused_routine_run_shows_its_gate_and_the_runs_its_record_does_not_name_yet(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = as_json(state_dir, capsys, "show", PAUSED)["run"]
    [step] = shown["steps"]
    assert (step["index"], step["title"], step["status"], step["run"]["id"]) == (
        None,
        "Reachable",
        "successful",
        STEP_P,
    )
    [gate] = shown["gates"]
    assert (gate["step_index"], gate["state"], gate["requested_by"]) == (2, "pending", "cron")
    assert command(state_dir, "show", PAUSED) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Routine run {PAUSED}: routine patch (check mode) paused\n")
    assert (
        "Approval gate before step 2 'Patch': pending, asked by cron at 2026-11-02 18:30:00; "
        "expires 2026-11-05 18:30:00\n"
    ) in out


def test_a_skipped_routine_run_says_why(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skipped = "20261103T000000.000000Z-daily"
    with open_store(state_dir) as store:
        insert_routine_run(
            store,
            skipped,
            "daily",
            datetime(2026, 11, 3, tzinfo=UTC),
            "skipped",
            finished=datetime(2026, 11, 3, tzinfo=UTC),
            exit_code=0,
            record={"steps": [], "skipped": "2026-11-03 is a holiday (文化の日)"},
        )
    assert ids(state_dir, capsys, "--status", "skipped") == [skipped]
    assert (
        as_json(state_dir, capsys, "show", skipped)["run"]["skipped"] == "2026-11-03 is a holiday (文化の日)"
    )
    assert command(state_dir, "show", skipped) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Routine run {skipped}: routine daily skipped\n")
    assert "  skipped: 2026-11-03 is a holiday (文化の日)\n" in out
    assert "Steps" not in out


def test_a_unique_prefix_is_enough(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert as_json(state_dir, capsys, "show", "20261102T0800")["run"]["id"] == HEALTH
    assert as_json(state_dir, capsys, "show", "20261101T16")["run"]["id"] == OLD


def test_an_ambiguous_prefix_lists_the_runs_it_matches(state_dir: Path) -> None:
    with pytest.raises(OpsrunError) as raised:
        command(state_dir, "show", "20261102T09")
    assert raised.value.message == (
        f"5 runs have an id starting with '20261102T09': {DAILY}, {STEP1}, {RESPONSE}, {PAUSED}, {STEP_P}"
    )
    assert raised.value.hint == "give more of the id; 'opsrun history' lists the runs"
    with pytest.raises(OpsrunError) as raised:
        command(state_dir, "show", "2026")
    assert raised.value.message.startswith("10 runs have an id starting with '2026': ")
    assert raised.value.message.endswith(" and 5 more")


def test_an_unknown_run(state_dir: Path) -> None:
    with pytest.raises(OpsrunError) as raised:
        command(state_dir, "show", "20251231")
    assert raised.value.message == f"there is no run '20251231' in the run store {state_dir / 'opsrun.db'}"
    assert raised.value.hint == "see the runs and their ids with 'opsrun history'"
    assert raised.value.exit_code == ExitCode.USAGE
    with pytest.raises(OpsrunError, match="the run id is empty"):
        command(state_dir, "show", " ")
