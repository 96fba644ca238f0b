# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening TCP and UDP sockets from /proc/net, with the owning process where it is visible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import socket
import sys

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import read_first_line, read_text

# (file under /proc/net, protocol, family)
PROC_NET_TABLES = (
    ('tcp', 'tcp', 'ipv4'),
    ('tcp6', 'tcp', 'ipv6'),
    ('udp', 'udp', 'ipv4'),
    ('udp6', 'udp', 'ipv6'),
)
TCP_LISTEN = 0x0A
UDP_UNCONNECTED = 0x07


def decode_address(hex_address, family, byteorder=sys.byteorder):
    """An address from /proc/net: 32-bit words in the kernel's byte order, printed as hex."""
    raw = bytes(bytearray.fromhex(hex_address))
    if byteorder == 'little':
        raw = b''.join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if family == 'ipv4' else socket.AF_INET6, raw)


def parse_proc_net(text, protocol, family, byteorder=sys.byteorder):
    """Parse /proc/net/{tcp,tcp6,udp,udp6}: one dict per socket with its local and remote end."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local_address, local_port = fields[1].split(':')
        remote_address, remote_port = fields[2].split(':')
        sockets.append({
            'protocol': protocol,
            'family': family,
            'address': decode_address(local_address, family, byteorder),
            'port': int(local_port, 16),
            'remote_address': decode_address(remote_address, family, byteorder),
            'remote_port': int(remote_port, 16),
            'state': int(fields[3], 16),
            'uid': int(fields[7]),
            'inode': int(fields[9]),
        })
    return sockets


def is_listening(entry):
    """TCP sockets in LISTEN, and UDP sockets bound but not connected to a peer."""
    if entry['protocol'] == 'tcp':
        return entry['state'] == TCP_LISTEN
    return entry['state'] == UDP_UNCONNECTED and entry['remote_port'] == 0 and entry['port'] != 0


def socket_owners(inodes, proc_root='/proc'):
    """Map socket inodes to ``(pid, process name)`` by reading /proc/PID/fd links.

    Returns ``(owners, complete)``; ``complete`` is False when some processes' descriptors could
    not be read (another user's process without root). The scan stops once every inode is found;
    a socket shared by several processes is attributed to the lowest PID, usually the parent.
    """
    wanted = set('socket:[%d]' % inode for inode in inodes if inode)
    owners = {}
    complete = True
    if not wanted:
        return owners, complete
    pids = sorted(int(name) for name in os.listdir(proc_root) if name.isdigit())
    for pid in pids:
        fd_dir = os.path.join(proc_root, str(pid), 'fd')
        try:
            names = os.listdir(fd_dir)
        except PermissionError:
            complete = False
            continue
        except OSError:
            # The process exited while the scan ran.
            continue
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target in wanted:
                wanted.discard(target)
                owners[int(target[8:-1])] = (pid, _process_name(proc_root, pid))
        if not wanted:
            # Everything found: descriptors nobody could read no longer matter.
            return owners, True
    return owners, complete


def _process_name(proc_root, pid):
    try:
        return read_first_line(os.path.join(proc_root, str(pid), 'comm'))
    except OSError:
        return None


def user_name(uid, cache):
    """Login name for a uid, or None when the user database does not know it."""
    if uid not in cache:
        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = None
    return cache[uid]


def gather_sockets(proc_root='/proc', byteorder=sys.byteorder):
    """The sockets section: listening sockets sorted by protocol, port and address."""
    listening = []
    for table, protocol, family in PROC_NET_TABLES:
        try:
            text = read_text(os.path.join(proc_root, 'net', table))
        except FileNotFoundError:
            # No IPv6 in this kernel.
            continue
        listening.extend(entry for entry in parse_proc_net(text, protocol, family, byteorder)
                         if is_listening(entry))
    owners, complete = socket_owners([entry['inode'] for entry in listening], proc_root)
    users = {}
    reported = []
    for entry in sorted(listening, key=lambda item: (item['protocol'], item['port'], item['family'],
                                                     item['address'])):
        pid, process = owners.get(entry['inode'], (None, None))
        reported.append({
            'protocol': entry['protocol'],
            'family': entry['family'],
            'address': entry['address'],
            'port': entry['port'],
            'user': user_name(entry['uid'], users),
            'uid': entry['uid'],
            'pid': pid,
            'process': process,
        })
    return {'listening': reported, 'count': len(reported), 'processes_complete': complete}
