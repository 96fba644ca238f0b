# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runs of opsrun.ops.log_scan: incremental (stored offsets) and time window.

Everything here works on plain paths and dictionaries so that tests and benchmarks can drive
it without AnsibleModule; the module only parses options and reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import stat
import zlib

from ansible_collections.opsrun.ops.plugins.module_utils._logscan_scan import (
    BLOCK_SIZE,
    SEVERITIES,
    Source,
    scan_stream,
    seek_to_time,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_state import (
    GROWN,
    NEW,
    REPLACED,
    UNCHANGED,
    decide_action,
    locate_previous,
    make_identity,
    open_log,
    prune_entries,
    read_head,
    rotated_siblings,
    tail_offset,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import format_epoch

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_GLOB_CHARACTERS = "*?["
_READ_ERRORS = (OSError, EOFError, zlib.error)


class Settings(object):
    """How files are read: see the module options of the same names."""

    def __init__(self, include_rotated=True, from_start=True, max_bytes=DEFAULT_MAX_BYTES,
                 block_size=BLOCK_SIZE):
        self.include_rotated = include_rotated
        self.from_start = from_start
        self.max_bytes = max_bytes
        self.block_size = block_size


class FileReport(object):
    """What happened to one configured file (and the rotated files read for it)."""

    def __init__(self, path, status="scanned"):
        self.path = path
        self.status = status
        self.error = None
        self.rotated = False
        self.truncated = False
        self.truncated_by_limit = False
        self.bytes = 0
        self.lines = 0
        self.first_time = None
        self.last_time = None
        self.sources = []
        self.warnings = []

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def fail(self, message):
        self.status = "error"
        self.error = message

    def add_source(self, source):
        read = source.as_dict()
        last = self.sources[-1] if self.sources else None
        if last is not None and (last["path"], last["end"]) == (read["path"], read["start"]):
            # The second pass over a file continues the stretch the first one read.
            last["end"] = read["end"]
            last["bytes"] += read["bytes"]
            last["lines"] += read["lines"]
        else:
            self.sources.append(read)
        self.bytes += source.bytes
        self.lines += source.lines
        if self.first_time is None:
            self.first_time = source.first_time
        if source.last_time is not None:
            self.last_time = source.last_time

    def as_dict(self):
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "rotated": self.rotated,
            "truncated": self.truncated,
            "truncated_by_limit": self.truncated_by_limit,
            "bytes_scanned": self.bytes,
            "lines_scanned": self.lines,
            "first_timestamp": format_epoch(self.first_time),
            "last_timestamp": format_epoch(self.last_time),
            "sources": self.sources,
            "warnings": self.warnings,
        }


class _Segment(object):
    """A stretch of one file to read from start (line: lines before start, None if unknown).

    identity is what the state records when the run stops in it; final marks a rotated file,
    which will not grow, so its last line is read even without a line end.
    """

    __slots__ = ("compressed", "final", "identity", "line", "path", "ref_epoch", "start")

    def __init__(self, path, start, line, identity, *, ref_epoch, compressed=False, final=False):
        self.path = path
        self.start = start
        self.line = line
        self.identity = identity
        self.ref_epoch = ref_epoch
        self.compressed = compressed
        self.final = final

    def position(self, offset, line):
        entry = dict(self.identity)
        entry["offset"] = offset
        entry["line"] = line
        return entry


def _read_error(path, exc):
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    hint = ""
    if isinstance(exc, PermissionError):
        hint = "; run with become or give the connecting user read access"
    return "cannot read %s: %s%s" % (path, reason, hint)


def expand_paths(paths):
    """Absolute file paths from paths and globs, in the given order without repeats.

    Returns (files, unmatched): unmatched lists the globs that matched no file. Globs match
    files only; a path without glob characters is kept even when it does not exist.
    """
    files = []
    unmatched = []
    seen = set()
    for path in paths:
        if any(char in path for char in _GLOB_CHARACTERS):
            matches = [match for match in sorted(glob.glob(path)) if not os.path.isdir(match)]
            if not matches:
                unmatched.append(path)
        else:
            matches = [path]
        for match in matches:
            absolute = os.path.abspath(match)
            if absolute not in seen:
                seen.add(absolute)
                files.append(absolute)
    return files, unmatched


def _stat_regular(path, report):
    """stat of path; None (with the report marked) when missing, unreadable or not a file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        report.status = "missing"
        return None
    except OSError as exc:
        report.fail(_read_error(path, exc))
        return None
    if not stat.S_ISREG(info.st_mode):
        report.fail("%s is not a regular file; list log files only" % path)
        return None
    return info


def _previous_segments(path, entry, current, report):
    """Segments that finish the file entry describes and read the generations rotated after it.

    Empty when that file is not among the rotated generations of path.
    """
    previous, newer = locate_previous(path, entry, current)
    if previous is None:
        return []
    previous_path, compressed, info = previous
    identity = dict((key, entry[key]) for key in ("dev", "ino", "fingerprint", "fingerprint_size"))
    segments = [_Segment(previous_path, entry["offset"], entry.get("line"), identity,
                         ref_epoch=info.st_mtime, compressed=compressed, final=True)]
    for newer_path, newer_compressed, newer_info in newer:
        try:
            head = read_head(newer_path, newer_compressed)
        except _READ_ERRORS as exc:
            report.warn(_read_error(newer_path, exc))
            continue
        identity = make_identity(newer_info.st_dev, newer_info.st_ino, head)
        segments.append(_Segment(newer_path, 0, 0, identity,
                                 ref_epoch=newer_info.st_mtime, compressed=newer_compressed, final=True))
    return segments


def _after_change(path, entry, info, settings, *, replaced, report):
    """Segments that finish the previous file of a replaced or shortened file (maybe none)."""
    segments = _previous_segments(path, entry, info, report) if settings.include_rotated else []
    # Found among the rotated files, a shortened file was rotated by copytruncate, or the new
    # file got the inode the old one freed: a rotation either way.
    if replaced or segments:
        report.rotated = True
        if settings.include_rotated and not segments:
            report.warn("%s was rotated, but the previous file was not found among the rotated files; "
                        "lines written to it after offset %d were not scanned" % (path, entry["offset"]))
    else:
        report.truncated = True
        report.warn("%s was truncated or rewritten since the last run; "
                    "scanning it again from its start" % path)
    return segments


def _plan_tracked(path, entry, settings, report):
    """Segments to read for a configured path in offsets mode, in order."""
    info = _stat_regular(path, report)
    if info is None:
        if report.status == "missing" and entry is not None and settings.include_rotated:
            return _previous_segments(path, entry, None, report)
        return []
    try:
        head = read_head(path)
        action = decide_action(entry, info.st_dev, info.st_ino, info.st_size, head)
        start = tail_offset(path, info.st_size) if action == NEW and not settings.from_start else 0
    except _READ_ERRORS as exc:
        report.fail(_read_error(path, exc))
        return []
    if action == UNCHANGED:
        if not report.sources:
            report.status = "unchanged"
        return []
    current = make_identity(info.st_dev, info.st_ino, head)
    segments = []
    # Line numbers are unknown after skipping to the end of a new file.
    line = 0 if start == 0 else None
    if action == GROWN:
        start, line = entry["offset"], entry.get("line")
    elif action != NEW:
        segments = _after_change(path, entry, info, settings, replaced=action == REPLACED, report=report)
    segments.append(_Segment(path, start, line, current, ref_epoch=info.st_mtime))
    return segments


def _read_segments(segments, position, scanner, settings, *, allowance, report, progress=True):
    """Read segments within allowance bytes. Returns (new position, bytes read, cut by the limit).

    progress: read at least one line even when the allowance is smaller (see scan_stream).
    """
    used = 0
    for segment in segments:
        if used >= allowance:
            return segment.position(segment.start, segment.line), used, True
        source = Source(segment.path, segment.start, segment.line, segment.ref_epoch, segment.compressed)
        try:
            with open_log(segment.path, segment.compressed) as stream:
                if segment.start:
                    stream.seek(segment.start)
                stopped = scan_stream(stream, scanner, source, allowance - used, final=segment.final,
                                      block_size=settings.block_size, progress=progress)
        except _READ_ERRORS as exc:
            report.add_source(source)
            used += source.bytes
            if not segment.final:
                report.fail(_read_error(segment.path, exc))
                return segment.position(source.offset, source.line), used, False
            # A damaged rotated file would fail the same way every run: skip the rest of it.
            report.warn(_read_error(segment.path, exc) + "; skipping the rest of that rotated file")
            position = segment.position(source.offset, source.line)
            continue
        report.add_source(source)
        used += source.bytes
        position = segment.position(source.offset, source.line)
        if stopped:
            return position, used, True
    return position, used, False


def _scan_tracked_file(path, positions, scanner, settings, *, allowance, report, progress=True):
    """Scan one configured path, moving positions[path]. Returns (bytes read, cut by the limit)."""
    report.status = "scanned"
    segments = _plan_tracked(path, positions.get(path), settings, report)
    if not segments:
        return 0, False
    position, used, limited = _read_segments(
        segments, positions.get(path), scanner, settings,
        allowance=allowance, report=report, progress=progress)
    if position is not None:
        positions[path] = position
    return used, limited


def _entry_changed(old, new):
    if old is None:
        return True
    return any(old.get(key) != value for key, value in new.items())


def scan_tracked(files, entries, scanner, settings, now):
    """Scan files from where the stored entries say the last run stopped.

    The byte limit is shared: each file may use an equal part of what is left, and what files
    did not need then goes, in a second pass, to the files the first pass cut short (which
    already made progress, so the second pass stays strictly within the limit).
    Returns (reports, new entries for the whole state file, changed).
    """
    positions = dict((path, entries[path]) for path in files if path in entries)
    reports = dict((path, FileReport(path)) for path in files)
    remaining = settings.max_bytes
    cut_short = []
    for index, path in enumerate(files):
        used, limited = _scan_tracked_file(
            path, positions, scanner, settings,
            allowance=remaining // (len(files) - index), report=reports[path])
        remaining -= used
        if limited:
            cut_short.append(path)
    for index, path in enumerate(cut_short):
        used, limited = _scan_tracked_file(
            path, positions, scanner, settings,
            allowance=remaining // (len(cut_short) - index), report=reports[path], progress=False)
        remaining -= used
        reports[path].truncated_by_limit = limited
    updated = dict(entries)
    changed = False
    for path, position in positions.items():
        if _entry_changed(entries.get(path), position):
            updated[path] = dict(position, updated=int(now))
            changed = True
    kept = prune_entries(updated, now, os.path.exists)
    changed = changed or len(kept) != len(updated)
    return [reports[path] for path in files], kept, changed


def _window_sources(path, since, settings, report):
    """(path, compressed, stat) of the files to read for path in window mode, oldest first."""
    sources = []
    if settings.include_rotated:
        sources.extend(reversed(rotated_siblings(path)))
    info = _stat_regular(path, report)
    if info is not None:
        sources.append((path, False, info))
    # A file last written before the window opened holds nothing in it.
    return [item for item in sources if since is None or item[2].st_mtime >= since]


def _scan_window_file(path, scanner, settings, allowance, report):
    used = 0
    for source_path, compressed, info in _window_sources(path, scanner.since, settings, report):
        if used >= allowance:
            report.truncated_by_limit = True
            break
        source = Source(source_path, 0, 0, info.st_mtime, compressed)
        try:
            with open_log(source_path, compressed) as stream:
                if not compressed and scanner.since is not None and info.st_size > settings.block_size:
                    start = seek_to_time(stream, info.st_size, scanner.since, info.st_mtime)
                    stream.seek(start)
                    source = Source(source_path, start, 0 if start == 0 else None, info.st_mtime, compressed)
                stopped = scan_stream(stream, scanner, source, allowance - used,
                                      final=True, block_size=settings.block_size)
        except _READ_ERRORS as exc:
            stopped = False
            if source_path == path:
                report.fail(_read_error(source_path, exc))
            else:
                report.warn(_read_error(source_path, exc))
        report.add_source(source)
        used += source.bytes
        if stopped:
            report.truncated_by_limit = True
            break
    return used


def scan_window(files, scanner, settings):
    """Scan files (and their rotated generations) for lines inside the scanner's time window.

    No offsets are read or stored. Each file may use an equal part of the byte limit left.
    """
    reports = []
    remaining = settings.max_bytes
    for index, path in enumerate(files):
        report = FileReport(path)
        remaining -= _scan_window_file(path, scanner, settings, remaining // (len(files) - index), report)
        reports.append(report)
    return reports


def summarize(scanner, reports, unmatched=()):
    """The result keys shared by both modes: patterns, summary, files and totals."""
    patterns = {}
    by_severity = dict((severity, 0) for severity in SEVERITIES)
    for tally in scanner.tallies:
        pattern = tally.pattern
        patterns[pattern.name] = {
            "severity": pattern.severity,
            "count": tally.count,
            "first": [match.as_dict() for match in tally.first],
            "last": [match.as_dict() for match in tally.last],
        }
        by_severity[pattern.severity] += tally.count
    worst = "ok"
    for severity in SEVERITIES:
        if by_severity[severity]:
            worst = severity
    files = [report.as_dict() for report in reports]
    files.extend(FileReport(path, "no_match").as_dict() for path in unmatched)
    firsts = [report.first_time for report in reports if report.first_time is not None]
    lasts = [report.last_time for report in reports if report.last_time is not None]
    return {
        "patterns": patterns,
        "summary": {"severity": worst, "matches": sum(by_severity.values()), "by_severity": by_severity},
        "files": files,
        "bytes_scanned": sum(report.bytes for report in reports),
        "lines_scanned": sum(report.lines for report in reports),
        "truncated_by_limit": any(report.truncated_by_limit for report in reports),
        "time_range": {
            "first": format_epoch(min(firsts)) if firsts else None,
            "last": format_epoch(max(lasts)) if lasts else None,
        },
    }
