# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The controller side of opsrun.ops.health_findings (documented in plugins/modules/health_findings.py).

One task per host does the whole check: system_info, log_scan and probe run at most once each over
the host's connection, and their results become findings here, on the controller. A host that
cannot be reached becomes a finding too, instead of leaving the play unnoticed; the task fails
only when the findings reach fail_on, with all of them in its result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible_collections.opsrun.ops.plugins.plugin_utils import _health_findings as health

_FLOAT_LEVELS = dict(type='dict', options=dict(warn=dict(type='float'), crit=dict(type='float')))
_INT_LEVELS = dict(type='dict', options=dict(warn=dict(type='int'), crit=dict(type='int')))
_STATUS = dict(type='str', choices=['warn', 'crit'])


def _levels(kind, warn, crit):
    return dict(kind, default=dict(warn=warn, crit=crit))


ARGUMENT_SPEC = dict(
    fail_on=dict(type='str', choices=list(health.FAIL_ON_CHOICES), default='crit'),
    section_timeout=dict(type='float', default=10.0),
    disk=dict(type='dict', options=dict(
        used_percent=_levels(_FLOAT_LEVELS, 80.0, 90.0),
        mounts=dict(type='dict', default={}),
        exclude=dict(type='list', elements='str', default=[]),
        include_tmpfs=dict(type='bool', default=False),
    )),
    inodes=dict(type='dict', options=dict(
        used_percent=_levels(_FLOAT_LEVELS, 80.0, 90.0),
        mounts=dict(type='dict', default={}),
        exclude=dict(type='list', elements='str', default=[]),
    )),
    memory=dict(type='dict', options=dict(available_percent=_levels(_FLOAT_LEVELS, 10.0, 5.0))),
    swap=dict(type='dict', options=dict(used_percent=_levels(_FLOAT_LEVELS, 50.0, 80.0))),
    load=dict(type='dict', options=dict(
        per_cpu=_levels(_FLOAT_LEVELS, 2.0, 4.0),
        period=dict(type='int', choices=[1, 5, 15], default=5),
    )),
    failed_units=dict(type='dict', options=dict(
        status=dict(_STATUS, default='crit'),
        ignore=dict(type='list', elements='str', default=[]),
    )),
    reboot=dict(type='dict', options=dict(status=dict(_STATUS, default='warn'))),
    time=dict(type='dict', options=dict(offset_seconds=_levels(_FLOAT_LEVELS, 0.5, 5.0))),
    services=dict(type='dict', options=dict(
        names=dict(type='list', elements='str', required=True),
        status=dict(_STATUS, default='crit'),
    )),
    ports=dict(type='dict', options=dict(
        expected=dict(type='list', elements='dict', required=True, options=dict(
            port=dict(type='int', required=True),
            protocol=dict(type='str', choices=['tcp', 'udp'], default='tcp'),
            address=dict(type='str'),
        )),
        status=dict(_STATUS, default='crit'),
    )),
    sensors=dict(type='dict', options=dict(
        rules=dict(type='list', elements='dict', required=True, options=dict(
            match=dict(type='str', default='*'),
            kind=dict(type='str', choices=['temperature', 'humidity']),
            warn_above=dict(type='float'),
            crit_above=dict(type='float'),
            warn_below=dict(type='float'),
            crit_below=dict(type='float'),
            ignore=dict(type='bool', default=False),
        )),
        ipmi=dict(type='bool', default=False),
    )),
    logs=dict(type='dict', options=dict(
        paths=dict(type='list', elements='path', required=True),
        patterns=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            pattern=dict(type='str', required=True),
            regex=dict(type='bool', default=False),
            ignore_case=dict(type='bool', default=False),
            warn=dict(type='int'),
            crit=dict(type='int'),
        )),
        state_file=dict(type='path'),
        from_start=dict(type='bool', default=False),
        max_bytes=dict(type='int', default=67108864),
    )),
    probes=dict(type='dict', options=dict(
        targets=dict(type='list', elements='dict', required=True),
        timeout=dict(type='float', default=5.0),
        tls_days_left=_levels(_INT_LEVELS, 30, 7),
    )),
    prometheus_textfile=dict(type='path'),
    prometheus_textfile_mode=dict(type='str', default='0644'),
)
CHECKS = ('disk', 'inodes', 'memory', 'swap', 'load', 'failed_units', 'reboot', 'time', 'services', 'ports',
          'sensors', 'logs', 'probes')
