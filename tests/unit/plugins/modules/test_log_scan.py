# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The log_scan module as Ansible runs it: offsets, rotation, limits, windows and errors."""

import calendar
import gzip
import json
import os
import pathlib
import shutil
import stat
import time

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.module_utils import _logscan, _logscan_state
from ansible_collections.opsrun.ops.plugins.modules import log_scan

pytestmark = pytest.mark.usefixtures('utc_time')

FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures' / 'log_scan'
# The fixture logs were last written on 2025-11-29 00:00 UTC (the year of their syslog lines).
FIXTURE_MTIME = calendar.timegm((2025, 11, 29, 0, 0, 0, 0, 0, 0))

PATTERNS = [
    {'name': 'oom', 'pattern': 'Out of memory', 'severity': 'crit'},
    {'name': 'segfault', 'pattern': 'segfault', 'severity': 'warn'},
    {'name': 'auth', 'pattern': 'AUTHENTICATION FAILURE', 'ignore_case': True, 'severity': 'info'},
]


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / 'state' / 'log_scan.json'


def run_module(capsys, args):
    """Run main() with args; return (exit code, result)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        log_scan.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def scan(capsys, state_file):
    """Scan paths with the state file of the test; the result of a successful run."""

    def run(paths, patterns=None, **options):
        args = dict(paths=[str(path) for path in paths], patterns=patterns or PATTERNS,
                    state_file=str(state_file))
        args.update(options)
        code, result = run_module(capsys, args)
        assert code == 0, result
        return result

    return run


def copy_fixture(name, directory):
    target = directory / name
    shutil.copyfile(str(FIXTURES / name), str(target))
    os.utime(str(target), (FIXTURE_MTIME, FIXTURE_MTIME))
    return target


def warning_texts(result):
    """The warnings of a result, whether plain strings or structured warning summaries."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


def texts(result, name, which='first'):
    return [match['text'] for match in result['patterns'][name][which]]


def counts(result):
    return dict((name, found['count']) for name, found in result['patterns'].items())


def numbered(prefix, first, last):
    return b''.join(b'%s %d\n' % (prefix, number) for number in range(first, last))


def test_first_run_reads_the_whole_file_then_only_new_lines(scan, tmp_path, state_file):
    log = copy_fixture('syslog', tmp_path)
    result = scan([log])
    assert result['changed'] is True
    assert result['mode'] == 'offsets'
    assert counts(result) == {'oom': 1, 'segfault': 1, 'auth': 2}
    assert result['summary'] == {
        'severity': 'crit', 'matches': 4, 'by_severity': {'info': 2, 'warn': 1, 'crit': 1}}
    oom = result['patterns']['oom']['first'][0]
    assert (oom['file'], oom['line'], oom['timestamp']) == (str(log), 7, '2025-11-28T23:15:16+00:00')
    assert oom['text'].startswith(
        'Nov 28 23:15:16 web01 kernel: [812957.000001] Out of memory: Killed process 4242')
    file_result = result['files'][0]
    assert file_result['status'] == 'scanned'
    assert file_result['bytes_scanned'] == log.stat().st_size
    assert file_result['lines_scanned'] == 10
    assert (file_result['first_timestamp'], file_result['last_timestamp']) == (
        '2025-11-28T23:00:01+00:00', '2025-11-28T23:30:00+00:00')
    assert result['time_range'] == {'first': '2025-11-28T23:00:01+00:00', 'last': '2025-11-28T23:30:00+00:00'}

    with log.open('ab') as stream:
        stream.write(b'Nov 28 23:40:00 web01 kernel: Out of memory: Killed process 5000 (python3)\n')
    os.utime(str(log), (FIXTURE_MTIME, FIXTURE_MTIME))
    result = scan([log])
    assert result['changed'] is True
    assert counts(result) == {'oom': 1, 'segfault': 0, 'auth': 0}
    assert result['patterns']['oom']['last'][0]['line'] == 11
    assert result['summary']['severity'] == 'crit'
    assert result['files'][0]['lines_scanned'] == 1

    written = state_file.stat()
    result = scan([log])
    assert result['changed'] is False
    assert result['summary'] == {
        'severity': 'ok', 'matches': 0, 'by_severity': {'info': 0, 'warn': 0, 'crit': 0}}
    assert result['files'][0]['status'] == 'unchanged'
    # Nothing moved, so the state file was not rewritten.
    assert state_file.stat().st_ino == written.st_ino
    assert state_file.stat().st_mtime_ns == written.st_mtime_ns


