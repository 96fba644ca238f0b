# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening socket discovery of the system_info module."""

import os
import shutil

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_net import (
    decode_address,
    gather_sockets,
    is_listening,
    parse_proc_net,
    socket_owners,
)

# Wildcard addresses as the kernel reports them (data here, nothing binds).
ANY_IPV4 = '0.0.0.0'  # noqa: S104
FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.mark.parametrize('hex_address, family, byteorder, expected', [
    ('0100007F', 'ipv4', 'little', '127.0.0.1'),
    ('7F000001', 'ipv4', 'big', '127.0.0.1'),
    ('00000000000000000000000001000000', 'ipv6', 'little', '::1'),
    ('B80D0120000000000000000015000000', 'ipv6', 'little', '2001:db8::15'),
    ('20010DB8000000000000000000000015', 'ipv6', 'big', '2001:db8::15'),
])
def test_decode_address(hex_address, family, byteorder, expected):
    assert decode_address(hex_address, family, byteorder) == expected


@pytest.mark.parametrize('table, protocol, family, expected', [
    ('proc-net-tcp', 'tcp', 'ipv4', [(ANY_IPV4, 22, 0, 20111), ('127.0.0.1', 5432, 105, 20222)]),
    ('proc-net-tcp6', 'tcp', 'ipv6', [('::', 22, 0, 20444), ('::1', 631, 0, 20555),
                                      ('2001:db8::15', 443, 33, 20666)]),
    # The connected DNS client socket (remote 192.0.2.1:53) is not listening.
    ('proc-net-udp', 'udp', 'ipv4', [('127.0.0.53', 53, 101, 30111), (ANY_IPV4, 68, 0, 30222)]),
    ('proc-net-udp6', 'udp', 'ipv6', [('fe80::1', 546, 0, 30444), ('::ffff:192.0.2.15', 123, 104, 30555)]),
])
def test_listening_sockets_per_table(table, protocol, family, expected):
    entries = parse_proc_net(fixture(table), protocol, family, 'little')
    listening = [(entry['address'], entry['port'], entry['uid'], entry['inode'])
                 for entry in entries if is_listening(entry)]
    assert listening == expected


def test_parse_proc_net_keeps_every_socket():
    entries = parse_proc_net(fixture('proc-net-tcp'), 'tcp', 'ipv4', 'little')
    assert len(entries) == 4
    established = entries[2]
    assert (established['remote_address'], established['remote_port'], established['state']) == (
        '198.51.100.7', 51234, 0x01)


def make_process(proc_root, pid, comm, fds=None):
    directory = proc_root / str(pid)
    (directory / 'fd').mkdir(parents=True)
    (directory / 'comm').write_text(comm + '\n')
    for number, target in enumerate(fds or [], 3):
        os.symlink(target, str(directory / 'fd' / str(number)))


@pytest.fixture
def proc_root(tmp_path):
    root = tmp_path / 'proc'
    (root / 'net').mkdir(parents=True)
    for table in ('tcp', 'tcp6', 'udp', 'udp6'):
        shutil.copy(os.path.join(FIXTURES, 'proc-net-' + table), str(root / 'net' / table))
    make_process(root, 1, 'init', ['/dev/null'])
    make_process(root, 812, 'sshd', ['/dev/null', 'socket:[20111]', 'socket:[20444]', 'pipe:[5]'])
    make_process(root, 950, 'postgres', ['socket:[20222]', 'anon_inode:[eventpoll]'])
    # A forked worker sharing sshd's socket: the lower PID (the parent) is reported.
    make_process(root, 4000, 'sshd', ['socket:[20111]'])
    return root


def test_socket_owners(proc_root):
    owners, complete = socket_owners([20111, 20222, 20444], str(proc_root))
    assert owners == {20111: (812, 'sshd'), 20222: (950, 'postgres'), 20444: (812, 'sshd')}
    assert complete is True


def test_socket_owners_reports_unreadable_processes(proc_root, monkeypatch):
    make_process(proc_root, 2000, 'nginx', ['socket:[20666]'])
    hidden = str(proc_root / '2000' / 'fd')
    real_listdir = os.listdir

    def listdir(path):
        # What a non-root user gets for another user's process.
        if path == hidden:
            raise PermissionError(13, 'Permission denied', path)
        return real_listdir(path)

    monkeypatch.setattr(os, 'listdir', listdir)
    owners, complete = socket_owners([20111, 20666], str(proc_root))
    assert owners == {20111: (812, 'sshd')}
    assert complete is False
    # Once every wanted socket is found, unreadable processes no longer matter.
    assert socket_owners([20111], str(proc_root)) == ({20111: (812, 'sshd')}, True)


def test_socket_owners_with_nothing_to_find(proc_root):
    assert socket_owners([0], str(proc_root)) == ({}, True)


def test_gather_sockets(proc_root):
    result = gather_sockets(str(proc_root), 'little')
    assert result['count'] == 9
    assert result['processes_complete'] is True
    assert [(entry['protocol'], entry['port'], entry['address']) for entry in result['listening']] == [
        ('tcp', 22, ANY_IPV4), ('tcp', 22, '::'), ('tcp', 443, '2001:db8::15'), ('tcp', 631, '::1'),
        ('tcp', 5432, '127.0.0.1'), ('udp', 53, '127.0.0.53'), ('udp', 68, ANY_IPV4),
        ('udp', 123, '::ffff:192.0.2.15'), ('udp', 546, 'fe80::1'),
    ]
    ssh = result['listening'][0]
    assert ssh == {'protocol': 'tcp', 'family': 'ipv4', 'address': ANY_IPV4, 'port': 22, 'user': 'root',
                   'uid': 0, 'pid': 812, 'process': 'sshd'}
    # Nobody in the fake tree holds the https socket.
    assert (result['listening'][2]['pid'], result['listening'][2]['process']) == (None, None)


def test_gather_sockets_without_ipv6(proc_root):
    (proc_root / 'net' / 'tcp6').unlink()
    (proc_root / 'net' / 'udp6').unlink()
    assert gather_sockets(str(proc_root), 'little')['count'] == 4
