"""The log_backup role on real SSH hosts: backups that count only once verified, and the faults it survives.

Every fault (a full destination, a run killed with SIGKILL, a log rotated while it is read, two runs at
once, a host that goes away) must leave no partial archive counted as a backup and no source byte
removed unless a verified archive holds it, and the next run must complete the backup. Hosts of the
shared session fleet get their logs and staging directories removed again in a `finally`; the host
that goes away belongs to a fleet of this test's own.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LOGS = "/var/log/opsrun-lbtest"
STAGING = "/var/lib/opsrun-lbtest/staging"
# The unreachable-host test's own fleet; it shares its subnet with benchmarks/bench_log_backup.py,
# so the two must not run at the same time.
OWN_FLEET = ("hlbu", "10.213.62")
PLAYBOOK_TIMEOUT = 900

# Records, per host, the stats of the run, the names of changed tasks and the messages of failures,
# as JSON in $OPSRUN_TEST_STATS, so that no test reads Ansible's screen output.
STATS_CALLBACK = '''
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "opsrun_test_stats"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.changed = {}
        self.failures = {}

    def v2_runner_on_ok(self, result):
        if result._result.get("changed"):
            self.changed.setdefault(result._host.get_name(), []).append(result._task.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.failures.setdefault(result._host.get_name(), []).append(str(result._result.get("msg", "")))

    def v2_runner_on_unreachable(self, result):
        self.failures.setdefault(result._host.get_name(), []).append("unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = dict((host, stats.summarize(host)) for host in stats.processed)
        with open(os.environ["OPSRUN_TEST_STATS"], "w") as stream:
            json.dump({"hosts": hosts, "changed": self.changed, "failures": self.failures}, stream)
'''


@dataclass
class Outcome:
    """What one ansible-playbook run did, from the stats callback."""

    rc: int
    output: str
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Playbook:
    """A started ansible-playbook: wait for it with finish(), or kill it."""

    process: subprocess.Popen[str]
    stats: Path

    def finish(self) -> Outcome:
        output, _ = self.process.communicate(timeout=PLAYBOOK_TIMEOUT)
        data = json.loads(self.stats.read_text()) if self.stats.exists() else {}
        return Outcome(self.process.returncode, output, data.get("hosts", {}), data.get("changed", {}),
                       data.get("failures", {}))

    def kill(self) -> None:
        """SIGKILL ansible-playbook and everything it started on the controller (its session)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=60)


def start_playbook(fleet: Fleet, workdir: Path, playbook: str, hosts: list[str], variables: dict[str, Any],
                   *, check: bool = False) -> Playbook:
    """Start playbooks/PLAYBOOK on HOSTS with VARIABLES, in a session of its own so it can be killed whole."""
    workdir.mkdir(parents=True, exist_ok=True)
    callbacks = workdir / "callback_plugins"
    callbacks.mkdir(exist_ok=True)
    (callbacks / "opsrun_test_stats.py").write_text(STATS_CALLBACK)
    tag = f"{playbook.removesuffix('.yml')}-{time.monotonic_ns()}"
    (workdir / f"{tag}.vars.json").write_text(json.dumps(variables))
    stats = workdir / f"{tag}.stats.json"
    env = {**fleet.controller_env(), "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".dev"),
           "ANSIBLE_CALLBACK_PLUGINS": str(callbacks), "ANSIBLE_CALLBACKS_ENABLED": "opsrun_test_stats",
           "OPSRUN_TEST_STATS": str(stats)}
    argv = [str(ANSIBLE_PLAYBOOK), str(REPO / "playbooks" / playbook), "--limit", ",".join(hosts),
            "-e", f"@{workdir / f'{tag}.vars.json'}", *(["--check"] if check else [])]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    return Playbook(process, stats)


def run_playbook(fleet: Fleet, workdir: Path, playbook: str, hosts: list[str], variables: dict[str, Any],
                 *, check: bool = False) -> Outcome:
    return start_playbook(fleet, workdir, playbook, hosts, variables, check=check).finish()


# ---------------------------------------------------------------- hosts and destination


