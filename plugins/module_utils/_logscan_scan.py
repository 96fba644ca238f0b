# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block scanning core of opsrun.ops.log_scan.

Files are read in large blocks cut at the last line end (the partial last line is carried into
the next block). Each literal pattern is searched over the whole block with bytes.find and each
regex with one compiled bytes regex; lines are only split out around hits, and line numbers
come from counting newlines once per block. This keeps the cost per byte to a few passes of
C code (substring search, memchr) instead of Python work per line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re

from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import (
    HEAD_BYTES,
    format_epoch,
    parse_line_time,
)

# Measured on a syslog-like file (benchmarks/bench_log_scan.py): 1 and 2 MiB are fastest, by
# about 5% over 4 MiB and 10% over 256 KiB or 16 MiB; the passes over a block then stay in cache.
BLOCK_SIZE = 2 * 1024 * 1024
SEVERITIES = ("info", "warn", "crit")
# Lines looked at, going back, for the time of a line that has no timestamp (a continuation line).
TIME_LOOKBACK_LINES = 20
# Lines looked at from the start of the scanned data for its first timestamp.
FIRST_TIME_LINES = 8
# Newlines are counted and blocks case-folded in pieces of this size (below malloc's default
# mmap threshold, 128 KiB, so that the temporary copies reuse memory).
COUNT_PIECE = 64 * 1024
# Bytes read at each step of the bisection that finds the start of a time window.
PROBE_SIZE = 64 * 1024


class Pattern(object):
    """One named pattern: a literal (default) or a regex, matched against the bytes of a line.

    Literals are UTF-8 encoded and compared byte for byte; ignore_case folds ASCII letters.
    Regexes are compiled as bytes regexes with MULTILINE, so '^' and '$' are line anchors.
    """

    __slots__ = ("ignore_case", "name", "needle", "regex", "severity")

    def __init__(self, name, text, is_regex=False, severity="warn", ignore_case=False):
        if not name:
            raise ValueError("every pattern needs a non-empty name")
        if not text:
            raise ValueError("pattern %r is empty; give the text or regex to look for" % name)
        if severity not in SEVERITIES:
            raise ValueError(
                "pattern %r has severity %r; use one of %s" % (name, severity, ", ".join(SEVERITIES)))
        self.name = name
        self.severity = severity
        self.ignore_case = ignore_case
        encoded = text.encode("utf-8")
        self.needle = None
        self.regex = None
        if is_regex:
            flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
            try:
                self.regex = re.compile(encoded, flags)
            except re.error as exc:
                raise ValueError("pattern %r is not a valid regular expression: %s" % (name, exc)) from None
        elif b"\n" in encoded:
            raise ValueError("pattern %r contains a line break; a literal matches within one line" % name)
        else:
            self.needle = encoded.lower() if ignore_case else encoded

    @property
    def needs_folded_block(self):
        """True when the pattern is searched in the ASCII-lowercased copy of a block."""
        return self.needle is not None and self.ignore_case

    def line_ends(self, haystack, end):
        """Positions of the line ends (newline, or end) of the lines in haystack[:end] that match."""
        if self.needle is not None:
            return literal_line_ends(haystack, end, self.needle)
        return regex_line_ends(haystack, end, self.regex)


def literal_line_ends(haystack, end, needle):
    """Line end of every line of haystack[:end] that contains needle, each line once."""
    ends = []
    append = ends.append
    find = haystack.find
    pos = find(needle, 0, end)
    while pos >= 0:
        newline = find(b"\n", pos, end)
        if newline < 0:
            append(end)
            break
        append(newline)
        pos = find(needle, newline + 1, end)
    return ends


def regex_line_ends(haystack, end, regex):
    """Line end of every line of haystack[:end] where regex finds a match, each line once."""
    ends = []
    append = ends.append
    search = regex.search
    find = haystack.find
    match = search(haystack, 0, end)
    while match is not None:
        if match.start() == end and end and haystack[end - 1] == 10:
            # An empty match after the last line end: there is no line there.
            break
        newline = find(b"\n", match.start(), end)
        if newline < 0:
            append(end)
            break
        append(newline)
        match = search(haystack, newline + 1, end)
    return ends


def count_newlines(buf, start, end):
    """Newlines in buf[start:end].

    Deleting them and comparing lengths runs on memchr, two to three times faster than
    bytes.count, whose byte-by-byte loop is slow on common Python builds (0.5 GB/s). Pieces of
    COUNT_PIECE bytes keep the temporary copies small enough to be reused, not mapped afresh.
    """
    total = 0
    for low in range(start, end, COUNT_PIECE):
        segment = buf[low:min(low + COUNT_PIECE, end)]
        total += len(segment) - len(segment.replace(b"\n", b""))
    return total


def line_start(buf, line_end):
    """Start of the line that ends at line_end."""
    return buf.rfind(b"\n", 0, line_end) + 1


