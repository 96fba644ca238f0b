# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mounted filesystems with their space and inode usage, without hanging on dead network mounts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import (
    FAILED,
    OK,
    describe_exception,
    read_text,
    run_with_deadline,
)
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_host import percent

# Kernel interfaces and image layers: never storage a health check should watch.
NEVER_LISTED_FSTYPES = frozenset((
    'autofs', 'binder', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts',
    'efivarfs', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fuse.portal', 'fuse.snapfuse', 'fusectl',
    'hugetlbfs', 'mqueue', 'nfsd', 'nsfs', 'proc', 'pstore', 'rootfs', 'rpc_pipefs', 'securityfs',
    'selinuxfs', 'squashfs', 'sysfs', 'tracefs',
))
# Memory-backed filesystems have a size that df shows; listed only with include_pseudo_filesystems.
MEMORY_FSTYPES = frozenset(('devtmpfs', 'ramfs', 'tmpfs'))
# Union mounts are container images; only the root of a container is worth watching.
UNION_FSTYPES = frozenset(('aufs', 'fuse.fuse-overlayfs', 'overlay'))
# Container runtimes mount image layers, shm and network namespaces here.
RUNTIME_PREFIXES = ('/run/containerd/', '/run/docker/', '/var/lib/containers/', '/var/lib/docker/')
# Whatever is mounted inside the kernel's interfaces (a file bound over a /proc entry by a
# container runtime, say) is not storage either.
KERNEL_PREFIXES = ('/proc/', '/sys/')
DEFAULT_STATVFS_WORKERS = 8
USAGE_KEYS = ('size_bytes', 'used_bytes', 'available_bytes', 'used_percent',
              'inodes_total', 'inodes_used', 'inodes_free', 'inodes_used_percent')
_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')


def unescape_mount_field(text):
    """Undo the kernel's octal escapes (``\\040`` for a space) in mount paths."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), text)


def parse_mountinfo(text):
    """Parse /proc/self/mountinfo (proc(5)) into one dict per mount, in mount order."""
    mounts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(' ')
        try:
            separator = fields.index('-', 6)
            major, minor = fields[2].split(':')
            mounts.append({
                'mount_id': int(fields[0]),
                'major': int(major),
                'minor': int(minor),
                'root': unescape_mount_field(fields[3]),
                'mount': unescape_mount_field(fields[4]),
                'mount_options': fields[5].split(','),
                'fstype': fields[separator + 1],
                'device': unescape_mount_field(fields[separator + 2]),
                'super_options': fields[separator + 3].split(','),
            })
        except (IndexError, ValueError) as exc:
            raise ValueError('mountinfo line %d is not in the proc(5) format: %r'
                             % (number, line[:120])) from exc
    return mounts


def is_listed(mount, include_pseudo):
    """Whether a mount is storage worth reporting (see the module's filesystems section)."""
    fstype = mount['fstype']
    if fstype in NEVER_LISTED_FSTYPES:
        return False
    if fstype in MEMORY_FSTYPES and not include_pseudo:
        return False
    if fstype in UNION_FSTYPES and mount['mount'] != '/':
        return False
    return not mount['mount'].startswith(RUNTIME_PREFIXES + KERNEL_PREFIXES)


def select_filesystems(mounts, include_pseudo=False):
    """Mounts worth reporting, one per device like df: a bind mount or a second mount of the
    same filesystem is dropped in favour of the shortest mount point."""
    chosen = {}
    for mount in mounts:
        if not is_listed(mount, include_pseudo):
            continue
        device = (mount['major'], mount['minor'])
        kept = chosen.get(device)
        if kept is None or len(mount['mount']) < len(kept['mount']):
            chosen[device] = mount
    return sorted(chosen.values(), key=lambda mount: mount['mount_id'])


def usage_from_statvfs(stat):
    """Space and inode figures from an os.statvfs result, computed the way df does."""
    size = stat.f_blocks * stat.f_frsize
    free = stat.f_bfree * stat.f_frsize
    available = stat.f_bavail * stat.f_frsize
    used = size - free
    usage = dict.fromkeys(USAGE_KEYS)
    usage.update({
        'size_bytes': size,
        'used_bytes': used,
        'available_bytes': available,
        'used_percent': percent(used, used + available),
    })
    # Filesystems without a fixed inode table (btrfs, many network filesystems) report zero.
    if stat.f_files:
        usage.update({
            'inodes_total': stat.f_files,
            'inodes_used': stat.f_files - stat.f_ffree,
            'inodes_free': stat.f_ffree,
            'inodes_used_percent': percent(stat.f_files - stat.f_ffree, stat.f_files),
        })
    return usage


def filesystem_entry(mount, status, value, timeout):
    """The reported dict for one mount, with usage or with the reason it is missing."""
    entry = {
        'mount': mount['mount'],
        'device': mount['device'],
        'fstype': mount['fstype'],
        'options': mount['mount_options'],
        'read_only': 'ro' in mount['mount_options'] or 'ro' in mount['super_options'],
        'error': None,
    }
    if status == OK:
        entry.update(usage_from_statvfs(value))
        return entry
    entry.update(dict.fromkeys(USAGE_KEYS))
    if status == FAILED:
        entry['error'] = 'statvfs failed: %s' % describe_exception(value)
    else:
        entry['error'] = ('statvfs did not answer within %.1f s (unreachable network filesystem or'
                          ' failing disk?)' % timeout)
    return entry


def gather_filesystems(timeout, include_pseudo=False, mountinfo_path='/proc/self/mountinfo',
                       statvfs=os.statvfs, workers=DEFAULT_STATVFS_WORKERS):
    """Usage of every reported mount; a mount that hangs gets an error and the others still report."""
    mounts = select_filesystems(parse_mountinfo(read_text(mountinfo_path)), include_pseudo)
    tasks = [(index, _bind(statvfs, mount['mount'])) for index, mount in enumerate(mounts)]
    outcomes = run_with_deadline(tasks, timeout, workers)
    listed = []
    for index, mount in enumerate(mounts):
        status, value = outcomes[index]
        listed.append(filesystem_entry(mount, status, value, timeout))
    return {'mounts': listed}


def _bind(func, argument):
    return lambda: func(argument)
