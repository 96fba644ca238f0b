"""opsrun.ops.system_info on real SSH hosts: a plain and a systemd host, and faults injected into them.

Every fault (a failed unit, a full or read-only filesystem, a fake sysfs tree, a reboot flag) is
removed again in a `finally`, because the session's fleet is shared by all fleet tests.
"""

from __future__ import annotations

import calendar
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_time import (
    MAXERROR_LIMIT_USEC,
    read_kernel_clock,
)
from handle import Fleet

pytestmark = pytest.mark.fleet

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
DEFAULT_SECTIONS = ["identity", "cpu", "memory", "filesystems", "services", "reboot", "time_sync",
                    "sockets", "sensors"]
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"

FAILING_UNIT = "opsrun-sysinfo-fail"
FULL_MOUNT = "/srv/opsrun-full"
FAKE_SYS = "/run/opsrun-fakesys"
# A sysfs tree in miniature: hwmon0 is a plain directory, hwmon1 a symlink into devices/ as in
# the real /sys/class/hwmon; values are thousandths of °C and %RH (sysfs-interface ABI).
FAKE_SYS_FILES = {
    "class/hwmon/hwmon0/name": "opsrun_env",
    "class/hwmon/hwmon0/temp1_input": "71500",
    "class/hwmon/hwmon0/temp1_label": "Rack inlet",
    "class/hwmon/hwmon0/temp1_crit": "85000",
    "class/hwmon/hwmon0/humidity1_input": "45200",
    "class/hwmon/hwmon0/humidity1_label": "Rack humidity",
    "devices/platform/coretemp.0/hwmon/hwmon1/name": "coretemp",
    "devices/platform/coretemp.0/hwmon/hwmon1/temp1_input": "48000",
    "devices/platform/coretemp.0/hwmon/hwmon1/temp1_label": "Package id 0",
    "devices/platform/coretemp.0/hwmon/hwmon1/temp1_max": "80000",
    "devices/platform/coretemp.0/hwmon/hwmon1/temp1_crit": "100000",
    "devices/platform/coretemp.0/hwmon/hwmon1/temp2_input": "46000",
    "class/thermal/thermal_zone0/type": "x86_pkg_temp",
    "class/thermal/thermal_zone0/temp": "52000",
    "class/thermal/thermal_zone0/trip_point_0_type": "hot",
    "class/thermal/thermal_zone0/trip_point_0_temp": "95000",
    "class/thermal/thermal_zone0/trip_point_1_type": "critical",
    "class/thermal/thermal_zone0/trip_point_1_temp": "105000",
    "class/thermal/thermal_zone0/trip_point_2_type": "passive",
    "class/thermal/thermal_zone0/trip_point_2_temp": "90000",
}
FAKE_SYS_LINKS = {"class/hwmon/hwmon1": "devices/platform/coretemp.0/hwmon/hwmon1"}


def system_info(fleet: Fleet, workdir: Path, hosts: list[str], args: dict[str, Any] | None = None,
                *, check: bool = False) -> dict[str, dict[str, Any]]:
    """Run the module on HOSTS over SSH with ansible-playbook; return each host's registered result.

    The play saves every result as JSON in WORKDIR on the controller, so nothing is parsed from
    screen output.
    """
    results = workdir / "results"
    results.mkdir(parents=True)
    play = [{
        "name": "Gather system information",
        "hosts": ":".join(hosts),
        "gather_facts": False,
        "tasks": [
            {"name": "Run system_info", "opsrun.ops.system_info": args or {}, "register": "system"},
            {"name": "Save the result on the controller",
             "ansible.builtin.copy": {"content": "{{ system | to_json }}",
                                      "dest": f"{results}/{{{{ inventory_hostname }}}}.json", "mode": "0600"},
             "delegate_to": "localhost", "check_mode": False},
        ],
    }]
    playbook = workdir / "system_info.yml"
    playbook.write_text(json.dumps(play))
    done = fleet.run(str(ANSIBLE_PLAYBOOK), *(["--check"] if check else []), str(playbook))
    assert done.returncode == 0, done.stdout + done.stderr
    return {host: json.loads((results / f"{host}.json").read_text()) for host in hosts}


def plain_host(fleet: Fleet) -> str:
    return fleet.names("sshd")[0]


