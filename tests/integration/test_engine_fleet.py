"""The engine on real SSH hosts: a daily routine finds nginx stopped, and the first response of the
incident runbook restarts it; where nginx cannot start, the incident escalates to l2 and the
notification reaches a receiver on loopback. nginx is stopped and its test config removed afterwards."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet
from receiver import Hook

from opsrun.errors import ExitCode

pytestmark = pytest.mark.fleet

BROKEN_CONF = "/etc/nginx/conf.d/opsrun-engine-test.conf"


def opsrun(fleet: Fleet, tmp_path: Path, *args: str) -> tuple[int, Any]:
    run = fleet.run(
        sys.executable,
        "-m",
        "opsrun",
        "--state-dir",
        str(tmp_path / "state"),
        "--output",
        "json",
        *args,
        cwd=tmp_path,
    )
    try:
        return run.returncode, json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"opsrun printed no JSON (exit {run.returncode}): {run.stdout}\n{run.stderr}")


@pytest.fixture
def nginx_hosts(fleet: Fleet) -> Iterator[list[str]]:
    """The two systemd hosts with nginx running; stopped and cleaned up afterwards."""
    hosts = fleet.names("systemd")[:2]
    try:
        for host in hosts:
            fleet.sh(host, "systemctl start nginx")
        yield hosts
    finally:
        for host in hosts:
            fleet.sh(
                host, f"rm -f {BROKEN_CONF}; systemctl stop nginx; systemctl reset-failed nginx", check=False
            )


def design(fleet: Fleet, tmp_path: Path, hosts: list[str], hook: str) -> Path:
    services = {"health_check_services": ["nginx"]}
    quiet = {
        f"health_check_{check}_enabled": False
        for check in (
            "disk",
            "inodes",
            "memory",
            "swap",
            "load",
            "failed_units",
            "reboot",
            "time",
            "ports",
            "logs",
            "probes",
            "report",
        )
    }
    document = {
        "version": 1,
        "scope": {"inventory": str(fleet.inventory), "hosts": hosts, "layers": ["os", "middleware"]},
        "contacts": {"oncall": {"notify": [hook]}, "lead": {"notify": [hook]}},
        "escalation": [
            {"name": "l1", "contacts": ["oncall"], "ack_minutes": 15},
            {"name": "l2", "contacts": ["lead"], "ack_minutes": 30},
        ],
        "routines": {
            "daily": {
                "schedule": "0 7 * * *",
                "steps": [
                    {
                        "name": "health check",
                        "playbook": "health_check",
                        "vars": services | quiet,
                        "on_failure": "continue",
                    }
                ],
            }
        },
        "incidents": {
            "runbooks": [
                {
                    "name": "service-down",
                    "match": {"check": "services", "status": ["crit"]},
                    "first_response": [
                        {
                            "name": "restart the service",
                            "playbook": "service_restart",
                            "change": True,
                            "vars": {
                                "service_restart_services": [{"name": "nginx"}],
                                "service_restart_force": True,
                                "service_restart_report_enabled": False,
                            },
                        }
                    ],
                }
            ]
        },
    }
    path = tmp_path / "ops.yml"
    path.write_text(json.dumps(document, indent=2))
    return path


def test_a_stopped_service_is_restarted_by_l1_and_one_that_cannot_start_goes_to_l2(
    fleet: Fleet, nginx_hosts: list[str], tmp_path: Path, webhook: str
) -> None:
    fixable, broken = nginx_hosts
    ops = design(fleet, tmp_path, nginx_hosts, webhook)
    fleet.sh(fixable, "systemctl stop nginx")
    fleet.sh(broken, f"echo 'this is not nginx syntax' > {BROKEN_CONF}; systemctl stop nginx")

    code, document = opsrun(fleet, tmp_path, "run", "daily", "--ops-file", str(ops))
    # The health check fails the hosts it found a crit finding on, whatever the first response did.
    assert code == 2, document
    opened = {entry["host"]: entry for entry in document["result"]["incidents"]}
    assert sorted(opened) == sorted(nginx_hosts)
    assert all(entry["new"] and entry["item"] == "nginx" for entry in opened.values())

    states = {}
    for host, entry in opened.items():
        code, shown = opsrun(fleet, tmp_path, "incident", "show", str(entry["id"]))
        assert code == 0, shown
        states[host] = (shown["result"]["incident"]["state"], shown["result"]["incident"]["tier"])
    assert states == {fixable: ("mitigated", "l1"), broken: ("open", "l2")}
    # The service really runs again on the fixed host, and not on the broken one.
    assert fleet.sh(fixable, "systemctl is-active nginx", check=False).stdout.strip() == "active"
    assert fleet.sh(broken, "systemctl is-active nginx", check=False).stdout.strip() != "active"

    [message] = Hook.received
    assert (
        message["title"]
        == f"opsrun: incident {opened[broken]['id']} on {broken}: services nginx escalated to l2"
    )
    assert "the first response 'restart the service' failed" in message["message"]
    assert f"host {broken}, check services nginx: crit" in message["message"]


SLOW_CHANGE = """\
- name: A change that takes a while
  hosts: all
  gather_facts: false
  tasks:
    - name: Work on the host
      ansible.builtin.command: sleep 20
      changed_when: true
