# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collecting a host's evidence with stand-in commands, and packing the bundle."""

import calendar
import hashlib
import io
import json
import os
import stat
import tarfile

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _diagbundle
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle import (
    Settings,
    bundle_members,
    check_settings,
    collect,
    cut_at_line,
    manifest_and_events,
    service_log_paths,
    write_bundle,
)
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_redact import Redactor

pytestmark = pytest.mark.usefixtures('utc_time')

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'diagnostics_bundle')


def utc(*fields):
    return calendar.timegm(fields + (0,) * (9 - len(fields)))


SINCE = utc(2026, 1, 8, 9, 0, 0)
UNTIL = utc(2026, 1, 8, 9, 30, 0)
NOW = utc(2026, 1, 8, 9, 45, 0)


def fixture(name):
    with open(os.path.join(FIXTURES, name), 'rb') as stream:
        return stream.read()


class FakeTools(object):
    """Commands by name: (rc, stdout, stderr); a name missing from outputs is not installed."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def which(self, name):
        return '/usr/bin/' + name if name in self.outputs else None

    def run(self, argv):
        self.calls.append(argv)
        name = os.path.basename(argv[0])
        if argv[1:] == ['--no-pager', '--list-boots']:
            name = 'journalctl --list-boots'
        elif name == 'journalctl':
            selectors = [arg for arg in argv if arg.startswith(('--priority', '--unit'))]
            name = ' '.join(['journalctl', *selectors])
        result = self.outputs[name]
        return result if isinstance(result, tuple) else (0, result, b'')


JOURNAL = (
    b'2026-01-08T09:04:00.000001+0000 web01 app[3]: error: login failed password=hunter2\n'
    b'2026-01-08T09:06:00.000001+0000 web01 app[3]: GET / Authorization: Bearer abc.def\n'
)

JOURNAL_ERRORS = b'2026-01-08T09:04:00.000001+0000 web01 app[3]: error: login failed password=hunter2\n'
NGINX_UNIT = b'2026-01-08T09:07:00.000001+0000 web01 nginx[5]: worker process exited on signal 9\n'

ALL_TOOLS = {
    'journalctl': JOURNAL,
    'journalctl --priority=err': JOURNAL_ERRORS,
    'journalctl --unit=nginx': NGINX_UNIT,
    'journalctl --list-boots': fixture('list_boots.txt'),
    'dmesg': fixture('dmesg.txt'),
    'last': fixture('last_x.txt'),
}

SYSTEM_INFO = {
    'changed': False,
    'invocation': {'module_args': {'gather': ['all']}},
    'identity': {'hostname': 'web01', 'boot_time': '2026-01-08T09:12:40Z', 'kernel': '6.1.0-18-amd64'},
    'services': {'failed_units': [
        {'name': 'app.service', 'sub': 'failed', 'description': 'App token=t0k3n',
         'since': '2026-01-08T09:08:00Z'},
    ]},
}


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host whose logs live in tmp_path: one application log, dpkg.log and a journal."""
    logs = tmp_path / 'log'
    logs.mkdir()
    app = logs / 'app.log'
    app.write_bytes(
        b'Jan  8 08:00:00 web01 app[3]: out of the window password=old\n'
        b'Jan  8 09:05:00 web01 app[3]: error: db down token=abc123\n'
        b'Jan  8 10:00:00 web01 app[3]: out after\n'
    )
    dpkg = logs / 'dpkg.log'
    dpkg.write_bytes(fixture('dpkg.log'))
    for path in (app, dpkg):
        os.utime(str(path), (NOW, NOW))
    monkeypatch.setattr(_diagbundle, 'PACKAGE_LOGS', (str(dpkg), str(logs / 'dnf.rpm.log')))
    monkeypatch.setattr(_diagbundle, 'journal_available', lambda: True)
    return logs


def settings_for(logs, **options):
    values = dict(log_paths=[str(logs / 'app.log'), str(logs / '*.missing')], services=['nginx'])
    values.update(options)
    return Settings('web01', 'web01.example.com', SINCE, UNTIL, Redactor(), **values)


def members_of(collection):
    return dict(collection.members)


