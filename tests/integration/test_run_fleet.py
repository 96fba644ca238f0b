"""`opsrun run` against real SSH hosts: the summary and exit codes a 3 a.m. operator relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def three_hosts() -> Iterator[Fleet]:
    # Its own small fleet: one of its hosts is stopped, which must not disturb other tests.
    small = Fleet.up(3, name="orfrun", subnet="10.213.3")
    try:
        yield small
    finally:
        small.down()


def opsrun(fleet: Fleet, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return fleet.run(sys.executable, "-m", "opsrun", "--state-dir", str(tmp_path / "state"), *args,
                     cwd=tmp_path)


def test_a_health_check_through_opsrun_keeps_its_report_beside_the_runs(
    three_hosts: Fleet, tmp_path: Path
) -> None:
    extra = json.dumps({"health_check_fail_on": "never", "health_check_listening_ports": [{"port": 2222}]})
    run = opsrun(three_hosts, tmp_path, "run", "--playbook", "health_check", "-i", str(three_hosts.inventory),
                 "-e", extra)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Health findings" in run.stdout and "tcp/2222" in run.stdout
    assert "Health check: " in run.stdout
    [report] = (tmp_path / "state" / "health").glob("*.json")
    [run_dir] = (tmp_path / "state" / "runs").iterdir()
    published = json.loads((run_dir / "result.json").read_text())["published"]
    assert published["health_check_report_file"] == str(report)
    missing = [f for f in published["health_check_findings"] if f["check"] == "ports"]
    assert sorted((f["host"], f["item"], f["status"]) for f in missing) == [
        (host, "tcp/2222", "crit") for host in ("h1", "h2", "h3")]


def test_run_on_three_hosts_then_one_unreachable(three_hosts: Fleet, tmp_path: Path) -> None:
    inventory = str(three_hosts.inventory)
    ok = opsrun(three_hosts, tmp_path, "--output", "json", "run", "--playbook", "ping", "-i", inventory)
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)["result"]
    assert sorted(result["hosts"]) == ["h1", "h2", "h3"]
    assert all(counts["ok"] == 1 and counts["failed"] == 0 for counts in result["hosts"].values())

    three_hosts.fleet("stop", "h3", check=True)
    human = opsrun(three_hosts, tmp_path, "run", "--playbook", "ping", "-i", inventory)
    assert human.returncode == 4, human.stdout + human.stderr
    assert "h3 unreachable at task 'Reach the host and run Python on it'" in human.stdout
    assert "could not reach 1 host(s): h3" in human.stdout
    for host in ("h1", "h2"):
        assert host in human.stdout

    as_json = opsrun(three_hosts, tmp_path, "--output", "json", "run", "--playbook", "ping", "-i", inventory)
    envelope = json.loads(as_json.stdout)
    assert envelope["ok"] is False and envelope["exit_code"] == 4
    assert [f["host"] for f in envelope["result"]["failures"]] == ["h3"]
    assert envelope["result"]["hosts"]["h1"]["unreachable"] == 0
    assert envelope["result"]["hosts"]["h3"]["unreachable"] == 1
    runs = sorted((tmp_path / "state" / "runs").iterdir())
    assert len(runs) == 3 and all((run / "result.json").stat().st_mode & 0o077 == 0 for run in runs)
