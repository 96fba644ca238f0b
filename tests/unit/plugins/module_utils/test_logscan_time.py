# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timestamps of log lines and since/until values, in a fixed local time zone (UTC+9)."""

import calendar

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import (
    format_epoch,
    infer_year_epoch,
    parse_line_time,
    parse_time_spec,
)

JST = 9 * 3600


pytestmark = pytest.mark.usefixtures('tokyo_time')


def utc(*fields):
    """Epoch of (year, month, day[, hour[, minute[, second]]]) in UTC."""
    padded = (*fields, 0, 0, 0)[:6]
    return float(calendar.timegm((*padded, 0, 0, 0)))


def local(*fields):
    """Epoch of (year, month, day[, hour[, minute[, second]]]) in the local time (UTC+9)."""
    return utc(*fields) - JST


# The file the line comes from was last written on 2025-11-29 00:00 local time.
REF = local(2025, 11, 29)

LINE_CASES = [
    # RFC 3164 syslog / journald short: local time, year from the file's mtime.
    (b'Nov 28 23:15:16 web01 sshd[42]: Accepted publickey', local(2025, 11, 28, 23, 15, 16)),
    (b'Nov  8 03:04:05 web01 cron[1]: job', local(2025, 11, 8, 3, 4, 5)),
    (b'Nov 8 03:04:05 web01 cron[1]: job', local(2025, 11, 8, 3, 4, 5)),
    # A December line in a file written on November 29 is from the year before.
    (b'Dec 31 23:59:59 web01 kernel: x', local(2024, 12, 31, 23, 59, 59)),
    # journald short-precise.
    (b'Nov 28 23:15:16.250000 web01 kernel: x', local(2025, 11, 28, 23, 15, 16) + 0.25),
    # Raw syslog with a priority.
    (b'<13>Nov 28 23:15:16 web01 app: x', local(2025, 11, 28, 23, 15, 16)),
    # RFC 5424 with priority and version, UTC.
    (b'<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - failed', utc(2003, 10, 11, 22, 14, 15) + 0.003),
    # RFC 3339 as rsyslog writes it, and journald short-iso / short-iso-precise.
    (b'2025-11-28T23:15:16.123456+09:00 web01 app: x', utc(2025, 11, 28, 14, 15, 16) + 0.123456),
    (b'2025-11-28T23:15:16+0900 web01 app[7]: x', utc(2025, 11, 28, 14, 15, 16)),
    (b'2025-11-28T14:15:16-05:00 web01 app: x', utc(2025, 11, 28, 19, 15, 16)),
    (b'2025-11-28T14:15:16Z web01 app: x', utc(2025, 11, 28, 14, 15, 16)),
    # Python logging, nginx error log: local time.
    (b'2025-11-28 23:15:16,500 ERROR app: x', local(2025, 11, 28, 23, 15, 16) + 0.5),
    (b'2025/11/28 23:15:16 [error] 12#12: x', local(2025, 11, 28, 23, 15, 16)),
    (b'2025-11-28 23:15:16 +0000 host: x', utc(2025, 11, 28, 23, 15, 16)),
    # journald short-full: a zone name other than UTC is taken as local time.
    (b'Fri 2025-11-28 23:15:16 JST web01 app: x', local(2025, 11, 28, 23, 15, 16)),
    (b'Fri 2025-11-28 14:15:16 UTC web01 app: x', utc(2025, 11, 28, 14, 15, 16)),
    # Common Log Format.
    (b'192.0.2.1 - - [28/Nov/2025:23:15:16 +0900] "GET / HTTP/1.1" 200 5', utc(2025, 11, 28, 14, 15, 16)),
    # No timestamp, or an impossible one.
    (b'    at com.example.Main.run(Main.java:42)', None),
    (b'', None),
    (b'2025-13-45T99:15:16Z nonsense', None),
    (b'Foo 28 23:15:16 not a month', None),
]


@pytest.mark.parametrize('line, expected', LINE_CASES, ids=[case[0][:30].decode() for case in LINE_CASES])
def test_parse_line_time(line, expected):
    got = parse_line_time(line, REF)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_parse_line_time_reads_a_bytearray_slice():
    buf = bytearray(b'xx\nNov 28 23:15:16 web01 app: x\n')
    assert parse_line_time(buf[3:], REF) == local(2025, 11, 28, 23, 15, 16)


@pytest.mark.parametrize('fields, ref, expected', [
    # Same year when not in the future of the reference.
    ((11, 28, 23, 15, 16), local(2025, 11, 29), local(2025, 11, 28, 23, 15, 16)),
    # A line from the reference day is accepted even slightly in its future (clock steps).
    ((11, 30, 1, 0, 0), local(2025, 11, 29), local(2025, 11, 30, 1, 0, 0)),
    # New year: December lines read in January belong to the year before.
    ((12, 31, 23, 59, 59), local(2026, 1, 1, 0, 5), local(2025, 12, 31, 23, 59, 59)),
    # February 29 goes back to the last leap year.
    ((2, 29, 12, 0, 0), local(2026, 3, 1), local(2024, 2, 29, 12, 0, 0)),
])
def test_infer_year(fields, ref, expected):
    assert infer_year_epoch(fields, 0.0, ref) == expected


NOW = utc(2025, 11, 28, 14, 0, 0)  # 23:00 local


@pytest.mark.parametrize('spec, expected', [
    ('now', NOW),
    ('-30m', NOW - 1800),
    ('30m', NOW - 1800),
    ('- 2h', NOW - 7200),
    ('-1d', NOW - 86400),
    ('-90s', NOW - 90),
    ('-1w', NOW - 7 * 86400),
    ('2025-11-28T23:00:00+09:00', utc(2025, 11, 28, 14)),
    ('2025-11-28T14:00:00Z', utc(2025, 11, 28, 14)),
    ('2025-11-28 23:00', local(2025, 11, 28, 23)),
    ('2025-11-28', local(2025, 11, 28)),
    (' 2025-11-28T23:30:15 ', local(2025, 11, 28, 23, 30, 15)),
])
def test_parse_time_spec(spec, expected):
    assert parse_time_spec(spec, NOW) == expected


@pytest.mark.parametrize('spec', ['yesterday', '-30x', '2025-11-28T23:00:00 trailing', '2025-02-30', ''])
def test_parse_time_spec_rejects_with_the_accepted_forms(spec):
    with pytest.raises(ValueError, match=r"cannot read .* use 'now', a relative time such as '-30m'"):
        parse_time_spec(spec, NOW)


def test_format_epoch_uses_the_local_offset():
    assert format_epoch(utc(2025, 11, 28, 14, 15, 16)) == '2025-11-28T23:15:16+09:00'
    assert format_epoch(utc(2025, 11, 28, 14, 15, 16) + 0.25) == '2025-11-28T23:15:16.250000+09:00'
    assert format_epoch(None) is None