"""


def test_the_scope_the_calendar_and_the_change_leases_hold_on_real_hosts(
    fleet: Fleet, tmp_path: Path
) -> None:
    inside, outside = fleet.names("sshd")[:2]
    (tmp_path / "slow.yml").write_text(SLOW_CHANGE)
    now = datetime.now(UTC)
    window = {
        "dated": {
            "from": f"{now - timedelta(days=1):%Y-%m-%d %H:%M}",
            "until": f"{now + timedelta(days=1):%Y-%m-%d %H:%M}",
        }
    }
    document = {
        "version": 1,
        "scope": {"inventory": str(fleet.inventory), "hosts": [inside], "layers": ["os"]},
        "calendar": {"timezone": "UTC", "maintenance_windows": [window]},
        "routines": {
            "reach-out": {
                "schedule": "0 7 * * *",
                "steps": [{"playbook": "ping", "limit": f"{inside}:{outside}"}],
            },
            "change": {"schedule": "0 7 * * *", "steps": [{"playbook": "slow.yml", "change": True}]},
        },
    }
    ops = tmp_path / "ops.yml"
    ops.write_text(json.dumps(document))

    # A limit that reaches a host outside the contract scope is refused and names it.
    code, refused = opsrun(fleet, tmp_path, "run", "reach-out", "--ops-file", str(ops))
    assert code == ExitCode.REFUSED, refused
    assert f"outside the contract scope ({inside}): {outside}" in refused["result"]["steps"][0]["reason"]

    # Two changes of one host: the second is refused naming the run that holds the host.
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsrun",
            "--state-dir",
            str(tmp_path / "state"),
            "--output",
            "json",
            "run",
            "change",
            "--ops-file",
            str(ops),
        ],
        env=fleet.controller_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _leased(tmp_path):
            assert first.poll() is None and time.monotonic() < deadline, (
                "the first change never took its lease"
            )
            time.sleep(0.2)
        code, busy = opsrun(fleet, tmp_path, "run", "change", "--ops-file", str(ops))
        assert code == ExitCode.BUSY, busy
        assert f"(pid {first.pid}, since" in busy["result"]["steps"][0]["reason"]
        assert f"holds {inside}" in busy["result"]["steps"][0]["reason"]
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0, out
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()

    # Outside every maintenance window the change is refused.
    document["calendar"] = {"timezone": "UTC"}
    ops.write_text(json.dumps(document))
    code, outside_window = opsrun(fleet, tmp_path, "run", "change", "--ops-file", str(ops))
    assert code == ExitCode.REFUSED, outside_window
    assert "is outside every maintenance window" in outside_window["result"]["steps"][0]["reason"]


def _leased(tmp_path: Path) -> bool:
    database = tmp_path / "state" / "opsrun.db"
    if not database.exists():
        return False
    try:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT count(*) FROM leases").fetchone()[0] > 0
    except sqlite3.OperationalError:  # not created yet
        return False
