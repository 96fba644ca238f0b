"""opsrun.ops.log_scan over SSH on fleet hosts: offsets, rotation, truncation, limits, check mode, windows.

Every test writes its logs and its state file into a directory of its own,
/var/log/opsrun-test-<uuid>/ on the host, and removes that directory again when it ends, because
the session's fleet is shared by all fleet tests. Lines are written the way daemons and
logrotate write them: appended through an open file, renamed, copied and truncated, gzipped.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

ERROR = {"name": "error", "pattern": "ERROR", "severity": "crit"}
TIMEOUT = {"name": "timeout", "pattern": r"timed out after \d+s", "regex": True, "severity": "warn"}
# Room for every match of a run in patterns.<name>.first, so the tests see all of them.
KEEP = 50

Match = tuple[str, int | None, str]


def log_scan(fleet: Fleet, workdir: Path, hosts: list[str], args: dict[str, Any], *,
             check: bool = False) -> dict[str, dict[str, Any]]:
    return fleet.run_module(workdir, hosts, "opsrun.ops.log_scan", {"lines": KEEP, **args}, check=check)


def scan_one(fleet: Fleet, workdir: Path, host: str, args: dict[str, Any], *,
             check: bool = False) -> dict[str, Any]:
    result = log_scan(fleet, workdir, [host], args, check=check)[host]
    assert result["failed"] is False, result
    return result


@pytest.fixture
def log_dir(fleet: Fleet) -> Iterator[Callable[..., str]]:
    """Make a fresh directory, /var/log/opsrun-test-<uuid>, on the given hosts; removed at the end."""
    made: list[tuple[str, str]] = []

    def make(*hosts: str) -> str:
        path = f"/var/log/opsrun-test-{uuid.uuid4().hex}"
        for host in hosts:
            made.append((host, path))
            fleet.sh(host, f"mkdir -m 0755 {shlex.quote(path)}")
        return path

    try:
        yield make
    finally:
        for host, path in made:
            fleet.sh(host, f"rm -rf -- {shlex.quote(path)}")


def plain_host(fleet: Fleet) -> str:
    return fleet.names("sshd")[0]


def both_kinds_of_host(fleet: Fleet) -> list[str]:
    """A host running sshd under tini and, where the fleet has one, a host booted with systemd."""
    return [plain_host(fleet), *fleet.names("systemd")[:1]]


def numbered(tag: str, numbers: range, errors: set[int]) -> list[str]:
    """Log lines '<tag> <n>: ...', an error where n is in errors: the line numbers of a file from 1."""
    return [f"{tag} {n}: ERROR request {n} failed" if n in errors else f"{tag} {n}: request {n} ok"
            for n in numbers]


def expected(path: str, tag: str, errors: set[int]) -> set[Match]:
    return {(path, n, f"{tag} {n}: ERROR request {n} failed") for n in errors}


def printf(lines: list[str]) -> str:
    """A shell command that prints LINES, each with a line end; the caller adds the redirection."""
    return f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)}"


def size(lines: list[str]) -> int:
    """Bytes that LINES take in a file, line ends included."""
    return sum(len(line.encode()) + 1 for line in lines)


def sh(fleet: Fleet, host: str, *steps: str) -> str:
    """Run shell steps on HOST, stopping at the first that fails; return the output."""
    return fleet.sh(host, " && ".join(steps)).stdout


def sha256(fleet: Fleet, host: str, path: str) -> str:
    return sh(fleet, host, f"sha256sum -- {shlex.quote(path)}").split()[0]


def file_size(fleet: Fleet, host: str, path: str) -> int:
    return int(sh(fleet, host, f"stat -c %s -- {shlex.quote(path)}"))


def host_times(fleet: Fleet, host: str, specs: list[str]) -> list[tuple[float, str]]:
    """What the host's `date` makes of each time spec: (epoch seconds, UTC offset such as +00:00).

    A spec without an offset is the host's local time, as log lines without one are;
    '@<epoch>' gives the host's offset at that instant.
    """
    output = sh(fleet, host, *(f"date -d {shlex.quote(spec)} '+%s %:z'" for spec in specs))
    return [(float(epoch), offset) for epoch, offset in (line.split() for line in output.splitlines())]


def matches(result: dict[str, Any], name: str = "error") -> set[Match]:
    """Every match of a pattern in a run as (file, line, text), checking none is listed twice."""
    found = result["patterns"][name]
    assert found["count"] <= KEEP, "raise KEEP: the test cannot see every match"
    entries = [(match["file"], match["line"], match["text"]) for match in found["first"]]
    assert len(entries) == found["count"] and len(set(entries)) == len(entries), found
    return set(entries)


def sources(result: dict[str, Any]) -> list[tuple[str, bool, int]]:
    """(path, compressed, start) of each stretch read for the first configured file."""
    return [(read["path"], read["compressed"], read["start"]) for read in result["files"][0]["sources"]]


def cd(directory: str) -> str:
    return f"cd {shlex.quote(directory)}"


def warning_texts(result: dict[str, Any]) -> list[str]:
    """The Ansible warnings of a result, whether plain strings or structured warning summaries."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def test_runs_read_only_new_complete_lines_and_leave_an_unchanged_state_alone(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    hosts = both_kinds_of_host(fleet)
    directory = log_dir(*hosts)
    log = f"{directory}/app.log"
    state = f"{directory}/log_scan.json"

    def scan() -> dict[str, dict[str, Any]]:
        results = log_scan(fleet, tmp_path, hosts, {"paths": [log], "patterns": [ERROR, TIMEOUT],
                                                    "state_file": state})
        for host, result in results.items():
            assert result["failed"] is False and result["mode"] == "offsets", (host, result)
            assert result["state_file"] == state
        return results

    for host in hosts:
        sh(fleet, host, cd(directory),
           f"{printf([*numbered('a', range(1, 6), {2, 5}), 'a 6: upstream timed out after 30s'])} > app.log")
    for host, result in scan().items():
        assert result["changed"] is True
        assert matches(result) == expected(log, "a", {2, 5})
        assert matches(result, "timeout") == {(log, 6, "a 6: upstream timed out after 30s")}
        assert result["summary"] == {"severity": "crit", "matches": 3,
                                     "by_severity": {"info": 0, "warn": 1, "crit": 2}}
        report = result["files"][0]
        assert (report["status"], report["lines_scanned"]) == ("scanned", 6)
        assert report["bytes_scanned"] == file_size(fleet, host, log)
    digests = {host: sha256(fleet, host, state) for host in hosts}

    for host, result in scan().items():
        assert result["changed"] is False
        assert result["summary"]["matches"] == 0 and result["bytes_scanned"] == 0
        assert result["files"][0]["status"] == "unchanged"
        assert sha256(fleet, host, state) == digests[host]

    # A line still being written (no line end yet) waits for the run after it is complete.
    for host in hosts:
        sh(fleet, host, cd(directory), f"{printf(numbered('a', range(7, 11), {8, 10}))} >> app.log",
           f"printf %s {shlex.quote('a 11: ERROR request 11 fa')} >> app.log")
    for result in scan().values():
        assert matches(result) == expected(log, "a", {8, 10})
        assert result["patterns"]["timeout"]["count"] == 0
        assert result["files"][0]["lines_scanned"] == 4

    for host in hosts:
        sh(fleet, host, cd(directory), "printf 'iled\\n' >> app.log")
    for result in scan().values():
        assert result["changed"] is True
        assert matches(result) == expected(log, "a", {11})
        assert result["files"][0]["lines_scanned"] == 1


