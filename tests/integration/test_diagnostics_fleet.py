"""The diagnostics playbook on real SSH hosts: window, redaction, timeline, plain and systemd hosts.

Log lines with known times are written on a plain and a systemd host (a syslog-format file under
/var/log on both, journal entries on the systemd host), some inside the incident's window and
some outside, some holding secrets. The file is removed again in a `finally`, because the
session's fleet is shared; the journal entries stay, tagged so that nothing else reads them.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "diagnostics.yml"
# The collection in this working tree, ahead of any installed copy (~/.ansible/collections).
WORKING_TREE_COLLECTIONS = REPO / ".dev"
TEST_LOG = "/var/log/opsrun-diagtest.log"
TAG = "opsrun-diagtest"
SECRETS = (b"hunter2", b"abc.def")
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class Incident:
    plain: str
    managed: str
    time: int
    directory: Path
    extracted: Path
    run: subprocess.CompletedProcess[str]
    variables: dict[str, Any]


def run_diagnostics(fleet: Fleet, workdir: Path, variables: dict[str, Any], *,
                    check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run playbooks/diagnostics.yml as a user would, with VARIABLES as an extra-vars file."""
    extra_vars = workdir / f"vars-{time.monotonic_ns()}.json"
    extra_vars.write_text(json.dumps(variables))
    argv = [str(ANSIBLE_PLAYBOOK), str(PLAYBOOK), "-e", f"@{extra_vars}", *(["--check"] if check else [])]
    env = {**fleet.controller_env(), "ANSIBLE_COLLECTIONS_PATH": str(WORKING_TREE_COLLECTIONS)}
    return subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, tuple[int, int, int]]:
    """(changed, unreachable, failed) per host from the play recap."""
    return {match[1]: (int(match[2]), int(match[3]), int(match[4])) for match in RECAP.finditer(run.stdout)}


def syslog_time(epoch: float) -> str:
    """RFC 3164 time as the hosts (UTC) write it."""
    return time.strftime("%b %e %H:%M:%S", time.gmtime(epoch))


def log_lines(host: str, incident: int, shift: int) -> str:
    """The test log of HOST around INCIDENT; SHIFT seconds apart per host, so that hosts never tie."""
    return "".join(f"{syslog_time(incident + offset + shift)} {host} app[42]: {text}\n" for offset, text in (
        (-3 * 3600, f"OUTSIDE-before-{host} error: long before the incident"),
        (-300, f"INSIDE-{host} error: login failed user=ops password=hunter2"),
        (-240, f"INSIDE-{host} GET /api Authorization: Bearer abc.def"),
        (600, f"OUTSIDE-after-{host} error: after the window"),
    ))


def write_file(fleet: Fleet, host: str, path: str, text: str) -> None:
    fleet.sh(host, f"printf %s {shlex.quote(text)} > {path}")


def temp_dirs_left(fleet: Fleet, host: str) -> str:
    return fleet.sh(host, "ls -d /tmp/opsrun-diagnostics-* 2>/dev/null || true").stdout.strip()


@pytest.fixture(scope="module")
def incident(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Incident]:
    """One incident on a plain and a systemd host, collected once for the tests of this file."""
    plain, managed = fleet.names("sshd")[0], fleet.names("systemd")[0]
    workdir = tmp_path_factory.mktemp("diagnostics")
    try:
        fleet.sh(managed, f"logger -t {TAG} 'INSIDE-journal error: login failed password=hunter2'")
        header = "INSIDE-journal GET /api Authorization: Bearer abc.def"
        fleet.sh(managed, f"echo '{header}' | systemd-cat -t {TAG}")
        time.sleep(2)
        moment = int(time.time())
        time.sleep(2)
        fleet.sh(managed, f"logger -t {TAG} 'OUTSIDE-journal-after error: written after the window'")
        for shift, host in enumerate((plain, managed)):
            write_file(fleet, host, TEST_LOG, log_lines(host, moment, 30 * shift))
        variables = {
            "opsrun_hosts": f"{plain}:{managed}",
            "diagnostics_incident_time": time.strftime(ISO_UTC, time.gmtime(moment)),
            "diagnostics_window_before": "30m",
            "diagnostics_window_after": "0s",
            "diagnostics_extra_paths": [TEST_LOG],
            "diagnostics_services": ["ssh"],
            "diagnostics_output_dir": str(workdir / "incident"),
        }
        run = run_diagnostics(fleet, workdir, variables)
        assert run.returncode == 0, run.stdout + run.stderr
        extracted = workdir / "extracted"
        for bundle in sorted((workdir / "incident").glob("*.tar.gz")):
            with tarfile.open(bundle) as archive:
                archive.extractall(extracted, filter="data")
        yield Incident(plain, managed, moment, workdir / "incident", extracted, run, variables)
    finally:
        for host in (plain, managed):
            fleet.sh(host, f"rm -f {TEST_LOG}", check=False)


