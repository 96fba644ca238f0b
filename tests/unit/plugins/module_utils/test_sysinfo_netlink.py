# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening sockets asked from the kernel over NETLINK_SOCK_DIAG (sock_diag(7))."""

import errno
import os
import socket
import struct

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_net import (
    NLMSG_DONE,
    NLMSG_ERROR,
    SOCK_DIAG_BY_FAMILY,
    listening_from_kernel,
    parse_inet_diag,
    parse_netlink_dump,
)

# Wildcard addresses as the kernel reports them (data here, nothing binds).
ANY_IPV4 = '0.0.0.0'  # noqa: S104


def diag_message(family, state, local, remote, *, uid=0, inode=0):
    """A struct inet_diag_msg as the kernel sends it; LOCAL and REMOTE are (address, port).

    IPv4 addresses fill the first 4 of the 16 address bytes.
    """
    addresses = b''.join(socket.inet_pton(family, end[0]).ljust(16, b'\0') for end in (local, remote))
    return (struct.pack('=BBBB', family, state, 0, 0) + struct.pack('!HH', local[1], remote[1]) + addresses
            + struct.pack('=III', 0, 0, 0) + struct.pack('=IIIII', 0, 0, 0, uid, inode))


def netlink(kind, body):
    """One netlink message, padded to four bytes as the kernel aligns them."""
    message = struct.pack('=IHHII', 16 + len(body), kind, 2, 1, 0) + body
    return message + b'\0' * (-len(message) % 4)


def test_ipv4_listener():
    message = diag_message(socket.AF_INET, 10, ('127.0.0.1', 22), (ANY_IPV4, 0), inode=4242)
    assert parse_inet_diag(message, 'tcp') == {
        'protocol': 'tcp', 'family': 'ipv4', 'address': '127.0.0.1', 'port': 22, 'remote_address': ANY_IPV4,
        'remote_port': 0, 'state': 10, 'uid': 0, 'inode': 4242}


def test_ipv6_udp_socket():
    message = diag_message(socket.AF_INET6, 7, ('2001:db8::15', 123), ('::', 0), uid=104, inode=30555)
    entry = parse_inet_diag(message, 'udp')
    assert (entry['family'], entry['address'], entry['port'], entry['uid'], entry['inode']) == (
        'ipv6', '2001:db8::15', 123, 104, 30555)


def test_short_message_is_rejected():
    with pytest.raises(ValueError, match='inet_diag message of 40 bytes'):
        parse_inet_diag(b'\0' * 40, 'tcp')


def test_dump_with_two_sockets_then_done():
    first = diag_message(socket.AF_INET, 10, (ANY_IPV4, 22), (ANY_IPV4, 0), inode=1)
    second = diag_message(socket.AF_INET, 10, ('127.0.0.1', 5432), (ANY_IPV4, 0), uid=105, inode=2)
    data = netlink(SOCK_DIAG_BY_FAMILY, first) + netlink(SOCK_DIAG_BY_FAMILY, second) + netlink(
        NLMSG_DONE, struct.pack('=i', 0))
    assert parse_netlink_dump(data) == ([first, second], True)


def test_dump_continues_in_the_next_read():
    message = diag_message(socket.AF_INET6, 10, ('::', 22), ('::', 0), inode=3)
    assert parse_netlink_dump(netlink(SOCK_DIAG_BY_FAMILY, message)) == ([message], False)


@pytest.mark.parametrize('kind', [NLMSG_ERROR, NLMSG_DONE])
def test_kernel_error_is_an_os_error(kind):
    with pytest.raises(OSError) as raised:
        parse_netlink_dump(netlink(kind, struct.pack('=i', -errno.ENOENT) + b'\0' * 16))
    assert raised.value.errno == errno.ENOENT


def test_malformed_length_is_rejected():
    with pytest.raises(ValueError, match='malformed netlink message'):
        parse_netlink_dump(struct.pack('=IHHII', 400, SOCK_DIAG_BY_FAMILY, 2, 1, 0) + b'\0' * 56)


def test_the_kernel_lists_a_socket_this_test_listens_on():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(('127.0.0.1', 0))
        server.listen(1)
        port = server.getsockname()[1]
        try:
            listening = listening_from_kernel()
        except OSError as exc:
            pytest.skip('sock_diag is not usable here: %s' % exc)
        inode = os.fstat(server.fileno()).st_ino
    mine = [entry for entry in listening if entry['inode'] == inode]
    assert [(entry['protocol'], entry['family'], entry['address'], entry['port'], entry['uid'])
            for entry in mine] == [('tcp', 'ipv4', '127.0.0.1', port, os.getuid())]
