# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block scanning: matching, line numbers across blocks, limits and time windows."""

import calendar
import io
import random
import re

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _logscan_scan
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_scan import (
    Pattern,
    Scanner,
    Source,
    count_newlines,
    literal_line_ends,
    regex_line_ends,
    scan_stream,
    seek_to_time,
)

pytestmark = pytest.mark.usefixtures('utc_time')


def lines_at(block, ends):
    """The text of the lines ending at ends."""
    return [bytes(block[block.rfind(b'\n', 0, end) + 1:end]) for end in ends]


@pytest.mark.parametrize('block, needle, expected', [
    (b'a error\nb ok\nc error error\n', b'error', [b'a error', b'c error error']),
    (b'error\n', b'error', [b'error']),
    (b'no match here\n', b'error', []),
    # The last line of a finished file has no line end.
    (b'x\ntail error', b'error', [b'tail error']),
    # A needle at the very start and one spanning most of a line.
    (b'abc\nabcd\n', b'abc', [b'abc', b'abcd']),
    # Multibyte UTF-8 is matched as bytes.
    ('温度 警告\n湿度 正常\n'.encode(), '警告'.encode(), ['温度 警告'.encode()]),
])
def test_literal_line_ends(block, needle, expected):
    assert lines_at(block, literal_line_ends(block, len(block), needle)) == expected


@pytest.mark.parametrize('block, regex, expected', [
    (b'err 500\nerr 404\nok 500\n', rb'^err 5\d\d$', [b'err 500']),
    (b'a\n\nb\n', rb'^$', [b'']),
    # Several matches in one line count the line once.
    (b'1 2 3\nx\n', rb'\d', [b'1 2 3']),
    (b'x\nlast 9', rb'\d', [b'last 9']),
])
def test_regex_line_ends(block, regex, expected):
    compiled = re.compile(regex, re.MULTILINE)
    assert lines_at(block, regex_line_ends(block, len(block), compiled)) == expected


def test_line_ends_stop_at_end():
    block = b'error one\nerror two\n'
    assert lines_at(block, literal_line_ends(block, 10, b'error')) == [b'error one']


@pytest.mark.parametrize('data, start, end, expected', [
    (b'', 0, 0, 0),
    (b'a\nb\nc', 0, 5, 2),
    (b'a\nb\nc', 2, 5, 1),
    (b'\n\n\n\n\n\n\n', 1, 6, 5),
    (b'no line end', 0, 11, 0),
    # Across many pieces, with a piece boundary on a newline and inside a line.
    (b'ab\ncd\n' * 50, 0, 300, 100),
    (b'ab\ncd\n' * 50, 7, 299, 97),
])
def test_count_newlines(monkeypatch, data, start, end, expected):
    monkeypatch.setattr(_logscan_scan, 'COUNT_PIECE', 7)
    assert count_newlines(bytearray(data), start, end) == expected == data[start:end].count(b'\n')


@pytest.mark.parametrize('kwargs, message', [
    ({'name': '', 'text': 'x'}, 'non-empty name'),
    ({'name': 'p', 'text': ''}, "pattern 'p' is empty"),
    ({'name': 'p', 'text': 'a\nb'}, 'contains a line break'),
    ({'name': 'p', 'text': '(', 'is_regex': True}, "pattern 'p' is not a valid regular expression"),
    ({'name': 'p', 'text': 'x', 'severity': 'fatal'}, "severity 'fatal'; use one of info, warn, crit"),
])
def test_bad_patterns_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Pattern(**kwargs)


def matches(kept):
    """The result dictionaries of kept matches."""
    return [match.as_dict() for match in kept]


def scan_bytes(data, patterns, block_size, keep=3, **scanner_kwargs):
    scanner = Scanner(patterns, keep=keep, **scanner_kwargs)
    source = Source('mem.log')
    limited = scan_stream(io.BytesIO(data), scanner, source, final=True, block_size=block_size)
    return scanner, source, limited


def reference(data, patterns):
    """What a line-by-line scan finds: per pattern, the (line number, text) of matching lines."""
    found = dict((pattern.name, []) for pattern in patterns)
    for number, line in enumerate(data.split(b'\n'), 1):
        if number == data.count(b'\n') + 1 and not line:
            break
        for pattern in patterns:
            if pattern.regex is not None:
                hit = pattern.regex.search(line) is not None
            elif pattern.ignore_case:
                hit = pattern.needle in line.lower()
            else:
                hit = pattern.needle in line
            if hit:
                found[pattern.name].append((number, line.decode('utf-8', 'replace')))
    return found


