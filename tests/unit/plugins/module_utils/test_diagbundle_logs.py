# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The window's lines of log files: timestamps, continuation lines, rotation, limits and errors."""

import calendar
import gzip
import io
import os
import time

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _diagbundle_logs
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_logs import (
    WindowText,
    read_file_window,
    window_lines,
)

pytestmark = pytest.mark.usefixtures('utc_time')


def utc(*fields):
    return calendar.timegm(fields + (0,) * (9 - len(fields)))


SINCE = utc(2026, 1, 8, 9, 0, 0)
UNTIL = utc(2026, 1, 8, 9, 30, 0)
REF = utc(2026, 1, 8, 12, 0, 0)


def write(path, text, mtime=REF):
    path.write_bytes(text)
    os.utime(str(path), (mtime, mtime))
    return path


def kept_lines(lines, limit=1 << 20):
    kept = WindowText(limit)
    more = window_lines(io.BytesIO(lines), SINCE, UNTIL, REF, kept)
    return bytes(kept.data), kept, more


def test_only_lines_inside_the_window_are_kept_in_every_timestamp_form():
    data, kept, _more = kept_lines(
        b"Jan  8 08:59:59 web01 app: before\n"
        b"Jan  8 09:00:00 web01 app: syslog at the start\n"
        b"2026-01-08T09:10:00.5+00:00 web01 app: iso\n"
        b"<34>1 2026-01-08T09:20:00Z web01 app - - - rfc5424\n"
        b"Thu 2026-01-08 09:30:00 UTC web01 app: short-full at the end\n"
        b"2026-01-08 09:30:01,000 app after\n"
    )
    assert data == (
        b"Jan  8 09:00:00 web01 app: syslog at the start\n"
        b"2026-01-08T09:10:00.5+00:00 web01 app: iso\n"
        b"<34>1 2026-01-08T09:20:00Z web01 app - - - rfc5424\n"
        b"Thu 2026-01-08 09:30:00 UTC web01 app: short-full at the end\n"
    )
    assert kept.lines == 4


def test_continuation_lines_follow_the_line_they_continue():
    data, _kept, _more = kept_lines(
        b"untimed line before any timestamp\n"
        b"2026-01-08T08:59:00Z app: Traceback (most recent call last):\n"
        b"  File \"old.py\", line 1\n"
        b"2026-01-08T09:05:00Z app: Traceback (most recent call last):\n"
        b"  File \"app.py\", line 7, in main\n"
        b"ValueError: boom\n"
    )
    assert data == (
        b"2026-01-08T09:05:00Z app: Traceback (most recent call last):\n"
        b"  File \"app.py\", line 7, in main\n"
        b"ValueError: boom\n"
    )


def test_a_continuation_too_far_from_its_timestamp_is_left_out():
    lines = b"2026-01-08T09:05:00Z app: start\n" + b"more\n" * 25
    data, _kept, _more = kept_lines(lines)
    assert data.count(b"more\n") == _diagbundle_logs.TIME_LOOKBACK_LINES


def test_reading_stops_well_after_the_window_but_not_just_after_it():
    data, _kept, more = kept_lines(
        b"2026-01-08T09:29:00Z a in\n"
        b"2026-01-08T09:31:00Z b just after the end\n"
        b"2026-01-08T09:29:30Z c out of order but in\n"
        b"2026-01-08T09:40:00Z d far after\n"
        b"2026-01-08T09:29:50Z e never read\n"
    )
    assert data == b"2026-01-08T09:29:00Z a in\n2026-01-08T09:29:30Z c out of order but in\n"
    assert more is False


def test_the_byte_limit_keeps_the_earliest_whole_lines_and_says_so():
    data, kept, more = kept_lines(b"2026-01-08T09:01:00Z one\n2026-01-08T09:02:00Z two\n", limit=30)
    assert data == b"2026-01-08T09:01:00Z one\n"
    assert kept.truncated is True
    assert more is False


def test_a_last_line_without_line_end_gets_one():
    data, _kept, _more = kept_lines(b"2026-01-08T09:01:00Z last")
    assert data == b"2026-01-08T09:01:00Z last\n"