MODULES = {
    'system_info': 'opsrun.ops.system_info',
    'log_scan': 'opsrun.ops.log_scan',
    'probe': 'opsrun.ops.probe',
    # Only when every check is off: the host is still asked whether it answers.
    'ping': 'ansible.legacy.ping',
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        checks = dict((name, args[name]) for name in CHECKS)
        try:
            health.validate_checks(checks)
        except ValueError as exc:
            raise AnsibleActionFail('health_findings: %s' % exc) from None

        host = task_vars.get('inventory_hostname', 'localhost')
        try:
            answers, unreachable = self._ask_host(checks, args['section_timeout'], task_vars)
            findings = self._findings(host, checks, answers, unreachable)
            if args['prometheus_textfile'] and unreachable is None:
                findings.extend(self._write_textfile(host, findings, args, task_vars))
        finally:
            self._clean_up()

        errors = ['%s: %s' % (name, answer.get('msg'))
                  for name, answer in answers.items() if answer.get('failed')]
        errors += [item['message'] for item in findings if item['check'] == 'prometheus']
        reasons = health.fail_reasons(findings, args['fail_on'])
        if args['fail_on'] == 'crit':
            # A module that failed is an unknown finding, below crit; it still fails the host, as a
            # check that cannot run must not pass silently. (warn and unknown list it already.)
            reasons += ['a check could not run: %s' % error for error in errors]
        result.update(
            # The only writes are the check's own bookkeeping (log_scan's offsets, the metrics
            # textfile), so a daily run never shows up as a change to the host.
            changed=False,
            findings=findings,
            worst=health.worst(item['status'] for item in findings),
            counts=health.count_by_status(findings),
            fail_on=args['fail_on'],
            fail_on_reached=bool(reasons),
            fail_reasons=reasons,
            errors=errors,
        )
        if reasons:
            # Failing after the findings are complete: they are registered all the same, so a
            # report that runs afterwards (in an `always` section) still has them.
            result.update(failed=True, msg='; '.join(reasons))
        return result

    def _ask_host(self, checks, section_timeout, task_vars):
        """Run each needed module once; ({module: result}, None or why the host was unreachable)."""
        calls = [
            ('system_info', health.system_info_args(checks, section_timeout)),
            ('log_scan', health.log_scan_args(checks['logs'])),
            ('probe', health.probe_args(checks['probes'])),
        ]
        calls = [(name, module_args) for name, module_args in calls if module_args is not None]
        calls = calls or [('ping', {})]
        answers = {}
        for name, module_args in calls:
            try:
                answers[name] = self._execute_module(module_name=MODULES[name], module_args=module_args,
                                                     task_vars=task_vars)
            except AnsibleConnectionFailure as exc:
                return answers, str(exc)
        return answers, None

    @staticmethod
    def _findings(host, checks, answers, unreachable):
        findings = [health.reachable_finding(host, unreachable)]
        if 'system_info' in answers:
            findings.extend(health.system_findings(host, checks, answers['system_info']))
        if 'log_scan' in answers:
            findings.extend(health.log_findings(host, checks['logs'], answers['log_scan']))
        if 'probe' in answers:
            findings.extend(health.probe_findings(host, checks['probes'], answers['probe']))
        return findings

    def _write_textfile(self, host, findings, args, task_vars):
        """Replace the node_exporter textfile atomically (the copy action's way); findings of a failure."""
        path = args['prometheus_textfile']
        new_task = self._task.copy()
        new_task.args = {'content': health.prometheus_text(findings, time.time()), 'dest': path,
                         'mode': args['prometheus_textfile_mode']}
        copy_action = self._shared_loader_obj.action_loader.get(
            'ansible.legacy.copy', task=new_task, connection=self._connection,
            play_context=self._play_context, loader=self._loader, templar=self._templar,
            shared_loader_obj=self._shared_loader_obj)
        try:
            written = copy_action.run(task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            written = {'failed': True, 'msg': str(exc)}
        if written.get('failed'):
            return [health.finding(host, 'prometheus', path, 'unknown',
                                   message='cannot write the Prometheus textfile %s: %s'
                                   % (path, written.get('msg')))]
        return []

    def _clean_up(self):
        try:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        except AnsibleConnectionFailure:
            # The host went away during the check; its temporary directory goes with it.
            self._connection._shell.tmpdir = None