def test_unchanged_rescan_does_not_read_the_file(scan, tmp_path, monkeypatch):
    log = copy_fixture('syslog', tmp_path)
    scan([log])

    def no_reading(*_args, **_kwargs):
        raise AssertionError('an unchanged file was read')

    monkeypatch.setattr(_logscan, 'scan_stream', no_reading)
    assert scan([log])['files'][0]['status'] == 'unchanged'


def test_state_file_is_private(scan, tmp_path, state_file):
    scan([copy_fixture('syslog', tmp_path)])
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    stored = json.loads(state_file.read_text())
    entry = stored['files'][str(tmp_path / 'syslog')]
    assert entry['offset'] == (tmp_path / 'syslog').stat().st_size
    assert entry['line'] == 10
    assert entry['ino'] == (tmp_path / 'syslog').stat().st_ino


def test_check_mode_scans_but_does_not_move_offsets(scan, tmp_path, state_file):
    log = copy_fixture('syslog', tmp_path)
    result = scan([log], _ansible_check_mode=True)
    assert result['changed'] is True
    assert counts(result) == {'oom': 1, 'segfault': 1, 'auth': 2}
    assert not state_file.exists()
    scan([log])
    before = state_file.read_bytes()
    with log.open('ab') as stream:
        stream.write(b'Nov 28 23:41:00 web01 app: segfault again\n')
    for _unused in range(2):
        result = scan([log], _ansible_check_mode=True)
        assert counts(result)['segfault'] == 1
    assert state_file.read_bytes() == before


def test_from_start_false_starts_at_the_end(scan, tmp_path):
    log = copy_fixture('syslog', tmp_path)
    with log.open('ab') as stream:
        stream.write(b'Nov 28 23:31:00 web01 app: segfault in a partial li')
    result = scan([log], from_start=False)
    assert result['changed'] is True
    assert result['summary']['matches'] == 0
    with log.open('ab') as stream:
        stream.write(b'ne\nNov 28 23:32:00 web01 app: Out of memory\n')
    result = scan([log], from_start=False)
    assert counts(result) == {'oom': 1, 'segfault': 1, 'auth': 0}
    # Where a file was first seen at its end, line numbers are unknown.
    assert result['patterns']['oom']['first'][0]['line'] is None


def test_partial_last_line_is_read_once_complete(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b'one\nsegfault in a partial li')
    assert counts(scan([log]))['segfault'] == 0
    with log.open('ab') as stream:
        stream.write(b'ne\n')
    result = scan([log])
    assert texts(result, 'segfault') == ['segfault in a partial line']
    assert result['patterns']['segfault']['first'][0]['line'] == 2


def rotate(log, suffix, compress=False):
    """Rename log to log<suffix> (gzip-compressed when asked) and start a new empty log."""
    rotated = log.with_name(log.name + suffix)
    os.rename(str(log), str(rotated))
    if compress:
        with rotated.open('rb') as source, gzip.open(str(rotated) + '.gz', 'wb') as target:
            shutil.copyfileobj(source, target)
        rotated.unlink()
        rotated = rotated.with_name(rotated.name + '.gz')
    log.write_bytes(b'')
    return rotated


@pytest.mark.parametrize('compress', [False, True])
def test_rotation_finishes_the_previous_file_first(scan, tmp_path, compress):
    log = tmp_path / 'app.log'
    log.write_bytes(numbered(b'line', 1, 4))
    scan([log])
    with log.open('ab') as stream:
        stream.write(b'segfault before rotation\n')
    rotated = rotate(log, '.1', compress)
    log.write_bytes(b'segfault after rotation\n')
    result = scan([log])
    file_result = result['files'][0]
    assert file_result['rotated'] is True
    assert file_result['truncated'] is False
    assert file_result['warnings'] == []
    assert texts(result, 'segfault') == ['segfault before rotation', 'segfault after rotation']
    before, after = result['patterns']['segfault']['first']
    assert (before['file'], before['line']) == (str(rotated), 4)
    assert (after['file'], after['line']) == (str(log), 1)
    assert [(source['path'], source['compressed'], source['start']) for source in file_result['sources']] == [
        (str(rotated), compress, 21), (str(log), False, 0)]
    assert scan([log])['files'][0]['status'] == 'unchanged'


