# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines of log files and command outputs that lie in an incident's time window.

Timestamps, rotated generations and the bisection that finds the window's start in a large file
are those of opsrun.ops.log_scan's window mode (module_utils._logscan*); this module keeps the
lines themselves, which log_scan only counts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import stat
import zlib

from ansible_collections.opsrun.ops.plugins.module_utils._logscan_scan import (
    BLOCK_SIZE,
    TIME_LOOKBACK_LINES,
    seek_to_time,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_state import open_log, rotated_siblings
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import parse_line_time

# Lines later than the window's end by less than this may still be followed by lines inside it
# (syslog daemons write slightly out of order); reading stops at the first line later than that.
UNTIL_SLACK_SECONDS = 300
_READ_ERRORS = (OSError, EOFError, zlib.error)


class WindowText(object):
    """Lines kept from one source, and what happened while reading it."""

    def __init__(self, limit):
        self.limit = limit
        self.data = bytearray()
        self.lines = 0
        self.truncated = False

    def add(self, line):
        """Keep line (bytes, with its line end); False once the byte limit is reached."""
        if not line.endswith(b"\n"):
            line += b"\n"
        if len(self.data) + len(line) > self.limit:
            self.truncated = True
            return False
        self.data += line
        self.lines += 1
        return True


def window_lines(lines, since, until, ref_epoch, kept):
    """Keep in kept (a WindowText) the lines whose time lies in [since, until].

    A line without a timestamp takes the time of the last line before it that had one, within
    TIME_LOOKBACK_LINES lines, as log_scan does; before any timestamp it is left out. Returns
    False when reading should stop: the limit was reached, or the lines passed the window.
    """
    current = None
    untimed = 0
    for line in lines:
        epoch = parse_line_time(line, ref_epoch)
        if epoch is None:
            untimed += 1
            if untimed > TIME_LOOKBACK_LINES:
                current = None
        else:
            current = epoch
            untimed = 0
        if current is None or current < since:
            continue
        if current > until:
            if current > until + UNTIL_SLACK_SECONDS:
                return False
            continue
        if not kept.add(line):
            return False
    return True


def _sources(path, since, include_rotated):
    """(path, compressed, stat) of path's rotated generations, oldest first, then path itself.

    A file last written before the window opened holds nothing in it and is left out.
    Raises OSError when path exists but cannot be examined.
    """
    sources = list(reversed(rotated_siblings(path))) if include_rotated else []
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            raise OSError("%s is not a regular file; list log files only" % path)
        sources.append((path, False, info))
    return [item for item in sources if item[2].st_mtime >= since]


def _read_source(source, since, until, kept):
    """Keep the window's lines of one file (path, compressed, stat); False when reading should stop."""
    path, compressed, info = source
    with open_log(path, compressed) as raw:
        if compressed:
            return window_lines(raw, since, until, info.st_mtime, kept)
        if info.st_size > BLOCK_SIZE:
            raw.seek(seek_to_time(raw, info.st_size, since, info.st_mtime))
        return window_lines(io.BufferedReader(raw, BLOCK_SIZE), since, until, info.st_mtime, kept)


def read_file_window(path, since, until, limit, include_rotated=True):
    """The lines of path (and of its rotated generations) in [since, until], at most limit bytes.

    Returns (WindowText, report): report has path, status (read, missing or error), error,
    the files read, mtime (of the newest file read, which dates syslog lines without a year),
    lines and bytes kept, and truncated (the limit cut the text short).
    """
    kept = WindowText(limit)
    report = {"path": path, "status": "read", "error": None, "files": [], "mtime": None}
    try:
        sources = _sources(path, since, include_rotated)
        if not sources and not os.path.exists(path):
            report["status"] = "missing"
        for source in sources:
            report["files"].append(source[0])
            report["mtime"] = source[2].st_mtime
            if not _read_source(source, since, until, kept):
                break
    except _READ_ERRORS as exc:
        report["status"] = "error"
        report["error"] = read_error(path, exc)
    report.update(lines=kept.lines, bytes=len(kept.data), truncated=kept.truncated)
    return kept, report


def read_error(path, exc):
    """What went wrong reading path, and what to do about it."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    hint = ""
    if isinstance(exc, PermissionError):
        hint = "; run with become or give the connecting user read access"
    if reason.startswith(path):
        return reason + hint
    return "cannot read %s: %s%s" % (path, reason, hint)