def test_everything_is_collected_redacted_and_dated(host):
    tools = FakeTools(dict(ALL_TOOLS))
    collection = collect(settings_for(host), tools, SYSTEM_INFO, NOW)
    members = members_of(collection)
    assert sorted(members) == sorted([
        'logs' + str(host / 'app.log'), 'packages' + str(host / 'dpkg.log'),
        'journal/all.log', 'journal/errors.log', 'journal/unit-nginx.log', 'journal/boots.txt',
        'kernel/dmesg.log', 'logins/last.txt', 'system/system_info.json',
    ])
    app_log = members['logs' + str(host / 'app.log')]
    assert app_log == b'Jan  8 09:05:00 web01 app[3]: error: db down token=[REDACTED]\n'
    assert members['kernel/dmesg.log'].count(b'\n') == 4
    for member, data in members.items():
        for secret in (b'hunter2', b'abc.def', b'abc123', b't0k3n'):
            assert secret not in data, (member, secret)
    snapshot = json.loads(members['system/system_info.json'])
    assert 'invocation' not in snapshot and 'changed' not in snapshot
    assert snapshot['identity']['hostname'] == 'web01'

    manifest, events, omitted = manifest_and_events(collection)
    assert omitted == 0
    assert manifest['host'] == 'web01.example.com'
    assert manifest['bundle'] == 'web01'
    assert manifest['window'] == {'since': '2026-01-08T09:00:00.000000Z',
                                  'until': '2026-01-08T09:30:00.000000Z'}
    assert manifest['redactions']['password'] == 4
    assert manifest['redactions']['authorization'] == 1
    assert [(event['time'][11:19], event['kind'], event['source']) for event in events] == [
        ('09:04:00', 'error', 'journal/all.log'),
        ('09:05:00', 'error', 'logs' + str(host / 'app.log')),
        ('09:05:02', 'package', 'packages' + str(host / 'dpkg.log')),
        ('09:05:03', 'package', 'packages' + str(host / 'dpkg.log')),
        ('09:05:04', 'package', 'packages' + str(host / 'dpkg.log')),
        ('09:08:00', 'unit_failed', 'system/system_info.json'),
        ('09:10:03', 'oom', 'kernel/dmesg.log'),
        ('09:10:03', 'oom', 'kernel/dmesg.log'),
        ('09:10:09', 'segfault', 'kernel/dmesg.log'),
        ('09:11:57', 'shutdown', 'journal/boots.txt'),
        ('09:12:41', 'boot', 'journal/boots.txt'),
    ]
    assert all(event['host'] == 'web01.example.com' for event in events)
    assert 'app.service failed (failed): App token=[REDACTED]' in [event['what'] for event in events]


def test_commands_get_the_window_and_argument_lists(host):
    tools = FakeTools(dict(ALL_TOOLS))
    collect(settings_for(host, login_entries=7), tools, None, NOW)
    window = ['--since=@%d' % SINCE, '--until=@%d' % UNTIL]
    journal = ['/usr/bin/journalctl', '--no-pager', '--quiet', '--output=short-iso-precise', *window]
    assert tools.calls == [
        journal,
        [*journal, '--priority=err'],
        [*journal, '--unit=nginx'],
        ['/usr/bin/journalctl', '--no-pager', '--list-boots'],
        ['/usr/bin/dmesg', '--time-format', 'iso'],
        ['/usr/bin/last', '-x', '--time-format', 'iso', '--until', '2026-01-08 09:30:00', '-n', '7'],
    ]


def test_denied_and_missing_commands_are_recorded_not_raised(host):
    outputs = dict(ALL_TOOLS)
    outputs['dmesg'] = (1, b'', b'dmesg: read kernel buffer failed: Operation not permitted\n')
    del outputs['last']
    outputs['journalctl --unit=nginx'] = (1, b'', b'failed: password=leaked\n')
    collection = collect(settings_for(host), FakeTools(outputs), None, NOW)
    sources = dict((source['origin'], source) for source in collection.sources)
    dmesg = sources['dmesg --time-format iso']
    assert (dmesg['status'], dmesg['member']) == ('error', None)
    assert dmesg['error'] == 'exit code 1: dmesg: read kernel buffer failed: Operation not permitted'
    last = next(source for origin, source in sources.items() if origin.startswith('last '))
    assert (last['status'], last['error']) == ('missing', 'last is not installed')
    unit = next(source for origin, source in sources.items() if origin.endswith('--unit=nginx'))
    assert unit['error'] == 'exit code 1: failed: password=[REDACTED]'
    assert 'kernel/dmesg.log' not in members_of(collection)