def test_rotation_finishes_the_rotated_file_first_and_counts_nothing_twice(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    log = f"{directory}/app.log"
    args = {"paths": [log], "patterns": [ERROR], "state_file": f"{directory}/log_scan.json",
            "include_rotated": True}
    seen: list[Match] = []

    def scan() -> dict[str, Any]:
        result = scan_one(fleet, tmp_path, host, args)
        seen.extend(matches(result))
        return result

    sh(fleet, host, cd(directory), f"{printf(numbered('a', range(1, 6), {1, 4}))} > app.log")
    assert matches(scan()) == expected(log, "a", {1, 4})
    offset = size(numbered("a", range(1, 6), {1, 4}))

    # The daemon goes on writing through its open file after logrotate renamed it, until it
    # reopens app.log; some of those late lines come before the rename, some after it.
    sh(fleet, host, cd(directory), "exec 3>>app.log",
       f"{printf(numbered('a', range(6, 9), {7}))} >&3",
       "mv app.log app.log.1",
       f"{printf(numbered('a', range(9, 11), {9}))} >&3",
       "exec 3>&-",
       f"{printf(numbered('b', range(1, 5), {2, 3}))} > app.log")
    result = scan()
    assert matches(result) == expected(f"{log}.1", "a", {7, 9}) | expected(log, "b", {2, 3})
    assert sources(result) == [(f"{log}.1", False, offset), (log, False, 0)]
    report = result["files"][0]
    assert (report["rotated"], report["truncated"], report["warnings"]) == (True, False, [])
    assert report["lines_scanned"] == 5 + 4
    offset = size(numbered("b", range(1, 5), {2, 3}))

    # Compressing the rotated file changes nothing that is still to be read.
    sh(fleet, host, cd(directory), "gzip app.log.1", f"{printf(numbered('b', range(5, 7), {6}))} >> app.log")
    result = scan()
    assert matches(result) == expected(log, "b", {6})
    assert sources(result) == [(log, False, offset)]
    assert result["files"][0]["rotated"] is False
    offset = size(numbered("b", range(1, 7), {2, 3, 6}))

    # Two rotations before the next run, the first compressing at once (no delaycompress): the
    # unread end of b is in app.log.2.gz, all of c in app.log.1. Both were last written within
    # the same tick of the file timestamps, as happens to quick rotations on a fast machine, so
    # only their generation numbers tell which is newer.
    sh(fleet, host, cd(directory),
       f"{printf(numbered('b', range(7, 9), {7}))} >> app.log",
       "mv app.log.1.gz app.log.2.gz", "mv app.log app.log.1", "gzip app.log.1",
       f"{printf(numbered('c', range(1, 4), {1}))} > app.log",
       "mv app.log.2.gz app.log.3.gz", "mv app.log.1.gz app.log.2.gz", "mv app.log app.log.1",
       "touch -r app.log.2.gz app.log.1",
       f"{printf(numbered('d', range(1, 3), {2}))} > app.log")
    result = scan()
    assert matches(result) == (expected(f"{log}.2.gz", "b", {7}) | expected(f"{log}.1", "c", {1})
                               | expected(log, "d", {2}))
    assert sources(result) == [(f"{log}.2.gz", True, offset), (f"{log}.1", False, 0), (log, False, 0)]
    assert result["files"][0]["rotated"] is True

    result = scan()
    assert result["changed"] is False and result["summary"]["matches"] == 0

    # Every error line written, each counted once: a1 a4 a7 a9 b2 b3 b6 b7 c1 d2.
    assert len(seen) == len(set(seen)) == 10


def test_truncated_file_is_read_again_from_its_start_with_a_warning(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    log = f"{directory}/app.log"
    args = {"paths": [log], "patterns": [ERROR], "state_file": f"{directory}/log_scan.json"}
    sh(fleet, host, cd(directory), f"{printf(numbered('a', range(1, 5), {2}))} > app.log")
    assert matches(scan_one(fleet, tmp_path, host, args)) == expected(log, "a", {2})

    sh(fleet, host, cd(directory), ": > app.log", f"{printf(numbered('t', range(1, 4), {1, 3}))} >> app.log")
    result = scan_one(fleet, tmp_path, host, args)
    assert matches(result) == expected(log, "t", {1, 3})
    report = result["files"][0]
    assert (report["truncated"], report["rotated"]) == (True, False)
    assert sources(result) == [(log, False, 0)]
    warning = f"{log} was truncated or rewritten since the last run; scanning it again from its start"
    assert report["warnings"] == [warning]
    assert warning in warning_texts(result)
    offset = size(numbered("t", range(1, 4), {1, 3}))

    # copytruncate proper: the lines written since the last run are finished in the copy.
    sh(fleet, host, cd(directory), f"{printf(numbered('t', range(4, 6), {5}))} >> app.log",
       "cp app.log app.log.1", ": > app.log", f"{printf(numbered('u', range(1, 3), {1}))} >> app.log")
    result = scan_one(fleet, tmp_path, host, args)
    assert matches(result) == expected(f"{log}.1", "t", {5}) | expected(log, "u", {1})
    assert sources(result) == [(f"{log}.1", False, offset), (log, False, 0)]
    report = result["files"][0]
    assert (report["rotated"], report["truncated"], report["warnings"]) == (True, False, [])


def test_byte_limit_stops_a_run_and_the_next_run_continues_there(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    big, small = f"{directory}/big.log", f"{directory}/small.log"
    big_lines = numbered("big", range(1, 201), set(range(10, 201, 10)))
    small_lines = numbered("small", range(1, 4), {2})
    sh(fleet, host, cd(directory), f"{printf(big_lines)} > big.log", f"{printf(small_lines)} > small.log")
    big_size = size(big_lines)
    limit = big_size * 2 // 3
    args = {"paths": [big, small], "patterns": [ERROR], "state_file": f"{directory}/log_scan.json",
            "max_bytes": limit}

    first = scan_one(fleet, tmp_path, host, args)
    assert first["truncated_by_limit"] is True
    big_report, small_report = first["files"]
    assert big_report["truncated_by_limit"] is True
    assert (small_report["truncated_by_limit"], small_report["lines_scanned"]) == (False, 3)
    assert 0 < first["bytes_scanned"] <= limit
    read = big_report["lines_scanned"]
    assert 0 < read < 200
    assert big_report["sources"][-1]["end"] == size(big_lines[:read])
    assert matches(first) == (expected(big, "big", {n for n in range(10, read + 1, 10)})
                              | expected(small, "small", {2}))

    second = scan_one(fleet, tmp_path, host, args)
    assert second["truncated_by_limit"] is False
    big_report, small_report = second["files"]
    assert big_report["lines_scanned"] == 200 - read
    stopped = first["files"][0]["sources"][-1]["end"]
    assert big_report["sources"] == [{"path": big, "compressed": False, "start": stopped, "end": big_size,
                                      "bytes": big_size - stopped, "lines": 200 - read}]
    assert small_report["status"] == "unchanged"
    assert matches(second) == expected(big, "big", {n for n in range(10, 201, 10) if n > read})
    assert first["patterns"]["error"]["count"] + second["patterns"]["error"]["count"] == 21


def test_check_mode_scans_but_leaves_the_state_file_as_it_was(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    log = f"{directory}/app.log"
    state = f"{directory}/log_scan.json"
    args = {"paths": [log], "patterns": [ERROR], "state_file": state}
    sh(fleet, host, cd(directory), f"{printf(numbered('a', range(1, 4), {1}))} > app.log")

    result = scan_one(fleet, tmp_path, host, args, check=True)
    assert (result["changed"], matches(result)) == (True, expected(log, "a", {1}))
    assert fleet.sh(host, f"test -e {state}", check=False).returncode == 1, "check mode wrote the state"

    assert matches(scan_one(fleet, tmp_path, host, args)) == expected(log, "a", {1})
    before = sha256(fleet, host, state)
    sh(fleet, host, cd(directory), f"{printf(numbered('a', range(4, 7), {4, 6}))} >> app.log")
    result = scan_one(fleet, tmp_path, host, args, check=True)
    assert (result["changed"], matches(result)) == (True, expected(log, "a", {4, 6}))
    assert sha256(fleet, host, state) == before

    # The offsets did not move: the next real run finds the same lines.
    result = scan_one(fleet, tmp_path, host, args)
    assert (result["changed"], matches(result)) == (True, expected(log, "a", {4, 6}))
    assert sha256(fleet, host, state) != before


def test_time_window_counts_only_lines_inside_it_and_leaves_the_state_file_alone(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    log = f"{directory}/app.log"
    state = f"{directory}/log_scan.json"
    rotated = [
        "Mar  1 08:00:00 web01 app[100]: ERROR early failure",
        "Mar  1 09:29:59 web01 app[100]: ERROR just before the window",
        "Mar  1 09:30:00 web01 app[100]: ERROR at the start of the window",
        "Mar  1 09:40:00 web01 app[100]: request ok",
    ]
    current = [
        "Mar  1 09:50:00 web01 app[100]: ERROR inside the window",
        "    ERROR continued on a line of its own",
        "Mar  1 10:30:00 web01 app[100]: ERROR at the end of the window",
        "Mar  1 10:30:01 web01 app[100]: ERROR just after the window",
        "    ERROR continued after the window",
        "Mar  1 11:00:00 web01 app[100]: ERROR late failure",
    ]
    older = ["Feb 28 22:00:00 web01 app[100]: ERROR the day before"]
    # Syslog lines carry no year: the module takes it from the file's modification time.
    sh(fleet, host, cd(directory),
       f"{printf(older)} > app.log.2", "gzip app.log.2", "touch -d '2025-02-28 23:00:00' app.log.2.gz",
       f"{printf(rotated)} > app.log.1", "touch -d '2025-03-01 09:40:00' app.log.1",
       f"{printf(current)} > app.log", "touch -d '2025-03-01 11:00:00' app.log")
    offsets_run = scan_one(fleet, tmp_path, host, {"paths": [log], "patterns": [ERROR], "state_file": state})
    assert offsets_run["patterns"]["error"]["count"] == 6
    before = sha256(fleet, host, state)

    result = scan_one(fleet, tmp_path, host, {
        "paths": [log], "patterns": [ERROR], "state_file": state, "include_rotated": True,
        "since": "2025-03-01 09:30:00", "until": "2025-03-01T10:30:00"})
    assert (result["mode"], result["state_file"], result["changed"]) == ("window", None, False)
    assert matches(result) == {(f"{log}.1", 3, rotated[2]), (log, 1, current[0]), (log, 2, current[1]),
                               (log, 3, current[2])}
    assert sources(result) == [(f"{log}.1", False, 0), (log, False, 0)]
    assert sha256(fleet, host, state) == before

    at_start, inside, at_end = host_times(
        fleet, host, ["2025-03-01 09:30:00", "2025-03-01 09:50:00", "2025-03-01 10:30:00"])
    assert datetime.fromisoformat(result["window"]["since"]).timestamp() == at_start[0]
    assert datetime.fromisoformat(result["window"]["until"]).timestamp() == at_end[0]
    stamps = {(match["file"], match["line"]): match["timestamp"]
              for match in result["patterns"]["error"]["first"]}
    for key, (epoch, offset) in {(f"{log}.1", 3): at_start, (log, 1): inside, (log, 3): at_end}.items():
        assert datetime.fromisoformat(stamps[key]).timestamp() == epoch, key
        assert stamps[key].endswith(offset), key
    assert stamps[(log, 2)] is None


def test_state_file_is_private_to_root_and_records_where_the_run_stopped(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = plain_host(fleet)
    directory = log_dir(host)
    log = f"{directory}/app.log"
    state = f"{directory}/state/log_scan.json"
    args = {"paths": [log], "patterns": [ERROR], "state_file": state}
    sh(fleet, host, cd(directory), f"{printf(numbered('a', range(1, 4), {2}))} > app.log")

    for lines in (3, 5):
        scan_one(fleet, tmp_path, host, args)
        modes = sh(fleet, host, f"stat -c '%a %U %F' -- {shlex.quote(state)} {shlex.quote(directory)}/state")
        assert modes.splitlines() == ["600 root regular file", "700 root directory"]
        # The state is replaced through a temporary file that must not stay behind.
        assert sh(fleet, host, f"ls -A -- {shlex.quote(directory)}/state").split() == ["log_scan.json"]
        document = json.loads(sh(fleet, host, f"cat -- {shlex.quote(state)}"))
        device, inode, size = sh(fleet, host, f"stat -c '%d %i %s' -- {shlex.quote(log)}").split()
        entry = document["files"][log]
        assert document["version"] == 1
        assert (entry["dev"], entry["ino"], entry["offset"], entry["line"]) == (int(device), int(inode),
                                                                                int(size), lines)
        sh(fleet, host, cd(directory), f"{printf(numbered('a', range(4, 6), {5}))} >> app.log")


def test_journald_and_iso_timestamps_are_read_into_the_matches(
        fleet: Fleet, tmp_path: Path, log_dir: Callable[..., str]) -> None:
    host = (fleet.names("systemd") or [plain_host(fleet)])[0]
    directory = log_dir(host)
    log = f"{directory}/app.log"
    # (line, its time as the host's `date -d` reads it, fraction of a second)
    timed = [
        ("Dec 31 23:59:58 web01 app[7]: ERROR journald short", "2025-12-31 23:59:58", 0.0),
        ("Jan  1 00:00:01.250000 web01 app[7]: ERROR journald short-precise", "2026-01-01 00:00:01", 0.25),
        ("2025-12-31T23:59:59+0900 web01 app[7]: ERROR journald short-iso", "2025-12-31 14:59:59Z", 0.0),
        ("2026-01-01T00:00:02.500000+09:00 web01 app[7]: ERROR journald short-iso-precise",
         "2025-12-31 15:00:02Z", 0.5),
        ("Thu 2026-01-01 00:00:03 UTC web01 app[7]: ERROR journald short-full", "2026-01-01 00:00:03Z", 0.0),
        ("2026-01-01T09:00:04.125Z ERROR ISO 8601 in UTC", "2026-01-01 09:00:04Z", 0.125),
        ("2026-01-01 09:00:05,750 ERROR ISO 8601 in local time as Python logging writes it",
         "2026-01-01 09:00:05", 0.75),
        ("<34>1 2026-01-01T00:00:06.000+01:00 web01 app 7 - - ERROR RFC 5424", "2025-12-31 23:00:06Z", 0.0),
    ]
    untimed = "ERROR a line without a time"
    # The file was last written early on 2 January 2026, so 'Dec 31' belongs to 2025.
    sh(fleet, host, cd(directory), f"{printf([text for text, _, _ in timed] + [untimed])} > app.log",
       "touch -d '2026-01-02 00:00:00' app.log")
    result = scan_one(fleet, tmp_path, host, {"paths": [log], "patterns": [ERROR],
                                              "state_file": f"{directory}/log_scan.json"})

    epochs = [epoch + fraction for (epoch, _), (_, _, fraction)
              in zip(host_times(fleet, host, [spec for _, spec, _ in timed]), timed, strict=True)]
    offsets = [offset for _, offset in host_times(fleet, host, [f"@{int(epoch)}" for epoch in epochs])]
    found = result["patterns"]["error"]["first"]
    assert [(match["line"], match["text"]) for match in found] == list(
        enumerate([text for text, _, _ in timed] + [untimed], start=1))
    stamps = {match["text"]: match["timestamp"] for match in found}
    assert stamps[untimed] is None
    for (text, _, _), epoch, offset in zip(timed, epochs, offsets, strict=True):
        stamp = stamps[text]
        assert stamp is not None, text
        assert datetime.fromisoformat(stamp).timestamp() == pytest.approx(epoch, abs=1e-6), (text, stamp)
        # Given in the host's local time, whatever offset the line was written with.
        assert stamp.endswith(offset), (text, stamp)
    assert datetime.fromisoformat(result["time_range"]["first"]).timestamp() == epochs[0]
    assert datetime.fromisoformat(result["time_range"]["last"]).timestamp() == epochs[-1]
