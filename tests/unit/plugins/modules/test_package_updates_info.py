# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""package_updates_info through main(), with commands answered from fixtures.

Commands are answered by a fake run_command keyed on the arguments after the binary; any command
that is not expected fails the test, so a cache refresh in check mode cannot go unnoticed.
Running against a real apt repository is the job of the integration tests on the fleet.
"""

import json
import os
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.modules import package_updates_info

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'package_updates_info')

APT_SIMULATE = tuple(package_updates_info.APT_SIMULATE_ARGS)
DNF_CHECK_UPDATE = ('-q', '-C', 'check-update')
DNF_UPDATEINFO = ('-q', '-C', 'updateinfo', 'list', 'security')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def exit_json(self, **kwargs):
    raise ExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    raise FailJson(kwargs)


class FakeHost:
    """Binaries present on the host and canned answers to the commands the module may run."""

    def __init__(self, binaries, answers):
        self.binaries = set(binaries)
        self.answers = answers
        self.commands = []
        self.environments = []

    def module_patches(self):
        """Replacements for AnsibleModule methods, answering from this host."""
        host = self

        def get_bin_path(module, name, required=False, opt_dirs=None):
            return host.get_bin_path(module, name, required)

        def run_command(module, args, **kwargs):
            return host.run_command(module, args)

        return {'get_bin_path': get_bin_path, 'run_command': run_command,
                'exit_json': exit_json, 'fail_json': fail_json}

    def get_bin_path(self, module, name, required):
        if name in self.binaries:
            return '/usr/bin/' + name
        if required:
            module.fail_json(msg=f'Failed to find required executable "{name}"')
        return None

    def run_command(self, module, args):
        self.commands.append(tuple(args))
        self.environments.append(dict(module.run_command_environ_update))
        key = (os.path.basename(args[0]), *tuple(args[1:]))
        if key[0] == 'rpm':
            key = ('rpm', '-q')
        if key not in self.answers:
            raise AssertionError(f'unexpected command: {args!r}')
        return self.answers[key]

    def ran(self, *prefix):
        return [command for command in self.commands
                if (os.path.basename(command[0]), *command[1:len(prefix)]) == prefix]


def run_module(host, args, check_mode=False, python_apt_records=None):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), \
            mock.patch.multiple(basic.AnsibleModule, **host.module_patches()), \
            mock.patch.object(package_updates_info, 'python_apt_available',
                              return_value=python_apt_records is not None), \
            mock.patch.object(package_updates_info, 'read_python_apt_records',
                              return_value=python_apt_records), \
            mock.patch.object(package_updates_info, 'probe_interpreters_for_module', return_value=None), \
            mock.patch.object(package_updates_info, 'respawn_module',
                              side_effect=AssertionError('must not respawn')):
        try:
            package_updates_info.main()
        except ExitJson as done:
            return done.args[0]
        except FailJson as failed:
            return dict(failed.args[0], failed=True)
    raise AssertionError('the module neither exited nor failed')


def apt_host():
    return FakeHost(['apt-get', 'apt-mark'], {
        ('apt-mark', 'showhold'): (0, fixture_text('apt-mark-showhold.txt'), ''),
        ('apt-get', *APT_SIMULATE): (0, fixture_text('apt-get-simulate-bookworm.txt'), ''),
        ('apt-get', '-q', 'update'): (0, 'Hit:1 http://127.0.0.1/debian bookworm InRelease\n', ''),
    })


def dnf_host(check_update_rc=100, check_update_out=None):
    if check_update_out is None:
        check_update_out = fixture_text('dnf-check-update-el9.txt')
    return FakeHost(['dnf', 'rpm'], {
        ('dnf', *DNF_CHECK_UPDATE): (check_update_rc, check_update_out, ''),
        ('dnf', *DNF_UPDATEINFO): (0, fixture_text('dnf-updateinfo-security-el9.txt'), ''),
        ('rpm', '-q'): (1, fixture_text('rpm-query-el9.txt'), ''),
        ('dnf', '-q', 'makecache', '--refresh'): (0, '', ''),
    })


def not_held(path):
    return {'path': path, 'held': False, 'holders': []}


def test_apt_check_mode_never_refreshes_the_cache():
    host = apt_host()
    with mock.patch.object(package_updates_info, 'lock_status', side_effect=not_held) as locks:
        result = run_module(host, {'update_cache': True}, check_mode=True)
    assert host.ran('apt-get', '-q', 'update') == []
    locks.assert_not_called()
    assert result['changed'] is False
    assert result['cache_updated'] is False
    assert (result['manager'], result['backend']) == ('apt', 'apt-get')
    names = [(item['name'], item['arch']) for item in result['updates']]
    assert names == [('base-files', 'amd64'), ('libc6', 'amd64'), ('libc6', 'i386'), ('libssl3', 'amd64'),
                     ('linux-image-amd64', 'amd64'), ('openssl', 'amd64'), ('tzdata', 'all')]
    assert result['count'] == 7
    assert result['security_count'] == 4
    assert [item['name'] for item in result['held']] == ['openssh-server']
    assert result['reboot_required_after_update'] is True
    assert result['reboot_reasons'] == ['libc: libc6 2.36-9+deb12u10', 'libc: libc6 2.36-9+deb12u10',
                                        'kernel: linux-image-amd64 6.1.137-1']


def test_apt_commands_run_in_c_locale_without_locking():
    host = apt_host()
    run_module(host, {})
    simulate = host.ran('apt-get', '-s')
    assert len(simulate) == 1
    assert 'Debug::NoLocking=1' in simulate[0]
    assert all(environment.get('LC_ALL') == 'C' for environment in host.environments)
    assert len(host.environments) == 2


def test_python_apt_backend_refreshes_cache_when_asked():
    host = apt_host()
    records = json.loads(fixture_text('python-apt-records-bookworm.json'))
    with mock.patch.object(package_updates_info, 'lock_status', side_effect=not_held) as locks:
        result = run_module(host, {'update_cache': True, 'security_only': True}, python_apt_records=records)
    locks.assert_called_once_with('/var/lib/apt/lists/lock')
    assert host.ran('apt-get', '-q', 'update') == [('/usr/bin/apt-get', '-q', 'update')]
    # python3-apt reads the cache itself: no simulation, no apt-mark.
    assert host.ran('apt-get', '-s') == []
    assert host.ran('apt-mark') == []
    assert result['cache_updated'] is True
    assert result['changed'] is False
    assert result['backend'] == 'python-apt'
    assert [item['name'] for item in result['updates']] == ['libc6', 'libc6', 'libssl3', 'openssl']
    assert [item['name'] for item in result['held']] == ['openssh-server']


def test_held_lock_fails_naming_the_lock_and_holder():
    host = apt_host()
    held = {'path': '/var/lib/apt/lists/lock', 'held': True, 'holders': [{'pid': 2718, 'command': 'apt-get'}]}
    with mock.patch.object(package_updates_info, 'lock_status', return_value=held):
        result = run_module(host, {'update_cache': True})
    assert result['failed'] is True
    assert '/var/lib/apt/lists/lock is held by pid 2718 (apt-get)' in result['msg']
    assert result['lock'] == held
    assert host.ran('apt-get', '-q', 'update') == []


def test_failed_cache_refresh_reports_output():
    host = apt_host()
    host.answers['apt-get', '-q', 'update'] = (100, '', 'E: The repository is not signed.\n')
    with mock.patch.object(package_updates_info, 'lock_status', side_effect=not_held):
        result = run_module(host, {'update_cache': True})
    assert result['failed'] is True
    assert result['rc'] == 100
    assert result['stderr'] == 'E: The repository is not signed.\n'
    assert 'apt-get -q update' in result['msg']


def test_respawns_under_system_python_when_it_has_python_apt():
    host = apt_host()
    with patch_module_args({}), \
            mock.patch.multiple(basic.AnsibleModule, **host.module_patches()), \
            mock.patch.object(package_updates_info, 'python_apt_available', return_value=False), \
            mock.patch.object(package_updates_info, 'has_respawned', return_value=False), \
            mock.patch.object(package_updates_info, 'probe_interpreters_for_module',
                              return_value='/usr/bin/python3') as probe, \
            mock.patch.object(package_updates_info, 'respawn_module', side_effect=SystemExit(0)) as respawn, \
            pytest.raises(SystemExit):
        package_updates_info.main()
    probe.assert_called_once_with(['/usr/bin/python3'], 'apt_pkg')
    respawn.assert_called_once_with('/usr/bin/python3')
    assert host.commands == []


def test_dnf_updates_with_security_marking_and_name_filter():
    host = dnf_host()
    result = run_module(host, {'names': ['kernel*', 'glibc', 'openssl-libs', 'tzdata']})
    assert (result['manager'], result['backend']) == ('dnf', 'dnf')
    found = dict((item['name'], item) for item in result['updates'])
    assert sorted(found) == ['glibc', 'kernel', 'kernel-core', 'kernel-tools', 'openssl-libs', 'tzdata']
    assert found['kernel']['security'] is True
    assert found['kernel']['installed_version'] == '5.14.0-503.38.1.el9_5'
    assert found['glibc']['security'] is False
    assert result['security_count'] == 4
    assert result['reboot_reasons'] == ['libc: glibc 2.34-125.el9_5.8',
                                        'kernel: kernel 5.14.0-503.40.1.el9_5',
                                        'kernel: kernel-core 5.14.0-503.40.1.el9_5']
    assert result['held'] == []
    assert result['cache_updated'] is False
    # rpm is asked about every package check-update listed, once each.
    rpm_args = host.ran('rpm')[0]
    assert rpm_args[:3] == ('/usr/bin/rpm', '-q', '--qf')
    assert rpm_args[4:].count('grub2-tools') == 1


def test_dnf_rc_zero_means_no_updates_and_nothing_else_runs():
    host = dnf_host(check_update_rc=0, check_update_out='')
    result = run_module(host, {})
    assert result['updates'] == []
    assert result['count'] == 0
    assert result['reboot_required_after_update'] is False
    assert host.ran('dnf', '-q', '-C', 'updateinfo') == []
    assert host.ran('rpm') == []


def test_dnf_error_exit_is_a_clear_failure():
    host = dnf_host(check_update_rc=1, check_update_out='')
    host.answers['dnf', *DNF_CHECK_UPDATE] = (1, '', "Error: Cache-only enabled but no cache for 'baseos'\n")
    result = run_module(host, {})
    assert result['failed'] is True
    assert result['rc'] == 1
    assert 'update_cache=true' in result['msg']


def test_dnf_refresh_checks_its_pid_file_locks():
    host = dnf_host()
    with mock.patch.object(package_updates_info, 'lock_status', side_effect=not_held) as locks:
        result = run_module(host, {'update_cache': True, 'manager': 'dnf'})
    assert [call.args[0] for call in locks.call_args_list] == ['/var/cache/dnf/metadata_lock.pid',
                                                               '/var/cache/dnf/download_lock.pid']
    assert host.ran('dnf', '-q', 'makecache') == [('/usr/bin/dnf', '-q', 'makecache', '--refresh')]
    assert result['cache_updated'] is True
    assert result['changed'] is False


def test_no_package_manager_is_a_clear_failure():
    result = run_module(FakeHost([], {}), {})
    assert result['failed'] is True
    assert 'none of apt-get, dnf, yum is in PATH' in result['msg']


def test_requested_manager_missing_is_a_clear_failure():
    result = run_module(apt_host(), {'manager': 'dnf'})
    assert result['failed'] is True
    assert result['msg'].startswith("manager=dnf was requested but 'dnf' is not in PATH")


def test_auto_prefers_dnf_over_yum():
    host = dnf_host()
    host.binaries.add('yum')
    assert run_module(host, {})['manager'] == 'dnf'


def test_yum_host():
    rpm_output = ('kernel\tx86_64\t(none)\t3.10.0\t1160.118.1.el7\t1710000000\n'
                  'microcode_ctl\tx86_64\t2\t2.1\t73.19.el7_9\t1710000000\n')
    host = FakeHost(['yum', 'rpm'], {
        ('yum', *DNF_CHECK_UPDATE): (100, fixture_text('yum-check-update-el7.txt'), ''),
        ('yum', *DNF_UPDATEINFO): (0, fixture_text('yum-updateinfo-security-el7.txt'), ''),
        ('rpm', '-q'): (3, rpm_output + 'package libreoffice-langpack-en is not installed\n', ''),
    })
    result = run_module(host, {'security_only': True})
    assert (result['manager'], result['backend']) == ('yum', 'yum')
    assert [(item['name'], item['installed_version'], item['origin']) for item in result['updates']] == [
        ('java-1.8.0-openjdk-headless', None, 'updates'),
        ('kernel', '3.10.0-1160.118.1.el7', 'updates'),
    ]
    assert result['reboot_reasons'] == ['kernel: kernel 3.10.0-1160.119.1.el7']


def test_yum_refresh_blocked_by_running_yum():
    host = FakeHost(['yum', 'rpm'], {})
    held = {'path': '/var/run/yum.pid', 'held': True, 'holders': [{'pid': 1999, 'command': 'yum'}]}
    with mock.patch.object(package_updates_info, 'lock_status', return_value=held) as locks:
        result = run_module(host, {'update_cache': True})
    locks.assert_called_once_with('/var/run/yum.pid')
    assert result['failed'] is True
    assert 'Cannot refresh the yum metadata: /var/run/yum.pid is held by pid 1999 (yum)' in result['msg']
    assert host.commands == []
