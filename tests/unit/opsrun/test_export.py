"""`opsrun export awx|rulebook`: schedules as rrules, workflow edges, surveys, secrets, files."""

import argparse
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from dateutil.rrule import rrulestr

from opsrun.commands import export as export_command
from opsrun.design.load import load_design
from opsrun.errors import OpsrunError
from opsrun.export.awx import build_awx_export
from opsrun.export.rrule import ScheduleError, schedule_rrules
from opsrun.export.rulebook import build_rulebook
from opsrun.output import GlobalOptions

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ops.yml"
SECRETS = ("XXXXXXXX", "app-password", "token-a", "maintainer-team")
ZONE = ZoneInfo("Asia/Tokyo")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _fire_times(schedule: str, start: datetime, days: int) -> set[datetime]:
    end = start + timedelta(days=days)
    times: set[datetime] = set()
    for rule in schedule_rrules(schedule, "Asia/Tokyo"):
        times.update(rrulestr(rule.replace(" RRULE:", "\nRRULE:")).between(start, end, inc=True))
    return times


def _brute_force(start: datetime, days: int, matches: Any) -> set[datetime]:
    return {
        moment for minute in range(days * 24 * 60) if matches(moment := start + timedelta(minutes=minute))
    }


START = datetime(2026, 3, 1, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("schedule", "matches"),
    [
        ("0 7 * * *", lambda m: (m.hour, m.minute) == (7, 0)),
        ("*/20 9-10 * * mon-fri", lambda m: m.weekday() < 5 and m.hour in (9, 10) and m.minute % 20 == 0),
        ("30 2 1,15 * 0", lambda m: (m.hour, m.minute) == (2, 30) and (m.day in (1, 15) or m.weekday() == 6)),
        ("Sun *-*-1..7 02:00:00", lambda m: m.weekday() == 6 and m.day <= 7 and (m.hour, m.minute) == (2, 0)),
        ("Mon..Fri 07:00", lambda m: m.weekday() < 5 and (m.hour, m.minute) == (7, 0)),
        ("quarterly", lambda m: m.month in (1, 4, 7, 10) and m.day == 1 and (m.hour, m.minute) == (0, 0)),
    ],
)
def test_rrules_fire_exactly_when_the_schedule_does(schedule: str, matches: Any) -> None:
    days = 92 if schedule == "quarterly" else 35
    start = datetime(2026, 3, 30, tzinfo=ZONE) if schedule == "quarterly" else START
    assert _fire_times(schedule, start, days) == _brute_force(start, days, matches)


@pytest.mark.parametrize("schedule", ["0 7 1,15 * *", "0 0 1 1,7 *", "Sun *-*-1..7 02:00:00", "0 7 * * 1"])
def test_rrules_avoid_what_awx_refuses(schedule: str) -> None:
    for rule in schedule_rrules(schedule, "UTC"):
        assert rule.startswith("DTSTART;TZID=UTC:")
        assert "INTERVAL=1" in rule
        for refused in (r"BYMONTHDAY=\d+,", r"BYMONTH=\d+,", r"BYDAY=\d"):
            assert not re.search(refused, rule), rule


@pytest.mark.parametrize("schedule", ["*-*~01 03:00", "2027-01-01 00:00", "*-*-* 03:00:30"])
def test_a_schedule_without_rrule_is_an_error(schedule: str) -> None:
    with pytest.raises(ScheduleError):
        schedule_rrules(schedule, "UTC")


@pytest.fixture(scope="module")
def example_export() -> Any:
    return build_awx_export(load_design(EXAMPLE), ROOT)


def _tasks(playbook: str, module: str) -> list[dict[str, Any]]:
    plays = yaml.load(playbook, Loader=_Loader)  # noqa: S506 - a SafeLoader
    return [task[module] for task in plays[0]["tasks"] if module in task]


def _nodes(playbook: str, workflow: str) -> dict[str, dict[str, Any]]:
    for arguments in _tasks(playbook, "awx.awx.workflow_job_template"):
        if arguments["name"] == workflow:
            return {node["identifier"]: node for node in arguments["workflow_nodes"]}
    raise AssertionError(workflow)