def generated_log(seed, lines):
    rnd = random.Random(seed)  # noqa: S311 - test data, not secrets
    words = ['alpha', 'beta', 'ERROR', 'error', 'Warning', 'disk full', 'ok', 'x' * 40, '']
    out = []
    for number in range(lines):
        # Some very long lines, longer than the smallest block sizes used.
        width = rnd.choice([1, 2, 3, 30]) if number % 17 else 1
        out.append(' '.join(rnd.choice(words) for _unused in range(width)))
    return ('\n'.join(out) + '\n').encode()


PATTERNS = [
    ('plain', dict(text='error')),
    ('folded', dict(text='ERROR', ignore_case=True)),
    ('spaced', dict(text='disk full')),
    ('regex', dict(text=r'^(alpha|beta) \w+$', is_regex=True)),
    ('regex_folded', dict(text=r'warning', is_regex=True, ignore_case=True)),
]


@pytest.mark.parametrize('block_size', [8, 13, 64, 1000, 1 << 20])
@pytest.mark.parametrize('seed', [1, 2])
def test_scan_matches_a_line_by_line_reference_at_any_block_size(block_size, seed):
    data = generated_log(seed, 400)
    patterns = [Pattern(name, **kwargs) for name, kwargs in PATTERNS]
    scanner, source, limited = scan_bytes(data, patterns, block_size)
    expected = reference(data, patterns)
    assert not limited
    assert source.lines == data.count(b'\n')
    assert source.bytes == len(data) == source.offset
    for tally in scanner.tallies:
        want = expected[tally.pattern.name]
        assert want, 'the generated log should match every pattern'
        assert tally.count == len(want)
        assert [(m['line'], m['text']) for m in matches(tally.first)] == want[:3]
        assert [(m['line'], m['text']) for m in matches(tally.last)] == want[-3:]
        for match in matches(tally.first):
            assert data[match['offset']:].startswith(match['text'].encode())


def test_a_line_longer_than_the_block_grows_the_buffer():
    data = b'short\n' + b'y' * 5000 + b' error\nend error\n'
    scanner, source, _limited = scan_bytes(data, [Pattern('e', 'error')], block_size=16)
    tally = scanner.tallies[0]
    assert tally.count == 2
    assert [m['line'] for m in matches(tally.first)] == [2, 3]
    assert source.lines == 3


def test_partial_last_line_waits_unless_final():
    data = b'one error\ntwo err'
    scanner = Scanner([Pattern('e', 'err')])
    source = Source('mem.log')
    scan_stream(io.BytesIO(data), scanner, source, block_size=4)
    assert (source.offset, source.lines, scanner.tallies[0].count) == (10, 1, 1)
    scanner = Scanner([Pattern('e', 'err')])
    source = Source('mem.log')
    scan_stream(io.BytesIO(data), scanner, source, final=True, block_size=4)
    assert (source.offset, source.lines, scanner.tallies[0].count) == (len(data), 2, 2)


def test_scan_continues_from_an_offset_with_line_numbers():
    data = b'a\nb\nc error\n'
    stream = io.BytesIO(data)
    stream.seek(4)
    scanner = Scanner([Pattern('e', 'error')])
    source = Source('mem.log', offset=4, line=2)
    scan_stream(stream, scanner, source)
    match = matches(scanner.tallies[0].first)[0]
    assert (match['line'], match['offset'], match['text']) == (3, 4, 'c error')
    assert source.lines == 1


def test_unknown_line_numbers_stay_unknown():
    scanner = Scanner([Pattern('e', 'error')])
    source = Source('mem.log', line=None)
    scan_stream(io.BytesIO(b'x\nerror\n'), scanner, source)
    assert matches(scanner.tallies[0].first)[0]['line'] is None
    assert source.lines == 2


@pytest.mark.parametrize('limit, progress, expected_offset', [
    # Stops at the last line end within the limit.
    (25, True, 20),
    (20, True, 20),
    # At least one whole line, even past the limit, and only that one.
    (3, True, 9),
    # Unless the caller already made progress.
    (3, False, 0),
    (15, False, 10),
    # The limit is not reached.
    (1000, True, 40),
])
def test_byte_limit_stops_at_a_line_end(limit, progress, expected_offset):
    data = b''.join(b'line %03d\n\n' % number for number in range(4))  # 10 bytes per record
    scanner = Scanner([Pattern('l', 'line')])
    source = Source('mem.log')
    limited = scan_stream(io.BytesIO(data), scanner, source, limit, block_size=8, progress=progress)
    assert source.offset == source.bytes == expected_offset
    assert limited == (expected_offset < len(data))
    assert scanner.tallies[0].count == data[:expected_offset].count(b'line')