def test_without_a_journal_journalctl_is_not_run(host, monkeypatch):
    monkeypatch.setattr(_diagbundle, 'journal_available', lambda: False)
    tools = FakeTools(dict(ALL_TOOLS))
    collection = collect(settings_for(host, collect=['journal']), tools, None, NOW)
    assert tools.calls == []
    assert collection.journal['available'] is False
    assert 'no systemd journal' in collection.journal['reason']


def test_collect_choices_leave_sources_out(host):
    tools = FakeTools(dict(ALL_TOOLS))
    collection = collect(settings_for(host, collect=[], services=[]), tools, None, NOW)
    assert tools.calls == []
    assert list(members_of(collection)) == ['logs' + str(host / 'app.log')]
    no_match = [source for source in collection.sources if source['status'] == 'no_match']
    assert [source['origin'] for source in no_match] == [str(host / '*.missing')]


def test_command_output_is_cut_at_a_line_end(host):
    tools = FakeTools(dict(ALL_TOOLS))
    settings = settings_for(host, collect=['journal'], services=[], max_file_bytes=100)
    collection = collect(settings, tools, None, NOW)
    journal = next(source for source in collection.sources if source['member'] == 'journal/all.log')
    assert journal['truncated'] is True
    assert members_of(collection)['journal/all.log'].count(b'\n') == 1


def test_cut_at_line():
    assert cut_at_line(b'one\ntwo\n', 100) == (b'one\ntwo\n', False)
    assert cut_at_line(b'one\ntwo\n', 6) == (b'one\n', True)
    assert cut_at_line(b'onelongline\n', 4) == (b'', True)


def test_service_log_paths_skip_names_that_cannot_name_a_file():
    assert service_log_paths(['nginx.service', 'app@1', '..', 'getty@tty1.service']) == [
        '/var/log/nginx.log', '/var/log/nginx/*.log']


@pytest.mark.parametrize('name, since, until, options, message', [
    ('../etc', SINCE, UNTIL, {}, "name '../etc' cannot name a bundle file"),
    ('web01', UNTIL, SINCE, {}, 'until (2026-01-08T09:00:00.000000Z) is before since'),
    ('web01', SINCE, UNTIL, dict(services=['-evil']), "services: '-evil' is not a unit name"),
    ('web01', SINCE, UNTIL, dict(services=['a b']), "services: 'a b' is not a unit name"),
    ('web01', SINCE, UNTIL, dict(max_events=0), 'max_events must be at least 1, not 0'),
])
def test_bad_settings_are_refused_with_the_option_named(name, since, until, options, message):
    settings = Settings(name, 'web01', since, until, Redactor(), **options)
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        check_settings(settings)


def test_the_bundle_is_private_and_holds_every_member(host, tmp_path):
    collection = collect(settings_for(host, collect=[]), FakeTools({}), SYSTEM_INFO, NOW)
    manifest, events, _omitted = manifest_and_events(collection)
    members = bundle_members(collection, manifest, events)
    parent = tmp_path / 'tmp'
    parent.mkdir()
    directory, path, size, digest = write_bundle(members, 'web01', str(parent), NOW)
    assert os.path.dirname(path) == directory and os.path.dirname(directory) == str(parent)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, 'rb') as stream:
        data = stream.read()
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        infos = archive.getmembers()
        assert [info.name for info in infos] == ['web01/' + member for member, _data in members]
        assert {info.mode for info in infos} == {0o600}
        assert json.loads(archive.extractfile('web01/manifest.json').read())['host'] == 'web01.example.com'
        assert json.loads(archive.extractfile('web01/events.json').read()) == events


def test_a_failed_bundle_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_addfile(self, tarinfo, fileobj=None):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(tarfile.TarFile, 'addfile', broken_addfile)
    with pytest.raises(OSError, match='No space left'):
        write_bundle([('manifest.json', b'{}\n')], 'web01', str(tmp_path))
    assert os.listdir(str(tmp_path)) == []
