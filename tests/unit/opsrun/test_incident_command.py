"""`opsrun incident`: the command line, its human output, its JSON envelopes and its exit codes."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runrecords import health_check_run

from opsrun import cli
from opsrun.design.load import load_design
from opsrun.errors import ExitCode
from opsrun.incidents import open_incidents_from_findings
from opsrun.store import open_store, record_run

RUN_ID = "20261102T070000.000000Z-aaaaaa"
OPS_YML = """\
version: 1
scope: {inventory: hosts.yml, layers: [os]}
contacts:
  oncall: {email: oncall@example.com}
  lead: {email: lead@example.com}
  client-admin: {email: admin@client.example.jp}
  client-cto: {email: cto@client.example.jp}
escalation:
  - {name: l1, contacts: [oncall], ack_minutes: 15}
  - {name: l2, contacts: [lead], ack_minutes: 30}
  - {name: client, contacts: [client-admin, client-cto], ack_minutes: 240, may_approve: [permanent_fix]}
incidents:
  runbooks:
    - name: service-down
      match: {check: service}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with ops.yml and a store holding one open incident (id 1), as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSRUN_APPROVAL_HOURS", raising=False)
    monkeypatch.delenv("OPSRUN_STATE_DIR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables without wrapped cells
    (tmp_path / "ops.yml").write_text(OPS_YML)
    design = load_design(tmp_path / "ops.yml").design
    now = datetime.now(UTC)
    with open_store(tmp_path / ".opsrun") as store:
        record_run(
            store,
            health_check_run(RUN_ID, now),
        )
        finding = {
            "host": "web1",
            "check": "service",
            "item": "nginx",
            "status": "crit",
            "message": "nginx is down",
        }
        open_incidents_from_findings(store, design, [finding], RUN_ID, now)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["incident", *argv, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_list_shows_the_open_incidents(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["incident", "list"]) == 0
    out = capsys.readouterr().out
    assert "Incidents" in out
    row = next(line for line in out.splitlines() if "web1" in line)
    assert [cell.strip() for cell in row.split("│")[1:6]] == ["1", "open", "l1", "web1", "service"]


def test_list_as_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, "list")
    assert code == 0
    assert document["command"] == "incident"
    assert document["ok"] is True
    [incident] = document["result"]["incidents"]
    assert (incident["id"], incident["state"], incident["host"], incident["item"]) == (
        1,
        "open",
        "web1",
        "nginx",
    )
    assert incident["run_id"] == RUN_ID


def test_list_filters_by_state(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["incident", "list", "--state", "acknowledged"]) == 0
    assert capsys.readouterr().out == "No incidents in state acknowledged.\n"
    assert cli.main(["incident", "list", "--state", "bogus"]) == ExitCode.USAGE
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_the_whole_lifecycle_on_the_command_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = [
        ["ack", "1", "--as", "oncall"],
        ["mitigate", "1", "--as", "oncall", "--note", "restarted nginx"],
        ["propose-fix", "1", "--as", "lead", "--note", "raise the worker limit"],
        ["approve", "1", "--as", "client-admin"],
        ["resolve", "1", "--as", "lead", "--note", "limit raised, no errors for a day"],
    ]
    states = []
    for step in steps:
        code, document = run_json(capsys, *step)
        assert code == 0, document
        assert document["result"]["action"] == step[0]
        states.append(document["result"]["incident"]["state"])
    assert states == ["acknowledged", "mitigated", "fix_proposed", "approved", "resolved"]

    code, document = run_json(capsys, "show", "1")
    assert code == 0
    timeline = document["result"]["timeline"]
    assert [(event["kind"], event["actor"]) for event in timeline] == [
        ("opened", "opsrun"),
        ("ack", "oncall"),
        ("mitigate", "oncall"),
        ("propose-fix", "lead"),
        ("approve", "client-admin"),
        ("resolve", "lead"),
    ]
    assert timeline[2]["note"] == "restarted nginx"
    assert all(event["at"].endswith("+00:00") for event in timeline)
    [approval] = document["result"]["approvals"]
    assert (approval["approved_by"], approval["approver_tier"], approval["proposed_by"]) == (
        "client-admin",
        "client",
        "lead",
    )
    assert cli.main(["incident", "list"]) == 0
    assert capsys.readouterr().out == "No incidents open.\n"


def test_show_prints_the_incident_and_its_timeline(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["incident", "ack", "1", "--as", "oncall", "--note", "on it"]) == 0
    assert (
        "Incident 1 (web1 service nginx): ack by oncall; now acknowledged, tier l1" in capsys.readouterr().out
    )
    assert cli.main(["incident", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Incident 1: web1 service nginx acknowledged\n")
    assert "finding: crit: nginx is down" in out
    assert f"by run {RUN_ID}" in out
    assert "Timeline (UTC)" in out
    assert "open → acknowledged" in out
    assert "on it" in out


def test_a_refused_transition_is_one_line_and_a_json_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["incident", "approve", "1", "--as", "client-cto"]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.err == (
        "opsrun: incident 1 is open: it cannot take approve; from open it can take: ack, escalate, mitigate; "
        "see its timeline with 'opsrun incident show 1'\n"
    )
    code, document = run_json(capsys, "resolve", "1", "--as", "lead", "--note", "x")
    assert code == ExitCode.USAGE
    assert document["ok"] is False
    assert document["command"] == "incident"
    assert "cannot take resolve" in document["error"]["message"]


def test_an_unknown_incident_and_an_unknown_actor(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["incident", "show", "7"]) == ExitCode.USAGE
    assert "there is no incident 7" in capsys.readouterr().err
    assert cli.main(["incident", "ack", "1", "--as", "someone"]) == ExitCode.USAGE
    assert "'someone' is not a contact" in capsys.readouterr().err


def test_a_missing_ops_file_is_a_configuration_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["incident", "ack", "1", "--as", "oncall", "--ops-file", "elsewhere.yml"])
    assert code == ExitCode.CONFIG
    assert "the operations design elsewhere.yml does not exist" in capsys.readouterr().err


def test_escalate_on_the_command_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, "escalate", "1", "--as", "oncall", "--note", "disk errors too")
    assert code == 0
    assert document["result"]["incident"]["tier"] == "l2"


def approve_with(capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    for step in (
        ["ack", "1", "--as", "oncall"],
        ["propose-fix", "1", "--as", "lead", "--note", "replace the disk"],
    ):
        assert cli.main(["incident", *step]) == 0
    capsys.readouterr()
    code, _ = run_json(capsys, "approve", "1", "--as", "client-cto", *options)
    assert code == 0
    _, document = run_json(capsys, "show", "1")
    [approval] = document["result"]["approvals"]
    return dict(approval)


def hours_valid(approval: dict[str, Any]) -> float:
    approved = datetime.fromisoformat(approval["approved_at"])
    return (datetime.fromisoformat(approval["expires_at"]) - approved).total_seconds() / 3600


def test_an_approval_is_valid_72_hours_by_default(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hours_valid(approve_with(capsys)) == 72


def test_the_validity_from_the_option(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hours_valid(approve_with(capsys, "--valid-hours", "4")) == 4


def test_the_validity_from_the_environment(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSRUN_APPROVAL_HOURS", "24")
    assert hours_valid(approve_with(capsys)) == 24


def test_a_bad_validity_in_the_environment_is_a_configuration_error(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSRUN_APPROVAL_HOURS", "soon")
    assert cli.main(["incident", "approve", "1", "--as", "client-cto"]) == ExitCode.CONFIG
    assert "OPSRUN_APPROVAL_HOURS='soon' is not a positive number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["incident", "mitigate", "1", "--as", "oncall"], "the following arguments are required: --note"),
        (["incident", "ack", "1"], "the following arguments are required: --as"),
        (["incident", "ack", "0", "--as", "oncall"], "invalid _positive_int value: '0'"),
        (["incident", "ack", "--valid-hours", "3", "1", "--as", "oncall"], "unrecognized arguments"),
        (["incident"], "the following arguments are required: ACTION"),
    ],
)
def test_bad_usage(
    workspace: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert cli.main(argv) == ExitCode.USAGE
    assert expected in capsys.readouterr().err
