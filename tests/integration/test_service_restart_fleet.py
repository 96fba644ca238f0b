"""The service_restart playbook on real SSH hosts, with real daemons and real faults.

Two daemons: nginx from Debian (installed on every fleet host, not started at boot) and a tiny HTTP
daemon of the tests' own, opsrun-rsd, with an init script on plain hosts and a systemd unit on
systemd hosts, so both ways of restarting are used. Every daemon started, file written or
config changed here is stopped or removed again in a `finally`, as the session's fleet is shared.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "service_restart.yml"

DAEMON = "opsrun-rsd"
DAEMON_BIN = f"/usr/local/sbin/{DAEMON}"
DAEMON_CONF = f"/etc/{DAEMON}.conf"
DAEMON_PID = f"/run/{DAEMON}.pid"
DAEMON_LOG = f"/var/log/{DAEMON}.log"
DAEMON_ROOT = f"/srv/{DAEMON}"
DAEMON_PORT = 8091
BACKUP_DIR = "/var/backups/opsrun-rsd-test"
NGINX_CONF = "/etc/nginx/conf.d/opsrun-rsd-test.conf"
NGINX_PORT = 8081

DAEMON_SCRIPT = f"""#!/usr/bin/python3
# A tiny HTTP daemon for the service_restart tests: serves the directory `root` on `port`, both read
# from {DAEMON_CONF}; `--check` only validates that file.
import functools
import http.server
import os
import sys


def load():
    conf = {{}}
    with open({DAEMON_CONF!r}) as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith('#'):
                key, sep, value = line.partition('=')
                if not sep:
                    raise SystemExit('{DAEMON}: {DAEMON_CONF}: not key=value: %r' % line)
                conf[key.strip()] = value.strip()
    if not conf.get('port', '').isdigit():
        raise SystemExit('{DAEMON}: {DAEMON_CONF}: port must be a number')
    if not os.path.isdir(conf.get('root', '')):
        raise SystemExit('{DAEMON}: {DAEMON_CONF}: root is not a directory')
    return int(conf['port']), conf['root']


port, root = load()
if sys.argv[1:] == ['--check']:
    print('{DAEMON}: {DAEMON_CONF} is valid')
    raise SystemExit(0)
sys.stderr = open({DAEMON_LOG!r}, 'a', buffering=1)
server = http.server.ThreadingHTTPServer(
    ('0.0.0.0', port), functools.partial(http.server.SimpleHTTPRequestHandler, directory=root))
sys.stderr.write('{DAEMON}: serving %s on port %d\\n' % (root, port))
with open({DAEMON_PID!r}, 'w') as handle:
    handle.write('%d\\n' % os.getpid())
server.serve_forever()
"""
INIT_SCRIPT = f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {DAEMON}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: HTTP daemon of the service_restart tests
### END INIT INFO
pidfile={DAEMON_PID}
running() {{ [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }}
start() {{
    running && return 0
    {DAEMON_BIN} --check >/dev/null || return 1
    setsid {DAEMON_BIN} </dev/null >/dev/null 2>&1 &
    i=0
    while [ $i -lt 100 ] && ! running; do sleep 0.1; i=$((i + 1)); done
    running
}}
stop() {{
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$pidfile"
}}
case "$1" in
    start) start ;;
    stop) stop ;;
    restart|force-reload|reload) stop; start ;;
    status) running ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
"""
UNIT_FILE = f"""[Unit]
Description=HTTP daemon of the service_restart tests

[Service]
ExecStartPre={DAEMON_BIN} --check
ExecStart={DAEMON_BIN}
ExecStopPost=/bin/rm -f {DAEMON_PID}
"""
DAEMON_CONFIG = f"port={DAEMON_PORT}\nroot={DAEMON_ROOT}/www\n"
DAEMON_CONTRACT = [
    {"type": "process", "pidfile": DAEMON_PID, "timeout": 10},
    {"type": "port", "port": DAEMON_PORT, "timeout": 10},
    {"name": "health page", "type": "http", "url": f"http://127.0.0.1:{DAEMON_PORT}/health.txt",
     "body_match": "^ok", "timeout": 3},
]
NGINX_CONTRACT = [
    {"type": "process", "process": "nginx", "pidfile": "/run/nginx.pid", "timeout": 10},
    {"type": "port", "port": 80, "timeout": 10},
    {"name": "home page", "type": "http", "url": "http://127.0.0.1/", "body_match": "Welcome to nginx"},
    {"type": "log", "path": "/var/log/nginx/error.log", "pattern": r"\[(emerg|alert|crit)\]", "timeout": 0},
]
NGINX_SERVER_V1 = f'server {{ listen {NGINX_PORT}; location / {{ return 200 "v1\\n"; }} }}\n'


