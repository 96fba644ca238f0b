# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timestamps of log lines and the time window of opsrun.ops.log_scan.

All functions are pure apart from reading the host's local time zone: timestamps without an
offset are local time, as syslog daemons and journald write them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import re
import time

# A timestamp from the future by more than this is taken to belong to the year before
# (syslog lines carry no year).
YEAR_SLACK_SECONDS = 2 * 86400
# How many years back a February 29 may be looked for.
_YEAR_SEARCH = 8
# Bytes of a line that are looked at for its timestamp.
HEAD_BYTES = 160

_MONTHS = {
    b"Jan": 1, b"Feb": 2, b"Mar": 3, b"Apr": 4, b"May": 5, b"Jun": 6,
    b"Jul": 7, b"Aug": 8, b"Sep": 9, b"Oct": 10, b"Nov": 11, b"Dec": 12,
}
_MONTH_ALT = b"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"

# RFC 5424 / raw syslog priority, optionally followed by the protocol version: "<34>1 ".
_PRI = re.compile(rb"<\d{1,3}>(?:\d{1,2} )?")
# ISO 8601 / RFC 3339 / RFC 5424 / journald short-iso(-precise) / Python logging / nginx error log.
_ISO = re.compile(
    rb"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    rb"(?:(Z)|\s?([+-]\d{2}(?::?\d{2})?)(?![\d:]))?"
)
# RFC 3164 syslog, journald short and short-precise: "Nov 28 23:15:16[.123456]".
_BSD = re.compile(rb"(" + _MONTH_ALT + rb") {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?![\d.])")
# journald short-full: "Fri 2025-11-28 23:15:16 JST".
_FULL = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    rb"(?: ([A-Za-z]{1,6}|[+-]\d{2}:?\d{2}))?"
)
# Common Log Format of web servers, anywhere near the start: "[28/Nov/2025:23:15:16 +0900]".
_CLF = re.compile(rb"\[(\d{2})/(" + _MONTH_ALT + rb")/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\]")

_RELATIVE = re.compile(r"^-?\s*(\d+)\s*([smhdw])$")
_DATE_ONLY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UTC_NAMES = (b"UTC", b"GMT", b"Z")


def _fraction(digits):
    return float(b"0." + digits) if digits else 0.0


def _offset_seconds(text):
    """Seconds east of UTC of '+09:00', '+0900', '+09' or 'Z'."""
    if text in _UTC_NAMES:
        return 0
    sign = -1 if text[:1] == b"-" else 1
    digits = text[1:].replace(b":", b"")
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    return sign * (int(digits[:2]) * 3600 + minutes * 60)


def _epoch(fields, fraction, offset):
    """Epoch seconds of (year, month, day, hour, minute, second) plus fraction.

    Local time when offset (seconds east of UTC) is None; None when the date is invalid.
    """
    year, month, day, hour, minute, second = fields
    second = min(second, 59)  # a leap second is reported as the second before it
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if offset is None:
        return time.mktime(moment.timetuple()) + fraction
    return calendar.timegm(moment.timetuple()) - offset + fraction


def infer_year_epoch(fields, fraction, ref_epoch):
    """Epoch of (month, day, hour, minute, second) plus fraction, in the latest year not after ref_epoch.

    ref_epoch is when the file was last written (its mtime); a line cannot be younger than
    that, apart from clock steps, which YEAR_SLACK_SECONDS absorbs.
    """
    ref_year = time.localtime(ref_epoch).tm_year
    for year in range(ref_year, ref_year - _YEAR_SEARCH, -1):
        epoch = _epoch((year, *fields), fraction, None)
        if epoch is not None and epoch <= ref_epoch + YEAR_SLACK_SECONDS:
            return epoch
    return None


def _from_iso(match):
    year, month, day, hour, minute, second, frac, zulu, offset = match.groups()
    if zulu:
        seconds_east = 0
    elif offset:
        seconds_east = _offset_seconds(offset)
    else:
        seconds_east = None
    fields = (int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    return _epoch(fields, _fraction(frac), seconds_east)


def _from_full(match):
    year, month, day, hour, minute, second, frac, zone = match.groups()
    seconds_east = None
    if zone and (zone[:1] in b"+-" or zone.upper() in _UTC_NAMES):
        seconds_east = _offset_seconds(zone.upper())
    fields = (int(year), int(month), int(day), int(hour), int(minute), int(second))
    return _epoch(fields, _fraction(frac), seconds_east)


def _from_clf(match):
    day, month, year, hour, minute, second, offset = match.groups()
    fields = (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    return _epoch(fields, 0.0, _offset_seconds(offset))


def parse_line_time(line, ref_epoch=None):
    """Epoch seconds (float) of the timestamp a log line starts with, or None.

    line is bytes (only the first HEAD_BYTES matter). Understood: RFC 3164 syslog
    (year from ref_epoch, default now), RFC 5424 and ISO 8601 with or without an offset (also
    with '/' between the date's parts, as the nginx error log writes it), journald short,
    short-precise, short-iso, short-iso-precise and short-full, and the Common Log Format of
    web servers. Times without an offset are local time.
    """
    head = line[:HEAD_BYTES]
    pos = 0
    if head[:1] == b"<":
        pri = _PRI.match(head)
        if pri:
            pos = pri.end()
    first = head[pos:pos + 1]
    if first.isdigit():
        match = _ISO.match(head, pos)
        if match:
            return _from_iso(match)
    elif first.isalpha():
        match = _BSD.match(head, pos)
        if match:
            month, day, hour, minute, second, frac = match.groups()
            fields = (_MONTHS[month], int(day), int(hour), int(minute), int(second))
            return infer_year_epoch(fields, _fraction(frac), time.time() if ref_epoch is None else ref_epoch)
        match = _FULL.match(head, pos)
        if match:
            return _from_full(match)
    match = _CLF.search(head)
    if match:
        return _from_clf(match)
    return None


def parse_time_spec(spec, now):
    """Epoch seconds of a since/until value.

    Accepted: 'now'; a relative time back from now such as '-30m', '-2h', '-1d', '-90s', '-1w'
    (the minus sign is optional); an ISO 8601 date and time such as '2025-11-28T23:00:00+09:00',
    '2025-11-28 23:00' (local time without an offset) or a date '2025-11-28' (local midnight).
    Raises ValueError naming what was expected.
    """
    text = spec.strip()
    if text.lower() == "now":
        return float(now)
    relative = _RELATIVE.match(text)
    if relative:
        return float(now) - int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    date_only = _DATE_ONLY.match(text)
    if date_only:
        fields = (int(date_only.group(1)), int(date_only.group(2)), int(date_only.group(3)), 0, 0, 0)
        epoch = _epoch(fields, 0.0, None)
    else:
        raw = text.encode("ascii", "replace")
        match = _ISO.match(raw)
        epoch = _from_iso(match) if match and match.end() == len(raw) else None
    if epoch is None:
        raise ValueError(
            "cannot read %r as a time: use 'now', a relative time such as '-30m', '-2h' or '-1d', "
            "or an ISO 8601 time such as '2025-11-28T23:00:00+09:00' or '2025-11-28 23:00'" % spec
        )
    return epoch


def format_epoch(epoch):
    """ISO 8601 text of epoch seconds in the host's local time zone, or None."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(round(epoch, 6)).astimezone()
    return moment.isoformat()
