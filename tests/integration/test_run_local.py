"""`opsrun run` end to end on this machine: real ansible-runner, real ansible-playbook, local connection."""

import json
import os
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from opsrun import cli
from opsrun.errors import ExitCode

pytestmark = pytest.mark.slow

CANARY = "canary-value-4f1d"

FAILING_PLAYBOOK = """\
- name: Break on purpose
  hosts: all
  gather_facts: false
  tasks:
    - name: Pass first
      ansible.builtin.debug:
        msg: fine
    - name: Fail on purpose
      ansible.builtin.fail:
        msg: this task always fails
    - name: Never reached
      ansible.builtin.debug:
        msg: not reached
"""

# Passes only when ansible-playbook read the ansible.cfg that sets timeout = 17.
CONFIG_PLAYBOOK = """\
- name: Show which configuration applies
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the configured timeout
      ansible.builtin.assert:
        that: lookup('ansible.builtin.config', 'DEFAULT_TIMEOUT') | int == 17
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("OPSRUN_STATE_DIR", "OPSRUN_KEEP_RUNS", "OPSRUN_KEEP_DAYS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def opsrun(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], state_dir: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out = opsrun(capsys, "--state-dir", str(state_dir), "run", "--output", "json", *argv)
    return code, json.loads(out)


def test_ping_on_this_machine(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = workspace / "state"
    code, document = run_json(capsys, state_dir, "--playbook", "ping", "-e", f"opsrun_probe_token={CANARY}")
    assert code == ExitCode.OK, document
    assert document["schema"] == "opsrun/v1"
    assert document["command"] == "run"
    assert document["ok"] is True
    assert document["error"] is None
    result = document["result"]
    assert result["status"] == "successful"
    assert result["rc"] == 0
    assert result["failures"] == []
    assert list(result["hosts"]) == ["localhost"]
    assert result["hosts"]["localhost"]["ok"] >= 1
    assert result["hosts"]["localhost"]["failed"] == 0
    assert result["inventory"][0].endswith("inventories/local")
    assert result["playbook_path"].endswith("playbooks/ping.yml")

    run_dir = Path(result["run_dir"])
    assert run_dir.parent == state_dir / "runs"
    assert run_dir.name == result["run_id"]
    kept = json.loads((run_dir / "result.json").read_text())
    assert kept == {key: value for key, value in result.items() if key not in ("run_dir", "artifacts_dir")}
    assert kept["started"] < kept["finished"]
    assert kept["started"].endswith("+00:00")

    artifacts = Path(result["artifacts_dir"])
    assert (artifacts / "job_events").is_dir()
    assert (artifacts / "stdout").is_file()
    # ansible-playbook ran in the user's directory, from opsrun's environment, and host key
    # checking was left to the user's configuration.
    command = json.loads((artifacts / "command").read_text())
    assert command["cwd"] == str(workspace)
    assert command["command"][0] == str(Path(sys.executable).parent / "ansible-playbook")
    assert ("ANSIBLE_HOST_KEY_CHECKING" in command["env"]) == ("ANSIBLE_HOST_KEY_CHECKING" in os.environ)
    # Extra vars were on disk for the run only, and nothing under the run dir repeats them.
    assert not (run_dir / "env" / "extravars").exists()
    assert CANARY not in json.dumps(document)
    for path in run_dir.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if path.is_dir():
            assert mode == 0o700, path
        else:
            assert mode == 0o600, path
            assert CANARY not in path.read_text(errors="replace"), path
    for path in (state_dir, state_dir / "runs", run_dir):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / "opsrun.log").stat().st_mode) == 0o600


def test_a_failing_task_gives_exit_code_2_and_is_named(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "broken.yml").write_text(FAILING_PLAYBOOK)
    code, out = opsrun(capsys, "--state-dir", "state", "run", "--playbook", "broken.yml")
    assert code == ExitCode.HOSTS_FAILED
    assert "localhost failed at task 'Fail on purpose': this task always fails" in out
    assert "failed with exit code 2" in out
    [run_dir] = (workspace / "state" / "runs").iterdir()
    kept = json.loads((run_dir / "result.json").read_text())
    assert kept["rc"] == 2
    assert kept["exit_code"] == 2
    assert kept["status"] == "failed"
    assert kept["hosts"]["localhost"]["failed"] == 1
    assert kept["hosts"]["localhost"]["ok"] == 1
    assert kept["failures"] == [
        {
            "host": "localhost",
            "task": "Fail on purpose",
            "message": "this task always fails",
            "unreachable": False,
        }
    ]


@pytest.mark.parametrize("where", ["ansible.cfg in the working directory", "ANSIBLE_CONFIG, relative"])
def test_the_users_ansible_configuration_applies(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    (workspace / "config.yml").write_text(CONFIG_PLAYBOOK)
    if where.startswith("ANSIBLE_CONFIG"):
        (workspace / "conf").mkdir()
        (workspace / "conf" / "opsrun-test.cfg").write_text("[defaults]\ntimeout = 17\n")
        monkeypatch.setenv("ANSIBLE_CONFIG", "conf/opsrun-test.cfg")
    else:
        (workspace / "ansible.cfg").write_text("[defaults]\ntimeout = 17\n")
        monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    code, document = run_json(capsys, workspace / "state", "--playbook", "config.yml")
    assert code == ExitCode.OK, document["result"]["failures"]
    assert document["result"]["hosts"]["localhost"]["ok"] == 1


# Publishes what a health check publishes, and where opsrun told the playbook its state is.
PUBLISHING_PLAYBOOK = """\
- name: Publish findings as health_check does
  hosts: all
  gather_facts: false
  tasks:
    - name: Publish
      ansible.builtin.set_stats:
        data:
          state_dir_seen: "{{ lookup('ansible.builtin.env', 'OPSRUN_STATE_DIR') }}"
          run_id_seen: "{{ lookup('ansible.builtin.env', 'OPSRUN_RUN_ID') }}"
          health_check_summary: {ok: 1, warn: 0, crit: 1, unknown: 0}
          health_check_findings:
            - {host: localhost, check: disk_used, item: /, status: ok, value: 10, threshold: 80,
               message: fine}
            - {host: localhost, check: disk_used, item: /srv, status: crit, value: 97.5, threshold: 95,
               message: nearly full}
        per_host: false
        aggregate: false
"""


def test_the_playbook_learns_the_state_dir_and_its_published_findings_are_kept_and_shown(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "publish.yml").write_text(PUBLISHING_PLAYBOOK)
    code, out = opsrun(capsys, "--state-dir", "state", "run", "--playbook", "publish.yml")
    assert code == ExitCode.OK, out
    [run_dir] = (workspace / "state" / "runs").iterdir()
    published = json.loads((run_dir / "result.json").read_text())["published"]
    assert published["state_dir_seen"] == str(workspace / "state")
    assert published["run_id_seen"] == run_dir.name
    assert [item["status"] for item in published["health_check_findings"]] == ["ok", "crit"]
    assert "Health findings" in out and "nearly full" in out and "fine" not in out
    assert "Health check: 1 ok, 0 warn, 1 crit, 0 unknown" in out


def test_each_run_is_kept_in_the_run_store(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out = opsrun(capsys, "--state-dir", "state", "run", "--playbook", "ping")
    assert code == ExitCode.OK
    database = workspace / "state" / "opsrun.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    [run_dir] = (workspace / "state" / "runs").iterdir()
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, playbook, exit_code FROM runs").fetchall()
    assert rows == [(run_dir.name, "ping", 0)]