def put(fleet: Fleet, host: str, path: str, text: str, mode: str = "644") -> None:
    fleet.sh(host, f"mkdir -p {shlex.quote(str(Path(path).parent))} && printf %s {shlex.quote(text)}"
                   f" > {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}")


def is_systemd(fleet: Fleet, host: str) -> bool:
    return host in fleet.names("systemd")


def daemon(fleet: Fleet, host: str, action: str) -> None:
    command = f"systemctl {action} {DAEMON}" if is_systemd(fleet, host) else f"/etc/init.d/{DAEMON} {action}"
    fleet.sh(host, command)


def install_daemon(fleet: Fleet, host: str) -> None:
    put(fleet, host, DAEMON_BIN, DAEMON_SCRIPT, "755")
    put(fleet, host, DAEMON_CONF, DAEMON_CONFIG)
    put(fleet, host, f"{DAEMON_ROOT}/www/health.txt", "ok\n")
    fleet.sh(host, f"mkdir -p {DAEMON_ROOT}/empty")
    if is_systemd(fleet, host):
        put(fleet, host, f"/run/systemd/system/{DAEMON}.service", UNIT_FILE)
        fleet.sh(host, "systemctl daemon-reload")
    else:
        put(fleet, host, f"/etc/init.d/{DAEMON}", INIT_SCRIPT, "755")
    daemon(fleet, host, "start")


def remove_daemon(fleet: Fleet, host: str) -> None:
    if is_systemd(fleet, host):
        fleet.sh(host, f"systemctl stop {DAEMON}; rm -f /run/systemd/system/{DAEMON}.service;"
                       f" systemctl reset-failed {DAEMON}; systemctl daemon-reload", check=False)
    else:
        fleet.sh(host, f"/etc/init.d/{DAEMON} stop; rm -f /etc/init.d/{DAEMON}", check=False)
    fleet.sh(host, f"rm -rf {DAEMON_BIN} {DAEMON_CONF} {DAEMON_PID} {DAEMON_LOG} {DAEMON_ROOT} {BACKUP_DIR}",
             check=False)


def nginx(fleet: Fleet, host: str, action: str) -> None:
    fleet.sh(host, f"systemctl {action} nginx" if is_systemd(fleet, host) else f"service nginx {action}")


