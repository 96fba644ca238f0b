"""Fleet hosts reboot for real: processes die, the disk stays, boot_id changes, and down cleans up."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

NAME, SUBNET = "ptr", "10.213.75"
ANSIBLE = Path(sys.executable).parent / "ansible"


@pytest.fixture(scope="module")
def small() -> Iterator[Fleet]:
    """Two hosts of its own (h1 plain, h2 systemd): reboots and power-offs disturb no other test.

    The last tests power the hosts off and take the fleet down; the finally covers a failed run.
    """
    started = Fleet.up(2, systemd=1, name=NAME, subnet=SUBNET)
    try:
        yield started
    finally:
        started.down()


def netns_pids(ns: str) -> list[str]:
    listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return listed.stdout.split()


def sleeper_pid(fleet: Fleet, host: str) -> str:
    """Start a long-running process in HOST, detached from the session, and return its PID."""
    # setsid -f returns before the forked sleep runs, so wait for it to show up
    started = fleet.sh(
        host,
        "setsid -f sleep 3600 </dev/null >/dev/null 2>&1; "
        "for _ in $(seq 50); do pgrep -x sleep && exit 0; sleep 0.1; done; exit 1",
    )
    return started.stdout.strip()


@pytest.mark.parametrize("host", ["h1", "h2"], ids=["tini", "systemd"])
def test_reboot_restarts_processes_keeps_the_disk_and_changes_boot_id(small: Fleet, host: str) -> None:
    before = small.boot_id(host)
    assert sleeper_pid(small, host)
    small.sh(
        host,
        "echo kept > /var/tmp/opsrun-reboot-marker && rm -f /tmp/opsrun-tmpfs-marker "
        "&& touch /tmp/opsrun-tmpfs-marker",
    )
    after = small.reboot(host)
    assert after != before
    assert small.boot_id(host) == after
    assert small.sh(host, "pgrep -x sleep", check=False).stdout == "", "a process survived the reboot"
    assert small.sh(host, "cat /var/tmp/opsrun-reboot-marker").stdout == "kept\n"
    assert small.sh(host, "test -e /tmp/opsrun-tmpfs-marker", check=False).returncode != 0
    pid1 = small.sh(host, "cat /proc/1/comm").stdout.strip()
    assert pid1 == ("systemd" if host == "h2" else "tini")
    if host == "h2":
        state = small.sh(host, "systemctl is-system-running --wait", check=False).stdout.strip()
        assert state == "running"


def _consoles(small: Fleet) -> str:
    logs = {host: (small.ctl.parent / "hosts" / host / "console.log").read_text() for host in ("h1", "h2")}
    return "".join(f"\n--- {host} console:\n{text[-2000:]}" for host, text in logs.items())


def test_ansible_reboot_module_sees_the_reboot_on_both_init_kinds(small: Fleet) -> None:
    before = {host: small.boot_id(host) for host in ("h1", "h2")}
    reboot = ("-m", "ansible.builtin.reboot", "-a", "reboot_timeout=180")
    result = small.run(str(ANSIBLE), "all", *reboot)
    # The module says rebooted: true for each host, also for one whose return it then missed.
    assert result.stdout.count('"rebooted": true') == 2, result.stdout + result.stderr + _consoles(small)
    failed = [host for host in ("h1", "h2") if f"{host} | FAILED!" in result.stdout]
    if result.returncode != 0 and failed and all(small.boot_id(host) != before[host] for host in failed):
        # Twice in many CI runs on a loaded machine, the plain host rebooted (its boot_id changed) but
        # the module's own boot check did not see it before its timeout. Keep the evidence, and give
        # the module one more reboot of that host, which must then succeed.
        warnings.warn(
            f"the reboot module missed a reboot that happened on {failed}: {result.stdout}{_consoles(small)}",
            stacklevel=1,
        )
        result = small.run(str(ANSIBLE), ":".join(failed), *reboot)
    assert result.returncode == 0, result.stdout + result.stderr + _consoles(small)
    for host, old in before.items():
        assert small.boot_id(host) != old


def test_poweroff_stops_the_host_for_good(small: Fleet) -> None:
    small.sh("h1", "poweroff", check=False)
    small.sh("h2", "systemctl poweroff", check=False)
    for host in ("h1", "h2"):
        pids = netns_pids(f"{NAME}-{host}")
        for _ in range(100):
            if not pids:
                break
            time.sleep(0.1)
            pids = netns_pids(f"{NAME}-{host}")
        assert pids == [], f"{host} still runs processes after a power-off: {pids}"
    status = small.fleet("status")
    assert status.returncode == 1
    assert status.stdout.count("DOWN") == 2, status.stdout


def test_down_after_reboots_leaves_nothing_behind(small: Fleet) -> None:
    hosts = small.hosts
    small.down()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"{NAME}-" not in listed
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert f"{NAME}-" not in links
    assert not (small.ctl.parent / "hosts").exists()
    assert not (small.ctl.parent / "supervise.sh").exists()
    assert f"opsrun-fleet-{NAME}" not in Path("/proc/mounts").read_text()
    assert not any(p.name == f"opsrun-fleet-{NAME}" for p in Path("/sys/fs/cgroup").glob("opsrun-fleet-*"))
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert not any(h["address"] in ps for h in hosts)
    assert f"{NAME}-h" not in ps
