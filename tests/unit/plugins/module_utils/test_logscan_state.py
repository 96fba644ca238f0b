# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""State of log_scan: rotation decisions, rotated siblings, and the state file itself."""

import gzip
import json
import os
import stat

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _logscan_state
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_state import (
    FINGERPRINT_SIZE,
    GROWN,
    NEW,
    REPLACED,
    STATE_RETENTION_SECONDS,
    TRUNCATED,
    UNCHANGED,
    StateError,
    decide_action,
    fingerprint,
    load_state,
    locate_previous,
    make_identity,
    prune_entries,
    rotated_siblings,
    save_state,
    tail_offset,
)

HEAD = b'Nov 28 23:15:16 web01 sshd[1]: first line of the file\n' * 10


def entry(head=HEAD, dev=1, ino=100, offset=1000):
    stored = make_identity(dev, ino, head[:FINGERPRINT_SIZE])
    stored.update(offset=offset, line=10)
    return stored


DECISIONS = [
    ('first sight', None, (1, 100, 5000, HEAD), NEW),
    ('nothing new', entry(), (1, 100, 1000, HEAD), UNCHANGED),
    ('appended', entry(), (1, 100, 1500, HEAD), GROWN),
    ('renamed away, new file', entry(), (1, 200, 10, b'new file\n'), REPLACED),
    ('new file with the same first bytes', entry(), (1, 200, 5000, HEAD), REPLACED),
    ('shorter than the offset', entry(), (1, 100, 10, HEAD[:10]), TRUNCATED),
    ('rewritten in place past the offset', entry(), (1, 100, 5000, b'X' + HEAD[1:]), TRUNCATED),
    ('inode reused by the next file', entry(), (1, 100, 5000, b'other content\n' * 30), TRUNCATED),
    # Device numbers of some volumes change across reboots; inode and content decide.
    ('device renumbered', entry(), (7, 100, 1500, HEAD), GROWN),
    ('device and content differ', entry(), (7, 100, 1500, b'Y' * 300), REPLACED),
    # Last seen with 20 bytes: those 20 are compared, whatever came after.
    ('short file grew', entry(head=HEAD[:20], offset=20), (1, 100, 600, HEAD), GROWN),
    ('short file replaced in place', entry(head=HEAD[:20], offset=20), (1, 100, 600, b'Z' * 600), TRUNCATED),
    ('empty file got lines', entry(head=b'', offset=0), (1, 100, 600, HEAD), GROWN),
    # A partial last line is not consumed: same size, offset before it.
    ('only a partial line more', entry(offset=990), (1, 100, 1000, HEAD), GROWN),
]


@pytest.mark.parametrize('stored, current, expected', [case[1:] for case in DECISIONS],
                         ids=[case[0] for case in DECISIONS])
def test_decide_action(stored, current, expected):
    dev, ino, size, head = current
    assert decide_action(stored, dev, ino, size, head[:FINGERPRINT_SIZE]) == expected


def write(path, data, mtime=None):
    path.write_bytes(data)
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))
    return path


def write_gz(path, data, mtime=None):
    with gzip.open(str(path), 'wb') as stream:
        stream.write(data)
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))
    return path


def test_rotated_siblings_names_and_order(tmp_path):
    for age, name in enumerate(['app.log.1', 'app.log.2.gz', 'app.log-20251127', 'app-20251126.log.gz',
                                'app.1.log', 'app.log_2025-11-25']):
        write(tmp_path / name, b'x\n', mtime=1_700_000_000 - age * 86400)
    for name in ['app.log', 'app.log.bak', 'app.logger.1', 'other.log.1', 'app.log.1.tmp']:
        write(tmp_path / name, b'x\n')
    (tmp_path / 'app.log.9').mkdir()
    found = rotated_siblings(str(tmp_path / 'app.log'))
    assert [(os.path.basename(path), compressed) for path, compressed, _info in found] == [
        ('app.log.1', False), ('app.log.2.gz', True), ('app.log-20251127', False),
        ('app-20251126.log.gz', True), ('app.1.log', False), ('app.log_2025-11-25', False),
    ]


