"""`opsrun run ROUTINE` end to end on this machine: real ansible-runner, local connection, a real
webhook on loopback for the escalation."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from receiver import Hook

from opsrun import cli
from opsrun.errors import ExitCode

pytestmark = pytest.mark.slow

FAILING_PLAYBOOK = """\
- name: Break on purpose
  hosts: all
  gather_facts: false
  tasks:
    - name: Fail on purpose
      ansible.builtin.fail:
        msg: this step always fails
"""


def design(
    tmp_path: Path, routines: str, *, hook: str = "json://127.0.0.1:9/none", window: bool = False
) -> Path:
    """An ops.yml whose scope is the group prod (this machine) of an inventory that also has lab."""
    python = sys.executable
    (tmp_path / "inventory.ini").write_text(
        f"[prod]\nlocalhost ansible_connection=local ansible_python_interpreter={python}\n"
        f"[lab]\nlab1 ansible_host=127.0.0.1 ansible_connection=local ansible_python_interpreter={python}\n"
    )
    (tmp_path / "broken.yml").write_text(FAILING_PLAYBOOK)
    now = datetime.now(UTC)
    windows = ""
    if window:
        start, until = (
            (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
            (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
        )
        windows = f"  maintenance_windows:\n    - name: now\n      dated: {{from: {start}, until: {until}}}\n"
    text = (
        "version: 1\n"
        "scope: {inventory: inventory.ini, hosts: [prod], layers: [os]}\n"
        f"contacts:\n  oncall: {{notify: ['{hook}']}}\n"
        "escalation:\n  - {name: l1, contacts: [oncall], ack_minutes: 15}\n"
        f"calendar:\n  timezone: UTC\n{windows}"
        f"routines:\n{routines}"
    )
    path = tmp_path / "ops.yml"
    path.write_text(text)
    return path


def run_routine(capsys: pytest.CaptureFixture[str], tmp_path: Path, ops: Path, *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = cli.main(
        ["--state-dir", str(tmp_path / "state"), "run", "--output", "json", "--ops-file", str(ops), *argv]
    )
    return code, json.loads(capsys.readouterr().out)


def test_a_routine_runs_its_steps_in_order_and_keeps_a_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = design(
        tmp_path,
        "  daily:\n    schedule: '0 7 * * *'\n    steps:\n"
        "      - {name: reach, playbook: ping}\n"
        "      - {name: reach again, playbook: opsrun.ops.ping, vars: {opsrun_hosts: all}}\n",
    )
    code, document = run_routine(capsys, tmp_path, ops, "daily")
    assert code == ExitCode.OK, document
    result = document["result"]
    assert [(s["title"], s["status"], s["limit"]) for s in result["steps"]] == [
        ("reach", "succeeded", "prod"),
        ("reach again", "succeeded", "prod"),
    ]
    # Only the host in scope ran, although the second step's playbook targets all.
    assert [sorted(run["hosts"]) for run in result["runs"]] == [["localhost"], ["localhost"]]
    [kept] = (tmp_path / "state" / "routines").iterdir()
    assert kept.stat().st_mode & 0o077 == 0
    assert json.loads(kept.read_text())["steps"][1]["run_id"] == result["runs"][1]["run_id"]


def test_a_step_on_hosts_outside_the_scope_is_refused_and_stops_the_routine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = design(
        tmp_path,
        "  lab:\n    schedule: '0 7 * * *'\n    steps:\n"
        "      - {name: touch the lab, playbook: ping, limit: 'prod:lab'}\n"
        "      - {name: never, playbook: ping}\n",
    )
    code, document = run_routine(capsys, tmp_path, ops, "lab")
    assert code == ExitCode.REFUSED
    steps = document["result"]["steps"]
    assert [s["status"] for s in steps] == ["refused", "skipped"]
    assert "outside the contract scope (prod): lab1" in steps[0]["reason"]
    assert document["result"]["runs"] == []


def test_a_change_waits_for_a_window_unless_forced_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routines = (
        "  fix:\n    schedule: '0 7 * * *'\n    steps:\n"
        "      - {name: change it, playbook: ping, change: true}\n"
    )
    code, document = run_routine(capsys, tmp_path, design(tmp_path, routines), "fix")
    assert code == ExitCode.REFUSED
    assert "outside every maintenance window" in document["result"]["steps"][0]["reason"]

    code, document = run_routine(
        capsys, tmp_path, design(tmp_path, routines), "fix", "--force", "INC-7 disk full"
    )
    assert code == ExitCode.OK
    assert document["result"]["steps"][0]["forced"] == "INC-7 disk full"

    code, document = run_routine(capsys, tmp_path, design(tmp_path, routines, window=True), "fix")
    assert code == ExitCode.OK and document["result"]["steps"][0]["forced"] is None


def test_a_failed_step_that_escalates_notifies_the_first_tier_and_the_routine_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webhook: str
) -> None:
    ops = design(
        tmp_path,
        "  daily:\n    schedule: '0 7 * * *'\n    steps:\n"
        "      - {name: broken check, playbook: broken.yml, on_failure: escalate}\n"
        "      - {name: reach, playbook: ping}\n",
        hook=webhook,
    )
    code, document = run_routine(capsys, tmp_path, ops, "daily")
    assert code == ExitCode.HOSTS_FAILED
    steps = document["result"]["steps"]
    assert [(s["status"], s["escalated_to"]) for s in steps] == [("failed", "l1"), ("succeeded", None)]
    [message] = Hook.received
    assert message["title"] == "opsrun: routine daily: step 'broken check' failed"
    assert "localhost" in message["message"]
    # The routine's record never holds the notification URL.
    assert webhook not in json.dumps(document)


def test_an_unknown_routine_names_the_ones_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = design(tmp_path, "  daily:\n    schedule: '0 7 * * *'\n    steps: [{playbook: ping}]\n")
    capsys.readouterr()
    code = cli.main(["--state-dir", str(tmp_path / "state"), "run", "weekly", "--ops-file", str(ops)])
    assert code == ExitCode.USAGE
    assert "there is no routine 'weekly'; the routines of this design: daily" in capsys.readouterr().err


FINDING_PLAYBOOK = """\
- name: Publish a finding as health_check does
  hosts: all
  gather_facts: false
  tasks:
    - name: Publish
      ansible.builtin.set_stats:
        data:
          health_check_findings:
            - {host: localhost, check: disk, item: /srv, status: crit, value: 97, threshold: 9, message: full}
            - {host: localhost, check: disk, item: /, status: ok, value: 10, threshold: 95, message: fine}
        per_host: false
"""


def test_findings_of_a_step_open_one_incident_per_host_and_check_and_runs_are_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "finding.yml").write_text(FINDING_PLAYBOOK)
    ops = design(tmp_path, "  daily:\n    schedule: '0 7 * * *'\n    steps: [{playbook: finding.yml}]\n")
    ops.write_text(
        ops.read_text() + "incidents:\n  runbooks:\n    - {name: disk-full, match: {check: disk}}\n"
    )
    code, first = run_routine(capsys, tmp_path, ops, "daily")
    assert code == ExitCode.OK, first
    assert [(i["host"], i["item"], i["runbook"], i["new"]) for i in first["result"]["incidents"]] == [
        ("localhost", "/srv", "disk-full", True)
    ]
    code, second = run_routine(capsys, tmp_path, ops, "daily")
    assert [(i["id"], i["new"]) for i in second["result"]["incidents"]] == [
        (first["result"]["incidents"][0]["id"], False)
    ]
    capsys.readouterr()
    assert cli.main(["--state-dir", str(tmp_path / "state"), "--output", "json", "incident", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["result"]["incidents"]) == 1