def bundle_text(incident: Incident, host: str, member: str) -> str:
    return (incident.extracted / host / member).read_text()


def test_every_host_has_a_bundle_a_record_and_the_summary(incident: Incident) -> None:
    hosts = (incident.plain, incident.managed)
    names = sorted(path.name for path in incident.directory.iterdir())
    expected = [f"{host}{suffix}" for host in hosts for suffix in (".tar.gz", ".json")]
    assert names == sorted([*expected, "summary.json", "summary.md"])
    outcome = recap(incident.run)
    assert sorted(outcome) == sorted(hosts)
    for changed, unreachable, failed in outcome.values():
        assert changed > 0 and unreachable == failed == 0


def test_bundles_hold_the_lines_inside_the_window_only(incident: Incident) -> None:
    for host in (incident.plain, incident.managed):
        lines = bundle_text(incident, host, "logs" + TEST_LOG).splitlines()
        assert [line.split()[5] for line in lines] == [f"INSIDE-{host}", f"INSIDE-{host}"]
    journal = bundle_text(incident, incident.managed, "journal/all.log")
    assert journal.count("INSIDE-journal") == 2
    assert "OUTSIDE-journal-after" not in journal
    manifest = json.loads(bundle_text(incident, incident.managed, "manifest.json"))
    since = time.strftime(ISO_UTC, time.gmtime(incident.time - 1800))
    assert manifest["window"]["since"] == since.replace("Z", ".000000Z")


def test_secrets_appear_in_no_fetched_file(incident: Incident) -> None:
    everything = [*incident.directory.rglob("*"), *incident.extracted.rglob("*")]
    files = [path for path in everything if path.is_file()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret not in data, f"{secret!r} in {path}"
    for host in (incident.plain, incident.managed):
        log = bundle_text(incident, host, "logs" + TEST_LOG)
        assert "password=[REDACTED]" in log and "Bearer [REDACTED]" in log
    journal = bundle_text(incident, incident.managed, "journal/all.log")
    assert "password=[REDACTED]" in journal and "Bearer [REDACTED]" in journal
    record = json.loads((incident.directory / f"{incident.managed}.json").read_text())
    assert record["redactions"]["password"] >= 2 and record["redactions"]["authorization"] >= 2


def test_the_timeline_is_sorted_across_hosts_with_their_names(incident: Incident) -> None:
    summary = json.loads((incident.directory / "summary.json").read_text())
    timeline = summary["timeline"]
    assert [event["time"] for event in timeline] == sorted(event["time"] for event in timeline)
    marked = [(event["host"], event["source"], event["what"].split()[5])
              for event in timeline if f"INSIDE-{event['host']}" in event["what"]]
    # The plain host's lines are 30 s earlier: its event comes first whatever the host names.
    assert marked == [
        (incident.plain, "logs" + TEST_LOG, f"INSIDE-{incident.plain}"),
        (incident.managed, "logs" + TEST_LOG, f"INSIDE-{incident.managed}"),
    ]
    journal_events = [event for event in timeline if "INSIDE-journal" in event["what"]]
    assert [(event["host"], event["kind"]) for event in journal_events] == [(incident.managed, "error")]
    assert not [event for event in timeline if "OUTSIDE" in event["what"]]
    window = (time.strftime(ISO_UTC, time.gmtime(incident.time - 1800)),
              time.strftime(ISO_UTC, time.gmtime(incident.time)))
    assert all(window[0] <= event["time"][:19] + "Z" <= window[1] for event in timeline)
    assert summary["incident"] == {
        "id": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(incident.time)),
        "time": window[1], "since": window[0], "until": window[1],
    }
    markdown = (incident.directory / "summary.md").read_text()
    for host in (incident.plain, incident.managed):
        assert f"| {host} | collected |" in markdown
    assert f"INSIDE-{incident.plain} error: login failed user=ops password=[REDACTED]" in markdown


