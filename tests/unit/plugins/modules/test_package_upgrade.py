# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""package_upgrade through main(), with apt-get and dpkg-query answered by a fake host."""

from ansible_collections.opsrun.ops.plugins.modules import package_upgrade


def update(name, security=False):
    return {'name': name, 'arch': 'all', 'installed_version': '1.0', 'candidate_version': '1.1',
            'origin': 'Debian-Security:bookworm-security' if security else 'Debian:bookworm',
            'security': security, 'obsoletes': []}


class FakeHost:
    """dpkg-query answers from `versions`, which apt-get install moves to the pinned versions."""

    def __init__(self, apt_rc=0, fail_names=()):
        self.versions = {'libssl3': '1.0', 'vim': '1.0', 'broken': '1.0'}
        self.apt_rc = apt_rc
        self.fail_names = set(fail_names)
        self.commands = []

    def run_command(self, module, args, **kwargs):
        self.commands.append(list(args))
        if args[0].endswith('dpkg-query'):
            lines = ['%s\t%s\tinstall ok installed' % (name, self.versions[name]) for name in args[4:]
                     if name in self.versions]
            return 0, '\n'.join(lines) + '\n', ''
        assert args[1] == 'install' and '--only-upgrade' in args
        assert kwargs['environ_update']['DEBIAN_FRONTEND'] == 'noninteractive'
        for pinned in args[args.index('Dpkg::Options::=--force-confold') + 1:]:
            name, version = pinned.split('=')
            if name not in self.fail_names:
                self.versions[name] = version
        if self.apt_rc:
            return self.apt_rc, '', 'E: Sub-process /usr/bin/dpkg returned an error code (1)\n'
        return 0, 'done\n', ''


def run(monkeypatch, call_main, params, host, *, check_mode=False, held=()):
    monkeypatch.setattr(package_upgrade, 'wait_for_locks', lambda timeout: (list(held), 0.0))
    return call_main(package_upgrade, params, lambda args, **kwargs: host.run_command(None, args, **kwargs),
                     check_mode=check_mode)


def test_check_mode_reports_the_selection_and_runs_nothing(monkeypatch, call_main):
    host = FakeHost()
    params = {'updates': [update('vim'), update('libssl3', True)], 'exclude': ['vim']}
    failed, result = run(monkeypatch, call_main, params, host, check_mode=True)
    assert not failed
    assert result['changed'] is True
    assert result['selected'] == ['libssl3']
    assert [(p['name'], p['from'], p['to'], p['security']) for p in result['packages']] == [
        ('libssl3', '1.0', '1.1', True)]
    assert result['skipped'] == [{'name': 'vim', 'reason': 'excluded by vim'}]
    assert host.commands == []


def test_upgrade_pins_versions_and_reports_what_changed(monkeypatch, call_main):
    host = FakeHost()
    failed, result = run(monkeypatch, call_main, {'updates': [update('vim'), update('libssl3', True)]}, host)
    assert not failed
    apt = [c for c in host.commands if c[0].endswith('apt-get')]
    assert len(apt) == 1 and apt[0][-2:] == ['vim=1.1', 'libssl3=1.1']
    assert result['changed'] is True
    assert [(p['name'], p['to']) for p in result['packages']] == [('libssl3', '1.1'), ('vim', '1.1')]
    assert result['apt_seconds'] >= 0


def test_nothing_selected_changes_nothing(monkeypatch, call_main):
    host = FakeHost()
    failed, result = run(monkeypatch, call_main, {'updates': [update('vim')], 'allow': ['lib*']}, host)
    assert not failed
    assert result['changed'] is False and result['packages'] == [] and host.commands == []


def test_a_failing_apt_fails_and_still_reports_the_changes(monkeypatch, call_main):
    host = FakeHost(apt_rc=100, fail_names=['broken'])
    failed, result = run(monkeypatch, call_main, {'updates': [update('broken'), update('vim')]}, host)
    assert failed
    assert 'apt-get install of broken, vim exited 100' in result['msg']
    assert 'dpkg returned an error code' in result['msg']
    assert [p['name'] for p in result['packages']] == ['vim']


def test_a_held_lock_fails_naming_the_holder(monkeypatch, call_main):
    held = [{'path': '/var/lib/dpkg/lock-frontend', 'held': True, 'holders': [{'pid': 77, 'command': 'apt'}]}]
    host = FakeHost()
    failed, result = run(monkeypatch, call_main, {'updates': [update('vim')]}, host, held=held)
    assert failed
    assert '/var/lib/dpkg/lock-frontend is held by pid 77 (apt)' in result['msg']
    assert host.commands == []


def test_updates_without_the_needed_keys_are_refused(monkeypatch, call_main):
    failed, result = run(monkeypatch, call_main, {'updates': [{'name': 'vim'}]}, FakeHost())
    assert failed
    assert result['msg'].startswith('updates[0] lacks installed_version, candidate_version, security')
