"""package_updates_info on real apt hosts, against the fleet's own repository: what an operator is told
about pending updates, security updates, held packages, a busy apt and kernel updates."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

MODULE = "opsrun.ops.package_updates_info"
# Names no other test publishes: every test here may add versions of them to the session's repository.
NORMAL, SECURITY, LATE = "opsrun-pkgtest-a", "opsrun-pkgtest-b", "opsrun-pkgtest-c"
KERNEL = "linux-image-opsrun-test"
APT_PKG_GLOB = "/usr/lib/python3/dist-packages/apt_pkg.cpython-*.so"
LOCK_PID_FILE = "/run/opsrun-pkgtest-lock.pid"
# Holds apt's lists lock as `apt-get update` would, and says which pid holds it once it does.
HOLD_LISTS_LOCK = f"""\
import fcntl, os, time
lock = open('/var/lib/apt/lists/lock', 'a')
fcntl.lockf(lock, fcntl.LOCK_EX)
with open('{LOCK_PID_FILE}.tmp', 'w') as pid_file:
    pid_file.write(str(os.getpid()))
os.rename('{LOCK_PID_FILE}.tmp', '{LOCK_PID_FILE}')
time.sleep(600)
"""


def run_module(fleet: Fleet, workdir: Path, host: str, module: str, args: dict[str, Any], *,
               check: bool = False, task_vars: dict[str, str] | None = None) -> dict[str, Any]:
    return fleet.run_module(workdir, [host], module, args, check=check, task_vars=task_vars)[host]


def by_name(updates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {update["name"]: update for update in updates}


def apt_install(fleet: Fleet, host: str, *packages: str) -> None:
    """Refresh the lists and install exact versions ('name=version') from the fleet's repository."""
    fleet.sh(host, "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                   + " ".join(shlex.quote(package) for package in packages))


def purge(fleet: Fleet, host: str, *names: str) -> None:
    fleet.sh(host, "dpkg --purge " + " ".join(shlex.quote(name) for name in names))


@pytest.fixture(scope="module")
def apt_host(fleet: Fleet) -> Iterator[str]:
    """A plain host with a normal update (NORMAL) and a security update (SECURITY) pending.

    The last plain host: tests of other modules mostly use the first ones.
    """
    host = fleet.names("sshd")[-1]
    for name in (NORMAL, SECURITY, LATE):
        fleet.fleet("repo", "add", "bookworm", name, "1.0", check=True)
    try:
        apt_install(fleet, host, f"{NORMAL}=1.0", f"{SECURITY}=1.0", f"{LATE}=1.0")
        fleet.fleet("repo", "add", "bookworm", NORMAL, "1.1", check=True)
        fleet.fleet("repo", "add", "bookworm-security", SECURITY, "1.1", check=True)
        yield host
    finally:
        purge(fleet, host, NORMAL, SECURITY, LATE)


def test_normal_and_security_updates_are_listed_with_versions_and_origin(
        fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    result = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
    assert not result.get("failed"), result
    assert result["changed"] is False and result["cache_updated"] is True
    assert (result["manager"], result["backend"]) == ("apt", "python-apt")
    updates = by_name(result["updates"])
    normal, security = updates[NORMAL], updates[SECURITY]
    assert (normal["installed_version"], normal["candidate_version"], normal["arch"]) == ("1.0", "1.1", "all")
    assert normal["security"] is False and normal["origin"] == "Debian:bookworm"
    assert (security["installed_version"], security["candidate_version"]) == ("1.0", "1.1")
    assert security["security"] is True
    assert security["origin"] == "Debian-Security:bookworm-security"
    assert result["count"] == len(result["updates"])
    assert result["security_count"] == sum(update["security"] for update in result["updates"]) >= 1
    assert result["held"] == []
    assert result["reboot_required_after_update"] is False and result["reboot_reasons"] == []

    security_only = run_module(fleet, tmp_path, apt_host, MODULE, {"security_only": True})
    assert SECURITY in by_name(security_only["updates"])
    assert all(update["security"] for update in security_only["updates"])
    assert security_only["cache_updated"] is False

    named = run_module(fleet, tmp_path, apt_host, MODULE, {"names": ["opsrun-pkgtest-[ab]"]})
    assert [update["name"] for update in named["updates"]] == [NORMAL, SECURITY]
    assert (named["count"], named["security_count"]) == (2, 1)
    only_normal = run_module(fleet, tmp_path, apt_host, MODULE, {"names": [NORMAL], "security_only": True})
    assert only_normal["updates"] == [] and only_normal["count"] == 0


def test_a_python_without_python3_apt_gives_the_same_answer(
        fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    args = {"update_cache": True, "names": ["opsrun-pkgtest-[ab]"]}
    expected = run_module(fleet, tmp_path, apt_host, MODULE, args)
    assert expected["backend"] == "python-apt" and expected["count"] == 2

    # A virtualenv cannot import apt_pkg: the module re-runs itself under /usr/bin/python3, which can.
    venv = "/tmp/opsrun-pkgtest-venv"  # on the managed host
    fleet.sh(apt_host, f"python3 -m venv --without-pip {venv}")
    try:
        assert fleet.sh(apt_host, f"{venv}/bin/python3 -c 'import apt_pkg'", check=False).returncode != 0
        respawned = run_module(fleet, tmp_path, apt_host, MODULE, {"names": ["opsrun-pkgtest-[ab]"]},
                               task_vars={"ansible_python_interpreter": f"{venv}/bin/python3"})
    finally:
        fleet.sh(apt_host, f"rm -rf {venv}")
    assert respawned["backend"] == "python-apt"
    assert respawned["updates"] == expected["updates"]

    # No Python on the host can import apt_pkg: the module reads an apt-get simulation instead.
    fleet.sh(apt_host, f"for so in {APT_PKG_GLOB}; do mv \"$so\" \"$so.hidden\"; done")
    try:
        assert fleet.sh(apt_host, "python3 -c 'import apt_pkg'", check=False).returncode != 0
        simulated = run_module(fleet, tmp_path, apt_host, MODULE, args)
    finally:
        fleet.sh(apt_host, f"for so in {APT_PKG_GLOB}.hidden; do mv \"$so\" \"${{so%.hidden}}\"; done")
    assert fleet.sh(apt_host, "python3 -c 'import apt_pkg'").returncode == 0
    assert not simulated.get("failed"), simulated
    assert simulated["backend"] == "apt-get" and simulated["cache_updated"] is True
    assert simulated["updates"] == expected["updates"]
    assert simulated["security_count"] == expected["security_count"] == 1


def test_a_held_package_is_reported_as_held_not_as_an_update(
        fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    fleet.sh(apt_host, f"apt-mark hold {NORMAL}")
    try:
        result = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
        held_security = run_module(fleet, tmp_path, apt_host, MODULE, {"security_only": True})
    finally:
        fleet.sh(apt_host, f"apt-mark unhold {NORMAL}")
    assert NORMAL not in by_name(result["updates"])
    assert SECURITY in by_name(result["updates"])
    held = by_name(result["held"])
    assert list(held) == [NORMAL]
    assert (held[NORMAL]["installed_version"], held[NORMAL]["candidate_version"]) == ("1.0", "1.1")
    assert held[NORMAL]["security"] is False
    # security_only applies to held packages too.
    assert held_security["held"] == []
    assert fleet.sh(apt_host, "apt-mark showhold").stdout == ""


def list_mtimes(fleet: Fleet, host: str) -> str:
    return fleet.sh(host, "stat -c '%n %.9Y' /var/lib/apt/lists/*_Packages").stdout


def test_check_mode_does_not_refresh_the_package_lists(
        fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    fleet.sh(apt_host, "apt-get update -q")
    before = list_mtimes(fleet, apt_host)
    assert "bookworm-security" in before
    # A version published after the last refresh: only a refresh can make it visible.
    fleet.fleet("repo", "add", "bookworm", LATE, "1.1", check=True)

    checked = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True}, check=True)
    assert not checked.get("failed"), checked
    assert checked["cache_updated"] is False
    assert LATE not in by_name(checked["updates"])
    assert NORMAL in by_name(checked["updates"])
    assert list_mtimes(fleet, apt_host) == before

    refreshed = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
    assert refreshed["cache_updated"] is True
    assert by_name(refreshed["updates"])[LATE]["candidate_version"] == "1.1"
    assert list_mtimes(fleet, apt_host) != before


def test_a_held_lists_lock_fails_naming_the_lock_and_its_holder(
        fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    fleet.sh(apt_host, f"rm -f {LOCK_PID_FILE}; "
                       f"setsid python3 -c {shlex.quote(HOLD_LISTS_LOCK)} </dev/null >/dev/null 2>&1 &")
    holder = ""
    try:
        for _attempt in range(100):
            holder = fleet.sh(apt_host, f"cat {LOCK_PID_FILE} 2>/dev/null", check=False).stdout.strip()
            if holder:
                break
            time.sleep(0.1)
        assert holder.isdigit(), "the lock holder did not start"
        result = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
        # Without a refresh nothing needs the lock.
        without_refresh = run_module(fleet, tmp_path, apt_host, MODULE, {})
    finally:
        if holder.isdigit():
            fleet.sh(apt_host, f"kill {holder}")
        fleet.sh(apt_host, f"rm -f {LOCK_PID_FILE}")
    assert result.get("failed") is True, result
    assert f"/var/lib/apt/lists/lock is held by pid {holder} (python3)" in result["msg"]
    assert result["lock"] == {"path": "/var/lib/apt/lists/lock", "held": True,
                              "holders": [{"pid": int(holder), "command": "python3"}]}
    assert not without_refresh.get("failed") and without_refresh["cache_updated"] is False
    after = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
    assert not after.get("failed") and after["cache_updated"] is True


def test_a_kernel_update_means_a_reboot_after_updating(fleet: Fleet, apt_host: str, tmp_path: Path) -> None:
    fleet.fleet("repo", "add", "bookworm", KERNEL, "1.0", check=True)
    try:
        apt_install(fleet, apt_host, f"{KERNEL}=1.0")
        fleet.fleet("repo", "add", "bookworm-security", KERNEL, "1.1", check=True)
        result = run_module(fleet, tmp_path, apt_host, MODULE, {"update_cache": True})
        without_kernel = run_module(fleet, tmp_path, apt_host, MODULE, {"names": ["opsrun-pkgtest-*"]})
    finally:
        purge(fleet, apt_host, KERNEL)
    kernel = by_name(result["updates"])[KERNEL]
    assert kernel["security"] is True and kernel["candidate_version"] == "1.1"
    assert result["reboot_required_after_update"] is True
    assert f"kernel: {KERNEL} 1.1" in result["reboot_reasons"]
    assert without_kernel["reboot_required_after_update"] is False
    assert without_kernel["reboot_reasons"] == []
