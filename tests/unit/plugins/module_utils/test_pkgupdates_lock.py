# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding who holds a package manager lock, against a fake /proc tree and one real fcntl lock."""

import fcntl
import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_lock import (
    describe_lock,
    fcntl_lock_status,
    lock_status,
    parse_proc_locks,
    pid_file_lock_status,
    processes_with_open_file,
)


class FakeProc:
    """A directory shaped like /proc: locks, <pid>/comm and <pid>/fd/<n> symlinks."""

    def __init__(self, root):
        self.root = root
        os.makedirs(str(root))

    def add_process(self, pid, command, open_files=()):
        process_dir = os.path.join(str(self.root), str(pid))
        os.makedirs(os.path.join(process_dir, 'fd'))
        with open(os.path.join(process_dir, 'comm'), 'w') as handle:
            handle.write(command + '\n')
        for number, path in enumerate(open_files, start=3):
            os.symlink(path, os.path.join(process_dir, 'fd', str(number)))

    def set_locks(self, lines):
        with open(os.path.join(str(self.root), 'locks'), 'w') as handle:
            handle.write(''.join(line + '\n' for line in lines))


def lock_line(number, kind, pid, path, device=None):
    """A /proc/locks line for path; device overrides the (major, minor) that stat() reports."""
    stat = os.stat(str(path))
    major, minor = device or (os.major(stat.st_dev), os.minor(stat.st_dev))
    return f'{number}: {kind}  ADVISORY  WRITE {pid} {major:02x}:{minor:02x}:{stat.st_ino} 0 EOF'


@pytest.fixture
def lock_file(tmp_path):
    path = tmp_path / 'lists' / 'lock'
    path.parent.mkdir()
    path.write_text('')
    return path


@pytest.fixture
def proc(tmp_path):
    return FakeProc(tmp_path / 'proc')


def test_parse_proc_locks_skips_waiters_and_reads_hex_devices():
    text = ('1: POSIX  ADVISORY  WRITE 1234 fe:00:399286 0 EOF\n'
            '1: -> POSIX  ADVISORY  WRITE 5678 fe:00:399286 0 EOF\n'
            '2: FLOCK  ADVISORY  WRITE 42 00:1a:77 0 EOF\n'
            '3: OFDLCK ADVISORY  READ  -1 08:01:12 0 EOF\n'
            'garbage\n')
    assert parse_proc_locks(text) == [
        {'kind': 'POSIX', 'pid': 1234, 'device': (254, 0), 'inode': 399286},
        {'kind': 'FLOCK', 'pid': 42, 'device': (0, 26), 'inode': 77},
        {'kind': 'OFDLCK', 'pid': -1, 'device': (8, 1), 'inode': 12},
    ]


def test_held_lock_names_pid_and_command(proc, lock_file, tmp_path):
    other = tmp_path / 'other'
    other.write_text('')
    proc.add_process(4321, 'apt-get', [str(lock_file)])
    proc.add_process(77, 'unattended-upgr', [str(other)])
    proc.set_locks([lock_line(1, 'POSIX', 77, other), lock_line(2, 'POSIX', 4321, lock_file)])
    status = fcntl_lock_status(str(lock_file), str(proc.root))
    assert status == {'path': str(lock_file), 'held': True, 'holders': [{'pid': 4321, 'command': 'apt-get'}]}
    assert describe_lock(status) == f'{lock_file} is held by pid 4321 (apt-get)'


def test_lock_of_another_file_or_only_waiting_is_not_held(proc, lock_file, tmp_path):
    other = tmp_path / 'other'
    other.write_text('')
    proc.add_process(77, 'apt-get', [str(other)])
    waiter = lock_line(2, 'POSIX', 99, lock_file).replace('2: POSIX', '2: -> POSIX')
    proc.set_locks([lock_line(1, 'POSIX', 77, other), waiter])
    assert fcntl_lock_status(str(lock_file), str(proc.root))['held'] is False


def test_missing_lock_file_is_not_held(proc, tmp_path):
    proc.set_locks([])
    status = lock_status(str(tmp_path / 'absent' / 'lock'), str(proc.root))
    assert status['held'] is False
    assert status['holders'] == []


def test_ofd_lock_holder_found_through_open_files(proc, lock_file):
    proc.add_process(900, 'packagekitd', [str(lock_file)])
    proc.add_process(901, 'bash', [])
    proc.set_locks([lock_line(1, 'OFDLCK', -1, lock_file)])
    status = fcntl_lock_status(str(lock_file), str(proc.root))
    assert status['held'] is True
    assert status['holders'] == [{'pid': 900, 'command': 'packagekitd'}]


def test_overlay_device_mismatch_counts_when_the_process_has_the_file_open(proc, lock_file):
    # On overlayfs, /proc/locks names the underlying device, not the one stat() reports.
    proc.add_process(555, 'apt-get', [str(lock_file)])
    proc.set_locks([lock_line(1, 'POSIX', 555, lock_file, device=(0, 250))])
    status = fcntl_lock_status(str(lock_file), str(proc.root))
    assert status['held'] is True
    assert status['holders'] == [{'pid': 555, 'command': 'apt-get'}]


def test_same_inode_on_another_device_without_opener_is_not_held(proc, lock_file):
    proc.add_process(555, 'sqlite3', [])
    proc.set_locks([lock_line(1, 'POSIX', 555, lock_file, device=(0, 250))])
    assert fcntl_lock_status(str(lock_file), str(proc.root))['held'] is False


def test_holder_that_cannot_be_identified(proc, lock_file):
    proc.set_locks([lock_line(1, 'POSIX', 0, lock_file)])
    status = fcntl_lock_status(str(lock_file), str(proc.root))
    assert status['held'] is True
    assert describe_lock(status) == f'{lock_file} is held by a process that could not be identified'


def test_processes_with_open_file(proc, lock_file, tmp_path):
    other = tmp_path / 'other'
    other.write_text('')
    proc.add_process(10, 'a', [str(other), str(lock_file)])
    proc.add_process(11, 'b', [str(other)])
    proc.add_process(12, 'c', [str(lock_file)])
    assert processes_with_open_file(str(lock_file), str(proc.root)) == [10, 12]


@pytest.mark.parametrize(('content', 'alive', 'held'), [
    ('3141', True, True),
    ('3141\n', True, True),
    ('3141', False, False),  # left behind by a process that died
    ('', True, False),
    ('not-a-pid', True, False),
])
def test_pid_file(proc, tmp_path, content, alive, held):
    pid_file = tmp_path / 'metadata_lock.pid'
    pid_file.write_text(content)
    if alive:
        proc.add_process(3141, 'dnf')
    status = lock_status(str(pid_file), str(proc.root))
    assert status['held'] is held
    assert status['holders'] == ([{'pid': 3141, 'command': 'dnf'}] if held else [])


def test_pid_file_missing(proc, tmp_path):
    assert pid_file_lock_status(str(tmp_path / 'yum.pid'), str(proc.root))['held'] is False


def test_real_fcntl_lock_is_found_in_real_proc(tmp_path):
    # The kernel's own /proc/locks format, as apt's fcntl locks appear in it.
    path = tmp_path / 'lock'
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status = fcntl_lock_status(str(path))
        assert status['held'] is True
        assert [holder['pid'] for holder in status['holders']] == [os.getpid()]
    finally:
        os.close(fd)
    assert fcntl_lock_status(str(path))['held'] is False
