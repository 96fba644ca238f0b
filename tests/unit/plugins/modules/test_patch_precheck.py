# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch_precheck through main(), with dpkg, apt-get and the lock wait answered by fakes."""

import pytest
from ansible_collections.opsrun.ops.plugins.modules import patch_precheck

HELD = [{'path': '/var/lib/dpkg/lock-frontend', 'held': True,
         'holders': [{'pid': 4242, 'command': 'python3'}]}]


def run(monkeypatch, call_main, params, *, audit_out='', check_rc=0, held=(), check_mode=False):
    commands = []

    def run_command(args, **kwargs):
        commands.append(list(args))
        if args[1] == '--audit':
            return 0, audit_out, ''
        return check_rc, '', 'E: Unmet dependencies. Try apt --fix-broken install\n' if check_rc else ''

    monkeypatch.setattr(patch_precheck, 'wait_for_locks',
                        lambda timeout: (list(held), float(timeout if held else 0)))
    failed, result = call_main(patch_precheck, params, run_command, check_mode=check_mode)
    return failed, result, commands


def test_a_healthy_host_passes_also_in_check_mode(monkeypatch, call_main):
    failed, result, commands = run(monkeypatch, call_main, {'min_free_mb': {'/': 1}}, check_mode=True)
    assert not failed
    assert [c['name'] for c in result['checks']] == ['free_space', 'reboot', 'lock', 'packages']
    assert result['failed_checks'] == [] and result['changed'] is False
    assert [c[1] for c in commands] == ['--audit', '-q']


def test_a_held_lock_names_the_holder_and_skips_the_package_checks(monkeypatch, call_main):
    failed, result, commands = run(monkeypatch, call_main, {'lock_timeout': 3}, held=HELD)
    assert failed
    assert result['failed_checks'] == ['lock']
    assert ('/var/lib/dpkg/lock-frontend is held by pid 4242 (python3), still after 3.0 s of waiting'
            in result['msg'])
    assert commands == []


@pytest.mark.parametrize(('kwargs', 'checks', 'words'), [
    ({'audit_out': 'The following packages are only half configured:\n broken\n'}, ['packages'],
     'dpkg --configure -a'),
    ({'check_rc': 100}, ['packages'], 'apt-get check exited 100 (E: Unmet dependencies.'),
])
def test_broken_packages_fail(monkeypatch, call_main, kwargs, checks, words):
    failed, result, _commands = run(monkeypatch, call_main, {}, **kwargs)
    assert failed
    assert result['failed_checks'] == checks
    assert words in result['msg']


def test_a_pending_reboot_and_too_little_space_fail_together(monkeypatch, call_main):
    params = {'reboot_pending': True, 'min_free_mb': {'/': 10 ** 12}}
    failed, result, _commands = run(monkeypatch, call_main, params)
    assert failed
    assert result['failed_checks'] == ['free_space', 'reboot']
    assert 'below the minimum of 1000000000000 MiB' in result['msg']
    assert 'a reboot from an earlier change is pending' in result['msg']


@pytest.mark.parametrize('minimums', [{'var': 1}, {'/': 'lots'}, {'/': -1}])
def test_bad_minimums_are_refused_naming_the_option(monkeypatch, call_main, minimums):
    failed, result, commands = run(monkeypatch, call_main, {'min_free_mb': minimums})
    assert failed
    assert result['msg'].startswith('min_free_mb must map absolute paths to whole MiB')
    assert commands == []
