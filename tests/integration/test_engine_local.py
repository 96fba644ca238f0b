"""The engine end to end on this machine (local connection, real ansible-runner): first response to
incidents, escalation with a webhook on loopback, approval gates, scheduled skips, change leases and
runs killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from receiver import Hook

from opsrun import cli
from opsrun.commands import incident as incident_command
from opsrun.errors import ExitCode
from opsrun.output import GlobalOptions, OutputFormat

pytestmark = pytest.mark.slow

# A check as health_check publishes it: crit while the marker file exists.
CHECK_PLAYBOOK = """\
- name: Check the app as health_check would
  hosts: all
  gather_facts: false
  tasks:
    - name: Look for the marker of a broken app
      ansible.builtin.stat:
        path: "{{ marker }}"
      register: broken
    - name: Publish the finding
      ansible.builtin.set_stats:
        data:
          health_check_findings:
            - host: "{{ inventory_hostname }}"
              check: services
              item: app
              status: "{{ 'crit' if broken.stat.exists else 'ok' }}"
              message: "{{ 'app is failed' if broken.stat.exists else 'app is active' }}"
        per_host: false
"""
FIX_PLAYBOOK = """\
- name: Restart the app (remove the marker)
  hosts: all
  gather_facts: false
  tasks:
    - name: Remove the marker
      ansible.builtin.file:
        path: "{{ marker }}"
        state: absent
    - name: Keep what the playbook was told about its incident
      ansible.builtin.copy:
        content: "{{ opsrun_incident | to_json }}"
        dest: "{{ marker }}.incident"
        mode: "0600"
"""
NOOP_PLAYBOOK = """\
- name: A first response that does not help
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: nothing to do
"""
SLOW_PLAYBOOK = """\
- name: Take a while
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep {{ seconds | default(30) }}
      changed_when: true
"""


def write_design(
    tmp_path: Path,
    *,
    hook: str = "json://127.0.0.1:9/none",
    first_response: str = "fix.yml",
    routines: str = "",
    extra: str = "",
    window: bool = True,
) -> Path:
    python = sys.executable
    (tmp_path / "inventory.ini").write_text(
        f"[prod]\nlocalhost ansible_connection=local ansible_python_interpreter={python}\n"
    )
    for name, text in (
        ("check.yml", CHECK_PLAYBOOK),
        ("fix.yml", FIX_PLAYBOOK),
        ("noop.yml", NOOP_PLAYBOOK),
        ("slow.yml", SLOW_PLAYBOOK),
    ):
        (tmp_path / name).write_text(text)
    marker = tmp_path / "app-broken"
    now = datetime.now(UTC)
    windows = (
        "  maintenance_windows:\n    - dated: {from: "
        f"{(now - timedelta(days=1)):%Y-%m-%d %H:%M}, until: {(now + timedelta(days=1)):%Y-%m-%d %H:%M}}}\n"
        if window
        else ""
    )
    text = f"""\
version: 1
scope: {{inventory: inventory.ini, hosts: [prod], layers: [os]}}
contacts:
  oncall: {{notify: ['{hook}']}}
  lead: {{notify: ['{hook}']}}
  client: {{email: it@client.example.jp}}
escalation:
  - {{name: l1, contacts: [oncall], ack_minutes: 15}}
  - {{name: l2, contacts: [lead], ack_minutes: 30, may_approve: [change]}}
  - {{name: client, contacts: [client], ack_minutes: 60, may_approve: [change]}}
calendar:
  timezone: UTC
{windows}{extra}routines:
  daily:
    schedule: '0 7 * * *'
    steps:
      - {{name: check the app, playbook: check.yml, vars: {{marker: '{marker}'}}}}
{routines}incidents:
  runbooks:
    - name: app-down
      match: {{check: services, item: app}}
      first_response:
        - {{name: restart the app, playbook: {first_response}, vars: {{marker: '{marker}'}}, change: true}}
      escalate_to: [l2, client]