def settings(dest: Path, period_key: str, **more: Any) -> dict[str, Any]:
    return {"log_backup_paths": [f"{LOGS}/*"], "log_backup_staging_dir": STAGING,
            "log_backup_controller_dir": str(dest), "log_backup_period_key": period_key, **more}


def write_logs(fleet: Fleet, host: str, files: dict[str, str]) -> None:
    """Create LOGS on HOST with files made by shell commands: {name: command printing the content}."""
    script = [f"mkdir -p {LOGS}"]
    script += [f"({command}) > {LOGS}/{name}" for name, command in files.items()]
    fleet.sh(host, " && ".join(script))


def syslog_lines(count: int, tag: str) -> str:
    return f"seq 1 {count} | sed 's/^/Nov 28 23:00:00 web01 {tag}[4242]: event number /'"


def noise(megabytes: int) -> str:
    """Text that hardly compresses, so that archiving it takes a while and fills a small disk."""
    return f"head -c {megabytes * 768 * 1024} /dev/urandom | base64 -w 76"


def remove_test_files(fleet: Fleet, host: str) -> None:
    fleet.sh(host, f"rm -rf {LOGS} {Path(STAGING).parent}", check=False)


def host_checksums(fleet: Fleet, host: str) -> dict[str, str]:
    """{path: sha256} of every file in LOGS on HOST."""
    out = fleet.sh(host, f"find {LOGS} -type f -exec sha256sum {{}} +").stdout
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in out.splitlines()}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def counted_archives(dest_dir: Path) -> dict[str, dict[str, Any]]:
    """{archive name: manifest} of the archives in DEST_DIR that count as backups.

    Checked here independently of the module: a marker in sha256sum format next to the archive, and
    the SHA-256 of the archive and of its manifest equal to what the marker says.
    """
    counted = {}
    for marker in sorted(dest_dir.glob("*.sha256")) if dest_dir.is_dir() else []:
        sums = {}
        for line in marker.read_text().splitlines():
            digest, name = line.split("  ", 1)
            sums[name] = digest
        archive = dest_dir / marker.name.removesuffix(".sha256")
        manifest = dest_dir / re.sub(r"\.tar\.(zst|gz)$", ".manifest.json", archive.name)
        if archive.exists() and manifest.exists() and sums == {archive.name: sha256_of(archive),
                                                                manifest.name: sha256_of(manifest)}:
            counted[archive.name] = json.loads(manifest.read_text())
    return counted


