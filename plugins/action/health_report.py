# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The controller side of opsrun.ops.health_report (documented in plugins/modules/health_report.py).

Runs once per play: it reads the registered health_findings results of every host from hostvars
and writes the reports straight from the controller process, without starting a module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.opsrun.ops.plugins.plugin_utils._health_findings import build_report, junit_xml

ARGUMENT_SPEC = dict(
    result=dict(type='str', required=True),
    hosts=dict(type='list', elements='str'),
    dir=dict(type='path'),
    keep=dict(type='int', default=30),
    junit=dict(type='bool', default=False),
)
REPORT_NAME = re.compile(r'^health_check_\d{8}T\d{12}Z\.(json|xml)$')
DIR_MODE = 0o750
FILE_MODE = 0o640


def write_private(path, text):
    """Write text to path (mode 0640) through a temporary file in the same directory and a rename."""
    temporary = os.path.join(os.path.dirname(path), '.%s.tmp' % os.path.basename(path))
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, 'w') as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def old_reports(directory, keep):
    """Report files beyond the newest KEEP of each kind; their names sort by the time of the run."""
    names = sorted(name for name in os.listdir(directory) if REPORT_NAME.match(name))
    old = []
    for suffix in ('.json', '.xml'):
        kind = [name for name in names if name.endswith(suffix)]
        old.extend(kind[:max(len(kind) - keep, 0)])
    return [os.path.join(directory, name) for name in old]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args['keep'] < 0:
            raise AnsibleActionFail('health_report: keep must be 0 (keep all) or more, not %d' % args['keep'])
        hosts = args['hosts'] if args['hosts'] is not None else task_vars.get('ansible_play_hosts_all', [])
        hostvars = task_vars.get('hostvars', {})
        pairs = []
        for host in hosts:
            if host not in hostvars:
                raise AnsibleActionFail('health_report: %s in hosts is not a host of the inventory' % host)
            pairs.append((host, hostvars[host].get(args['result'])))

        report = build_report(pairs)
        started = datetime.datetime.now(datetime.timezone.utc)
        report['generated'] = started.strftime('%Y-%m-%dT%H:%M:%SZ')
        report['id'] = started.strftime('%Y%m%dT%H%M%S%fZ')

        json_file = junit_file = None
        removed = []
        if args['dir'] and not self._task.check_mode:
            directory = os.path.abspath(args['dir'])
            try:
                os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
                json_file = os.path.join(directory, 'health_check_%s.json' % report['id'])
                write_private(json_file, json.dumps(report, indent=2, sort_keys=True) + '\n')
                if args['junit']:
                    junit_file = os.path.join(directory, 'health_check_%s.xml' % report['id'])
                    write_private(junit_file, junit_xml(report))
                if args['keep']:
                    removed = old_reports(directory, args['keep'])
                    for path in removed:
                        os.unlink(path)
            except OSError as exc:
                raise AnsibleActionFail('health_report: cannot write the report in %s: %s; choose a writable '
                                        'directory' % (directory, exc.strerror or exc)) from None
        result.update(
            # A new report per run is the run's output, not a change to any host.
            changed=False,
            report=report,
            json_file=json_file,
            junit_file=junit_file,
            removed=removed,
        )
        return result