def test_rotated_siblings_with_equal_mtimes_order_by_generation_then_date(tmp_path):
    # Quick rotations leave equal timestamps: generations then sort by their number (.9 before .10),
    # and dated copies by their date, newest first.
    for name in ['app.log.10.gz', 'app.log.2.gz', 'app.log.9.gz', 'app.log.1', 'app.log-20251126',
                 'app.log-20251127']:
        write(tmp_path / name, b'x\n', mtime=1_700_000_000)
    found = rotated_siblings(str(tmp_path / 'app.log'))
    assert [os.path.basename(path) for path, _compressed, _info in found] == [
        'app.log-20251127', 'app.log-20251126', 'app.log.1', 'app.log.2.gz', 'app.log.9.gz', 'app.log.10.gz',
    ]


def test_rotated_siblings_of_a_missing_directory(tmp_path):
    assert rotated_siblings(str(tmp_path / 'gone' / 'app.log')) == []


def stored_for(path, offset):
    info = os.stat(str(path))
    stored = make_identity(info.st_dev, info.st_ino, path.read_bytes()[:FINGERPRINT_SIZE])
    stored.update(offset=offset, line=1)
    return stored


def test_locate_previous_after_rename(tmp_path):
    log = write(tmp_path / 'app.log', HEAD)
    stored = stored_for(log, 100)
    os.rename(str(log), str(tmp_path / 'app.log.1'))
    write(tmp_path / 'app.log', b'fresh\n')
    previous, newer = locate_previous(str(log), stored, os.stat(str(log)))
    assert previous[0] == str(tmp_path / 'app.log.1')
    assert previous[1] is False
    assert newer == []


def test_locate_previous_compressed_with_newer_generations(tmp_path):
    log = write(tmp_path / 'app.log', HEAD)
    stored = stored_for(log, 100)
    log.unlink()
    write_gz(tmp_path / 'app.log.3.gz', HEAD, mtime=1_700_000_000)
    write_gz(tmp_path / 'app.log.2.gz', b'second generation\n', mtime=1_700_001_000)
    write(tmp_path / 'app.log.1', b'third generation\n', mtime=1_700_002_000)
    write(tmp_path / 'app.log', b'current\n')
    previous, newer = locate_previous(str(log), stored, os.stat(str(log)))
    assert (previous[0], previous[1]) == (str(tmp_path / 'app.log.3.gz'), True)
    assert [(path, compressed) for path, compressed, _info in newer] == [
        (str(tmp_path / 'app.log.2.gz'), True), (str(tmp_path / 'app.log.1'), False)]


def test_locate_previous_copytruncate_finds_the_copy(tmp_path):
    log = write(tmp_path / 'app.log', HEAD)
    stored = stored_for(log, 100)
    write(tmp_path / 'app.log.1', HEAD + b'more\n')
    log.write_bytes(b'')  # truncated in place: same inode
    previous, _newer = locate_previous(str(log), stored, os.stat(str(log)))
    assert previous[0] == str(tmp_path / 'app.log.1')


def test_locate_previous_never_returns_the_current_file(tmp_path):
    log = write(tmp_path / 'app.log', HEAD)
    stored = stored_for(log, 100)
    os.link(str(log), str(tmp_path / 'app.log.1'))  # same inode under a rotated name
    assert locate_previous(str(log), stored, os.stat(str(log))) == (None, [])


def test_locate_previous_of_an_empty_file_goes_by_inode(tmp_path):
    log = write(tmp_path / 'app.log', b'')
    stored = stored_for(log, 0)
    write(tmp_path / 'app.log.2', b'unrelated\n', mtime=1_700_000_000)
    os.rename(str(log), str(tmp_path / 'app.log.1'))
    (tmp_path / 'app.log.1').write_bytes(b'written after the last run\n')
    previous, _newer = locate_previous(str(log), stored, None)
    assert previous[0] == str(tmp_path / 'app.log.1')


def test_locate_previous_skips_a_damaged_gzip(tmp_path):
    log = write(tmp_path / 'app.log', HEAD)
    stored = stored_for(log, 100)
    write(tmp_path / 'app.log.1.gz', b'not gzip at all')
    assert locate_previous(str(log), stored, os.stat(str(log))) == (None, [])


@pytest.mark.parametrize('data, expected', [
    (b'', 0),
    (b'one\ntwo\n', 8),
    (b'one\ntwo\npartial', 8),
    (b'no line end at all', 0),
])
def test_tail_offset(tmp_path, data, expected):
    path = write(tmp_path / 'app.log', data)
    assert tail_offset(str(path), len(data)) == expected


