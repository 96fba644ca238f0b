"""The patching playbook on real SSH hosts with the fleet's apt repository: what is taken, what stops it.

Each test publishes packages with names of its own (the repository is shared by the session), and
removes what it installed in a `finally`. Tests that reboot hosts use a small fleet of this file's
own, so the session's hosts keep their processes.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
PLAYBOOK = "opsrun.ops.patching"
PRECHECK_TASK = "Check free space, apt's locks, broken packages and a pending reboot"
REBOOT_FLEET_NAME = os.environ.get("OPSRUN_PATCHING_FLEET_NAME", "ptr")
REBOOT_FLEET_SUBNET = os.environ.get("OPSRUN_PATCHING_FLEET_SUBNET", "10.213.75")


def unique(prefix: str) -> str:
    return f"opsrun-pt-{prefix}-{uuid.uuid4().hex[:6]}"


def patching(fleet: Fleet, workdir: Path, hosts: list[str], extra: dict[str, Any] | None = None, *,
             check: bool = False) -> tuple[int, dict[str, Any], str]:
    """Run the patching playbook on HOSTS; (exit code, the run's JSON report, output)."""
    reports = workdir / f"reports-{uuid.uuid4().hex[:8]}"
    variables = {"opsrun_hosts": ":".join(hosts), "patching_report_dir": str(reports),
                 "patching_lock_timeout": 5, **(extra or {})}
    done = fleet.run(str(ANSIBLE_PLAYBOOK), "-i", str(fleet.inventory), PLAYBOOK, "-e", json.dumps(variables),
                     *(["--check"] if check else []), cwd=workdir)
    output = done.stdout + done.stderr
    files = sorted(reports.glob("patching-*.json")) if reports.exists() else []
    assert len(files) == 1, f"expected one report file in {reports}: {files}\n{output}"
    assert files[0].stat().st_mode & 0o777 == 0o600
    return done.returncode, json.loads(files[0].read_text()), output


def by_host(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["host"]: entry for entry in report["hosts"]}


def version(fleet: Fleet, host: str, package: str) -> str:
    return fleet.sh(host, f"dpkg-query -W -f '${{Version}}' {package}").stdout


def install(fleet: Fleet, hosts: list[str], packages: list[str]) -> None:
    for host in hosts:
        fleet.sh(host, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       + " ".join(packages) + " >/dev/null")


def purge(fleet: Fleet, hosts: list[str], packages: list[str]) -> None:
    for host in hosts:
        fleet.sh(host, "dpkg --purge --force-remove-reinstreq " + " ".join(packages) + " >/dev/null 2>&1; "
                       "rm -f /var/run/reboot-required /var/run/reboot-required.pkgs", check=False)


def publish(fleet: Fleet, suite: str, name: str, version_: str, *options: str) -> None:
    fleet.fleet("repo", "add", suite, name, version_, *options, check=True)


@pytest.fixture
def two_hosts(fleet: Fleet) -> list[str]:
    """A plain host and a systemd host of the session's fleet."""
    return [fleet.names("sshd")[0], fleet.names("systemd")[-1]]


def test_security_only_takes_only_the_security_update_check_mode_first(
        fleet: Fleet, tmp_path: Path, two_hosts: list[str]) -> None:
    normal, security = unique("normal"), unique("sec")
    publish(fleet, "bookworm", normal, "1.0")
    publish(fleet, "bookworm", security, "1.0")
    try:
        install(fleet, two_hosts, [normal, security])
        publish(fleet, "bookworm", normal, "1.1")
        publish(fleet, "bookworm-security", security, "1.1")
        for host in two_hosts:
            fleet.sh(host, "apt-get update -qq")

        rc, report, output = patching(fleet, tmp_path, two_hosts, check=True)
        assert rc == 0, output
        for host in two_hosts:
            entry = by_host(report)[host]
            assert entry["status"] == "planned" and entry["check_mode"] is True
            planned = [p for p in entry["packages"] if p["name"].startswith("opsrun-pt-")]
            assert planned == [{"name": security, "from": "1.0", "to": "1.1", "security": True,
                                "origin": planned[0]["origin"]}]
            assert version(fleet, host, security) == "1.0", "check mode changed a package"

        rc, report, output = patching(fleet, tmp_path, two_hosts)
        assert rc == 0, output
        for host in two_hosts:
            entry = by_host(report)[host]
            assert entry["status"] == "patched" and entry["failure"] is None
            changed = {p["name"]: p for p in entry["packages"]}
            assert changed[security]["from"] == "1.0" and changed[security]["to"] == "1.1"
            assert changed[security]["security"] is True
            assert normal not in changed
            assert version(fleet, host, security) == "1.1"
            assert version(fleet, host, normal) == "1.0"
            assert {c["name"] for c in entry["prechecks"]} == {"free_space", "reboot", "lock", "packages"}
            assert all(c["ok"] for c in entry["prechecks"] + entry["postchecks"])
            assert entry["reboot"]["done"] is False
            assert entry["duration_seconds"] > 0
        assert report["not_patched"] == []
    finally:
        purge(fleet, two_hosts, [normal, security])


def test_mode_all_takes_every_update_except_the_excluded_ones(fleet: Fleet, tmp_path: Path,
                                                               two_hosts: list[str]) -> None:
    normal, security, kept = unique("all"), unique("allsec"), unique("kept")
    for name in (normal, security, kept):
        publish(fleet, "bookworm", name, "1.0")
    host = two_hosts[0]
    try:
        install(fleet, [host], [normal, security, kept])
        publish(fleet, "bookworm", normal, "2.0")
        publish(fleet, "bookworm-security", security, "2.0")
        publish(fleet, "bookworm", kept, "2.0")
        rc, report, output = patching(fleet, tmp_path, [host], {
            "patching_mode": "all", "patching_exclude": ["opsrun-pt-kept-*"]})
        assert rc == 0, output
        entry = by_host(report)[host]
        changed = {p["name"]: (p["from"], p["to"], p["security"]) for p in entry["packages"]}
        assert changed[normal] == ("1.0", "2.0", False)
        assert changed[security] == ("1.0", "2.0", True)
        assert kept not in changed
        assert {"name": kept, "reason": "excluded by opsrun-pt-kept-*"} in entry["skipped"]
        assert version(fleet, host, kept) == "1.0"
    finally:
        purge(fleet, [host], [normal, security, kept])


def test_a_failing_postinst_stops_the_rollout_naming_the_host(fleet: Fleet, tmp_path: Path) -> None:
    hosts = fleet.names()[:3]
    broken, fine = unique("broken"), unique("fine")
    publish(fleet, "bookworm", broken, "1.0")
    publish(fleet, "bookworm", fine, "1.0")
    try:
        install(fleet, hosts[:1], [broken])
        install(fleet, hosts, [fine])
        publish(fleet, "bookworm-security", broken, "1.1", "--postinst-exit", "1")
        publish(fleet, "bookworm-security", fine, "1.1")
        # batches of two: the first host fails, the second is patched; with the default
        # max_fail_percentage of 0 the third host's batch never starts
        rc, report, output = patching(fleet, tmp_path, hosts, {"patching_serial": 2})
        assert rc != 0, output
        first, second, third = hosts
        entry = by_host(report)[first]
        assert entry["status"] == "failed"
        assert entry["failure"]["task"] == "Upgrade exactly the selected updates"
        assert broken in entry["failure"]["msg"] and "exited 100" in entry["failure"]["msg"]
        assert f"Patching {first} failed" in output
        assert by_host(report)[second]["status"] == "patched"
        assert version(fleet, second, fine) == "1.1"
        assert report["not_patched"] == [third]
        assert version(fleet, third, fine) == "1.0", "the rollout went on after a failed batch"
    finally:
        purge(fleet, hosts, [broken, fine])


def test_a_held_dpkg_lock_fails_naming_the_holder(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet.names("sshd")[0]
    holder = ("rm -f /run/opsrun-pt-lock.pid; setsid -f python3 -c 'import fcntl, os, time; "
              "f = open(\"/var/lib/dpkg/lock-frontend\", \"w\"); fcntl.lockf(f, fcntl.LOCK_EX); "
              "open(\"/run/opsrun-pt-lock.pid\", \"w\").write(str(os.getpid())); time.sleep(600)' "
              "</dev/null >/dev/null 2>&1; while [ ! -s /run/opsrun-pt-lock.pid ]; do sleep 0.1; done; "
              "cat /run/opsrun-pt-lock.pid")
    pid = fleet.sh(host, holder).stdout.strip()
    try:
        rc, report, output = patching(fleet, tmp_path, [host], {"patching_lock_timeout": 2})
        assert rc != 0, output
        entry = by_host(report)[host]
        assert entry["status"] == "failed"
        assert entry["failure"]["task"] == PRECHECK_TASK
        message = entry["failure"]["msg"]
        assert f"/var/lib/dpkg/lock-frontend is held by pid {pid} (python3)" in message, message
        lock = next(c for c in entry["prechecks"] if c["name"] == "lock")
        assert lock["ok"] is False
        assert entry["packages"] == []
    finally:
        fleet.sh(host, f"kill {pid}", check=False)


@pytest.fixture(scope="module")
def reboot_fleet() -> Iterator[Fleet]:
    """A plain host and a systemd host of this file's own: reboots end every process on them."""
    started = Fleet.up(2, systemd=1, name=REBOOT_FLEET_NAME, subnet=REBOOT_FLEET_SUBNET)
    try:
        yield started
    finally:
        started.down()


def test_reboot_when_the_host_asks_for_one_proves_a_new_boot(reboot_fleet: Fleet, tmp_path: Path) -> None:
    fleet = reboot_fleet
    hosts = fleet.names()
    package = unique("reboot")
    publish(fleet, "bookworm", package, "1.0")
    install(fleet, hosts, [package])
    publish(fleet, "bookworm-security", package, "1.1")
    before = {host: fleet.boot_id(host) for host in hosts}
    # what a Debian package's postinst does when its update needs a reboot
    for host in hosts:
        fleet.sh(host, "echo '*** System restart required ***' > /var/run/reboot-required")
    rc, report, output = patching(fleet, tmp_path, hosts, {"patching_fail_on_pending_reboot": False,
                                                            "patching_serial": 1})
    assert rc == 0, output
    for host in hosts:
        entry = by_host(report)[host]
        assert entry["reboot"]["needed"] is True and entry["reboot"]["done"] is True
        assert entry["reboot"]["boot_id_before"] == before[host]
        assert entry["reboot"]["boot_id_after"] == fleet.boot_id(host) != before[host]
        boot_check = next(c for c in entry["postchecks"] if c["name"] == "boot_id")
        assert boot_check["ok"] is True
        assert version(fleet, host, package) == "1.1"
        assert fleet.sh(host, "test -e /var/run/reboot-required", check=False).returncode != 0


def test_a_port_lost_in_the_reboot_fails_the_post_checks(reboot_fleet: Fleet, tmp_path: Path) -> None:
    fleet = reboot_fleet
    host = fleet.names("systemd")[0]
    # a listener started by hand, which no boot starts again
    fleet.sh(host, "systemd-run --unit=opsrun-pt-listener python3 -m http.server --bind 127.0.0.1 8089 "
                   ">/dev/null && sleep 1")
    fleet.sh(host, "touch /var/run/reboot-required")
    rc, report, output = patching(fleet, tmp_path, [host], {"patching_fail_on_pending_reboot": False})
    assert rc != 0, output
    entry = by_host(report)[host]
    assert entry["status"] == "failed"
    assert entry["reboot"]["done"] is True
    ports = next(c for c in entry["postchecks"] if c["name"] == "ports")
    assert ports["ok"] is False and "8089" in ports["detail"]
    assert "TCP ports that listened before no longer listen: 8089" in entry["failure"]["msg"]