def test_two_rotations_between_runs_read_every_generation(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b'segfault 1\n')
    scan([log])
    with log.open('ab') as stream:
        stream.write(b'segfault 2\n')
    rotate(log, '.1')
    log.write_bytes(b'segfault 3\n')
    os.utime(str(tmp_path / 'app.log.1'), (FIXTURE_MTIME, FIXTURE_MTIME))
    # The second rotation: .1 moves to .2.gz, the log to .1.
    with (tmp_path / 'app.log.1').open('rb') as source, \
            gzip.open(str(tmp_path / 'app.log.2.gz'), 'wb') as target:
        shutil.copyfileobj(source, target)
    os.utime(str(tmp_path / 'app.log.2.gz'), (FIXTURE_MTIME, FIXTURE_MTIME))
    (tmp_path / 'app.log.1').unlink()
    rotate(log, '.1')
    log.write_bytes(b'segfault 4\n')
    result = scan([log])
    assert texts(result, 'segfault') == ['segfault 2', 'segfault 3', 'segfault 4']


def test_copytruncate_reads_the_rest_from_the_copy(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b'Nov 28 23:00:00 app: started with enough bytes for a fingerprint\n')
    scan([log])
    with log.open('ab') as stream:
        stream.write(b'segfault before the copy\n')
    shutil.copyfile(str(log), str(tmp_path / 'app.log.1'))
    with log.open('wb') as stream:
        stream.write(b'segfault after the truncation\n')
    result = scan([log])
    assert texts(result, 'segfault') == ['segfault before the copy', 'segfault after the truncation']
    assert result['files'][0]['rotated'] is True
    assert result['files'][0]['truncated'] is False