def line_time(buf, start, ref_epoch, lookback=0):
    """Time of the line starting at start, or of the nearest line before it with a timestamp.

    At most lookback earlier lines of buf are tried; None when none has a timestamp.
    """
    while True:
        head = buf[start:start + HEAD_BYTES]
        newline = head.find(b"\n")
        epoch = parse_line_time(head if newline < 0 else head[:newline], ref_epoch)
        if epoch is not None or lookback <= 0 or start == 0:
            return epoch
        start = buf.rfind(b"\n", 0, start - 1) + 1
        lookback -= 1


class Source(object):
    """Where a scan reads: a file (maybe compressed), its position and what was seen there.

    line is the number of lines before offset, or None when unknown (after a seek).
    ref_epoch (the file's mtime) gives the year of syslog timestamps.
    """

    __slots__ = (
        "bytes",
        "compressed",
        "first_time",
        "last_time",
        "line",
        "lines",
        "offset",
        "path",
        "ref_epoch",
        "start",
    )

    def __init__(self, path, offset=0, line=0, ref_epoch=None, compressed=False):
        self.path = path
        self.compressed = compressed
        self.ref_epoch = ref_epoch
        self.start = offset
        self.offset = offset
        self.line = line
        self.bytes = 0
        self.lines = 0
        self.first_time = None
        self.last_time = None

    def as_dict(self):
        return {
            "path": self.path,
            "compressed": self.compressed,
            "start": self.start,
            "end": self.offset,
            "bytes": self.bytes,
            "lines": self.lines,
        }


class Match(object):
    """A matching line as read; turned into the result dictionary only if it is kept."""

    __slots__ = ("line", "offset", "path", "raw", "ref_epoch", "width")

    def __init__(self, path, line, offset, raw, *, ref_epoch, width):
        self.path = path
        self.line = line
        self.offset = offset
        self.raw = raw
        self.ref_epoch = ref_epoch
        self.width = width

    def as_dict(self):
        return {
            "file": self.path,
            "line": self.line,
            "offset": self.offset,
            "timestamp": format_epoch(parse_line_time(self.raw, self.ref_epoch)),
            "text": self.raw.decode("utf-8", "replace").rstrip("\r")[:self.width],
        }


class Tally(object):
    """Count and first/last matches of one pattern."""

    __slots__ = ("count", "first", "last", "pattern")

    def __init__(self, pattern, keep):
        self.pattern = pattern
        self.count = 0
        self.first = []
        self.last = collections.deque(maxlen=keep)


class Scanner(object):
    """Matches patterns block by block and keeps, per pattern, the count and first/last matches.

    With since and/or until (epoch seconds) only lines whose time lies in [since, until] count;
    a line without a timestamp takes the time of the nearest earlier line that has one
    (TIME_LOOKBACK_LINES at most), and is left out when there is none.
    """

    def __init__(self, patterns, keep=5, max_line_length=1024, since=None, until=None):
        self.keep = keep
        self.max_line_length = max_line_length
        self.since = since
        self.until = until
        self.windowed = since is not None or until is not None
        self.tallies = [Tally(pattern, keep) for pattern in patterns]
        self._fold = any(tally.pattern.needs_folded_block for tally in self.tallies)
        self._folded = bytearray()

    def in_window(self, epoch):
        if epoch is None:
            return False
        if self.since is not None and epoch < self.since:
            return False
        return self.until is None or epoch <= self.until

    def scan_block(self, buf, end, source):
        """Scan the complete lines buf[:end] read at source.offset; return the newlines counted.

        buf[:end] ends with a newline except for the last line of a finished file.
        """
        folded = self._folded_copy(buf, end) if self._fold else None
        wanted = set()
        picks = []
        for tally in self.tallies:
            pattern = tally.pattern
            ends = pattern.line_ends(folded if pattern.needs_folded_block else buf, end)
            if not ends:
                continue
            if self.windowed:
                ends = self._ends_in_window(buf, ends, source.ref_epoch)
                if not ends:
                    continue
            tally.count += len(ends)
            room = self.keep - len(tally.first)
            first = ends[:room] if room > 0 else []
            last = ends[-self.keep:] if self.keep else []
            wanted.update(first)
            wanted.update(last)
            picks.append((tally, first, last))
        newlines, records = self._number_lines(buf, end, sorted(wanted), source)
        for tally, first, last in picks:
            tally.first.extend(records[pos] for pos in first)
            tally.last.extend(records[pos] for pos in last)
        self._note_times(buf, end, source)
        return newlines

    def _folded_copy(self, buf, end):
        """buf[:end] with ASCII letters lowercased, in a buffer kept for the next blocks.

        Folding piece by piece into a kept buffer is two to three times faster than
        buf[:end].lower(), which maps two fresh block-sized buffers every time.
        """
        if len(self._folded) < end:
            self._folded = bytearray(len(buf))
        folded = self._folded
        for low in range(0, end, COUNT_PIECE):
            high = min(low + COUNT_PIECE, end)
            folded[low:high] = buf[low:high].lower()
        return folded

    def _ends_in_window(self, buf, ends, ref_epoch):
        return [
            pos for pos in ends
            if self.in_window(line_time(buf, line_start(buf, pos), ref_epoch, TIME_LOOKBACK_LINES))
        ]

    def _number_lines(self, buf, end, positions, source):
        """Count the newlines of buf[:end] and note the matches at positions, in one pass."""
        records = {}
        counted = 0
        newlines = 0
        # A UTF-8 character takes at most 4 bytes.
        width = 4 * self.max_line_length
        for pos in positions:
            newlines += count_newlines(buf, counted, pos)
            counted = pos
            start = line_start(buf, pos)
            number = None if source.line is None else source.line + newlines + 1
            raw = bytes(buf[start:min(pos, start + width)])
            records[pos] = Match(source.path, number, source.offset + start, raw,
                                 ref_epoch=source.ref_epoch, width=self.max_line_length)
        newlines += count_newlines(buf, counted, end)
        return newlines, records

    def _note_times(self, buf, end, source):
        if source.first_time is None:
            start = 0
            for _unused in range(FIRST_TIME_LINES):
                source.first_time = line_time(buf, start, source.ref_epoch)
                newline = buf.find(b"\n", start, end)
                if source.first_time is not None or newline < 0 or newline + 1 >= end:
                    break
                start = newline + 1
        last = line_time(buf, line_start(buf, end - 1), source.ref_epoch, FIRST_TIME_LINES)
        if last is not None:
            source.last_time = last

    def past_until(self, source):
        """True once the scanned data of source is later than until (logs are in time order)."""
        return self.until is not None and source.last_time is not None and source.last_time > self.until


