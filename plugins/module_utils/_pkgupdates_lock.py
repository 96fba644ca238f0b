# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds a package manager's lock, found by reading /proc only (nothing is locked or opened for writing).

apt and dpkg hold fcntl locks on files such as /var/lib/apt/lists/lock: the kernel lists those in
/proc/locks by device and inode. dnf and yum write their pid into a pid file while they run.
Every function takes proc_root so tests can point it at a fake /proc tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

APT_CACHE_LOCKS = ('/var/lib/apt/lists/lock',)
DNF_CACHE_LOCKS = ('/var/cache/dnf/metadata_lock.pid', '/var/cache/dnf/download_lock.pid')
YUM_LOCKS = ('/var/run/yum.pid',)


def parse_proc_locks(text):
    """Entries of /proc/locks that are held (waiters, shown with '->', are skipped).

    '1: POSIX  ADVISORY  WRITE 1234 fe:00:399286 0 EOF' -> {'kind': 'POSIX', 'pid': 1234,
    'device': (254, 0), 'inode': 399286}. Device numbers are hex, the inode decimal. OFD locks
    carry pid -1; a holder outside the reader's pid namespace shows as 0.
    """
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == '->':
            continue
        device_inode = fields[5].split(':')
        if len(device_inode) != 3:
            continue
        try:
            entry = {
                'kind': fields[1],
                'pid': int(fields[4]),
                'device': (int(device_inode[0], 16), int(device_inode[1], 16)),
                'inode': int(device_inode[2]),
            }
        except ValueError:
            continue
        entries.append(entry)
    return entries


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _process_ids(proc_root):
    try:
        names = os.listdir(proc_root)
    except OSError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


def process_command(pid, proc_root='/proc'):
    """The short command name of a process ('' when it is gone or unreadable)."""
    text = _read_text(os.path.join(proc_root, str(pid), 'comm'))
    return text.strip() if text else ''


def processes_with_open_file(path, proc_root='/proc'):
    """Pids whose open file descriptors point at path (needs root to see other users' processes)."""
    target = os.path.realpath(path)
    pids = []
    for pid in _process_ids(proc_root):
        fd_dir = os.path.join(proc_root, str(pid), 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    pids.append(pid)
                    break
            except OSError:
                continue
    return pids


def _holders(pids, proc_root):
    return [{'pid': pid, 'command': process_command(pid, proc_root)} for pid in sorted(set(pids))]


def fcntl_lock_status(path, proc_root='/proc'):
    """{'path', 'held', 'holders': [{'pid', 'command'}]} for a file locked with fcntl/flock.

    The lock is held when /proc/locks lists the file's inode on its device. On overlay
    filesystems stat() reports the overlay's device while /proc/locks names the real one, so an
    entry on another device also counts when its process has the file open. When /proc/locks
    gives no usable pid (OFD lock, other pid namespace) the processes with the file open are named.
    """
    status = {'path': path, 'held': False, 'holders': []}
    try:
        stat = os.stat(path)
    except OSError:
        return status
    text = _read_text(os.path.join(proc_root, 'locks'))
    same_inode = [entry for entry in parse_proc_locks(text or '') if entry['inode'] == stat.st_ino]
    if not same_inode:
        return status
    device = (os.major(stat.st_dev), os.minor(stat.st_dev))
    entries = [entry for entry in same_inode if entry['device'] == device]
    openers = None
    if not entries:
        openers = processes_with_open_file(path, proc_root)
        entries = [entry for entry in same_inode if entry['pid'] in openers]
        if not entries:
            return status
    status['held'] = True
    pids = [entry['pid'] for entry in entries if entry['pid'] > 0]
    if not pids:
        pids = openers if openers is not None else processes_with_open_file(path, proc_root)
    status['holders'] = _holders(pids, proc_root)
    return status


def pid_file_lock_status(path, proc_root='/proc'):
    """Lock status for a pid file (dnf, yum): held while the pid written in it is a live process."""
    status = {'path': path, 'held': False, 'holders': []}
    text = _read_text(path)
    if text is None or not text.strip().isdigit():
        return status
    pid = int(text.strip())
    if not os.path.isdir(os.path.join(proc_root, str(pid))):
        return status
    status['held'] = True
    status['holders'] = _holders([pid], proc_root)
    return status


def lock_status(path, proc_root='/proc'):
    """Dispatch on the kind of lock: '*.pid' files are pid files, everything else fcntl locks."""
    if path.endswith('.pid'):
        return pid_file_lock_status(path, proc_root)
    return fcntl_lock_status(path, proc_root)


def describe_lock(status):
    """'/var/lib/apt/lists/lock is held by pid 1234 (apt-get)' for an error message."""
    if not status['holders']:
        return '%s is held by a process that could not be identified' % status['path']
    holders = ', '.join(
        'pid %d (%s)' % (holder['pid'], holder['command']) if holder['command'] else 'pid %d' % holder['pid']
        for holder in status['holders']
    )
    return '%s is held by %s' % (status['path'], holders)
