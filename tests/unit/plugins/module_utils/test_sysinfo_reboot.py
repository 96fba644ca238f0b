# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reboot-needed parsing of the system_info module."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_reboot import (
    parse_needs_restarting,
    parse_reboot_required,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def test_reboot_required_with_packages():
    reasons, packages = parse_reboot_required(fixture('reboot-required'), fixture('reboot-required.pkgs'))
    assert reasons == ['System restart required']
    assert packages == ['linux-image-6.1.0-18-amd64', 'libc6', 'libssl3']


def test_reboot_required_without_package_list():
    assert parse_reboot_required('*** System restart required ***\n') == (['System restart required'], [])


@pytest.mark.parametrize('rc, name, expected', [
    (1, 'needs-restarting.required', (
        True,
        ['Core libraries or services have been updated since boot-up:',
         'Reboot is required to fully utilize these updates.'],
        ['glibc', 'kernel', 'systemd'])),
    (0, 'needs-restarting.not-required', (False, [], [])),
])
def test_needs_restarting(rc, name, expected):
    assert parse_needs_restarting(rc, fixture(name)) == expected


def test_needs_restarting_failure_is_an_error():
    with pytest.raises(SectionError, match=r'needs-restarting -r failed \(rc=2\): Error: Cannot read rpmdb'):
        parse_needs_restarting(2, 'Error: Cannot read rpmdb\n')