def test_rotated_generations_are_read_oldest_first_and_old_ones_skipped(tmp_path):
    log = tmp_path / "syslog"
    oldest = gzip.compress(b"Jan  8 06:00:00 h app: long before\n")
    write(tmp_path / "syslog.3.gz", oldest, utc(2026, 1, 8, 7))
    rotated = gzip.compress(b"Jan  8 08:00:00 h app: out\nJan  8 09:01:00 h app: from the .2.gz\n")
    write(tmp_path / "syslog.2.gz", rotated, utc(2026, 1, 8, 9, 2))
    write(tmp_path / "syslog.1", b"Jan  8 09:10:00 h app: from the .1\n", utc(2026, 1, 8, 9, 11))
    write(log, b"Jan  8 09:20:00 h app: current\nJan  8 11:00:00 h app: later\n", utc(2026, 1, 8, 11))
    text, report = read_file_window(str(log), SINCE, UNTIL, 1 << 20)
    assert bytes(text.data) == (
        b"Jan  8 09:01:00 h app: from the .2.gz\n"
        b"Jan  8 09:10:00 h app: from the .1\n"
        b"Jan  8 09:20:00 h app: current\n"
    )
    assert report["files"] == [str(tmp_path / "syslog.2.gz"), str(tmp_path / "syslog.1"), str(log)]
    assert report["status"] == "read"
    assert report["lines"] == 3
    assert report["mtime"] == utc(2026, 1, 8, 11)


def test_without_include_rotated_only_the_file_itself_is_read(tmp_path):
    write(tmp_path / "syslog.1", b"Jan  8 09:10:00 h app: rotated\n")
    log = write(tmp_path / "syslog", b"Jan  8 09:20:00 h app: current\n")
    text, report = read_file_window(str(log), SINCE, UNTIL, 1 << 20, include_rotated=False)
    assert bytes(text.data) == b"Jan  8 09:20:00 h app: current\n"
    assert report["files"] == [str(log)]


def test_syslog_years_come_from_the_file_modification_time(tmp_path):
    # Written on 2027-01-02, a "Dec 31" line is from 2026; "Jan  8" of 2026 is then outside the window
    # of 2027, so only the December line is in a window around 2026-12-31.
    log = write(tmp_path / "app.log", b"Dec 31 23:50:00 h app: old year\n", utc(2027, 1, 2))
    text, _report = read_file_window(str(log), utc(2026, 12, 31, 23), utc(2027, 1, 1), 1 << 20)
    assert bytes(text.data) == b"Dec 31 23:50:00 h app: old year\n"


def test_the_window_start_is_found_by_bisection_in_a_large_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_diagbundle_logs, "BLOCK_SIZE", 4096)
    start = utc(2026, 1, 1)
    lines = [time.strftime("%Y-%m-%dT%H:%M:%SZ h app: line\n", time.gmtime(start + 60 * n)).encode()
             for n in range(14 * 1440)]
    log = write(tmp_path / "big.log", b"".join(lines), utc(2026, 1, 15))
    starts = []
    real_seek = _diagbundle_logs.seek_to_time

    def recording_seek(*args, **kwargs):
        starts.append(real_seek(*args, **kwargs))
        return starts[-1]

    monkeypatch.setattr(_diagbundle_logs, "seek_to_time", recording_seek)
    text, _report = read_file_window(str(log), SINCE, UNTIL, 1 << 20)
    first = (SINCE - start) // 60
    assert bytes(text.data) == b"".join(lines[first:first + 31])
    assert starts and 0 < starts[0] <= sum(len(line) for line in lines[:first])


def test_missing_file_is_reported_without_text(tmp_path):
    text, report = read_file_window(str(tmp_path / "absent.log"), SINCE, UNTIL, 1 << 20)
    assert (report["status"], report["error"], bytes(text.data)) == ("missing", None, b"")


def test_a_file_last_written_before_the_window_is_not_read(tmp_path):
    line = b"2026-01-08T09:10:00Z h app: the file's time says it is older\n"
    log = write(tmp_path / "old.log", line, utc(2026, 1, 8, 8))
    text, report = read_file_window(str(log), SINCE, UNTIL, 1 << 20)
    assert (report["status"], report["files"], bytes(text.data)) == ("read", [], b"")


def test_a_directory_is_an_error_that_names_it(tmp_path):
    _text, report = read_file_window(str(tmp_path), SINCE, UNTIL, 1 << 20)
    assert report["status"] == "error"
    assert report["error"] == "%s is not a regular file; list log files only" % tmp_path


def test_an_unreadable_file_is_an_error_with_a_hint(tmp_path, monkeypatch):
    log = write(tmp_path / "secure", b"2026-01-08T09:10:00Z h sshd: x\n")

    def denied(path, compressed):  # as for a user without read access (the tests may run as root)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(_diagbundle_logs, "open_log", denied)
    _text, report = read_file_window(str(log), SINCE, UNTIL, 1 << 20)
    assert report["status"] == "error"
    assert report["error"].endswith("run with become or give the connecting user read access")
