"""The health_check playbook on real SSH hosts, with real faults injected and the exact findings asserted.

Every fault (a full filesystem, a stopped service, a failed unit, error lines in a log, a hot sensor)
is removed again in a `finally`, because the session's fleet is shared by all fleet tests. The
unreachable host is a host of a small fleet of this file's own, which is stopped for good.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_time import (
    MAXERROR_LIMIT_USEC,
    read_kernel_clock,
)
from handle import Fleet

pytestmark = pytest.mark.fleet

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "health_check.yml"
# The fleet's hosts share this machine's load, whatever it is; the load check itself is still run.
BASE_VARS: dict[str, Any] = {"health_check_load_per_cpu": {"warn": 1000, "crit": 1000}}
# The unreachable-host test stops a host of a fleet of its own (name and subnet nobody else uses).
STOP_FLEET_NAME = os.environ.get("OPSRUN_HC_STOP_FLEET_NAME", "hcstop")
STOP_FLEET_SUBNET = os.environ.get("OPSRUN_HC_STOP_FLEET_SUBNET", "10.213.53")

FULL_MOUNT = "/srv/opsrun-hc-full"
DUMMY = "opsrun-hc-dummy"
FAILING = "opsrun-hc-fail"
LOG_DIR = "/var/log/opsrun-hc"
LOG_STATE = "/var/lib/opsrun/health_check_test_log_scan.json"
FAKE_SYS = "/run/opsrun-hc-sys"
TEXTFILE_DIR = "/var/lib/opsrun-hc-textfile"
INIT_SCRIPT = f"""#!/bin/sh
# A service for the health check's tests, managed the sysvinit way.
pidfile=/run/{DUMMY}.pid
case "$1" in
  start) sleep 100000 >/dev/null 2>&1 & echo $! > "$pidfile" ;;
  stop) [ -f "$pidfile" ] && kill "$(cat "$pidfile")"; rm -f "$pidfile" ;;
  status) [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && exit 0; exit 3 ;;
esac
"""
UNIT_FILE = """[Unit]
Description=A service for the health check's tests

[Service]
ExecStart=/bin/sleep 100000
"""


def health_check(fleet: Fleet, workdir: Path, hosts: list[str], extra: dict[str, Any] | None = None, *,
                 check: bool = False) -> tuple[int, dict[str, Any] | None, str]:
    """Run the health_check playbook on HOSTS; (exit code, the run's JSON report or None, output).

    Variables go in as an extra-vars file; the report is read from the run's own report directory,
    so nothing is parsed from screen output.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    reports = workdir / "reports"
    variables = {**BASE_VARS, "opsrun_hosts": ":".join(hosts), "health_check_report_dir": str(reports),
                 **(extra or {})}
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps(variables))
    done = fleet.run(str(BIN / "ansible-playbook"), *(["--check"] if check else []), "-e", f"@{vars_file}",
                     str(PLAYBOOK))
    files = sorted(reports.glob("health_check_*.json")) if reports.exists() else []
    assert len(files) <= 1, files
    report = json.loads(files[0].read_text()) if files else None
    return done.returncode, report, done.stdout + done.stderr


def found(report: dict[str, Any], host: str, check: str | None = None) -> list[tuple[Any, ...]]:
    """(check, item, status, value) of HOST's findings, of one CHECK when given."""
    return [(item["check"], item["item"], item["status"], item["value"]) for item in report["findings"]
            if item["host"] == host and check in (None, item["check"])]


def plain_host(fleet: Fleet) -> str:
    return fleet.names("sshd")[0]


def systemd_host(fleet: Fleet) -> str:
    return fleet.names("systemd")[0]


def test_healthy_hosts_pass_and_every_check_is_reported(fleet: Fleet, tmp_path: Path) -> None:
    plain, systemd = plain_host(fleet), systemd_host(fleet)
    extra = {
        "health_check_services": ["ssh"],
        "health_check_listening_ports": [{"port": 22}],
        "health_check_probe_targets": [
            {"name": "ssh on loopback", "type": "tcp", "host": "127.0.0.1", "port": 22},
            {"name": "discard stays closed", "type": "tcp", "host": "127.0.0.1", "port": 9,
             "expect_down": True},
        ],
        "health_check_junit_enabled": True,
    }
    code, report, output = health_check(fleet, tmp_path, [plain, systemd], extra)
    assert code == 0, output
    assert report is not None
    statuses = {host: [(check, item, status) for check, item, status, _value in found(report, host)]
                for host in (plain, systemd)}
    common_head = [("reachable", "connection", "ok"), ("disk", "/", "ok"), ("inodes", "/", "ok"),
                   ("memory", "available", "ok"), ("swap", "used", "ok"), ("load", "per_cpu_5m", "ok")]
    common_tail = [("services", "ssh", "ok"), ("reboot", "required", "ok")]
    probes = [("ports", "tcp/22", "ok"), ("probes", "ssh on loopback", "ok"),
              ("probes", "discard stays closed", "ok")]
    # Fleet hosts share this machine's kernel clock and run no time daemon: its state decides.
    clock = "ok" if read_kernel_clock()[0] < MAXERROR_LIMIT_USEC else "warn"
    assert statuses[plain] == [*common_head, *common_tail, ("time", "offset", clock), *probes]
    assert statuses[systemd] == [*common_head, ("failed_units", "all", "ok"), *common_tail,
                                 ("time", "offset", clock), *probes]
    assert ("services", "ssh", "ok", "active") in found(report, plain)
    assert ("probes", "discard stays closed", "ok", "fail") in found(report, plain)
    assert report["hosts"] == {plain: clock, systemd: clock}
    assert report["summary"]["crit"] == 0

    reports = tmp_path / "reports"
    assert stat.S_IMODE(reports.stat().st_mode) == 0o750
    json_file = next(reports.glob("*.json"))
    assert stat.S_IMODE(json_file.stat().st_mode) == 0o640
    junit = ElementTree.parse(json_file.with_suffix(".xml")).getroot()  # noqa: S314 - the role's own output
    assert [suite.get("name") for suite in junit.findall("testsuite")] == [plain, systemd]
    assert junit.get("tests") == str(len(report["findings"]))
    assert junit.get("errors") == "0" and junit.get("failures") == ("0" if clock == "ok" else "2")


def test_a_full_filesystem_is_critical_with_its_own_levels(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    extra = {"health_check_disk_include_tmpfs": True,
             "health_check_disk_mounts": {FULL_MOUNT: {"warn": 50, "crit": 95}}}
    try:
        fleet.sh(host, f"mkdir -p {FULL_MOUNT} && mount -t tmpfs -o size=1m opsrun-hc-full {FULL_MOUNT}")
        # dd stops with "No space left on device": the filesystem is full.
        fleet.sh(host, f"dd if=/dev/zero of={FULL_MOUNT}/fill bs=4k", check=False)
        code, report, output = health_check(fleet, tmp_path, [host], extra)
    finally:
        fleet.sh(host, f"umount {FULL_MOUNT}; rmdir {FULL_MOUNT}", check=False)
    assert code == 2, output
    assert report is not None
    full = [item for item in report["findings"] if item["check"] == "disk" and item["item"] == FULL_MOUNT]
    assert [(item["status"], item["value"], item["threshold"]) for item in full] == [
        ("crit", 100.0, {"warn": 50.0, "crit": 95.0})]
    assert ("disk", "/", "ok") in [(check, item, status) for check, item, status, _v in found(report, host)]
    assert f"crit disk {FULL_MOUNT}: space of {FULL_MOUNT} used: 100.0% (warn at 50%, crit at 95%)" in output
    assert report["hosts"] == {host: "crit"}


def test_a_stopped_service_and_a_failed_unit_are_critical(fleet: Fleet, tmp_path: Path) -> None:
    plain, systemd = plain_host(fleet), systemd_host(fleet)
    extra = {"health_check_services": [DUMMY]}
    try:
        fleet.sh(plain, f"printf %s {shlex.quote(INIT_SCRIPT)} > /etc/init.d/{DUMMY}"
                        f" && chmod 755 /etc/init.d/{DUMMY} && /etc/init.d/{DUMMY} start")
        fleet.sh(systemd, f"printf %s {shlex.quote(UNIT_FILE)} > /run/systemd/system/{DUMMY}.service"
                          f" && systemctl daemon-reload && systemctl start {DUMMY}")
        code, running, output = health_check(fleet, tmp_path / "running", [plain, systemd], extra)
        assert code == 0, output

        fleet.sh(plain, f"/etc/init.d/{DUMMY} stop")
        fleet.sh(systemd, f"systemctl stop {DUMMY}")
        # A oneshot start waits for /bin/false, so the unit is failed when systemd-run returns.
        fleet.sh(systemd, f"systemd-run --unit={FAILING} --property=Type=oneshot /bin/false", check=False)
        code, stopped, output = health_check(fleet, tmp_path / "stopped", [plain, systemd], extra)
    finally:
        fleet.sh(plain, f"/etc/init.d/{DUMMY} stop; rm -f /etc/init.d/{DUMMY}", check=False)
        fleet.sh(systemd, f"systemctl stop {DUMMY}; rm -f /run/systemd/system/{DUMMY}.service;"
                          f" systemctl reset-failed {FAILING}.service; systemctl daemon-reload", check=False)
    assert running is not None and stopped is not None
    for host in (plain, systemd):
        assert found(running, host, "services") == [("services", DUMMY, "ok", "active")]
        assert found(stopped, host, "services") == [("services", DUMMY, "crit", "inactive")]
    assert found(running, systemd, "failed_units") == [("failed_units", "all", "ok", 0)]
    assert found(stopped, systemd, "failed_units") == [
        ("failed_units", f"{FAILING}.service", "crit", "failed")]
    assert code == 2, output
    assert f"crit services {DUMMY}: service {DUMMY} is inactive" in output


def test_error_lines_written_into_a_log_are_counted_once(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    extra = {"health_check_log_paths": [f"{LOG_DIR}/*.log"],
             "health_check_log_patterns": [{"name": "error", "pattern": "ERROR", "warn": 1, "crit": 3},
                                           {"name": "oom", "pattern": "Out of memory: Killed process",
                                            "crit": 1}],
             "health_check_log_state_file": LOG_STATE}
    lines = ["2026-01-08 09:12:40 app ERROR payment failed", "2026-01-08 09:12:41 app INFO retrying",
             "2026-01-08 09:12:42 app ERROR payment failed", "2026-01-08 09:12:43 app ERROR giving up"]
    try:
        fleet.sh(host, f"mkdir -p {LOG_DIR} && echo '2026-01-08 09:00:00 app ERROR before the first check'"
                       f" > {LOG_DIR}/app.log")
        # Lines from before the first check do not count: offsets start at the end of a new file.
        code, first, output = health_check(fleet, tmp_path / "first", [host], extra)
        assert code == 0, output
        fleet.sh(host, f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)} >> {LOG_DIR}/app.log")
        code, second, output = health_check(fleet, tmp_path / "second", [host], extra)
        code_again, third, output_again = health_check(fleet, tmp_path / "third", [host], extra)
    finally:
        fleet.sh(host, f"rm -rf {LOG_DIR} {LOG_STATE}", check=False)
    assert first is not None and second is not None and third is not None
    assert found(first, host, "logs") == [("logs", "error", "ok", 0), ("logs", "oom", "ok", 0)]
    assert found(second, host, "logs") == [("logs", "error", "crit", 3), ("logs", "oom", "ok", 0)]
    error = next(item for item in second["findings"] if item["check"] == "logs" and item["item"] == "error")
    # The file was first read from its end, so log_scan does not know line numbers in it.
    assert error["message"].endswith(f"last: {LOG_DIR}/app.log: {lines[3]}")
    assert code == 2, output
    assert found(third, host, "logs") == [("logs", "error", "ok", 0), ("logs", "oom", "ok", 0)]
    assert code_again == 0, output_again


def test_a_hot_sensor_is_critical_and_a_normal_one_is_not(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    files = {"class/hwmon/hwmon0/name": "opsrun_env",
             "class/hwmon/hwmon0/temp1_input": "36500", "class/hwmon/hwmon0/temp1_label": "Rack inlet",
             "class/hwmon/hwmon0/humidity1_input": "45200",
             "class/hwmon/hwmon0/humidity1_label": "Rack humidity",
             "class/thermal/.keep": ""}
    script = " && ".join(f"mkdir -p {shlex.quote(str(Path(FAKE_SYS, name).parent))}"
                         f" && echo {shlex.quote(value)} > {shlex.quote(f'{FAKE_SYS}/{name}')}"
                         for name, value in files.items())
    extra = {"health_check_sensor_rules": [
        {"kind": "temperature", "match": "*/Rack inlet", "warn_above": 30, "crit_above": 35},
        {"kind": "humidity", "match": "*", "warn_below": 20, "crit_below": 10, "warn_above": 70,
         "crit_above": 80},
    ]}
    try:
        fleet.sh(host, f"rm -rf {FAKE_SYS} && {script}")
        # /sys is read-only in the host, but a bind mount over one of its directories is allowed.
        fleet.sh(host, f"mount --bind {FAKE_SYS}/class /sys/class")
        code, report, output = health_check(fleet, tmp_path, [host], extra)
    finally:
        fleet.sh(host, f"umount /sys/class; rm -rf {FAKE_SYS}", check=False)
    assert report is not None
    assert found(report, host, "sensors") == [("sensors", "opsrun_env/Rack humidity", "ok", 45.2),
                                              ("sensors", "opsrun_env/Rack inlet", "crit", 36.5)]
    inlet = next(item for item in report["findings"] if item["item"] == "opsrun_env/Rack inlet")
    assert inlet["threshold"] == {"warn_above": 30.0, "crit_above": 35.0}
    assert code == 2, output


def test_an_unreachable_host_is_a_critical_finding(tmp_path: Path) -> None:
    small = Fleet.up(2, name=STOP_FLEET_NAME, subnet=STOP_FLEET_SUBNET)
    try:
        up, down = small.names()
        small.fleet("stop", down, check=True)
        code, report, output = health_check(small, tmp_path, [up, down])
    finally:
        small.down()
    assert report is not None, output
    assert found(report, down) == [("reachable", "connection", "crit", False)]
    assert found(report, up)[0] == ("reachable", "connection", "ok", True)
    assert report["hosts"][down] == "crit"
    assert code == 2, output


def test_check_mode_writes_nothing_and_a_run_writes_the_textfile(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    textfile = f"{TEXTFILE_DIR}/opsrun_health_check.prom"
    extra = {"health_check_prometheus_enabled": True, "health_check_prometheus_textfile": textfile,
             "health_check_log_paths": ["/var/log/dpkg.log"], "health_check_log_state_file": LOG_STATE,
             "health_check_listening_ports": [{"port": 22}]}
    try:
        fleet.sh(host, f"mkdir -p {TEXTFILE_DIR}")
        code, report, output = health_check(fleet, tmp_path / "check", [host], extra, check=True)
        assert code == 0, output
        assert report is None and not (tmp_path / "check" / "reports").exists()
        assert fleet.sh(host, f"test -e {textfile} || test -e {LOG_STATE}", check=False).returncode == 1

        code, report, output = health_check(fleet, tmp_path / "run", [host], extra)
        metrics = fleet.sh(host, f"stat -c %a {textfile} && cat {textfile}").stdout.splitlines()
    finally:
        fleet.sh(host, f"rm -rf {TEXTFILE_DIR} {LOG_STATE}", check=False)
    assert code == 0, output
    assert report is not None
    assert metrics[0] == "644"
    assert 'opsrun_health_check_status{check="ports",item="tcp/22"} 0' in metrics
    clock = 0 if read_kernel_clock()[0] < MAXERROR_LIMIT_USEC else 1
    assert f'opsrun_health_check_status{{check="time",item="offset"}} {clock}' in metrics
    assert 'opsrun_health_check_value{check="ports",item="tcp/22"} 1.0' in metrics
    assert any(line.startswith("opsrun_health_check_last_run_timestamp_seconds ") for line in metrics)
    assert len([line for line in metrics if line.startswith("opsrun_health_check_status{")]) == len(
        report["findings"])


def test_opsrun_run_sees_the_findings_through_set_stats(fleet: Fleet, tmp_path: Path) -> None:
    host = plain_host(fleet)
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps({**BASE_VARS, "health_check_report_dir": str(tmp_path / "reports")}))
    done = fleet.run(str(BIN / "opsrun"), "run", "--state-dir", str(tmp_path / "state"), "--output", "json",
                     "--playbook", "health_check", "-i", str(fleet.inventory), "-l", host,
                     "-e", f"@{vars_file}")
    assert done.returncode == 0, done.stdout + done.stderr
    envelope = json.loads(done.stdout)
    stats_events = [json.loads(path.read_text())
                    for path in Path(envelope["result"]["artifacts_dir"]).glob("job_events/*.json")]
    published = [event["event_data"]["artifact_data"] for event in stats_events
                 if event.get("event") == "playbook_on_stats"]
    assert len(published) == 1
    findings = published[0]["health_check_findings"]
    assert findings[0] == {"host": host, "check": "reachable", "item": "connection", "status": "ok",
                           "value": True, "threshold": True, "message": "the host answered"}
    assert published[0]["health_check_summary"]["crit"] == 0
    assert Path(published[0]["health_check_report_file"]).parent == tmp_path / "reports"