@pytest.fixture
def daemons(fleet: Fleet, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Hosts running nginx and opsrun-rsd: HOSTS plain ones then systemd ones (indirect parameter)."""
    plain_count, systemd_count = request.param
    hosts = fleet.names("sshd")[:plain_count] + fleet.names("systemd")[:systemd_count]
    try:
        for host in hosts:
            install_daemon(fleet, host)
            nginx(fleet, host, "start")
        yield hosts
    finally:
        for host in hosts:
            remove_daemon(fleet, host)
            nginx(fleet, host, "stop")
            fleet.sh(host, f"rm -f {NGINX_CONF}", check=False)


def restart(fleet: Fleet, workdir: Path, hosts: list[str], services: list[dict[str, Any]],
            extra: dict[str, Any] | None = None) -> tuple[int, dict[str, list[dict[str, Any]]], str]:
    """Run the playbook on HOSTS; (exit code, {host: the role's report of its services}, output)."""
    workdir.mkdir(parents=True, exist_ok=True)
    reports = workdir / "reports"
    variables = {"opsrun_hosts": ":".join(hosts), "service_restart_services": services,
                 "service_restart_report_dir": str(reports), "service_restart_backup_dir": BACKUP_DIR,
                 "service_restart_check_timeout": 10, **(extra or {})}
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps(variables))
    done = fleet.run(str(BIN / "ansible-playbook"), "-e", f"@{vars_file}", str(PLAYBOOK))
    report = {}
    for path in sorted(reports.glob("*.json")) if reports.exists() else []:
        content = json.loads(path.read_text())
        report[content["host"]] = content["services"]
    return done.returncode, report, done.stdout + done.stderr


def pidfile(fleet: Fleet, host: str, path: str) -> int | None:
    text = fleet.sh(host, f"cat {path}", check=False).stdout.strip()
    return int(text) if text.isdigit() else None


def fetch(fleet: Fleet, host: str, url: str) -> str:
    script = (f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode(),"
              " end='')")
    return fleet.sh(host, f"python3 -c {shlex.quote(script)}").stdout


def daemon_service(config: str | None = None, **keys: Any) -> dict[str, Any]:
    service: dict[str, Any] = {"name": DAEMON, "contract": DAEMON_CONTRACT, "evidence_logs": [DAEMON_LOG],
                               **keys}
    if config is not None:
        service["config"] = {"dest": DAEMON_CONF, "content": config}
        service["validate"] = [DAEMON_BIN, "--check"]
    return service


@pytest.mark.parametrize("daemons", [(1, 1)], indirect=True)
def test_a_healthy_restart_replaces_the_processes_and_passes_the_contract(
        fleet: Fleet, daemons: list[str], tmp_path: Path) -> None:
    before = {host: (pidfile(fleet, host, "/run/nginx.pid"), pidfile(fleet, host, DAEMON_PID))
              for host in daemons}
    new_config = "# served by the tests\n" + DAEMON_CONFIG
    services = [{"name": "nginx", "contract": NGINX_CONTRACT}, daemon_service(new_config)]
    code, report, output = restart(fleet, tmp_path, daemons, services, {"service_restart_serial": 2})
    assert code == 0, output
    plain, systemd = daemons
    assert {host: [entry["service_manager"] for entry in report[host]] for host in daemons} == {
        plain: ["other", "other"], systemd: ["systemd", "systemd"]}
    for host in daemons:
        nginx_entry, daemon_entry = report[host]
        assert [entry["status"] for entry in report[host]] == ["restarted", "restarted"]
        assert nginx_entry["pids_before"] == [before[host][0]]
        assert nginx_entry["pids_after"] == [pidfile(fleet, host, "/run/nginx.pid")] != [before[host][0]]
        assert daemon_entry["pids_before"] == [before[host][1]]
        assert daemon_entry["pids_after"] == [pidfile(fleet, host, DAEMON_PID)] != [before[host][1]]
        assert (nginx_entry["precheck"], nginx_entry["postcheck"], nginx_entry["config_changed"]) == (
            True, True, False)
        assert (daemon_entry["config_changed"], daemon_entry["validated"], daemon_entry["rolled_back"]) == (
            True, True, False)
        # The replaced file is kept to roll back to, readable by root only in its directory.
        assert daemon_entry["backup"].startswith(f"{BACKUP_DIR}/{DAEMON}/{DAEMON}.conf.")
        assert fleet.sh(host, f"cat {daemon_entry['backup']}").stdout == DAEMON_CONFIG
        assert fleet.sh(host, f"stat -c %a {BACKUP_DIR}/{DAEMON}").stdout.strip() == "700"
        assert fleet.sh(host, f"cat {DAEMON_CONF}").stdout == new_config
        assert fetch(fleet, host, f"http://127.0.0.1:{DAEMON_PORT}/health.txt") == "ok\n"

    # The same config again: nothing changes, so the daemon is not restarted; nginx, without a
    # config, is always acted on, here reloaded: its master process stays.
    services[0]["action"] = "reload"
    again, report, output = restart(fleet, tmp_path / "again", daemons, services,
                                    {"service_restart_serial": 2})
    assert again == 0, output
    for host in daemons:
        assert [entry["status"] for entry in report[host]] == ["reloaded", "unchanged"]
        master = pidfile(fleet, host, "/run/nginx.pid")
        assert report[host][0]["pids_before"] == report[host][0]["pids_after"] == [master]
        assert report[host][1]["pids_after"] == []
        assert report[host][1]["pids_before"] == [pidfile(fleet, host, DAEMON_PID)]

    # Another change with one backup kept: only the file this change replaced is left.
    services = [daemon_service("# changed again\n" + DAEMON_CONFIG)]
    code, report, output = restart(fleet, tmp_path / "third", daemons, services,
                                   {"service_restart_serial": 2, "service_restart_backup_keep": 1})
    assert code == 0, output
    for host in daemons:
        [entry] = report[host]
        assert entry["status"] == "restarted"
        listing = fleet.sh(host, f"ls {BACKUP_DIR}/{DAEMON}").stdout.split()
        assert [f"{BACKUP_DIR}/{DAEMON}/{name}" for name in listing] == [entry["backup"]]
        assert fleet.sh(host, f"cat {entry['backup']}").stdout == new_config


@pytest.mark.parametrize("daemons", [(1, 1)], indirect=True)
def test_a_broken_new_config_is_rolled_back_and_the_service_keeps_serving(
        fleet: Fleet, daemons: list[str], tmp_path: Path) -> None:
    for host in daemons:
        put(fleet, host, NGINX_CONF, NGINX_SERVER_V1)
        nginx(fleet, host, "reload")
    pids = {host: pidfile(fleet, host, "/run/nginx.pid") for host in daemons}
    broken = f"server {{ listen {NGINX_PORT}; lisen 8082; }}\n"
    services = [{"name": "nginx", "contract": NGINX_CONTRACT,
                 "config": {"dest": NGINX_CONF, "content": broken}, "validate": ["nginx", "-t"]}]
    code, report, output = restart(fleet, tmp_path, daemons, services, {"service_restart_serial": 2})
    assert code == 2, output
    for host in daemons:
        [entry] = report[host]
        assert (entry["status"], entry["config_changed"], entry["validated"], entry["rolled_back"],
                entry["restarted"]) == ("rolled_back", True, False, True, False)
        assert 'unknown directive "lisen"' in entry["message"]
        assert "The previous file was put back and the service was not restarted" in entry["message"]
        assert fleet.sh(host, f"cat {NGINX_CONF}").stdout == NGINX_SERVER_V1
        assert pidfile(fleet, host, "/run/nginx.pid") == pids[host]
        assert fetch(fleet, host, f"http://127.0.0.1:{NGINX_PORT}/") == "v1\n"
        assert (f"{host}: service nginx: the new {NGINX_CONF} failed validation with 'nginx -t' (rc 1)"
                in output)


@pytest.mark.parametrize("daemons", [(2, 1)], indirect=True)
def test_a_service_failing_its_http_probe_stops_the_rollout(
        fleet: Fleet, daemons: list[str], tmp_path: Path) -> None:
    first, *later = daemons
    pids = {host: pidfile(fleet, host, DAEMON_PID) for host in daemons}
    # Valid for the daemon's own checker, and it starts, but serves an empty directory: no health page.
    empty_root = DAEMON_CONFIG.replace(f"{DAEMON_ROOT}/www", f"{DAEMON_ROOT}/empty")
    code, report, output = restart(fleet, tmp_path, daemons, [daemon_service(empty_root)])
    assert code == 2, output
    assert list(report) == [first], "the hosts after the failed one must not be touched"
    [entry] = report[first]
    assert (entry["status"], entry["validated"], entry["restarted"], entry["postcheck"], entry["rolled_back"],
            entry["rollback_passed"]) == ("rolled_back", True, True, False, True, True)
    assert entry["failed_checks"] == ["health page"]
    assert "health page: status 404, expected 200" in entry["message"]
    evidence = {item["source"]: item["lines"] for item in entry["evidence"]}
    assert any('"GET /health.txt HTTP/1.1" 404' in line for line in evidence[DAEMON_LOG])
    assert f"{first}: service {DAEMON}: failed its health contract after the restart" in output
    assert "The previous configuration was put back; on it the contract passed." in output
    # Rolled back and restarted on the old config: serving again, with a process of its own.
    assert fleet.sh(first, f"cat {DAEMON_CONF}").stdout == DAEMON_CONFIG
    assert pidfile(fleet, first, DAEMON_PID) not in (None, pids[first])
    assert fetch(fleet, first, f"http://127.0.0.1:{DAEMON_PORT}/health.txt") == "ok\n"
    for host in later:
        assert pidfile(fleet, host, DAEMON_PID) == pids[host]
        assert fleet.sh(host, f"cat {DAEMON_CONF}").stdout == DAEMON_CONFIG


@pytest.mark.parametrize("daemons", [(1, 0)], indirect=True)
def test_a_service_already_broken_is_reported_and_restarted_only_when_forced(
        fleet: Fleet, daemons: list[str], tmp_path: Path) -> None:
    [host] = daemons
    daemon(fleet, host, "stop")
    code, report, output = restart(fleet, tmp_path / "refused", daemons, [daemon_service()])
    assert code == 2, output
    [entry] = report[host]
    assert (entry["status"], entry["precheck"], entry["restarted"]) == ("broken_before", False, False)
    assert "already fails its health contract before the restart" in entry["message"]
    assert "service_restart_force" in entry["message"]
    assert pidfile(fleet, host, DAEMON_PID) is None

    code, report, output = restart(fleet, tmp_path / "forced", daemons, [daemon_service()],
                                   {"service_restart_force": True})
    assert code == 0, output
    [entry] = report[host]
    assert (entry["status"], entry["precheck"], entry["postcheck"]) == ("restarted", False, True)
    assert entry["pids_after"] == [pidfile(fleet, host, DAEMON_PID)]
