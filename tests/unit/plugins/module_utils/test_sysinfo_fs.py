# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filesystem listing of the system_info module: mountinfo parsing, filtering, hung mounts."""

import collections
import os
import threading
import time

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_fs import (
    gather_filesystems,
    parse_mountinfo,
    select_filesystems,
    unescape_mount_field,
    usage_from_statvfs,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')
StatVfs = collections.namedtuple('StatVfs', 'f_blocks f_frsize f_bfree f_bavail f_files f_ffree')


def fixture_path(name):
    return os.path.join(FIXTURES, name)


def fixture(name):
    with open(fixture_path(name), encoding='utf-8') as handle:
        return handle.read()


def test_parse_mountinfo_fields():
    mounts = parse_mountinfo(fixture('mountinfo.server'))
    assert len(mounts) == 24
    backup = next(mount for mount in mounts if mount['mount_id'] == 42)
    assert backup == {
        'mount_id': 42,
        'major': 253,
        'minor': 3,
        'root': '/',
        'mount': '/srv/backup disk',
        'mount_options': ['ro', 'nosuid', 'nodev', 'relatime'],
        'fstype': 'ext4',
        'device': '/dev/mapper/vg0-backup',
        'super_options': ['ro'],
    }
    # A mount without optional fields (no "shared:N") still finds the separator.
    overlay = next(mount for mount in mounts if mount['mount_id'] == 46)
    assert (overlay['fstype'], overlay['device']) == ('overlay', 'overlay')


def test_parse_mountinfo_rejects_other_text():
    with pytest.raises(ValueError, match='mountinfo line 2'):
        parse_mountinfo('28 1 253:1 / / rw - ext4 /dev/root rw\nproc /proc proc rw 0 0\n')


@pytest.mark.parametrize('text, expected', [
    ('/srv/backup\\040disk', '/srv/backup disk'),
    ('/mnt/tab\\011here', '/mnt/tab\there'),
    ('/mnt/back\\134slash', '/mnt/back\\slash'),
    ('/plain', '/plain'),
])
def test_unescape_mount_field(text, expected):
    assert unescape_mount_field(text) == expected


@pytest.mark.parametrize('name, include_pseudo, expected', [
    # Kernel interfaces, autofs, squashfs snaps, lxcfs, container layers and runtime mounts go;
    # a bind mount (/var/lib/docker) and a second btrfs subvolume mount fold into one entry.
    ('mountinfo.server', False, ['/', '/boot', '/var', '/srv/backup disk', '/mnt/share', '/srv/data']),
    ('mountinfo.server', True, ['/dev', '/run', '/', '/dev/shm', '/boot', '/var', '/srv/backup disk',
                                '/mnt/share', '/srv/data', '/run/user/1000']),
    # Inside a container the overlay root counts; the files bound from the host fold into one,
    # and a file bound over a /proc entry is no storage.
    ('mountinfo.container', False, ['/', '/etc/hosts', '/data']),
    ('mountinfo.container', True, ['/', '/dev', '/dev/shm', '/etc/hosts', '/data']),
])
def test_select_filesystems(name, include_pseudo, expected):
    selected = select_filesystems(parse_mountinfo(fixture(name)), include_pseudo)
    assert [mount['mount'] for mount in selected] == expected


def test_usage_like_df():
    usage = usage_from_statvfs(StatVfs(f_blocks=1000, f_frsize=4096, f_bfree=300, f_bavail=250,
                                       f_files=100, f_ffree=25))
    assert usage == {
        'size_bytes': 4096000,
        'used_bytes': 2867200,
        'available_bytes': 1024000,
        'used_percent': 73.7,
        'inodes_total': 100,
        'inodes_used': 75,
        'inodes_free': 25,
        'inodes_used_percent': 75.0,
    }


def test_usage_without_inode_table():
    usage = usage_from_statvfs(StatVfs(f_blocks=10, f_frsize=1024, f_bfree=10, f_bavail=10, f_files=0,
                                       f_ffree=0))
    assert usage['used_percent'] == 0.0
    assert usage['inodes_total'] is None
    assert usage['inodes_used_percent'] is None


def test_hung_and_failing_mounts_do_not_stop_the_others():
    release = threading.Event()
    healthy = StatVfs(f_blocks=100, f_frsize=4096, f_bfree=50, f_bavail=50, f_files=10, f_ffree=5)

    def fake_statvfs(path):
        if path == '/mnt/share':
            release.wait(30)
        if path == '/boot':
            raise PermissionError(13, 'Permission denied', path)
        return healthy

    started = time.monotonic()
    try:
        result = gather_filesystems(0.5, mountinfo_path=fixture_path('mountinfo.server'),
                                    statvfs=fake_statvfs, workers=2)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    by_mount = dict((entry['mount'], entry) for entry in result['mounts'])
    assert by_mount['/mnt/share']['error'].startswith('statvfs did not answer within 0.5 s')
    assert by_mount['/mnt/share']['size_bytes'] is None
    assert by_mount['/boot']['error'] == "statvfs failed: [Errno 13] Permission denied: '/boot'"
    assert by_mount['/'] == {
        'mount': '/', 'device': '/dev/mapper/vg0-root', 'fstype': 'ext4', 'options': ['rw', 'relatime'],
        'read_only': False, 'error': None, 'size_bytes': 409600, 'used_bytes': 204800,
        'available_bytes': 204800, 'used_percent': 50.0, 'inodes_total': 10, 'inodes_used': 5,
        'inodes_free': 5, 'inodes_used_percent': 50.0,
    }
    # Mounts queued behind the hung one on the other worker still answered.
    assert by_mount['/srv/data']['error'] is None
    assert by_mount['/srv/backup disk']['read_only'] is True


def test_gather_filesystems_on_this_host():
    result = gather_filesystems(5.0)
    assert '/' in [entry['mount'] for entry in result['mounts']]
    assert all(entry['fstype'] not in ('proc', 'sysfs', 'cgroup2') for entry in result['mounts'])