def test_workflow_edges_follow_on_failure(example_export: Any) -> None:
    nodes = _nodes(example_export.playbook, "opsrun routine monthly-patching")
    # stop: only a success edge, here to the approval node before the step marked approval: true
    assert nodes["step-1"]["related"] == {"success_nodes": [{"identifier": "approval-2"}]}
    assert nodes["approval-2"]["related"] == {"success_nodes": [{"identifier": "step-2"}]}
    assert nodes["step-1"]["limit"] == "web"
    # escalate on the last step: a failure edge to the first tier's escalation node
    assert nodes["step-3"]["related"] == {"failure_nodes": [{"identifier": "escalate-3"}]}
    assert nodes["escalate-3"]["unified_job_template"]["name"] == "opsrun escalate to l1"
    daily = _nodes(example_export.playbook, "opsrun routine daily-health")
    assert daily["escalate-1"]["related"] == {"always_nodes": [{"identifier": "step-2"}]}


def test_runbook_workflow_verifies_and_escalates(example_export: Any) -> None:
    nodes = _nodes(example_export.playbook, "opsrun runbook service-down")
    assert nodes["step-diagnose-1"]["related"] == {"success_nodes": [{"identifier": "step-first_response-1"}]}
    assert nodes["step-first_response-1"]["related"] == {"success_nodes": [{"identifier": "verify"}]}
    assert nodes["verify"]["related"] == {"failure_nodes": [{"identifier": "escalate-verify"}]}
    assert nodes["escalate-verify"]["unified_job_template"]["name"] == "opsrun escalate to l2"


def test_schedules_in_the_calendar_time_zone(example_export: Any) -> None:
    rules = {task["name"]: task["rrule"] for task in _tasks(example_export.playbook, "awx.awx.schedule")}
    assert rules["opsrun routine daily-health"] == (
        "DTSTART;TZID=Asia/Tokyo:20260101T000000 RRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=7;BYMINUTE=0"
    )
    assert "BYDAY=SU;BYSETPOS=1" in rules["opsrun routine monthly-patching"]


def test_surveys_come_from_the_argument_specs(example_export: Any) -> None:
    templates = {task["name"]: task for task in _tasks(example_export.playbook, "awx.awx.job_template")}
    questions = {q["variable"]: q for q in templates["opsrun.ops.health_check"]["survey_spec"]["spec"]}
    fail_on = questions["health_check_fail_on"]
    assert fail_on["type"] == "multiplechoice"
    assert fail_on["choices"] == ["warn", "unknown", "crit", "never"]
    assert fail_on["default"] == "crit"
    assert "survey_spec" not in templates["opsrun.ops.ping"]


def test_no_secret_reaches_the_playbook(example_export: Any) -> None:
    for secret in SECRETS:
        assert secret not in example_export.playbook
    assert "{{ vault_notify_ops_oncall_1 }}" in example_export.playbook
    assert example_export.secrets == [
        "vault_notify_dev_maintainer_1",
        "vault_notify_ops_lead_1_password",
        "vault_notify_ops_lead_1_username",
        "vault_notify_ops_oncall_1",
    ]


def test_export_is_deterministic(example_export: Any) -> None:
    assert build_awx_export(load_design(EXAMPLE), ROOT).playbook == example_export.playbook


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    export_command.add_parser(commands, lambda parser, **_: None)
    return parser.parse_args(argv)


def test_out_writes_private_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["export", "awx", "--ops-file", str(EXAMPLE), "--out", str(tmp_path)])
    assert export_command.handle(GlobalOptions(state_dir=tmp_path), args) == 0
    assert stat.S_IMODE((tmp_path / "awx.yml").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "vault.yml").stat().st_mode) == 0o600
    assert "wrote" in capsys.readouterr().out


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    args = _parse(["export", "awx", "--ops-file", str(EXAMPLE), "--out", str(tmp_path / "missing")])
    with pytest.raises(OpsrunError, match="not a directory"):
        export_command.handle(GlobalOptions(state_dir=tmp_path), args)


def test_rulebook_has_a_rule_per_runbook_with_first_response() -> None:
    text = build_rulebook(load_design(EXAMPLE), ROOT, host="127.0.0.1", port=5055)
    ruleset = yaml.safe_load(text)[0]
    source = ruleset["sources"][0]["ansible.eda.alertmanager"]
    assert (source["host"], source["port"]) == ("127.0.0.1", 5055)
    rules = {rule["name"]: rule for rule in ruleset["rules"]}
    assert sorted(rules) == ["runbook disk-full", "runbook service-down"]
    action = rules["runbook service-down"]["actions"][0]["run_playbook"]
    assert action["name"] == "opsrun.ops.service_restart"
    assert action["extra_vars"]["opsrun_hosts"] == "{{ event.meta.hosts | join(',') }}"
    assert 'alertname is regex("^disk.*$")' in rules["runbook disk-full"]["condition"]
