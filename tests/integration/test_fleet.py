"""The SSH test fleet: hosts answer over SSH, systemd hosts behave, the apt repo serves, down cleans."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

ANSIBLE = Path(os.environ.get("VIRTUAL_ENV", "/usr")) / "bin" / "ansible"


def ansible(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return fleet.run(str(ANSIBLE) if ANSIBLE.exists() else "ansible", *args)


def test_every_host_answers_ansible_ping_over_ssh(fleet: Fleet) -> None:
    result = ansible(fleet, "all", "-m", "ansible.builtin.ping")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(fleet.hosts) >= 20


def test_hosts_are_distinct_machines_reached_over_ssh(fleet: Fleet) -> None:
    result = ansible(fleet, "all", "-m", "ansible.builtin.command", "-a", "cat /etc/hostname")
    assert result.returncode == 0, result.stderr
    for name in fleet.names():
        assert f"{name} | CHANGED | rc=0 >>\n{name}\n" in result.stdout
    facts = ansible(fleet, "h1", "-m", "ansible.builtin.setup", "-a", "filter=ansible_env")
    assert '"SSH_CONNECTION"' in facts.stdout, "h1 was not reached over SSH"


def test_a_write_on_one_host_stays_on_that_host(fleet: Fleet) -> None:
    fleet.sh("h1", "echo only-h1 > /etc/opsrun-marker")
    try:
        assert fleet.sh("h1", "cat /etc/opsrun-marker").stdout == "only-h1\n"
        assert fleet.sh("h2", "test -e /etc/opsrun-marker", check=False).returncode != 0
        assert not Path("/etc/opsrun-marker").exists()
    finally:
        fleet.sh("h1", "rm -f /etc/opsrun-marker")


def test_systemd_hosts_run_units_fail_them_and_keep_a_journal(fleet: Fleet) -> None:
    host = fleet.names("systemd")[0]
    assert fleet.sh(host, "cat /proc/1/comm").stdout.strip() == "systemd"
    assert fleet.sh(host, "systemctl is-system-running --wait", check=False).stdout.strip() == "running"
    fleet.sh(host, "systemctl restart cron.service 2>/dev/null || systemctl restart ssh.service")
    fleet.sh(host, "systemd-run --unit=opsrun-broken --property=Type=oneshot /bin/false", check=False)
    try:
        failed = fleet.sh(host, "systemctl list-units --failed --no-legend --plain").stdout
        assert "opsrun-broken.service" in failed
        journal = fleet.sh(host, "journalctl -u opsrun-broken --no-pager").stdout
        assert "opsrun-broken" in journal
    finally:
        fleet.sh(host, "systemctl reset-failed opsrun-broken.service", check=False)
    assert "opsrun-broken" not in fleet.sh(host, "systemctl list-units --failed --no-legend --plain").stdout


def test_plain_hosts_have_no_service_manager_pretending(fleet: Fleet) -> None:
    host = fleet.names("sshd")[0]
    assert fleet.sh(host, "cat /proc/1/comm").stdout.strip() == "tini"
    assert fleet.sh(host, "test -d /run/systemd/system", check=False).returncode != 0


def test_local_apt_repository_serves_an_install_and_a_security_upgrade(fleet: Fleet) -> None:
    fleet.fleet("repo", "add", "bookworm", "opsrun-dummy", "1.0", check=True)
    fleet.sh("h2", "apt-get update -q && apt-get install -y -q opsrun-dummy")
    assert fleet.sh("h2", "dpkg-query -W -f '${Version}' opsrun-dummy").stdout == "1.0"
    fleet.fleet("repo", "add", "bookworm-security", "opsrun-dummy", "1.1", check=True)
    fleet.sh("h2", "apt-get update -q")
    upgradable = fleet.sh("h2", "apt list --upgradable 2>/dev/null").stdout
    assert "opsrun-dummy/bookworm-security 1.1 all [upgradable from: 1.0]" in upgradable
    policy = fleet.sh("h2", "apt-cache policy opsrun-dummy").stdout
    assert "Candidate: 1.1" in policy


def namespaces(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def process_identity(pid: int) -> str | None:
    """PID and start time of a live process (None once it is gone or a zombie): immune to PID reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else f"{pid}@{fields[19]}"


def test_up_replaces_a_stale_fleet_and_down_leaves_nothing_behind() -> None:
    # A fleet of its own, beside the session's, so tearing it down disturbs no other test.
    first = Fleet.up(2, systemd=1, name="orfdn", subnet="10.213.1")
    stale = {process_identity(int(p)) for ns in namespaces("orfdn-") for p in subprocess.run(
        ["ip", "netns", "pids", ns], capture_output=True, text=True, check=True).stdout.split()} - {None}
    assert stale
    second = Fleet.up(2, systemd=1, name="orfdn", subnet="10.213.1")  # as after a killed test run
    still_alive = {process_identity(int(ident.split("@")[0])) for ident in stale} & stale
    assert not still_alive, f"processes of the stale fleet survived: {still_alive}"
    assert second.sh("h2", "systemctl is-system-running --wait", check=False).stdout.strip() == "running"
    hosts = json.loads((second.ctl / "hosts.json").read_text())
    second.down()
    assert namespaces("orfdn-") == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "orfdn-" not in links
    assert not any("opsrun-fleet-orfdn" in p.name for p in Path("/sys/fs/cgroup").rglob("opsrun-fleet-*"))
    assert not (first.ctl.parent / "hosts").exists()
    mounts = Path("/proc/mounts").read_text()
    assert "opsrun-fleet-orfdn" not in mounts
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert not any(h["address"] in ps for h in hosts)
    assert "orfdn-hub" not in ps


def test_a_stopped_host_stops_answering() -> None:
    small = Fleet.up(2, name="orfst", subnet="10.213.2")
    try:
        small.fleet("stop", "h2", check=True)
        result = ansible(small, "all", "-m", "ansible.builtin.ping")
        assert result.returncode == 4
        assert "h2 | UNREACHABLE!" in result.stdout
        assert "h1 | SUCCESS" in result.stdout
    finally:
        small.down()
