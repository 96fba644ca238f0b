# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics_bundle module as Ansible runs it: bundle, check mode, options and errors."""

import calendar
import json
import os
import stat
import tarfile

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.modules import diagnostics_bundle

NOW = calendar.timegm((2026, 1, 8, 9, 45, 0, 0, 0, 0))
LOG = (
    b'2026-01-08T08:00:00Z web01 app[3]: before the window password=old\n'
    b'2026-01-08T09:05:00Z web01 app[3]: error: login failed password=hunter2\n'
    b'2026-01-08T09:06:00Z web01 app[3]: GET / Authorization: Bearer abc.def\n'
    b'2026-01-08T10:00:00Z web01 app[3]: after the window\n'
)

pytestmark = pytest.mark.usefixtures('utc_time')


@pytest.fixture
def app_log(tmp_path):
    path = tmp_path / 'app.log'
    path.write_bytes(LOG)
    os.utime(str(path), (NOW, NOW))
    return path


@pytest.fixture
def temp_dir(tmp_path):
    path = tmp_path / 'remote-tmp'
    path.mkdir()
    return path


def run_module(capsys, args, check_mode=False):
    """Run main() with args (no commands: collect is empty); return (exit code, result)."""
    arguments = dict(name='web01', since='2026-01-08T09:00:00Z', until='2026-01-08T09:30:00Z', collect=[])
    arguments.update(args)
    if check_mode:
        arguments['_ansible_check_mode'] = True
    with patch_module_args(arguments), pytest.raises(SystemExit) as exit_info:
        diagnostics_bundle.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_the_bundle_holds_the_window_redacted(capsys, app_log, temp_dir):
    snapshot = {'changed': False, 'invocation': {}, 'identity': {'hostname': 'web01'}}
    args = dict(paths=[str(app_log)], temp_dir=str(temp_dir), host='web01.example.com', system_info=snapshot)
    code, result = run_module(capsys, args)
    assert code == 0, result
    assert result['changed'] is True
    assert os.path.dirname(result['bundle_dir']) == str(temp_dir)
    assert result['bundle'] == os.path.join(result['bundle_dir'], 'web01.tar.gz')
    assert stat.S_IMODE(os.stat(result['bundle_dir']).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(result['bundle']).st_mode) == 0o600
    assert result['size'] == os.path.getsize(result['bundle'])
    with tarfile.open(result['bundle']) as archive:
        names = archive.getnames()
        log = archive.extractfile('web01/logs' + str(app_log)).read()
        everything = b''.join(archive.extractfile(name).read() for name in names)
    assert sorted(names) == sorted(['web01/manifest.json', 'web01/events.json', 'web01/logs' + str(app_log),
                                    'web01/system/system_info.json'])
    assert log == (b'2026-01-08T09:05:00Z web01 app[3]: error: login failed password=[REDACTED]\n'
                   b'2026-01-08T09:06:00Z web01 app[3]: GET / Authorization: Bearer [REDACTED]\n')
    assert b'hunter2' not in everything and b'abc.def' not in everything
    assert result['window'] == {'since': '2026-01-08T09:00:00.000000Z',
                                'until': '2026-01-08T09:30:00.000000Z'}
    assert [(event['host'], event['kind'], event['time']) for event in result['events']] == [
        ('web01.example.com', 'error', '2026-01-08T09:05:00.000000Z')]
    assert 'hunter2' not in json.dumps(result)
    assert result['redactions']['password'] == 1 and result['redactions']['authorization'] == 1
    assert result['journal'] == {'available': None, 'reason': None}


def test_logs_adds_the_system_logs_before_the_paths(capsys, app_log, temp_dir):
    code, result = run_module(capsys, dict(paths=[str(app_log)], temp_dir=str(temp_dir), collect=['logs']),
                              check_mode=True)
    assert code == 0, result
    origins = [source['origin'] for source in result['sources']]
    assert origins == [*diagnostics_bundle.SYSTEM_LOGS, str(app_log)]


def test_check_mode_collects_but_writes_nothing(capsys, app_log, temp_dir):
    code, result = run_module(capsys, dict(paths=[str(app_log)], temp_dir=str(temp_dir)), check_mode=True)
    assert code == 0, result
    assert result['changed'] is True
    assert [result[key] for key in ('bundle', 'bundle_dir', 'size', 'sha256')] == [None] * 4
    assert os.listdir(str(temp_dir)) == []
    assert [event['kind'] for event in result['events']] == ['error']
    assert result['sources'][0]['lines'] == 2


def test_custom_redaction_and_event_patterns(capsys, app_log, temp_dir):
    code, result = run_module(capsys, dict(
        paths=[str(app_log)], temp_dir=str(temp_dir),
        redact_patterns=[r'GET (/)'],
        event_patterns=[dict(name='http', pattern=r'GET \S+')],
    ), check_mode=True)
    assert code == 0, result
    assert result['redactions']['custom_1'] == 1
    kinds = [(event['kind'], event['severity']) for event in result['events']]
    assert kinds == [('error', 'error'), ('http', 'error')]
    assert result['events'][1]['what'].endswith('GET [REDACTED] Authorization: Bearer [REDACTED]')


@pytest.mark.parametrize('args, message', [
    (dict(since='yesterday'), "since: cannot read 'yesterday' as a time"),
    (dict(until='2026-01-08T08:00:00Z'), 'until (2026-01-08T08:00:00.000000Z) is before since'),
    (dict(redact_patterns=['(']), 'redaction pattern custom_1'),
    (dict(event_patterns=[dict(name='x', pattern='(')]), 'event pattern x'),
    (dict(name='a/b'), "name 'a/b' cannot name a bundle file"),
])
def test_bad_options_fail_with_a_message_naming_them(capsys, temp_dir, args, message):
    code, result = run_module(capsys, dict(args, temp_dir=str(temp_dir)))
    assert code == 1
    assert result['failed'] is True
    assert message in result['msg']
    assert os.listdir(str(temp_dir)) == []


def test_an_unwritable_temp_dir_fails_with_advice(capsys, tmp_path):
    code, result = run_module(capsys, dict(temp_dir=str(tmp_path / 'absent')))
    assert code == 1
    assert result['msg'].startswith('cannot write the bundle under %s' % (tmp_path / 'absent'))
    assert result['msg'].endswith('set temp_dir to a writable directory')
