# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""opsrun.ops.health_findings: which modules it runs, unreachable hosts, failing, the textfile."""

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible_collections.opsrun.ops.plugins.action.health_findings import ActionModule

SYSTEM = {
    'changed': False, 'section_errors': {}, 'gathered': ['filesystems', 'services'],
    'filesystems': {'mounts': [{'mount': '/', 'used_percent': 95.0, 'inodes_used_percent': 3.0,
                                'error': None}]},
    'services': {'failed_units': None, 'named': [{'name': 'cron', 'state': 'active'}], 'note': 'no systemd'},
}
LOG_SCAN = {
    'changed': True, 'files': [{'path': '/var/log/app.log', 'status': 'scanned', 'error': None}],
    'patterns': {'error': {'count': 2, 'first': [], 'last': [], 'severity': 'warn'}},
}
PROBE = {'changed': False, 'results': [{'name': 'db', 'type': 'tcp', 'target': 'db1:5432', 'status': 'ok',
                                        'latency_ms': 0.4, 'error': None}]}
LOGS = {'paths': ['/var/log/app.log'], 'patterns': [{'name': 'error', 'pattern': 'ERROR', 'warn': 1}]}
PROBES = {'targets': [{'name': 'db', 'type': 'tcp', 'host': 'db1', 'port': 5432, 'severity': 'warn'}]}


def make_action(args, answers=None, check_mode=False, unreachable_at=None):
    """The action with a fake task and connection; modules answer from ANSWERS by name."""
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = 'opsrun.ops.health_findings'
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        if module_name == unreachable_at:
            raise AnsibleConnectionFailure('ssh: connect to host 192.0.2.9 port 22: No route to host')
        return dict((answers or {})[module_name])

    action._execute_module = execute_module
    return action, calls


def run(action):
    return action.run(task_vars={'inventory_hostname': 'web01'})


def test_one_call_per_module_with_only_the_sections_the_checks_read():
    action, calls = make_action({'disk': {}, 'services': {'names': ['cron']}, 'logs': LOGS, 'probes': PROBES,
                                 'fail_on': 'never'},
                                {'opsrun.ops.system_info': SYSTEM, 'opsrun.ops.log_scan': LOG_SCAN,
                                 'opsrun.ops.probe': PROBE})
    result = run(action)
    assert [name for name, _args in calls] == ['opsrun.ops.system_info', 'opsrun.ops.log_scan',
                                               'opsrun.ops.probe']
    assert calls[0][1] == {'gather': ['filesystems', 'services'], 'section_timeout': 10.0,
                           'services': ['cron']}
    assert calls[1][1]['paths'] == ['/var/log/app.log'] and calls[1][1]['from_start'] is False
    assert calls[2][1] == {'timeout': 5.0,
                           'targets': [{'name': 'db', 'type': 'tcp', 'host': 'db1', 'port': 5432}]}
    assert [(item['check'], item['item'], item['status']) for item in result['findings']] == [
        ('reachable', 'connection', 'ok'), ('disk', '/', 'crit'), ('services', 'cron', 'ok'),
        ('logs', 'error', 'warn'), ('probes', 'db', 'ok')]
    # Default levels of the options apply when a check is given as an empty dict.
    assert result['findings'][1]['threshold'] == {'warn': 80.0, 'crit': 90.0}
    assert result['worst'] == 'crit' and result['counts'] == {'ok': 3, 'warn': 1, 'unknown': 0, 'crit': 1}
    assert result['changed'] is False and not result.get('failed')


def test_with_every_check_off_the_host_is_still_asked_whether_it_answers():
    action, calls = make_action({}, {'ansible.legacy.ping': {'ping': 'pong'}})
    result = run(action)
    assert calls == [('ansible.legacy.ping', {})]
    assert [(item['check'], item['status']) for item in result['findings']] == [('reachable', 'ok')]


def test_an_unreachable_host_is_a_finding_and_the_other_modules_are_not_tried():
    action, calls = make_action({'disk': {}, 'logs': LOGS, 'fail_on': 'never'},
                                unreachable_at='opsrun.ops.system_info')
    result = run(action)
    assert len(calls) == 1
    assert [(item['check'], item['item'], item['status'], item['value']) for item in result['findings']] == [
        ('reachable', 'connection', 'crit', False)]
    assert 'No route to host' in result['findings'][0]['message']
    assert not result.get('failed') and not result.get('unreachable')