def archive_members(archive: Path) -> dict[str, str]:
    """{member name: sha256} read back from an archive with the zstd command (or gzip) and tarfile."""
    if archive.name.endswith(".zst"):
        data = subprocess.run(["zstd", "-d", "-c", str(archive)], capture_output=True, check=True).stdout
    else:
        data = gzip.decompress(archive.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {info.name: hashlib.sha256(tar.extractfile(info).read()).hexdigest()  # type: ignore[union-attr]
                for info in tar if info.isreg()}


def assert_backed_up(dest: Path, host: str, checksums: dict[str, str]) -> dict[str, Any]:
    """Exactly one counted archive of HOST whose manifest and content hold exactly CHECKSUMS."""
    counted = counted_archives(dest / host)
    assert len(counted) == 1, f"{host}: counted archives {sorted(counted)} in {dest / host}"
    name, manifest = next(iter(counted.items()))
    listed = {member["path"]: member["sha256"] for member in manifest["members"]}
    assert listed == checksums
    stored = archive_members(dest / host / name)
    assert stored == {path.lstrip("/"): digest for path, digest in checksums.items()}
    assert not list((dest / host).glob(".*.part")), "a temporary copy was left at the destination"
    return manifest


def staging_listing(fleet: Fleet, host: str) -> list[str]:
    return fleet.sh(host, f"ls -A {STAGING} 2>/dev/null || true").stdout.split()


def wait_on_host(fleet: Fleet, host: str, command: str, what: str, timeout: float = 300) -> str:
    """Poll COMMAND on HOST until it prints something; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = fleet.sh(host, command, check=False).stdout.strip()
        if out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"{host}: {what} did not happen within {timeout:.0f} s")


def archiving_pid(fleet: Fleet, host: str) -> int:
    """The pid of the module building the archive: the holder the staging lock names."""
    note = fleet.sh(host, f"cat {STAGING}/.lock").stdout
    match = re.match(r"pid (\d+) \(archive ", note)
    assert match, f"{host}: the staging lock names no archiving process: {note!r}"
    return int(match.group(1))


@pytest.fixture
def plain_hosts(fleet: Fleet) -> list[str]:
    return fleet.names("sshd")[:2]


# ---------------------------------------------------------------- the backup itself


def test_a_backup_counts_once_verified_and_a_second_run_changes_nothing(fleet: Fleet, tmp_path: Path) -> None:
    hosts = [fleet.names("sshd")[0], fleet.names("systemd")[0]]
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-28")
    try:
        for host in hosts:
            write_logs(fleet, host, {"syslog": syslog_lines(20000, "app"),
                                     "syslog.1": syslog_lines(5000, "old")})
        planned = run_playbook(fleet, tmp_path / "check", "log_backup.yml", hosts, variables, check=True)
        assert planned.rc == 0, planned.output
        assert not any(counted_archives(dest / host) for host in hosts)
        assert all(staging_listing(fleet, host) == [] for host in hosts)

        first = run_playbook(fleet, tmp_path / "first", "log_backup.yml", hosts, variables)
        assert first.rc == 0, first.output
        for host in hosts:
            manifest = assert_backed_up(dest, host, host_checksums(fleet, host))
            assert manifest["archive"]["name"] == f"{host}_2025-11-28.tar.zst"
            assert manifest["archive"]["compression"] == "zstd"
            assert host_checksums(fleet, host).keys() == {f"{LOGS}/syslog", f"{LOGS}/syslog.1"}
        before = {host: (dest / host / f"{host}_2025-11-28.tar.zst").stat() for host in hosts}

        second = run_playbook(fleet, tmp_path / "second", "log_backup.yml", hosts, variables)
        assert second.rc == 0, second.output
        assert second.changed == {}, f"a second run in the period changed: {second.changed}"
        for host in hosts:
            after = (dest / host / f"{host}_2025-11-28.tar.zst").stat()
            assert (after.st_ino, after.st_mtime_ns) == (before[host].st_ino, before[host].st_mtime_ns)

        elsewhere = tmp_path / "other-dest"
        predicted = run_playbook(fleet, tmp_path / "check-again", "log_backup.yml", hosts,
                                 {**variables, "log_backup_controller_dir": str(elsewhere)}, check=True)
        assert predicted.rc == 0, predicted.output
        assert not elsewhere.exists()

        restore = tmp_path / "restore"
        checked = run_playbook(fleet, tmp_path / "restore-check", "log_backup_restore_check.yml", hosts,
                               {**variables, "log_backup_restore_extract": True,
                                "log_backup_restore_dir": str(restore)})
        assert checked.rc == 0, checked.output
        for host in hosts:
            restored = {f"/{path.relative_to(restore / host)}": sha256_of(path)
                        for path in (restore / host).rglob("*") if path.is_file()}
            assert restored == host_checksums(fleet, host)
    finally:
        for host in hosts:
            remove_test_files(fleet, host)


def test_the_restore_check_fails_on_a_damaged_archive(fleet: Fleet, tmp_path: Path) -> None:
    host = fleet.names("sshd")[0]
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-27")
    try:
        write_logs(fleet, host, {"syslog": syslog_lines(5000, "app")})
        assert run_playbook(fleet, tmp_path / "backup", "log_backup.yml", [host], variables).rc == 0
        archive = dest / host / f"{host}_2025-11-27.tar.zst"
        data = bytearray(archive.read_bytes())
        data[len(data) // 2] ^= 0xFF
        archive.write_bytes(bytes(data))
        checked = run_playbook(fleet, tmp_path / "check", "log_backup_restore_check.yml", [host], variables)
        assert checked.rc != 0
        assert any("1 corrupt" in message for message in checked.failures[host]), checked.failures
    finally:
        remove_test_files(fleet, host)


# ---------------------------------------------------------------- faults


def test_destination_fills_up_mid_copy(fleet: Fleet, plain_hosts: list[str], tmp_path: Path) -> None:
    host = plain_hosts[0]
    dest = tmp_path / "dest"
    dest.mkdir()
    variables = settings(dest, "2025-11-26", log_backup_cleanup_enabled=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "opsrun-lbtest", str(dest)],
                   check=True)
    try:
        write_logs(fleet, host, {"app.log": syslog_lines(1000, "app"), "app.log.1": noise(6)})
        checksums = host_checksums(fleet, host)

        full = run_playbook(fleet, tmp_path / "full", "log_backup.yml", [host], variables)
        assert full.rc != 0 and full.hosts[host]["failures"] == 1, full.output
        assert any("failed in 'Fetch the archive to the controller" in message
                   for message in full.failures[host]), full.failures
        assert counted_archives(dest / host) == {}
        assert not list((dest / host).glob(".*.part")), "the rescue left a temporary copy behind"
        assert host_checksums(fleet, host) == checksums, "a source log changed though nothing was verified"

        subprocess.run(["mount", "-o", "remount,size=64m", str(dest)], check=True)
        again = run_playbook(fleet, tmp_path / "again", "log_backup.yml", [host], variables)
        assert again.rc == 0, again.output
        manifest = assert_backed_up(dest, host, checksums)
        assert host_checksums(fleet, host) == {f"{LOGS}/app.log": checksums[f"{LOGS}/app.log"]}
        assert {member["path"]: member["sha256"] for member in manifest["members"]}[f"{LOGS}/app.log.1"] \
            == checksums[f"{LOGS}/app.log.1"], "the deleted rotated log is not the one in the archive"
    finally:
        subprocess.run(["umount", str(dest)], check=False)
        remove_test_files(fleet, host)


def test_a_run_killed_mid_archive_leaves_nothing_counted(fleet: Fleet, plain_hosts: list[str],
                                                        tmp_path: Path) -> None:
    host = plain_hosts[0]
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-25", log_backup_cleanup_enabled=True)
    try:
        write_logs(fleet, host, {"app.log": syslog_lines(1000, "app"), "big.log.1": noise(24)})
        checksums = host_checksums(fleet, host)
        # zstd's slowest level keeps the archive half written long enough to be caught
        run = start_playbook(fleet, tmp_path / "killed", "log_backup.yml", [host],
                             {**variables, "log_backup_compression_level": 19})
        partial = wait_on_host(fleet, host, f"ls -A {STAGING} | grep '[.]partial$'", "the temporary archive")
        module_pid = archiving_pid(fleet, host)
        run.kill()
        fleet.sh(host, f"kill -9 {module_pid}")
        wait_on_host(fleet, host, f"kill -0 {module_pid} 2>/dev/null || echo gone", "the end of the module")

        assert partial in staging_listing(fleet, host), "the killed run left no partial archive to test with"
        assert not any(name.endswith((".tar.zst", ".tar.gz")) for name in staging_listing(fleet, host))
        assert counted_archives(dest / host) == {}
        assert host_checksums(fleet, host) == checksums

        again = run_playbook(fleet, tmp_path / "again", "log_backup.yml", [host], variables)
        assert again.rc == 0, again.output
        assert_backed_up(dest, host, checksums)
        assert partial not in staging_listing(fleet, host)
        assert host_checksums(fleet, host) == {f"{LOGS}/app.log": checksums[f"{LOGS}/app.log"]}
    finally:
        remove_test_files(fleet, host)


def test_a_log_rotated_while_it_is_read(fleet: Fleet, plain_hosts: list[str], tmp_path: Path) -> None:
    """a.log is truncated in place (copytruncate) while the module reads it; b.log is renamed away
    (create) before the module gets to it. Neither loses a byte, and the archive still verifies.

    gzip at its slowest level compresses in the module's own process, so the module is still reading
    a.log while it compresses it (zstd would take the whole file into its buffers at once).
    """
    host = plain_hosts[0]
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-24", log_backup_cleanup_enabled=True)
    try:
        write_logs(fleet, host, {"a.log": noise(64), "b.log": syslog_lines(20000, "b")})
        rotated_b = host_checksums(fleet, host)[f"{LOGS}/b.log"]
        run = start_playbook(fleet, tmp_path / "rotating", "log_backup.yml", [host],
                             {**variables, "log_backup_compression": "gzip",
                              "log_backup_compression_level": 9})
        wait_on_host(fleet, host, f"ls -A {STAGING} | grep '[.]partial$'", "the temporary archive")
        module_pid = archiving_pid(fleet, host)
        wait_on_host(fleet, host, f"ls -l /proc/{module_pid}/fd | grep -F {LOGS}/a.log", "the read of a.log")
        fleet.sh(host, f"cd {LOGS} && cp a.log a.log.1 && : > a.log && echo 'after the rotation' >> a.log"
                       f" && mv b.log b.log.1 && echo 'new b' > b.log")
        rotated = run.finish()
        assert rotated.rc == 0, rotated.output

        counted = counted_archives(dest / host)
        assert len(counted) == 1
        name, manifest = next(iter(counted.items()))
        members = {member["path"]: member for member in manifest["members"]}
        assert members[f"{LOGS}/a.log"]["changed_while_read"] is True
        assert members[f"{LOGS}/b.log"]["sha256"] == hashlib.sha256(b"new b\n").hexdigest()
        stored = archive_members(dest / host / name)
        assert stored == {path.lstrip("/"): member["sha256"] for path, member in members.items()}
        after = host_checksums(fleet, host)
        assert {f"{LOGS}/a.log.1", f"{LOGS}/b.log.1"} <= after.keys(), "a rotated copy was deleted unarchived"
        assert after[f"{LOGS}/b.log.1"] == rotated_b
        checked = run_playbook(fleet, tmp_path / "check", "log_backup_restore_check.yml", [host], variables)
        assert checked.rc == 0, checked.output

        # The next period archives the rotated copies, and only then may the clean-up delete them.
        next_period = run_playbook(fleet, tmp_path / "next", "log_backup.yml", [host],
                                   {**variables, "log_backup_period_key": "2025-11-25"})
        assert next_period.rc == 0, next_period.output
        archived = {member["path"]: member["sha256"]
                    for member in counted_archives(dest / host)[f"{host}_2025-11-25.tar.zst"]["members"]}
        assert archived[f"{LOGS}/a.log.1"] == after[f"{LOGS}/a.log.1"]
        assert archived[f"{LOGS}/b.log.1"] == rotated_b
        assert set(host_checksums(fleet, host)) == {f"{LOGS}/a.log", f"{LOGS}/b.log"}
    finally:
        remove_test_files(fleet, host)


def test_two_runs_at_once_and_a_lock_held_too_long(fleet: Fleet, plain_hosts: list[str],
                                                    tmp_path: Path) -> None:
    host = plain_hosts[0]
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-23")
    holder = None
    try:
        write_logs(fleet, host, {"app.log": syslog_lines(20000, "app"), "big.log.1": noise(8)})
        checksums = host_checksums(fleet, host)
        runs = [start_playbook(fleet, tmp_path / f"run{index}", "log_backup.yml", [host], variables)
                for index in (1, 2)]
        outcomes = [run.finish() for run in runs]
        assert [o.rc for o in outcomes] == [0, 0], "\n".join(o.output for o in outcomes)
        assert_backed_up(dest, host, checksums)
        commit_task = ": Verify the copy on the controller and count it as a backup"
        committed = [o for o in outcomes
                     if any(task.endswith(commit_task) for task in o.changed.get(host, []))]
        assert len(committed) == 1, f"not one run of two counted the archive: {[o.changed for o in outcomes]}"

        # A run that cannot get the host's lock within the timeout fails and says who holds it. The
        # holder runs in a session of its own, so that killing its process group releases the lock.
        holder = int(fleet.sh(host, (
            f"setsid flock -x {STAGING}/.lock sh -c"
            f" 'echo \"pid 1 (a test holding the lock)\" > {STAGING}/.lock; exec sleep 600'"
            f" >/dev/null 2>&1 </dev/null & echo $!")).stdout)
        wait_on_host(fleet, host, f"grep -l 'a test holding' {STAGING}/.lock", "the lock being taken")
        blocked = run_playbook(fleet, tmp_path / "blocked", "log_backup.yml", [host],
                               {**variables, "log_backup_period_key": "2025-11-22",
                                "log_backup_lock_timeout": 3})
        assert blocked.rc != 0
        assert any("waited 3 s for the lock" in message and "a test holding the lock" in message
                   for message in blocked.failures.get(host, [])), blocked.failures
        assert not (dest / host / f"{host}_2025-11-22.tar.zst").exists()
        fleet.sh(host, f"kill -- -{holder}")
        holder = None
        released = run_playbook(fleet, tmp_path / "released", "log_backup.yml", [host],
                                {**variables, "log_backup_period_key": "2025-11-22"})
        assert released.rc == 0, released.output
        assert f"{host}_2025-11-22.tar.zst" in counted_archives(dest / host)
    finally:
        if holder is not None:
            fleet.sh(host, f"kill -- -{holder}", check=False)
        remove_test_files(fleet, host)


def test_a_host_that_goes_away_mid_run(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the SSH test fleet needs root; run as root or deselect with -m 'not fleet'")
    name, subnet = OWN_FLEET
    dest = tmp_path / "dest"
    variables = settings(dest, "2025-11-21", log_backup_cleanup_enabled=True)
    own = Fleet.up(2, name=name, subnet=subnet)
    try:
        write_logs(own, "h1", {"app.log": syslog_lines(2000, "app"), "app.log.1": syslog_lines(1000, "old")})
        write_logs(own, "h2", {"app.log": syslog_lines(2000, "app"), "big.log.1": noise(24)})
        survivor = host_checksums(own, "h1")
        run = start_playbook(own, tmp_path / "lost", "log_backup.yml", ["h1", "h2"],
                             {**variables, "log_backup_compression_level": 19})
        wait_on_host(own, "h2", f"ls -A {STAGING} | grep '[.]partial$'", "the temporary archive")
        own.fleet("stop", "h2", check=True)
        lost = run.finish()
        assert lost.rc != 0 and lost.hosts["h2"]["unreachable"] == 1, lost.output
        assert lost.hosts["h1"]["failures"] == 0 and lost.hosts["h1"]["unreachable"] == 0
        assert_backed_up(dest, "h1", survivor)
        assert counted_archives(dest / "h2") == {}

        # The host comes back (a fresh fleet: the stopped host's disk is gone) and the next run completes.
        own = Fleet.up(2, name=name, subnet=subnet)
        for host in ("h1", "h2"):
            write_logs(own, host, {"app.log": syslog_lines(3000, "again")})
        again = run_playbook(own, tmp_path / "again", "log_backup.yml", ["h1", "h2"], variables)
        assert again.rc == 0, again.output
        assert_backed_up(dest, "h2", host_checksums(own, "h2"))
        assert len(counted_archives(dest / "h1")) == 1
    finally:
        own.down()


def test_a_backup_host_in_the_inventory_as_destination(fleet: Fleet, plain_hosts: list[str],
                                                       tmp_path: Path) -> None:
    source, backup = plain_hosts
    backup_dir = "/var/lib/opsrun-lbtest/backups"
    variables = settings(tmp_path / "unused", "2025-11-20", log_backup_destination="backup_host",
                         log_backup_backup_host=backup, log_backup_backup_dir=backup_dir)
    try:
        write_logs(fleet, source, {"syslog": syslog_lines(5000, "app")})
        first = run_playbook(fleet, tmp_path / "first", "log_backup.yml", [source], variables)
        assert first.rc == 0, first.output
        listing = fleet.sh(backup, f"cd {backup_dir}/{source} && ls -A && sha256sum -c *.sha256").stdout
        assert f"{source}_2025-11-20.tar.zst: OK" in listing and ".part" not in listing
        second = run_playbook(fleet, tmp_path / "second", "log_backup.yml", [source], variables)
        assert second.rc == 0 and second.changed == {}, second.changed
        checked = run_playbook(fleet, tmp_path / "check", "log_backup_restore_check.yml", [source], variables)
        assert checked.rc == 0, checked.output
        assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("opsrun-log-backup.*")), \
            "the controller's spool directory was left behind"
    finally:
        remove_test_files(fleet, source)
        remove_test_files(fleet, backup)

