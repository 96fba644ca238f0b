# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""opsrun.ops.health_report: every host of the play reported, files written privately, old ones removed."""

import json
import os
import pathlib
import stat
from unittest import mock
from xml.etree import ElementTree

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.opsrun.ops.plugins.action.health_report import ActionModule

FINDING = {'host': 'web01', 'check': 'disk', 'item': '/', 'status': 'warn', 'value': 85.0,
           'threshold': {'warn': 80.0, 'crit': 90.0}, 'message': 'space of / used: 85.0%'}
HOSTVARS = {
    'web01': {'health': {'changed': False, 'findings': [FINDING]}},
    'web02': {},  # left the play before the check
    'web03': {'health': {'failed': True, 'msg': 'bad options'}},
}


def make_action(args, check_mode=False):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    return ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


def run(args, check_mode=False, hosts=('web01', 'web02', 'web03')):
    task_vars = {'ansible_play_hosts_all': list(hosts), 'hostvars': HOSTVARS}
    return make_action(args, check_mode).run(task_vars=task_vars)


def test_every_host_of_the_play_is_in_the_report(tmp_path):
    result = run({'result': 'health', 'dir': str(tmp_path)})
    report = result['report']
    assert report['hosts'] == {'web01': 'warn', 'web02': 'crit', 'web03': 'unknown'}
    assert [(item['host'], item['check'], item['status']) for item in report['findings']] == [
        ('web01', 'disk', 'warn'), ('web02', 'reachable', 'crit'), ('web03', 'health_check', 'unknown')]
    assert result['changed'] is False
    written = json.loads(pathlib.Path(result['json_file']).read_text())
    assert written == report
    assert os.path.basename(result['json_file']) == 'health_check_%s.json' % report['id']
    assert stat.S_IMODE(os.stat(result['json_file']).st_mode) == 0o640
    assert result['junit_file'] is None
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(result['json_file'])]


def test_hosts_can_be_given(tmp_path):
    result = run({'result': 'health', 'hosts': ['web01']})
    assert list(result['report']['hosts']) == ['web01']
    assert result['json_file'] is None


def test_a_relative_directory_is_made_with_private_modes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run({'result': 'health', 'dir': 'state/health', 'junit': True})
    assert result['json_file'] == str(tmp_path / 'state' / 'health' / os.path.basename(result['json_file']))
    assert stat.S_IMODE(os.stat(tmp_path / 'state' / 'health').st_mode) == 0o750
    root = ElementTree.parse(result['junit_file']).getroot()  # noqa: S314 - our own output
    assert [suite.get('name') for suite in root.findall('testsuite')] == ['web01', 'web02', 'web03']


def test_check_mode_writes_nothing(tmp_path):
    result = run({'result': 'health', 'dir': str(tmp_path / 'health'), 'junit': True}, check_mode=True)
    assert result['report']['summary'] == {'ok': 0, 'warn': 1, 'unknown': 1, 'crit': 1}
    assert result['json_file'] is None and not (tmp_path / 'health').exists()


def test_only_the_newest_reports_are_kept(tmp_path):
    old = ['health_check_20260101T000000000000Z.json', 'health_check_20260102T000000000000Z.json',
           'health_check_20260102T000000000000Z.xml', 'health_check_20260103T000000000000Z.json']
    for name in [*old, 'notes.json', 'health_check_latest.json']:
        (tmp_path / name).write_text('{}')
    result = run({'result': 'health', 'dir': str(tmp_path), 'keep': 2, 'junit': True})
    # Two of each kind: the two older JSON reports go, both XML reports stay; other files are not touched.
    assert sorted(os.path.basename(path) for path in result['removed']) == old[:2]
    assert sorted(os.listdir(tmp_path)) == sorted([old[2], old[3], os.path.basename(result['json_file']),
                                                   os.path.basename(result['junit_file']), 'notes.json',
                                                   'health_check_latest.json'])


def test_keep_zero_keeps_everything(tmp_path):
    (tmp_path / 'health_check_20200101T000000000000Z.json').write_text('{}')
    result = run({'result': 'health', 'dir': str(tmp_path), 'keep': 0})
    assert result['removed'] == [] and len(os.listdir(tmp_path)) == 2


@pytest.mark.parametrize('args, hosts, message', [
    ({'result': 'health', 'keep': -1}, ('web01',), 'keep must be 0'),
    ({'result': 'health'}, ('web09',), 'web09 in hosts is not a host of the inventory'),
    ({}, ('web01',), 'result'),
])
def test_bad_input_is_refused(args, hosts, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run(args, hosts=hosts)


def test_an_unwritable_directory_says_what_to_do(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(AnsibleActionFail, match=r'cannot write the report in .*choose a writable directory'):
        run({'result': 'health', 'dir': str(blocker / 'health')})