def test_keep_zero_counts_only():
    scanner, _source, _limited = scan_bytes(b'error\nerror\n', [Pattern('e', 'error')], 64, keep=0)
    tally = scanner.tallies[0]
    assert (tally.count, matches(tally.first), matches(tally.last)) == (2, [], [])


def test_long_lines_are_cut_and_carriage_returns_dropped():
    data = ('x' * 50 + ' error ' + 'é' * 20 + '\r\n').encode()
    scanner, _source, _limited = scan_bytes(data, [Pattern('e', 'error')], 64, max_line_length=60)
    text = matches(scanner.tallies[0].first)[0]['text']
    assert text == ('x' * 50 + ' error ' + 'é' * 3)
    scanner, _source, _limited = scan_bytes(data, [Pattern('e', 'error')], 64)
    assert matches(scanner.tallies[0].first)[0]['text'].endswith('é')


def utc(hour, minute, second=0):
    return float(calendar.timegm((2025, 11, 28, hour, minute, second, 0, 0, 0)))


WINDOW_LOG = (
    b'2025-11-28T10:00:00Z app: error early\n'
    b'2025-11-28T10:30:00Z app: error inside\n'
    b'    continuation with error\n'
    b'2025-11-28T10:45:00Z app: fine\n'
    b'2025-11-28T11:00:00Z app: error at until\n'
    b'2025-11-28T11:30:00Z app: error late\n'
)


@pytest.mark.parametrize('since, until, expected', [
    (utc(10, 15), utc(11, 0), ['app: error inside', 'continuation with error', 'app: error at until']),
    (utc(10, 50), None, ['app: error at until', 'app: error late']),
    (None, utc(10, 0), ['app: error early']),
    (utc(12, 0), None, []),
])
def test_window_keeps_lines_inside_it(since, until, expected):
    scanner, source, _limited = scan_bytes(WINDOW_LOG, [Pattern('e', 'error')], 1 << 16, keep=10,
                                           since=since, until=until)
    texts = [m['text'].split(' ', 1)[1].strip() if m['text'].startswith('2025') else m['text'].strip()
             for m in matches(scanner.tallies[0].first)]
    assert texts == expected
    assert scanner.tallies[0].count == len(expected)
    assert source.first_time == utc(10, 0)


def test_window_continuation_line_takes_the_time_of_the_line_before():
    scanner, _source, _limited = scan_bytes(WINDOW_LOG, [Pattern('e', 'continuation')], 1 << 16,
                                            since=utc(10, 30), until=utc(10, 30))
    assert scanner.tallies[0].count == 1
    assert matches(scanner.tallies[0].first)[0]['timestamp'] is None


def test_window_stops_reading_after_until():
    data = b''.join(b'2025-11-28T%02d:00:00Z app: error\n' % hour for hour in range(24))
    scanner, source, limited = scan_bytes(data, [Pattern('e', 'error')], 64, until=utc(3, 0))
    assert scanner.tallies[0].count == 4
    assert not limited
    assert source.bytes < len(data) // 2


def test_time_range_of_scanned_data():
    _scanner, source, _limited = scan_bytes(b'no time\n' + WINDOW_LOG + b'trailer\n', [Pattern('e', 'x')], 32)
    assert (source.first_time, source.last_time) == (utc(10, 0), utc(11, 30))


def test_match_records_carry_timestamps():
    scanner, _source, _limited = scan_bytes(WINDOW_LOG, [Pattern('e', 'inside')], 64)
    assert matches(scanner.tallies[0].first)[0]['timestamp'] == '2025-11-28T10:30:00+00:00'


def sorted_log(lines):
    return b''.join(b'2025-11-28T%02d:%02d:%02dZ host app[1]: message %06d padding\n'
                    % (n // 3600, n // 60 % 60, n % 60, n) for n in range(lines))


@pytest.mark.parametrize('since_second', [0, 1, 17000, 43199, 50000])
def test_seek_to_time_lands_before_the_first_line_in_the_window(since_second):
    data = sorted_log(43200)
    since = utc(0, 0) + since_second
    offset = seek_to_time(io.BytesIO(data), len(data), since, None, probe=4096)
    assert offset == 0 or data[offset - 1:offset] == b'\n'
    first_in_window = data.find(b'message %06d ' % since_second)
    start_of_that_line = data.rfind(b'\n', 0, first_in_window) + 1 if first_in_window >= 0 else len(data)
    assert offset <= start_of_that_line
    # The bisection lands within a probe of the window, skipping the rest of the file.
    assert start_of_that_line - offset <= 4096 + 100 or since_second == 50000


def test_seek_to_time_moves_earlier_where_lines_have_no_time():
    data = b'no timestamps here\n' * 20000
    assert seek_to_time(io.BytesIO(data), len(data), utc(12, 0), None, probe=4096) == 0
