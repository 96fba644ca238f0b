# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filtering, reboot implications and the result summary shared by all package managers."""

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates import (
    filter_updates,
    make_update,
    reboot_category,
    reboot_reasons,
    summarize,
)


def update(name, security=False, arch='amd64', candidate='2.0-1'):
    return make_update(name=name, arch=arch, installed_version='1.0-1', candidate_version=candidate,
                       origin='test', security=security)


@pytest.mark.parametrize(('package', 'category'), [
    ('linux-image-amd64', 'kernel'),
    ('linux-image-6.1.0-35-amd64', 'kernel'),
    ('linux-image-generic', 'kernel'),
    ('kernel', 'kernel'),
    ('kernel-core', 'kernel'),
    ('kernel-uek-core', 'kernel'),
    ('libc6', 'libc'),
    ('glibc', 'libc'),
    ('systemd', 'systemd'),
    ('dbus', 'dbus'),
    ('dbus-broker', 'dbus'),
    ('intel-microcode', 'microcode'),
    ('amd64-microcode', 'microcode'),
    ('microcode_ctl', 'microcode'),
    # Packages named like reboot-relevant ones that do not touch the running system.
    ('kernel-tools', None),
    ('kernel-headers', None),
    ('linux-libc-dev', None),
    ('linux-headers-amd64', None),
    ('libc6-dev', None),
    ('glibc-common', None),
    ('systemd-timesyncd', None),
    ('libdbus-1-3', None),
    ('openssl', None),
])
def test_reboot_category(package, category):
    assert reboot_category(package) == category


def test_reboot_reasons_name_category_package_and_version():
    updates = [update('openssl'), update('linux-image-amd64', candidate='6.1.137-1'),
               update('libc6', candidate='2.36-9')]
    assert reboot_reasons(updates) == ['kernel: linux-image-amd64 6.1.137-1', 'libc: libc6 2.36-9']


@pytest.mark.parametrize(('patterns', 'security_only', 'expected'), [
    (None, False, ['openssl', 'libssl3', 'tzdata', 'linux-image-amd64']),
    ([], False, ['openssl', 'libssl3', 'tzdata', 'linux-image-amd64']),
    (None, True, ['openssl', 'libssl3']),
    (['*ssl*'], False, ['openssl', 'libssl3']),
    (['libssl?', 'linux-image-*'], False, ['libssl3', 'linux-image-amd64']),
    (['linux-image-*'], True, []),
    # Patterns are case-sensitive and must match the whole name.
    (['OpenSSL'], False, []),
    (['ssl'], False, []),
])
def test_filter_updates(patterns, security_only, expected):
    updates = [update('openssl', security=True), update('libssl3', security=True), update('tzdata'),
               update('linux-image-amd64')]
    kept = filter_updates(updates, patterns, security_only)
    assert [item['name'] for item in kept] == expected


def test_summarize_counts_after_filters_and_leaves_held_out_of_reboot():
    updates = [update('tzdata'), update('libc6', security=True), update('libc6', security=True, arch='i386'),
               update('systemd')]
    held = [update('linux-image-amd64', security=True), update('openssh-server')]
    result = summarize(updates, held, manager='apt', backend='apt-get', cache_updated=False,
                       security_only=True)
    selected = [(item['name'], item['arch']) for item in result['updates']]
    assert selected == [('libc6', 'amd64'), ('libc6', 'i386')]
    assert result['count'] == 2
    assert result['security_count'] == 2
    assert [item['name'] for item in result['held']] == ['linux-image-amd64']
    assert result['reboot_required_after_update'] is True
    assert result['reboot_reasons'] == ['libc: libc6 2.0-1', 'libc: libc6 2.0-1']
    assert (result['manager'], result['backend'], result['cache_updated']) == ('apt', 'apt-get', False)


def test_summarize_without_updates():
    result = summarize([], [], manager='dnf', backend='dnf', cache_updated=True, name_patterns=['kernel*'])
    assert result == {
        'updates': [], 'count': 0, 'security_count': 0, 'held': [], 'manager': 'dnf', 'backend': 'dnf',
        'reboot_required_after_update': False, 'reboot_reasons': [], 'cache_updated': True,
    }