def test_truncation_restarts_from_the_start_with_a_warning(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(numbered(b'segfault', 1, 50))
    scan([log])
    log.write_bytes(b'segfault anew\n')
    result = scan([log])
    file_result = result['files'][0]
    assert file_result['truncated'] is True
    assert file_result['rotated'] is False
    assert texts(result, 'segfault') == ['segfault anew']
    assert file_result['warnings'] == [
        '%s was truncated or rewritten since the last run; scanning it again from its start' % log]
    assert file_result['warnings'][0] in warning_texts(result)


def test_without_include_rotated_the_rest_of_a_rotated_file_is_skipped(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b'start\n')
    scan([log], include_rotated=False)
    with log.open('ab') as stream:
        stream.write(b'segfault never seen\n')
    rotate(log, '.1')
    log.write_bytes(b'segfault new\n')
    result = scan([log], include_rotated=False)
    assert texts(result, 'segfault') == ['segfault new']
    assert result['files'][0]['rotated'] is True


def test_rotated_previous_file_not_found_is_a_warning(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b'start\n')
    scan([log])
    # Moved where no rotated name leads; the link keeps the new file from reusing the inode.
    (tmp_path / 'elsewhere').mkdir()
    os.link(str(log), str(tmp_path / 'elsewhere' / 'kept'))
    log.unlink()
    log.write_bytes(b'segfault in a brand new file\n')
    result = scan([log])
    file_result = result['files'][0]
    assert (file_result['rotated'], file_result['truncated']) == (True, False)
    assert texts(result, 'segfault') == ['segfault in a brand new file']
    assert file_result['warnings'] == [
        '%s was rotated, but the previous file was not found among the rotated files; '
        'lines written to it after offset 6 were not scanned' % log]


def test_byte_limit_continues_next_run(scan, tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(numbered(b'segfault', 1, 201))  # 2492 bytes
    seen = []
    runs = 0
    while True:
        result = scan([log], max_bytes=1000, lines=1000)
        runs += 1
        seen.extend((match['line'], match['text']) for match in result['patterns']['segfault']['first'])
        assert result['bytes_scanned'] <= 1000
        if not result['truncated_by_limit']:
            break
        assert result['files'][0]['truncated_by_limit'] is True
    assert runs == 3
    assert seen == [(number, 'segfault %d' % number) for number in range(1, 201)]


@pytest.mark.parametrize('compress', [False, True])
def test_byte_limit_inside_a_rotated_file_continues_there(scan, tmp_path, compress):
    log = tmp_path / 'app.log'
    log.write_bytes(numbered(b'segfault', 1, 11))
    scan([log])
    with log.open('ab') as stream:
        stream.write(numbered(b'segfault', 11, 201))
    rotate(log, '.1', compress)
    log.write_bytes(numbered(b'segfault', 201, 301))
    seen = []
    for _unused in range(10):
        result = scan([log], max_bytes=1000, lines=1000)
        seen.extend(texts(result, 'segfault'))
        if not result['truncated_by_limit']:
            break
    assert seen == ['segfault %d' % number for number in range(11, 301)]
    assert scan([log])['files'][0]['status'] == 'unchanged'


def test_byte_limit_is_shared_fairly(scan, tmp_path):
    big = tmp_path / 'big.log'
    small = tmp_path / 'small.log'
    big.write_bytes(numbered(b'segfault', 1, 1001))  # 12 893 bytes
    small.write_bytes(numbered(b'segfault', 1, 11))  # 111 bytes
    result = scan([big, small], max_bytes=4000)
    big_result, small_result = result['files']
    # The small file is read completely although it comes second...
    assert small_result['truncated_by_limit'] is False
    assert small_result['bytes_scanned'] == 111
    # ...and what it did not need went to the big one in a second pass.
    assert big_result['truncated_by_limit'] is True
    assert 3850 < big_result['bytes_scanned'] <= 4000 - 111
    assert len(big_result['sources']) == 1
    assert result['truncated_by_limit'] is True


def test_missing_file_and_unmatched_glob_do_not_fail(scan, tmp_path):
    log = copy_fixture('syslog', tmp_path)
    result = scan([log, tmp_path / 'absent.log', tmp_path / 'none-*.log'])
    assert [(item['path'], item['status']) for item in result['files']] == [
        (str(log), 'scanned'),
        (str(tmp_path / 'absent.log'), 'missing'),
        (str(tmp_path / 'none-*.log'), 'no_match'),
    ]
    assert counts(result)['oom'] == 1


def test_a_file_that_disappears_keeps_its_state_and_finishes_its_rotated_copy(scan, tmp_path, state_file):
    log = tmp_path / 'app.log'
    log.write_bytes(b'start\n')
    scan([log])
    with log.open('ab') as stream:
        stream.write(b'segfault last words\n')
    os.rename(str(log), str(tmp_path / 'app.log.1'))
    result = scan([log])
    assert result['files'][0]['status'] == 'missing'
    assert texts(result, 'segfault') == ['segfault last words']
    assert str(log) in json.loads(state_file.read_text())['files']
    log.write_bytes(b'segfault in the new file\n')
    assert texts(scan([log]), 'segfault') == ['segfault in the new file']


def test_unreadable_file_is_reported_and_others_still_scanned(scan, tmp_path, monkeypatch):
    locked = tmp_path / 'secure'
    locked.write_bytes(b'segfault hidden\n')
    log = copy_fixture('syslog', tmp_path)
    real_read_head = _logscan.read_head

    def read_head(path, *args, **kwargs):
        if path == str(locked):
            raise PermissionError(13, 'Permission denied', path)
        return real_read_head(path, *args, **kwargs)

    monkeypatch.setattr(_logscan, 'read_head', read_head)
    result = scan([locked, log])
    assert result['files'][0]['status'] == 'error'
    assert result['files'][0]['error'] == (
        'cannot read %s: Permission denied; run with become or give the connecting user read access' % locked)
    assert result['files'][1]['status'] == 'scanned'
    assert counts(result) == {'oom': 1, 'segfault': 1, 'auth': 2}


def test_a_directory_is_an_error_for_that_path_only(scan, tmp_path):
    (tmp_path / 'logs').mkdir()
    result = scan([tmp_path / 'logs', copy_fixture('syslog', tmp_path)])
    assert result['files'][0]['error'] == (
        '%s is not a regular file; list log files only' % (tmp_path / 'logs'))
    assert result['files'][1]['status'] == 'scanned'


def test_globs_and_fixture_formats(scan, tmp_path):
    for name in ('syslog', 'journal-short-iso.log', 'nginx-access.log', 'app.log'):
        copy_fixture(name, tmp_path)
    patterns = [
        {'name': 'server_error', 'pattern': r'" 5\d\d ', 'regex': True, 'severity': 'crit'},
        {'name': 'error', 'pattern': 'error', 'ignore_case': True, 'severity': 'warn'},
        {'name': 'db_fatal', 'pattern': r'\b(FATAL|PANIC):', 'regex': True, 'severity': 'crit'},
    ]
    result = scan([tmp_path / '*.log'], patterns=patterns, lines=1)
    assert [os.path.basename(item['path']) for item in result['files']] == [
        'app.log', 'journal-short-iso.log', 'nginx-access.log']
    assert counts(result) == {'server_error': 2, 'error': 4, 'db_fatal': 1}
    last_server_error, = result['patterns']['server_error']['last']
    assert (os.path.basename(last_server_error['file']), last_server_error['timestamp']) == (
        'nginx-access.log', '2025-11-28T23:09:30+00:00')
    first_error, = result['patterns']['error']['first']
    assert (first_error['line'], first_error['timestamp']) == (2, '2025-11-28T23:03:12.417000+00:00')
    assert result['patterns']['db_fatal']['first'][0]['timestamp'] == '2025-11-28T23:18:30+00:00'
    assert result['time_range'] == {
        'first': '2025-11-28T23:00:00.001000+00:00', 'last': '2025-11-28T23:18:30+00:00'}


def iso(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch)).encode()


def test_window_mode_filters_by_time_and_leaves_the_state_alone(scan, tmp_path, state_file):
    now = int(time.time())
    log = tmp_path / 'app.log'
    log.write_bytes(b''.join(b'%s app: segfault %d minutes ago\n' % (iso(now - minutes * 60), minutes)
                             for minutes in (120, 45, 20, 5)))
    result = scan([log], since='-30m')
    assert result['mode'] == 'window'
    assert result['changed'] is False
    assert result['state_file'] is None
    assert texts(result, 'segfault')[0].endswith('segfault 20 minutes ago')
    assert counts(result)['segfault'] == 2
    assert not state_file.exists()
    since = time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(now - 50 * 60))
    until = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now - 10 * 60))
    result = scan([log], since=since, until=until)
    assert [text.split(': ', 1)[1] for text in texts(result, 'segfault')] == [
        'segfault 45 minutes ago', 'segfault 20 minutes ago']
    assert result['window']['since'] == time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(now - 50 * 60))


