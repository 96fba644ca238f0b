# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of patching: selection, lock waiting, free space, what really changed."""

import errno
import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _patch


def update(name, installed='1.0', candidate='1.1', security=False):
    return {'name': name, 'arch': 'all', 'installed_version': installed, 'candidate_version': candidate,
            'origin': 'Debian:bookworm', 'security': security, 'obsoletes': []}


UPDATES = [update('libssl3', security=True), update('linux-image-amd64'), update('nginx-light'),
           update('vim')]


@pytest.mark.parametrize(('exclude', 'allow', 'selected', 'skipped'), [
    ([], [], ['libssl3', 'linux-image-amd64', 'nginx-light', 'vim'], []),
    (['linux-image-*'], [], ['libssl3', 'nginx-light', 'vim'],
     [{'name': 'linux-image-amd64', 'reason': 'excluded by linux-image-*'}]),
    ([], ['lib*', 'vim'], ['libssl3', 'vim'],
     [{'name': 'linux-image-amd64', 'reason': 'not in the allowed packages'},
      {'name': 'nginx-light', 'reason': 'not in the allowed packages'}]),
    # an exclusion wins over the allow-list; patterns are case-sensitive
    (['vim'], ['*'], ['libssl3', 'linux-image-amd64', 'nginx-light'],
     [{'name': 'vim', 'reason': 'excluded by vim'}]),
    (['VIM'], [], ['libssl3', 'linux-image-amd64', 'nginx-light', 'vim'], []),
])
def test_select_updates(exclude, allow, selected, skipped):
    chosen, left = _patch.select_updates(UPDATES, exclude, allow)
    assert [u['name'] for u in chosen] == selected
    assert left == skipped


class FakeLocks:
    """Lock status that stays held for the first `held_polls` polls."""

    def __init__(self, held_polls):
        self.held_polls = held_polls
        self.polls = 0
        self.now = 0.0
        self.sleeps = []

    def status_of(self, path, proc_root):
        held = path == '/var/lib/dpkg/lock-frontend' and self.polls < self.held_polls
        if path == _patch.APT_LOCKS[-1]:
            self.polls += 1
        holders = [{'pid': 812, 'command': 'apt-get'}] if held else []
        return {'path': path, 'held': held, 'holders': holders}

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_locks_returns_once_released():
    locks = FakeLocks(held_polls=3)
    held, waited = _patch.wait_for_locks(10, status_of=locks.status_of, clock=locks.clock, sleep=locks.sleep)
    assert held == []
    assert waited == 1.5
    assert locks.sleeps == [0.5, 0.5, 0.5]


def test_wait_for_locks_gives_up_at_the_timeout_with_the_holder():
    locks = FakeLocks(held_polls=1000)
    held, waited = _patch.wait_for_locks(2, status_of=locks.status_of, clock=locks.clock, sleep=locks.sleep)
    assert waited == 2.0
    assert _patch.describe_held(held) == '/var/lib/dpkg/lock-frontend is held by pid 812 (apt-get)'


def test_wait_for_locks_with_no_timeout_polls_once():
    locks = FakeLocks(held_polls=1000)
    held, waited = _patch.wait_for_locks(0, status_of=locks.status_of, clock=locks.clock, sleep=locks.sleep)
    assert len(held) == 1 and waited == 0.0 and locks.sleeps == []


class Stat:
    def __init__(self, free_mib):
        self.f_bavail = free_mib * 256
        self.f_frsize = 4096


def test_free_space_checks():
    def statvfs(path):
        if path == '/gone':
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        return Stat({'/': 800, '/var': 300}[path])

    checks = _patch.free_space_checks({'/var': 500, '/': 500, '/gone': 1}, statvfs=statvfs)
    assert [(c['path'], c['ok'], c['free_mb']) for c in checks] == [
        ('/', True, 800), ('/gone', False, None), ('/var', False, 300)]
    assert checks[2]['detail'] == '/var has 300 MiB free, below the minimum of 500 MiB'
    assert checks[0]['detail'] == '/ has 800 MiB free, at least 500 MiB'
    assert 'No such file' in checks[1]['detail']


def test_parse_dpkg_versions_keeps_installed_and_half_done_packages():
    text = ('libssl3:amd64\t3.0.17-1~deb12u2\tinstall ok installed\n'
            'broken\t1.1\tinstall ok half-configured\n'
            'removed\t1.0\tdeinstall ok config-files\n'
            'garbage line\n')
    assert _patch.parse_dpkg_versions(text) == {'libssl3': '3.0.17-1~deb12u2', 'broken': '1.1'}


def test_package_changes_report_what_really_moved():
    selected = [update('a', security=True), update('b'), update('c')]
    before = {'a': '1.0', 'b': '1.0', 'c': '1.0'}
    after = {'a': '1.1', 'b': '1.0'}
    assert _patch.package_changes(selected, before, after) == [
        {'name': 'a', 'from': '1.0', 'to': '1.1', 'security': True, 'origin': 'Debian:bookworm'}]


def test_planned_changes_and_upgrade_arguments_pin_the_candidate():
    selected = [update('a', candidate='2:1.1-1')]
    assert _patch.upgrade_arguments(selected) == ['a=2:1.1-1']
    assert _patch.planned_changes(selected) == [
        {'name': 'a', 'from': '1.0', 'to': '2:1.1-1', 'security': False, 'origin': 'Debian:bookworm'}]