def systemd_host(fleet: Fleet) -> str:
    return fleet.names("systemd")[0]


@pytest.fixture(scope="module")
def default_call(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The default sections on one plain and one systemd host, gathered once for several tests."""
    return system_info(fleet, tmp_path_factory.mktemp("default"), [plain_host(fleet), systemd_host(fleet)])


def epoch_of(iso: str) -> int:
    return calendar.timegm(time.strptime(iso, ISO_UTC))


def test_default_call_succeeds_on_plain_and_systemd_hosts(fleet: Fleet,
                                                          default_call: dict[str, dict[str, Any]]) -> None:
    for host, result in default_call.items():
        assert result["changed"] is False and result.get("failed") is not True, result
        assert result["section_errors"] == {}, host
        assert result["gathered"] == DEFAULT_SECTIONS
        assert result["identity"]["hostname"] == host
        assert result["identity"]["os"]["id"] == "debian"
        assert abs(time.time() - result["identity"]["uptime_seconds"]
                   - result["identity"]["boot_time_epoch"]) < 600
        assert result["cpu"]["count"] >= 1
        assert 0 < result["memory"]["used_percent"] < 100
        root = [mount for mount in result["filesystems"]["mounts"] if mount["mount"] == "/"]
        assert len(root) == 1, result["filesystems"]
        assert root[0]["size_bytes"] > 0 and root[0]["error"] is None and root[0]["read_only"] is False
        assert all(mount["fstype"] != "tmpfs" for mount in result["filesystems"]["mounts"])
        assert result["reboot"] == {"required": False, "reasons": [], "packages": [],
                                    "method": "/run/reboot-required"}

    plain = default_call[plain_host(fleet)]
    assert plain["services"]["service_manager"] != "systemd" and plain["services"]["pid1"] == "tini"
    assert plain["services"]["failed_units"] is None and plain["services"]["failed_count"] is None
    assert "systemd is not PID 1" in plain["services"]["note"]
    # No chrony or ntpd on the hosts: the kernel's clock state answers, as it does for timedatectl.
    kernel_synced = read_kernel_clock()[0] < MAXERROR_LIMIT_USEC
    assert plain["time_sync"]["tool"] == "adjtimex" and plain["time_sync"]["notes"] == []
    assert plain["time_sync"]["synchronized"] is kernel_synced
    managed = default_call[systemd_host(fleet)]
    services = managed["services"]
    assert services["service_manager"] == "systemd" and services["pid1"] == "systemd"
    assert isinstance(services["failed_units"], list) and services["note"] is None
    assert services["failed_count"] == len(services["failed_units"])
    assert f"{FAILING_UNIT}.service" not in [unit["name"] for unit in services["failed_units"]]
    assert managed["time_sync"]["tool"] == "adjtimex"
    assert managed["time_sync"]["synchronized"] is kernel_synced


def test_sshd_is_listed_as_listening_with_its_process(default_call: dict[str, dict[str, Any]]) -> None:
    for host, result in default_call.items():
        sockets = result["sockets"]
        ssh = [entry for entry in sockets["listening"] if entry["protocol"] == "tcp" and entry["port"] == 22]
        assert ssh, f"{host}: no listening socket on tcp/22 in {sockets}"
        assert {entry["process"] for entry in ssh} == {"sshd"}, host
        assert all(entry["user"] == "root" and isinstance(entry["pid"], int) for entry in ssh)
        assert sockets["processes_complete"] is True
        assert sockets["count"] == len(sockets["listening"])


def test_failed_transient_unit_is_listed_with_the_time_it_failed(fleet: Fleet, tmp_path: Path) -> None:
    host = systemd_host(fleet)
    unit = f"{FAILING_UNIT}.service"
    try:
        # A oneshot start waits for /bin/false, so systemd-run itself reports the failure.
        fleet.sh(host, f"systemd-run --unit={FAILING_UNIT} --property=Type=oneshot /bin/false", check=False)
        assert fleet.sh(host, f"systemctl is-failed {unit}", check=False).stdout.strip() == "failed"
        services = system_info(fleet, tmp_path, [host], {"gather": ["services"]})[host]["services"]
    finally:
        fleet.sh(host, f"systemctl reset-failed {unit}", check=False)
    listed = [entry for entry in services["failed_units"] if entry["name"] == unit]
    assert len(listed) == 1, services["failed_units"]
    assert listed[0]["load"] == "loaded"
    assert listed[0]["active"] == listed[0]["sub"] == "failed"
    assert abs(time.time() - epoch_of(listed[0]["since"])) < 600
    assert services["failed_count"] == len(services["failed_units"]) >= 1


def test_full_memory_filesystem_shows_usage_and_then_read_only(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    try:
        fleet.sh(host, f"mkdir -p {FULL_MOUNT} && mount -t tmpfs -o size=1m opsrun-full {FULL_MOUNT}")
        # dd stops with "No space left on device": the filesystem is full.
        fleet.sh(host, f"dd if=/dev/zero of={FULL_MOUNT}/fill bs=4k", check=False)
        hidden = system_info(fleet, tmp_path / "hidden", [host], {"gather": ["filesystems"]})[host]
        shown = system_info(fleet, tmp_path / "shown", [host],
                            {"gather": ["filesystems"], "include_pseudo_filesystems": True})[host]
        fleet.sh(host, f"mount -o remount,ro {FULL_MOUNT}")
        read_only = system_info(fleet, tmp_path / "ro", [host],
                                {"gather": ["filesystems"], "include_pseudo_filesystems": True})[host]
    finally:
        fleet.sh(host, f"umount {FULL_MOUNT}; rmdir {FULL_MOUNT}", check=False)
    assert FULL_MOUNT not in [mount["mount"] for mount in hidden["filesystems"]["mounts"]]
    for result, expect_read_only in ((shown, False), (read_only, True)):
        assert result["section_errors"] == {}
        full = [mount for mount in result["filesystems"]["mounts"] if mount["mount"] == FULL_MOUNT]
        assert len(full) == 1, result["filesystems"]
        assert full[0]["fstype"] == "tmpfs" and full[0]["device"] == "opsrun-full"
        assert full[0]["size_bytes"] == 1024 * 1024
        assert full[0]["used_percent"] >= 99.0 and full[0]["available_bytes"] == 0
        assert full[0]["read_only"] is expect_read_only
        assert ("ro" in full[0]["options"]) is expect_read_only
    assert fleet.sh(host, f"test -e {FULL_MOUNT}", check=False).returncode != 0


def fake_sys_script() -> str:
    """Shell commands that build FAKE_SYS from the tables above (all constants of this file)."""
    lines = [f"rm -rf {FAKE_SYS}"]
    for relative, value in FAKE_SYS_FILES.items():
        path = Path(FAKE_SYS) / relative
        lines.append(f"mkdir -p {shlex.quote(str(path.parent))}"
                     f" && echo {shlex.quote(value)} > {shlex.quote(str(path))}")
    for relative, target in FAKE_SYS_LINKS.items():
        lines.append(f"ln -s {shlex.quote(f'{FAKE_SYS}/{target}')} {shlex.quote(f'{FAKE_SYS}/{relative}')}")
    return "set -e\n" + "\n".join(lines)


def sensor(source: str, device: str, sensor_name: str, kind: str, value: float, *, chip: str | None = None,
           label: str | None = None, high: float | None = None, crit: float | None = None) -> dict[str, Any]:
    return {"source": source, "chip": chip, "device": device, "sensor": sensor_name, "label": label,
            "kind": kind, "unit": "\u00b0C" if kind == "temperature" else "%RH", "value": value,
            "max": high, "crit": crit, "status": None, "error": None}


def test_sensors_are_read_from_a_fake_sysfs_tree(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    try:
        fleet.sh(host, fake_sys_script())
        # /sys is read-only in the host, but a bind mount over one of its directories is allowed.
        fleet.sh(host, f"mount --bind {FAKE_SYS}/class /sys/class")
        assert fleet.sh(host, "readlink /sys/class/hwmon/hwmon1").stdout.strip().startswith(FAKE_SYS)
        result = system_info(fleet, tmp_path, [host], {"gather": ["sensors"]})[host]
    finally:
        fleet.sh(host, f"umount /sys/class; rm -rf {FAKE_SYS}", check=False)
    assert result["section_errors"] == {}
    assert result["sensors"]["readings"] == [
        sensor("hwmon", "hwmon0", "humidity1", "humidity", 45.2, chip="opsrun_env", label="Rack humidity"),
        sensor("hwmon", "hwmon0", "temp1", "temperature", 71.5, chip="opsrun_env", label="Rack inlet",
               crit=85.0),
        sensor("hwmon", "hwmon1", "temp1", "temperature", 48.0, chip="coretemp", label="Package id 0",
               high=80.0, crit=100.0),
        sensor("hwmon", "hwmon1", "temp2", "temperature", 46.0, chip="coretemp"),
        sensor("thermal", "thermal_zone0", "temp", "temperature", 52.0, label="x86_pkg_temp", high=95.0,
               crit=105.0),
    ]
    assert result["sensors"]["count"] == 5
    assert fleet.sh(host, "test -e /sys/class/net/eth0", check=False).returncode == 0


def test_reboot_flag_with_its_package_list(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    try:
        fleet.sh(host, "echo '*** System restart required ***' > /run/reboot-required && printf"
                       " 'libc6\\nlinux-image-6.1.0-18-amd64\\nlibc6\\n' > /run/reboot-required.pkgs")
        result = system_info(fleet, tmp_path, [host], {"gather": ["reboot"]})[host]
    finally:
        fleet.sh(host, "rm -f /run/reboot-required /run/reboot-required.pkgs", check=False)
    assert result["reboot"] == {"required": True, "reasons": ["System restart required"],
                                "packages": ["libc6", "linux-image-6.1.0-18-amd64"],
                                "method": "/run/reboot-required"}


def test_named_services_on_plain_and_systemd_hosts(fleet: Fleet, tmp_path: Path) -> None:
    plain, managed = plain_host(fleet), systemd_host(fleet)
    results = system_info(fleet, tmp_path, [plain, managed],
                          {"gather": ["services"], "services": ["ssh", "opsrun-absent"]})
    for result in results.values():
        assert result["section_errors"] == {}
    by_init = {plain: results[plain]["services"]["named"], managed: results[managed]["services"]["named"]}
    # Without systemd, `service ssh status` answers with the LSB exit code.
    assert by_init[plain] == [
        {"name": "ssh", "unit": None, "state": "active", "sub_state": None, "enabled": None, "since": None,
         "rc": 0},
        {"name": "opsrun-absent", "unit": None, "state": "not-found", "sub_state": None, "enabled": None,
         "since": None, "rc": None},
    ]
    ssh, absent = by_init[managed]
    assert (ssh["unit"], ssh["state"], ssh["sub_state"], ssh["enabled"]) == (
        "ssh.service", "active", "running", "enabled")
    assert ssh["rc"] is None and abs(time.time() - epoch_of(ssh["since"])) < 24 * 3600
    assert (absent["unit"], absent["state"]) == ("opsrun-absent.service", "not-found")


def test_a_hanging_status_script_costs_only_its_section(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    script = "/etc/init.d/opsrun-hang"
    try:
        # An init script whose status never answers, as one waiting on a dead NFS server would.
        fleet.sh(host, f"printf '#!/bin/sh\\necho $$ > /run/opsrun-hang.pid\\nexec sleep 120\\n' > {script}"
                       f" && chmod 0755 {script}")
        args = {"gather": ["identity", "services"], "services": ["opsrun-hang"], "section_timeout": 2}
        result = system_info(fleet, tmp_path, [host], args)[host]
    finally:
        fleet.sh(host, f"rm -f {script}; test -s /run/opsrun-hang.pid && kill $(cat /run/opsrun-hang.pid);"
                       " rm -f /run/opsrun-hang.pid", check=False)
    assert result["changed"] is False and result.get("failed") is not True
    assert list(result["section_errors"]) == ["services"]
    assert "did not finish within" in result["section_errors"]["services"]
    assert result["services"] == {"error": result["section_errors"]["services"]}
    assert result["identity"]["hostname"] == host


def test_check_mode_still_returns_data(fleet: Fleet, tmp_path: Path) -> None:
    hosts = [plain_host(fleet), systemd_host(fleet)]
    results = system_info(fleet, tmp_path, hosts, {"skip": ["sockets"]}, check=True)
    for host, result in results.items():
        assert result["changed"] is False
        assert result["section_errors"] == {}
        assert result["identity"]["hostname"] == host
        assert "sockets" not in result and "sockets" not in result["gathered"]
        assert any(mount["mount"] == "/" for mount in result["filesystems"]["mounts"])
