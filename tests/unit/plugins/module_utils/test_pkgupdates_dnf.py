# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dnf/yum: check-update, updateinfo and rpm -q parsing on captured-format fixtures."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_dnf import (
    dnf_updates,
    parse_check_update,
    parse_rpm_query,
    parse_security_advisories,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'package_updates_info')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_check_update_rows_including_wrapped_and_obsoleting():
    available, obsoleted = parse_check_update(fixture_text('dnf-check-update-el9.txt'))
    rows = [(row['name'], row['arch'], row['version'], row['repo']) for row in available]
    assert rows == [
        ('NetworkManager', 'x86_64', '1:1.48.10-8.el9_5', 'baseos'),
        ('NetworkManager-libnm', 'x86_64', '1:1.48.10-8.el9_5', 'baseos'),
        ('glibc', 'x86_64', '2.34-125.el9_5.8', 'baseos'),
        ('glibc-common', 'x86_64', '2.34-125.el9_5.8', 'baseos'),
        ('grub2-tools', 'x86_64', '1:2.06-94.el9_5', 'baseos'),
        ('kernel', 'x86_64', '5.14.0-503.40.1.el9_5', 'baseos'),
        ('kernel-core', 'x86_64', '5.14.0-503.40.1.el9_5', 'baseos'),
        ('kernel-tools', 'x86_64', '5.14.0-503.40.1.el9_5', 'baseos'),
        ('openssl-libs', 'x86_64', '1:3.2.2-6.el9_5.1', 'baseos'),
        ('python3-dnf-plugin-post-transaction-actions', 'noarch', '4.3.0-16.el9_5', 'appstream'),
        ('systemd', 'x86_64', '252-46.el9_5.3', 'baseos'),
        ('tzdata', 'noarch', '2025b-1.el9', 'appstream'),
        ('dhcpcd', 'x86_64', '10.0.6-1.el9', 'appstream'),
        ('grub2-tools', 'x86_64', '1:2.06-94.el9_5', 'baseos'),
    ]
    # Installed packages under 'Obsoleting Packages' belong to the row above them, they are not updates.
    assert obsoleted == {'dhcpcd.x86_64': ['dhcp-client.x86_64'],
                         'grub2-tools.x86_64': ['grub2-tools.x86_64']}


def test_yum_rows_wrapped_after_name_and_after_version():
    available, obsoleted = parse_check_update(fixture_text('yum-check-update-el7.txt'))
    rows = [(row['name'], row['version'], row['repo']) for row in available]
    assert rows == [
        ('java-1.8.0-openjdk-headless', '1:1.8.0.412.b08-1.el7_9', 'updates'),
        ('kernel', '3.10.0-1160.119.1.el7', 'updates'),
        ('libreoffice-langpack-en', '1:5.3.6.1-26.el7_9', 'rhel-7-server-optional-rpms'),
        ('microcode_ctl', '2:2.1-73.20.el7_9', 'updates'),
        ('some-package-with-a-really-long-name-devel', '1.2.3-4.el7', 'epel'),
    ]
    assert obsoleted == {}


@pytest.mark.parametrize('text', [
    '',
    '\n',
    'Last metadata expiration check: 0:41:12 ago on Tue 20 May 2025 09:12:01 AM UTC.\n',
    'Security: kernel-core-5.14.0-503.40.1.el9_5.x86_64 is an installed security update\n',
    # Three words that are not a package row.
    'No packages marked\n',
])
def test_check_update_ignores_lines_that_are_not_rows(text):
    assert parse_check_update(text) == ([], {})


def test_security_advisories_dnf():
    packages = parse_security_advisories(fixture_text('dnf-updateinfo-security-el9.txt'))
    assert packages == {
        ('openssl-libs', 'x86_64'), ('kernel', 'x86_64'), ('kernel-core', 'x86_64'),
        ('kernel-tools', 'x86_64'), ('python3-perf', 'x86_64'),
    }


def test_security_advisories_yum_and_verbose_dnf():
    packages = parse_security_advisories(fixture_text('yum-updateinfo-security-el7.txt'))
    assert packages == {('java-1.8.0-openjdk-headless', 'x86_64'), ('kernel', 'x86_64')}
    verbose = 'RLSA-2025:4051 Important/Sec. kernel-5.14.0-503.40.1.el9_5.x86_64 2025-04-22 10:11:12\n'
    assert parse_security_advisories(verbose) == {('kernel', 'x86_64')}


def test_rpm_query_epoch_and_newest_install_only_package():
    installed = parse_rpm_query(fixture_text('rpm-query-el9.txt'))
    assert installed['NetworkManager', 'x86_64'] == '1:1.48.10-5.el9_5'
    assert installed['glibc', 'x86_64'] == '2.34-125.el9_5.1'
    # Three kernels are installed; the most recently installed one is reported, wherever rpm lists it.
    assert installed['kernel', 'x86_64'] == '5.14.0-503.38.1.el9_5'
    assert installed['kernel-core', 'x86_64'] == '5.14.0-503.38.1.el9_5'
    assert ('dhcpcd', 'x86_64') not in installed


def test_rpm_query_epoch_zero_is_left_out():
    line = 'bash\tx86_64\t0\t5.1.8\t9.el9\t1700000000\n'
    assert parse_rpm_query(line) == {('bash', 'x86_64'): '5.1.8-9.el9'}


def test_dnf_updates_marks_security_and_obsoletes():
    available, obsoleted = parse_check_update(fixture_text('dnf-check-update-el9.txt'))
    security = parse_security_advisories(fixture_text('dnf-updateinfo-security-el9.txt'))
    installed = parse_rpm_query(fixture_text('rpm-query-el9.txt'))
    updates = dnf_updates(available, obsoleted, security, installed)
    found = dict((item['name'], item) for item in updates)
    assert len(updates) == 13  # grub2-tools is listed twice by dnf and counted once
    assert found['kernel-core'] == {
        'name': 'kernel-core', 'arch': 'x86_64', 'installed_version': '5.14.0-503.38.1.el9_5',
        'candidate_version': '5.14.0-503.40.1.el9_5', 'origin': 'baseos', 'security': True, 'obsoletes': [],
    }
    assert found['openssl-libs']['security'] is True
    assert found['glibc']['security'] is False
    assert found['tzdata']['installed_version'] == '2024b-2.el9'
    assert found['dhcpcd']['installed_version'] is None
    assert found['dhcpcd']['obsoletes'] == ['dhcp-client.x86_64']
    assert found['grub2-tools']['obsoletes'] == []
    # python3-perf has an advisory but no pending update here: advisories alone add nothing.
    assert 'python3-perf' not in found
