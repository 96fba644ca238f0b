# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening TCP and UDP sockets from /proc/net, with the owning process where it is visible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import socket
import struct
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
# Socket diagnostics over netlink (sock_diag(7)), as ss(8) asks them.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x01
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NETLINK_HEADER = struct.Struct('=IHHII')
# struct inet_diag_req_v2: family, protocol, extensions, padding, states, then a zeroed inet_diag_sockid.
INET_DIAG_REQUEST = struct.Struct('=BBBBI48x')
INET_DIAG_MESSAGE_SIZE = 72
# (protocol, IPPROTO_*, AF_*, the one state the kernel is asked for)
DIAG_QUERIES = (
    ('tcp', socket.IPPROTO_TCP, socket.AF_INET, TCP_LISTEN),
    ('tcp', socket.IPPROTO_TCP, socket.AF_INET6, TCP_LISTEN),
    ('udp', socket.IPPROTO_UDP, socket.AF_INET, UDP_UNCONNECTED),
    ('udp', socket.IPPROTO_UDP, socket.AF_INET6, UDP_UNCONNECTED),
)


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


def parse_inet_diag(payload, protocol):
    """One struct inet_diag_msg (the payload of a SOCK_DIAG_BY_FAMILY answer) as a parse_proc_net dict.

    Layout: family, state, timer, retransmits (one byte each); inet_diag_sockid (source and
    destination port in network order, two 16-byte addresses, interface, cookie); expires, receive
    and send queue, uid, inode (32 bits each, host order).
    """
    if len(payload) < INET_DIAG_MESSAGE_SIZE:
        raise ValueError('inet_diag message of %d bytes, expected at least %d'
                         % (len(payload), INET_DIAG_MESSAGE_SIZE))
    family_number, state = struct.unpack_from('=BB', payload, 0)
    local_port, remote_port = struct.unpack_from('!HH', payload, 4)
    uid, inode = struct.unpack_from('=II', payload, 64)
    length = 4 if family_number == socket.AF_INET else 16
    return {
        'protocol': protocol,
        'family': 'ipv4' if family_number == socket.AF_INET else 'ipv6',
        'address': socket.inet_ntop(family_number, payload[8:8 + length]),
        'port': local_port,
        'remote_address': socket.inet_ntop(family_number, payload[24:24 + length]),
        'remote_port': remote_port,
        'state': state,
        'uid': uid,
        'inode': inode,
    }


def parse_netlink_dump(data):
    """Split one buffer read from a netlink dump into ``(payloads, done)``.

    Raises OSError with the kernel's errno when it answers with an error instead.
    """
    payloads = []
    offset = 0
    while offset + NETLINK_HEADER.size <= len(data):
        length, kind, _flags, _sequence, _port = NETLINK_HEADER.unpack_from(data, offset)
        if length < NETLINK_HEADER.size or offset + length > len(data):
            raise ValueError('malformed netlink message of length %d at offset %d' % (length, offset))
        body = data[offset + NETLINK_HEADER.size:offset + length]
        if kind in (NLMSG_ERROR, NLMSG_DONE):
            code = struct.unpack_from('=i', body)[0] if len(body) >= 4 else 0
            if code < 0:
                raise OSError(-code, 'sock_diag: %s' % os.strerror(-code))
            if kind == NLMSG_DONE:
                return payloads, True
        elif kind == SOCK_DIAG_BY_FAMILY:
            payloads.append(body)
        # Messages are padded to four bytes.
        offset += (length + 3) & ~3
    return payloads, False


def listening_from_kernel():
    """Listening sockets from the kernel's socket diagnostics (NETLINK_SOCK_DIAG).

    The kernel filters by state itself: listing TCP listeners does not walk the connection table,
    which /proc/net/tcp does at every read (over all network namespaces, so it grows with the
    machine's connections). Raises OSError or ValueError when sock_diag is not usable here.
    """
    listening = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as channel:
        for sequence, (protocol, ip_protocol, address_family, state) in enumerate(DIAG_QUERIES, 1):
            request = INET_DIAG_REQUEST.pack(address_family, ip_protocol, 0, 0, 1 << state)
            channel.send(NETLINK_HEADER.pack(NETLINK_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY,
                                             NLM_F_REQUEST | NLM_F_DUMP, sequence, 0) + request)
            done = False
            while not done:
                data = channel.recv(65536)
                if not data:
                    raise ValueError('sock_diag closed the dump before its end')
                payloads, done = parse_netlink_dump(data)
                entries = [parse_inet_diag(payload, protocol) for payload in payloads]
                listening.extend(entry for entry in entries if is_listening(entry))
    return listening


def listening_from_proc(proc_root='/proc', byteorder=sys.byteorder):
    """Listening sockets from the /proc/net tables."""
    listening = []
    for table, protocol, family in PROC_NET_TABLES:
        try:
            text = read_text(os.path.join(proc_root, 'net', table))
        except FileNotFoundError:
            # No IPv6 in this kernel.
            continue
        listening.extend(entry for entry in parse_proc_net(text, protocol, family, byteorder)
                         if is_listening(entry))
    return listening


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
    """The sockets section: listening sockets sorted by protocol, port and address.

    For the live /proc the kernel is asked over netlink first; /proc/net is read where sock_diag
    is not available (no inet_diag support, or a security policy that denies it).
    """
    listening = None
    if proc_root == '/proc':
        try:
            listening = listening_from_kernel()
        except (OSError, ValueError):
            listening = None
    if listening is None:
        listening = listening_from_proc(proc_root, byteorder)
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