def test_a_host_lost_midway_keeps_the_findings_gathered_before():
    action, _calls = make_action({'disk': {}, 'logs': LOGS, 'fail_on': 'never'},
                                 {'opsrun.ops.system_info': SYSTEM}, unreachable_at='opsrun.ops.log_scan')
    result = run(action)
    assert [(item['check'], item['status']) for item in result['findings']] == [
        ('reachable', 'crit'), ('disk', 'crit')]


def test_the_task_fails_when_findings_reach_fail_on_with_every_finding_in_the_result():
    action, _calls = make_action({'disk': {'used_percent': {'warn': 80, 'crit': 99}}, 'fail_on': 'warn'},
                                 {'opsrun.ops.system_info': SYSTEM})
    result = run(action)
    assert result['failed'] is True and result['fail_on_reached'] is True
    assert result['msg'] == 'warn disk /: space of / used: 95.0% (warn at 80%, crit at 99%)'
    assert len(result['findings']) == 2

    action, _calls = make_action({'disk': {'used_percent': {'warn': 80, 'crit': 99}}, 'fail_on': 'crit'},
                                 {'opsrun.ops.system_info': SYSTEM})
    assert not run(action).get('failed')


def test_a_failed_module_is_unknown_and_fails_the_task_at_crit_but_not_never():
    broken = {'failed': True, 'msg': 'MODULE FAILURE'}
    for fail_on, fails in (('crit', True), ('never', False)):
        action, _calls = make_action({'disk': {}, 'fail_on': fail_on}, {'opsrun.ops.system_info': broken})
        result = run(action)
        assert [(item['check'], item['item'], item['status']) for item in result['findings']] == [
            ('reachable', 'connection', 'ok'), ('disk', 'system_info', 'unknown')]
        assert result['errors'] == ['system_info: MODULE FAILURE']
        assert bool(result.get('failed')) is fails
    assert result['fail_reasons'] == []


@pytest.mark.parametrize('args, message', [
    ({'disk': {'used_percent': {'warn': 95, 'crit': 90}}}, 'health_findings: disk.used_percent: crit'),
    ({'load': {'period': 10}}, 'period'),
    ({'logs': {'paths': ['/x']}}, 'patterns'),
])
def test_bad_options_fail_before_the_host_is_asked(args, message):
    action, calls = make_action(args)
    with pytest.raises(AnsibleActionFail, match=message):
        run(action)
    assert calls == []


def test_the_textfile_is_written_by_the_copy_action_with_the_findings():
    action, _calls = make_action(
        {'disk': {}, 'fail_on': 'never', 'prometheus_textfile': '/var/lib/node/hc.prom'},
        {'opsrun.ops.system_info': SYSTEM})
    copy_action = mock.MagicMock()
    copy_action.run.return_value = {'changed': True}
    action._shared_loader_obj = mock.MagicMock()
    action._shared_loader_obj.action_loader.get.return_value = copy_action
    result = run(action)
    name = action._shared_loader_obj.action_loader.get.call_args[0][0]
    new_task = action._shared_loader_obj.action_loader.get.call_args[1]['task']
    assert name == 'ansible.legacy.copy'
    assert new_task.args['dest'] == '/var/lib/node/hc.prom' and new_task.args['mode'] == '0644'
    assert 'opsrun_health_check_status{check="disk",item="/"} 2\n' in new_task.args['content']
    assert result['changed'] is False and result['errors'] == []


def test_a_textfile_that_cannot_be_written_is_an_unknown_finding():
    action, _calls = make_action({'disk': {}, 'prometheus_textfile': '/missing/hc.prom'},
                                 {'opsrun.ops.system_info': SYSTEM})
    copy_action = mock.MagicMock()
    copy_action.run.return_value = {'failed': True, 'msg': 'Destination directory /missing does not exist'}
    action._shared_loader_obj = mock.MagicMock()
    action._shared_loader_obj.action_loader.get.return_value = copy_action
    result = run(action)
    assert result['findings'][-1]['check'] == 'prometheus' and result['findings'][-1]['status'] == 'unknown'
    assert 'does not exist' in result['errors'][0]
    assert result['failed'] is True


def test_check_mode_still_checks():
    # The modules read only (log_scan leaves its offsets alone in check mode), so they run as usual.
    action, calls = make_action({'disk': {}, 'fail_on': 'never'}, {'opsrun.ops.system_info': SYSTEM},
                                check_mode=True)
    result = run(action)
    assert [name for name, _args in calls] == ['opsrun.ops.system_info']
    assert result['findings'][1]['status'] == 'crit'