def scan_stream(stream, scanner, source, limit=None, *, final=False, block_size=BLOCK_SIZE, progress=True):
    """Scan stream from its current position (source.offset) to its end or the byte limit.

    Only complete lines are consumed: the partial last line stays unread unless final is true
    (a rotated file that will not grow any more). The limit counts bytes read; with progress,
    at least one line is consumed whatever the limit, so that a line longer than the limit
    cannot stop every run at the same place. Scanning stops early after the first block that is
    later than the scanner's until. Returns True when the limit stopped it.
    """
    buf = bytearray(block_size)
    view = memoryview(buf)
    carry = 0
    read = 0
    consumed = 0
    try:
        while not scanner.past_until(source):
            space = len(buf) - carry
            overdue = limit is not None and read >= limit
            if overdue:
                if consumed or not progress:
                    return True
            elif limit is not None:
                space = min(space, limit - read)
            if space == 0:
                # One line is longer than the buffer: double it.
                view.release()
                buf.extend(bytes(len(buf)))
                view = memoryview(buf)
                continue
            got = stream.readinto(view[carry:carry + space])
            if not got:
                if final and carry:
                    _consume(scanner, buf, carry, source, partial=True)
                return False
            read += got
            filled = carry + got
            # Past the limit only the one line that guarantees progress is taken.
            cut = buf.find(b"\n", carry, filled) if overdue else buf.rfind(b"\n", carry, filled)
            if cut < 0:
                carry = filled
                continue
            end = cut + 1
            _consume(scanner, buf, end, source)
            consumed += end
            carry = filled - end
            if carry:
                view[:carry] = view[end:filled]
        return False
    finally:
        view.release()


def _consume(scanner, buf, end, source, partial=False):
    newlines = scanner.scan_block(buf, end, source)
    lines = newlines + (1 if partial else 0)
    source.offset += end
    source.bytes += end
    source.lines += lines
    if source.line is not None:
        source.line += lines


def _time_after(stream, offset, probe, ref_epoch):
    """Time of the first line with a timestamp that starts after offset, within probe bytes."""
    stream.seek(offset)
    chunk = stream.read(probe)
    start = chunk.find(b"\n") + 1
    for _unused in range(FIRST_TIME_LINES):
        if start <= 0 or start >= len(chunk):
            return None
        epoch = line_time(chunk, start, ref_epoch)
        if epoch is not None:
            return epoch
        start = chunk.find(b"\n", start) + 1
    return None


def seek_to_time(stream, size, since, ref_epoch, probe=PROBE_SIZE):
    """Offset of a line start before every line of a time-ordered log whose time is >= since.

    Bisects on the timestamps of lines found probe bytes at a time, so an incident window at
    the end of a large file costs a few small reads. Where no timestamp is found the search
    moves earlier, so no line of the window is skipped.
    """
    low, high = 0, size
    while high - low > probe:
        middle = (low + high) // 2
        epoch = _time_after(stream, middle, probe, ref_epoch)
        if epoch is not None and epoch < since:
            low = middle
        else:
            high = middle
    if low == 0:
        return 0
    stream.seek(low)
    newline = stream.read(probe).find(b"\n")
    return low + newline + 1 if newline >= 0 else 0