def test_window_mode_reads_rotated_generations_written_in_the_window(scan, tmp_path):
    now = int(time.time())
    log = tmp_path / 'app.log'
    with gzip.open(str(tmp_path / 'app.log.2.gz'), 'wb') as stream:
        stream.write(b'%s app: segfault long ago\n' % iso(now - 86400 * 3))
    os.utime(str(tmp_path / 'app.log.2.gz'), (now - 86400 * 3, now - 86400 * 3))
    with gzip.open(str(tmp_path / 'app.log.1.gz'), 'wb') as stream:
        stream.write(b'%s app: segfault in the old file\n' % iso(now - 3600))
    os.utime(str(tmp_path / 'app.log.1.gz'), (now - 3500, now - 3500))
    log.write_bytes(b'%s app: segfault in the current file\n' % iso(now - 60))
    result = scan([log], since='-2h')
    assert texts(result, 'segfault') == [
        iso(now - 3600).decode() + ' app: segfault in the old file',
        iso(now - 60).decode() + ' app: segfault in the current file',
    ]
    # The generation written before the window opened was not even opened.
    assert [os.path.basename(source['path']) for source in result['files'][0]['sources']] == [
        'app.log.1.gz', 'app.log']


def test_window_mode_in_a_large_file_skips_to_the_window(scan, tmp_path, monkeypatch):
    monkeypatch.setattr(log_scan, 'BLOCK_SIZE', 4096)
    now = int(time.time())
    log = tmp_path / 'app.log'
    log.write_bytes(b''.join(b'%s app: segfault %05d\n' % (iso(now - 20000 + second), second)
                             for second in range(20000)))
    result = scan([log], since=iso(now - 10).decode(), lines=20)
    assert texts(result, 'segfault')[0].endswith('segfault 19990')
    assert counts(result)['segfault'] == 10
    assert result['bytes_scanned'] < log.stat().st_size // 10
    assert result['patterns']['segfault']['first'][0]['line'] is None