def test_the_plain_host_has_no_journal_and_still_works(incident: Incident) -> None:
    plain = json.loads((incident.directory / f"{incident.plain}.json").read_text())
    managed = json.loads((incident.directory / f"{incident.managed}.json").read_text())
    assert plain["status"] == managed["status"] == "collected"
    assert plain["journal"]["available"] is False and "no systemd journal" in plain["journal"]["reason"]
    assert managed["journal"] == {"available": True, "reason": None}
    assert not (incident.extracted / incident.plain / "journal").exists()
    for member in ("manifest.json", "events.json", "system/system_info.json", "logins/last.txt"):
        assert (incident.extracted / incident.plain / member).is_file(), member
    snapshot = json.loads(bundle_text(incident, incident.plain, "system/system_info.json"))
    assert snapshot["identity"]["hostname"] == incident.plain
    assert "processes" in snapshot["gathered"] and "sockets" in snapshot["gathered"]


def test_named_services_are_collected_from_the_journal_and_the_snapshot(incident: Incident) -> None:
    manifest = json.loads(bundle_text(incident, incident.managed, "manifest.json"))
    unit = [source for source in manifest["sources"] if source["origin"].endswith("--unit=ssh")]
    assert [source["kind"] for source in unit] == ["journal"]
    assert unit[0]["status"] in ("collected", "empty")
    for host in (incident.plain, incident.managed):
        snapshot = json.loads(bundle_text(incident, host, "system/system_info.json"))
        assert [service["name"] for service in snapshot["services"]["named"]] == ["ssh"], host


def test_files_are_private_and_nothing_is_left_on_the_hosts(fleet: Fleet, incident: Incident) -> None:
    assert stat.S_IMODE(incident.directory.stat().st_mode) == 0o700
    for path in incident.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for host in (incident.plain, incident.managed):
        assert temp_dirs_left(fleet, host) == "", host


def test_a_second_run_of_the_same_incident_changes_nothing(fleet: Fleet, incident: Incident,
                                                          tmp_path: Path) -> None:
    def state() -> dict[str, tuple[int, bytes]]:
        files = incident.directory.iterdir()
        return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in files}

    before = state()
    again = run_diagnostics(fleet, tmp_path, incident.variables)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {host: changed for host, (changed, _u, _f) in recap(again).items()} == {
        incident.plain: 0, incident.managed: 0}
    assert state() == before


def test_check_mode_writes_nothing_anywhere(fleet: Fleet, incident: Incident, tmp_path: Path) -> None:
    output = tmp_path / "checked"
    variables = dict(incident.variables, diagnostics_output_dir=str(output))
    checked = run_diagnostics(fleet, tmp_path, variables, check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Check mode: nothing was written" in checked.stdout
    assert not output.exists()
    for host in (incident.plain, incident.managed):
        assert temp_dirs_left(fleet, host) == "", host


def test_a_bad_window_stops_before_any_host_is_touched(fleet: Fleet, incident: Incident,
                                                       tmp_path: Path) -> None:
    output = tmp_path / "refused"
    variables = dict(incident.variables, diagnostics_output_dir=str(output),
                     diagnostics_window_before="half an hour")
    refused = run_diagnostics(fleet, tmp_path, variables)
    assert refused.returncode != 0
    assert "before='half an hour' is not a length of time" in refused.stdout + refused.stderr
    assert not output.exists()


def test_a_host_that_fails_is_in_the_summary_with_its_reason(fleet: Fleet, incident: Incident,
                                                             tmp_path: Path) -> None:
    """The bundle directory exists on the systemd host only: the plain host fails, the other is summarised."""
    remote_tmp = "/run/opsrun-diagtest-tmp"
    output = tmp_path / "partial"
    variables = dict(incident.variables, diagnostics_output_dir=str(output),
                     diagnostics_remote_temp_dir=remote_tmp)
    try:
        fleet.sh(incident.managed, f"mkdir -p {remote_tmp}")
        partial = run_diagnostics(fleet, tmp_path, variables)
        left = fleet.sh(incident.managed, f"ls -A {remote_tmp}").stdout.strip()
    finally:
        fleet.sh(incident.managed, f"rm -rf {remote_tmp}", check=False)
    assert partial.returncode != 0, partial.stdout
    assert recap(partial)[incident.plain][2] == 1 and recap(partial)[incident.managed][2] == 0
    assert left == ""
    summary = json.loads((output / "summary.json").read_text())
    hosts = {host["host"]: host for host in summary["hosts"]}
    assert hosts[incident.managed]["status"] == "collected"
    assert hosts[incident.plain]["status"] == "failed"
    assert f"cannot write the bundle under {remote_tmp}" in hosts[incident.plain]["error"]
    assert sorted(path.name for path in output.glob("*.tar.gz")) == [f"{incident.managed}.tar.gz"]
    assert {event["host"] for event in summary["timeline"]} == {incident.managed}