"""
    path = tmp_path / "ops.yml"
    path.write_text(text)
    return path


def opsrun(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = cli.main(["--state-dir", str(tmp_path / "state"), "--output", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def show_incident(capsys: pytest.CaptureFixture[str], tmp_path: Path, incident_id: int) -> Any:
    code, document = opsrun(capsys, tmp_path, "incident", "show", str(incident_id))
    assert code == 0
    return document["result"]


def test_a_first_response_that_fixes_the_finding_leaves_the_incident_mitigated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webhook: str
) -> None:
    ops = write_design(tmp_path, hook=webhook)
    (tmp_path / "app-broken").touch()
    code, document = opsrun(capsys, tmp_path, "run", "daily", "--ops-file", str(ops))
    assert code == ExitCode.OK, document
    [opened] = document["result"]["incidents"]
    assert [(r["phase"], r["status"]) for r in document["result"]["responses"]] == [
        ("first_response", "succeeded"),
        ("verify", "succeeded"),
    ]
    assert not (tmp_path / "app-broken").exists()
    told = json.loads((tmp_path / "app-broken.incident").read_text())
    assert (told["host"], told["check"], told["item"]) == ("localhost", "services", "app")
    shown = show_incident(capsys, tmp_path, opened["id"])
    assert shown["incident"]["state"] == "mitigated"
    assert [event["kind"] for event in shown["timeline"]] == ["opened", "cleared", "mitigate"]
    assert shown["timeline"][2]["actor"] == "opsrun"
    # Fixed at the first response: nobody is called.
    assert Hook.received == []
    # Every run of the routine and of the response is stored as finished.
    with sqlite3.connect(tmp_path / "state" / "opsrun.db") as db:
        runs = db.execute("SELECT step, status FROM runs ORDER BY started").fetchall()
    assert [status for _, status in runs] == ["successful"] * 3
    assert "restart the app" in runs[1][0]


def test_a_first_response_that_does_not_help_escalates_and_notifies_the_next_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webhook: str
) -> None:
    ops = write_design(tmp_path, hook=webhook, first_response="noop.yml")
    (tmp_path / "app-broken").touch()
    code, document = opsrun(capsys, tmp_path, "run", "daily", "--ops-file", str(ops))
    assert code == ExitCode.OK, document
    [opened] = document["result"]["incidents"]
    shown = show_incident(capsys, tmp_path, opened["id"])
    assert (shown["incident"]["state"], shown["incident"]["tier"]) == ("open", "l2")
    assert [event["kind"] for event in shown["timeline"]] == ["opened", "seen_again", "escalate"]
    [message] = Hook.received
    assert message["title"] == f"opsrun: incident {opened['id']} on localhost: services app escalated to l2"
    assert "still crit after the first response" in message["message"]
    assert "app is failed" in message["message"]
    with sqlite3.connect(tmp_path / "state" / "opsrun.db") as db:
        rows = db.execute("SELECT tier, contact, channel, delivered FROM notifications").fetchall()
    assert rows == [("l2", "lead", "json", 1)]

    # The ack deadline of l2 passes: the timer's escalate-due hands it to the client.
    options = GlobalOptions(state_dir=tmp_path / "state", output=OutputFormat.JSON)
    later = datetime.now(UTC) + timedelta(minutes=31)
    assert incident_command.escalate_due(options, ops_file=ops, now=later) == 0
    capsys.readouterr()
    shown = show_incident(capsys, tmp_path, opened["id"])
    assert shown["incident"]["tier"] == "client"
    assert "did not acknowledge it within 30 minutes" in shown["timeline"][-1]["note"]


def test_a_step_that_needs_approval_pauses_until_someone_allowed_approves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = write_design(
        tmp_path,
        routines=(
            "  release:\n    schedule: '0 7 * * *'\n    steps:\n"
            "      - {name: before, playbook: ping}\n"
            "      - {name: deploy, playbook: ping, change: true, approval: true}\n"
        ),
    )
    code, paused = opsrun(capsys, tmp_path, "run", "release", "--ops-file", str(ops), "--as", "lead")
    assert code == ExitCode.BUSY, paused
    run_id = paused["result"]["routine_id"]
    assert [s["status"] for s in paused["result"]["steps"]] == ["succeeded", "paused"]
    assert "waiting for approval by l2 (lead), client (client)" in paused["error"]["message"]

    code, refused = opsrun(capsys, tmp_path, "approve", run_id, "--as", "lead")
    assert code == ExitCode.USAGE
    assert "lead started routine run" in refused["error"]["message"]
    code, refused = opsrun(capsys, tmp_path, "approve", run_id, "--as", "oncall")
    assert code == ExitCode.USAGE
    assert "oncall may not approve step 'deploy'" in refused["error"]["message"]

    code, resumed = opsrun(capsys, tmp_path, "approve", run_id, "--as", "client")
    assert code == ExitCode.OK, resumed
    assert [s["status"] for s in resumed["result"]["steps"]] == ["succeeded", "succeeded"]
    code, again = opsrun(capsys, tmp_path, "approve", run_id, "--as", "client")
    assert code == ExitCode.USAGE
    assert "is succeeded, not waiting for an approval" in again["error"]["message"]


def test_a_scheduled_run_on_a_holiday_records_a_skip_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date()
    ops = write_design(tmp_path, extra=f"  holidays: {{extra: [{today.isoformat()}]}}\n")
    ops.write_text(
        ops.read_text().replace(
            "schedule: '0 7 * * *'\n    steps:",
            "schedule: '0 7 * * *'\n    business_days_only: true\n    steps:",
            1,
        )
    )
    code, document = opsrun(capsys, tmp_path, "run", "daily", "--ops-file", str(ops), "--scheduled")
    assert code == ExitCode.OK
    assert document["result"]["status"] == "skipped"
    assert document["result"]["skipped"] == f"{today.isoformat()} is a holiday"
    assert document["result"]["steps"] == []
    # A person running it by hand is not held back by the holiday.
    code, document = opsrun(capsys, tmp_path, "run", "daily", "--ops-file", str(ops))
    assert code == ExitCode.OK and document["result"]["status"] == "succeeded"
    assert isinstance(today, date)


def _opsrun_process(tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsrun", "--state-dir", str(tmp_path / "state"), "--output", "json", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _running(tmp_path: Path) -> bool:
    database = tmp_path / "state" / "opsrun.db"
    if not database.exists():
        return False
    with sqlite3.connect(database) as db:
        try:
            return db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] > 0
        except sqlite3.OperationalError:
            return False


def test_two_change_runs_on_one_host_do_not_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = write_design(
        tmp_path,
        routines=(
            "  change:\n    schedule: '0 7 * * *'\n    steps:\n"
            "      - {name: slow change, playbook: slow.yml, change: true}\n"
        ),
    )
    first = _opsrun_process(tmp_path, "run", "change", "--ops-file", str(ops))
    try:
        _wait_for(lambda: _running(tmp_path), "the first run to start")
        code, second = opsrun(capsys, tmp_path, "run", "change", "--ops-file", str(ops))
        assert code == ExitCode.BUSY, second
        [step] = second["result"]["steps"]
        assert step["status"] == "busy"
        assert f"(pid {first.pid}, since" in step["reason"] and "holds localhost" in step["reason"]
        # A read-only routine takes no lease and runs meanwhile.
        code, daily = opsrun(capsys, tmp_path, "run", "daily", "--ops-file", str(ops))
        assert code == ExitCode.OK, daily
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.communicate(timeout=60)


def test_a_run_killed_with_sigkill_is_marked_interrupted_at_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = write_design(
        tmp_path,
        routines=(
            "  change:\n    schedule: '0 7 * * *'\n    steps:\n"
            "      - {name: slow change, playbook: slow.yml, change: true}\n"
        ),
    )
    victim = _opsrun_process(tmp_path, "run", "change", "--ops-file", str(ops))
    _wait_for(lambda: _running(tmp_path), "the run to start")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    # The next opsrun finds the run, the routine run and the lease of a process that is gone.
    code, document = opsrun(capsys, tmp_path, "run", "change", "--ops-file", str(ops), "--check")
    assert code == ExitCode.OK, document
    with sqlite3.connect(tmp_path / "state" / "opsrun.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        runs = db.execute("SELECT status, exit_code FROM runs ORDER BY started").fetchall()
        routine_runs = db.execute("SELECT status FROM routine_runs ORDER BY started").fetchall()
        leases = db.execute("SELECT count(*) FROM leases").fetchone()
    assert runs[0] == ("interrupted", ExitCode.INTERRUPTED)
    assert routine_runs == [("interrupted",), ("succeeded",)]
    assert leases == (0,)