@pytest.mark.parametrize('block_size', [16, 64, 1 << 20])
def test_block_size_does_not_change_the_result(scan, tmp_path, monkeypatch, block_size):
    monkeypatch.setattr(log_scan, 'BLOCK_SIZE', block_size)
    log = copy_fixture('syslog', tmp_path)
    result = scan([log])
    assert counts(result) == {'oom': 1, 'segfault': 1, 'auth': 2}
    assert [match['line'] for match in result['patterns']['auth']['first']] == [3, 9]
    assert result['files'][0]['lines_scanned'] == 10


BAD_OPTIONS = [
    ({'patterns': [{'name': 'a', 'pattern': 'x'}, {'name': 'a', 'pattern': 'y'}]},
     "pattern name 'a' is used twice in patterns; names must be unique"),
    ({'patterns': [{'name': 'a', 'pattern': '(unclosed', 'regex': True}]},
     "pattern 'a' is not a valid regular expression"),
    ({'patterns': [{'name': 'a', 'pattern': ''}]}, "pattern 'a' is empty"),
    ({'since': 'yesterday'}, "since: cannot read 'yesterday' as a time"),
    ({'since': '-1h', 'until': '-2h'}, 'since (-1h) is later than until (-2h); swap them'),
    ({'lines': -1}, 'lines must be at least 0, got -1'),
    ({'max_bytes': 0}, 'max_bytes must be at least 1, got 0'),
    ({'patterns': [{'name': 'a', 'pattern': 'x', 'severity': 'fatal'}]}, 'value of severity must be one of'),
]


@pytest.mark.parametrize('options, message', BAD_OPTIONS, ids=[case[1][:40] for case in BAD_OPTIONS])
def test_bad_options_fail_before_reading(capsys, tmp_path, state_file, options, message):
    args = {'paths': [str(copy_fixture('syslog', tmp_path))], 'patterns': PATTERNS,
            'state_file': str(state_file)}
    args.update(options)
    code, result = run_module(capsys, args)
    assert code == 1
    assert result['failed'] is True
    assert message in result['msg']
    assert not state_file.exists()


def test_unreadable_state_file_fails_and_says_what_to_do(capsys, tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_bytes(b'')
    args = {'paths': [str(copy_fixture('syslog', tmp_path))], 'patterns': PATTERNS,
            'state_file': str(blocker / 'log_scan.json')}
    code, result = run_module(capsys, args)
    assert code == 1
    assert result['msg'] == (
        'cannot read the state file %s: Not a directory; run with become, or set state_file to a file '
        'the connecting user may read and write' % (blocker / 'log_scan.json'))


def test_unwritable_state_file_fails_and_says_what_to_do(capsys, tmp_path, state_file, monkeypatch):
    def refuse(**_kwargs):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(_logscan_state.tempfile, 'mkstemp', refuse)
    args = {'paths': [str(copy_fixture('syslog', tmp_path))], 'patterns': PATTERNS,
            'state_file': str(state_file)}
    code, result = run_module(capsys, args)
    assert code == 1
    assert result['msg'] == (
        'cannot write the state file %s: Permission denied; run with become, or set state_file to a path '
        'the connecting user may write' % state_file)


def test_damaged_state_file_warns_and_starts_over(scan, tmp_path, state_file):
    state_file.parent.mkdir()
    state_file.write_text('{garbage')
    result = scan([copy_fixture('syslog', tmp_path)])
    assert counts(result)['oom'] == 1
    assert any('is not valid JSON' in warning for warning in warning_texts(result))
    assert json.loads(state_file.read_text())['version'] == 1