def test_tail_offset_of_a_large_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_logscan_state, 'TAIL_PROBE', 16)
    data = b'x' * 100 + b'\n' + b'y' * 30 + b'\n' + b'partial line'
    path = write(tmp_path / 'app.log', data)
    assert tail_offset(str(path), len(data)) == 132


def test_state_file_round_trip_is_private_and_atomic(tmp_path):
    path = tmp_path / 'var' / 'opsrun' / 'log_scan.json'
    files = {'/var/log/syslog': dict(entry(), updated=1_700_000_000)}
    save_state(str(path), files)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700
    assert load_state(str(path)) == (files, None)
    inode = os.stat(str(path)).st_ino
    save_state(str(path), {})
    # Replaced by rename, never rewritten in place, and no temporary file left behind.
    assert os.stat(str(path)).st_ino != inode
    assert sorted(os.listdir(str(path.parent))) == ['log_scan.json']
    assert json.loads(path.read_text()) == {'version': 1, 'files': {}}


def test_state_file_existing_directory_keeps_its_mode(tmp_path):
    tmp_path.chmod(0o755)
    save_state(str(tmp_path / 'state.json'), {})
    assert stat.S_IMODE(os.stat(str(tmp_path)).st_mode) == 0o755


def test_failed_write_keeps_the_old_state(tmp_path, monkeypatch):
    path = tmp_path / 'state.json'
    save_state(str(path), {'/a': dict(entry(), updated=1)})
    before = path.read_bytes()

    def refuse(_source, _target):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(_logscan_state.os, 'replace', refuse)
    with pytest.raises(StateError, match=r'cannot write the state file .*No space left on device'):
        save_state(str(path), {})
    assert path.read_bytes() == before
    assert sorted(os.listdir(str(tmp_path))) == ['state.json']


def test_unwritable_state_directory_says_what_to_do(tmp_path):
    blocker = write(tmp_path / 'file', b'')
    with pytest.raises(StateError, match='run with become, or set state_file'):
        save_state(str(blocker / 'state.json'), {})


@pytest.mark.parametrize('content, warning', [
    (None, None),
    (b'{not json', 'is not valid JSON'),
    (b'{"version": 99, "files": {}}', 'unknown layout'),
    (b'[]', 'unknown layout'),
])
def test_load_state_missing_or_not_understood(tmp_path, content, warning):
    path = tmp_path / 'state.json'
    if content is not None:
        path.write_bytes(content)
    files, message = load_state(str(path))
    assert files == {}
    if warning is None:
        assert message is None
    else:
        assert warning in message


def test_load_state_drops_bad_entries_only(tmp_path):
    good = dict(entry(), updated=5)
    document = {'version': 1, 'files': {
        '/good': good,
        '/no_offset': {'dev': 1, 'ino': 2},
        '/bool_offset': dict(good, offset=True),
        '/text_line': dict(good, line='3'),
        '/bad_updated': dict(good, updated='yesterday'),
        '/unknown_line': dict(good, line=None),
    }}
    path = tmp_path / 'state.json'
    path.write_text(json.dumps(document))
    files, message = load_state(str(path))
    assert sorted(files) == ['/good', '/unknown_line']
    assert '/bad_updated, /bool_offset, /no_offset, /text_line' in message


def test_load_state_unreadable(tmp_path):
    (tmp_path / 'state.json').mkdir()
    with pytest.raises(StateError, match='cannot read the state file'):
        load_state(str(tmp_path / 'state.json'))


def test_prune_entries_drops_only_old_entries_of_gone_files():
    now = 1_800_000_000
    files = {
        '/gone/old': {'updated': now - STATE_RETENTION_SECONDS - 1},
        '/gone/recent': {'updated': now - 60},
        '/here/old': {'updated': now - STATE_RETENTION_SECONDS - 1},
    }
    kept = prune_entries(files, now, lambda path: path.startswith('/here'))
    assert sorted(kept) == ['/gone/recent', '/here/old']


def test_fingerprint_depends_on_every_byte():
    assert fingerprint(HEAD) != fingerprint(HEAD[:-1] + b'!')
    assert fingerprint(bytearray(HEAD)) == fingerprint(HEAD)
