#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service_contract
short_description: Check a service against its health contract on the managed host
version_added: 0.1.0
description:
  - Evaluates the health contract of one service on the managed host, in one round trip - whether
    its process runs, its ports listen, it answers HTTP as expected and its logs stay free of a
    pattern - and returns one result per check, the evidence of a failure and the host's service
    manager.
  - Evaluated once (O(wait=false)), it tells whether the service is healthy now, for example before a
    restart. With O(wait=true), for example after a restart, every process, port and http check is
    polled until it passes or its O(checks[].timeout) runs out, and every log check watches its log
    until its timeout has passed and the other checks have settled, failing at the first matching line.
  - A failed check is a result (RV(passed=false)), never a module failure. The module fails only on bad
    input, with a message that names the check's index and the key.
  - The module changes nothing; it returns C(changed=false) and runs in check mode too.
author:
  - opsrun maintainers (@opsrun)
attributes:
  check_mode:
    description: Can run in check mode and return the same results as without it.
    support: full
    details: The checks only read, so check mode checks exactly as a normal run does.
  diff_mode:
    description: Would show what changed in diff mode.
    support: none
    details: The module changes nothing.
  platform:
    description: Target operating systems.
    support: full
    platforms: posix
options:
  service:
    description:
      - Name of the service, used in results and to read its journal as evidence on systemd hosts.
    type: str
    required: true
  checks:
    description:
      - The contract. Each entry has a O(checks[].type) and the keys of that type; keys of other types
        are refused, so a misplaced key is caught instead of ignored.
      - "Keys by type: C(process): O(checks[].process) and/or O(checks[].pidfile).
        C(port): O(checks[].port), O(checks[].protocol), O(checks[].address).
        C(http): O(checks[].url), O(checks[].expect_status), O(checks[].body_match),
        O(checks[].validate_certs).
        C(log): O(checks[].path), O(checks[].pattern).
        Every type also takes O(checks[].name) and O(checks[].timeout)."
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the check in the results; must be unique within the contract.
          - Defaults to the type and what it looks at, for example C(port tcp/80).
        type: str
      type:
        description:
          - Required. C(process) - a process runs, found by name or by pid file. C(port) - a socket
            listens. C(http) - one request to a URL gets an expected status and body. C(log) - no new
            line of a log matches a pattern.
        type: str
      timeout:
        description:
          - Seconds the check may take to pass with O(wait=true) (for a log check, seconds it watches the
            log at least). Defaults to O(timeout).
          - For C(http) it also bounds each request.
        type: float
      process:
        description:
          - Process name (C(process)), matched against the kernel's process name (its first 15
            characters), and the base names of the executable and of the first command-line word.
          - With O(checks[].pidfile), the process that the file names must also have this name.
        type: str
      pidfile:
        description:
          - Pid file whose process must run (C(process)).
        type: path
      port:
        description:
          - Port that must have a listening socket (C(port)). Required for C(port).
        type: int
      protocol:
        description:
          - Protocol of the socket (C(port)). Defaults to C(tcp).
        type: str
        choices: [tcp, udp]
      address:
        description:
          - Local address the socket must listen on (C(port)); a socket on the wildcard address counts.
            Any address when not given.
        type: str
      url:
        description:
          - The C(http://) or C(https://) URL to request (C(http)). Required for C(http). Redirects are not
            followed; list a 3xx status in O(checks[].expect_status) to accept one.
        type: str
      expect_status:
        description:
          - HTTP status codes that pass (C(http)). Defaults to C([200]).
        type: list
        elements: int
      body_match:
        description:
          - Python regular expression that must be found in the response body (C(http)); only the first
            MiB is searched.
        type: str
      validate_certs:
        description:
          - Whether an HTTPS server's certificate must be trusted and match the host name (C(http)).
            Defaults to C(true).
        type: bool
      path:
        description:
          - Log file to watch (C(log)). Required for C(log).
        type: path
      pattern:
        description:
          - Python regular expression that no new line of O(checks[].path) may match (C(log)). Required for
            C(log).
        type: str
  wait:
    description:
      - Poll each check until it passes or its timeout runs out, instead of looking once.
    type: bool
    default: false
  timeout:
    description:
      - Seconds each check may take unless it sets its own O(checks[].timeout).
    type: float
    default: 30
  interval:
    description:
      - Seconds between two looks at a check that has not passed yet, with O(wait=true).
    type: float
    default: 0.5
  log_offsets:
    description:
      - Where each log check starts reading, as returned in RV(log_offsets) by an earlier call (for example
        the check before a restart), so that only lines written since then count.
      - A log check whose file is not listed starts at the file's current end; evaluated once
        (O(wait=false)) it then only records that end and its status is C(skipped).
    type: dict
    default: {}
  evidence_logs:
    description:
      - Further log files whose last lines are returned as evidence when a check fails. The files of the
        log checks are always included.
    type: list
    elements: path
    default: []
  evidence_lines:
    description:
      - How many last lines of each evidence log (and of the service's journal) are returned.
    type: int
    default: 20
  journal:
    description:
      - On a host run by systemd, also return the last lines of the service's journal as evidence when a
        check fails.
    type: bool
    default: true
notes:
  - The http check uses the request code of M(opsrun.ops.probe); it honours the C(http_proxy),
    C(https_proxy) and C(no_proxy) environment variables.
seealso:
  - module: opsrun.ops.probe
  - module: opsrun.ops.system_info
"""

EXAMPLES = r"""
- name: Check nginx before restarting it
  opsrun.ops.service_contract:
    service: nginx
    checks:
      - type: process
        process: nginx
        pidfile: /run/nginx.pid
      - type: port
        port: 80
      - name: home page
        type: http
        url: http://127.0.0.1/
        body_match: Welcome
      - type: log
        path: /var/log/nginx/error.log
        pattern: '\[(emerg|crit|alert)\]'
  register: nginx_before

- name: Restart nginx
  ansible.builtin.service:
    name: nginx
    state: restarted

- name: Wait until nginx passes its contract again, counting only new log lines
  opsrun.ops.service_contract:
    service: nginx
    checks: "{{ nginx_contract }}"
    wait: true
    timeout: 20
    log_offsets: "{{ nginx_before.log_offsets }}"
  register: nginx_after
  failed_when: not nginx_after.passed
"""

RETURN = r"""
service:
  description: The O(service).
  returned: always
  type: str
  sample: nginx
service_manager:
  description: C(systemd) when systemd runs the host, C(sysvinit) for a classic init, else C(other).
  returned: always
  type: str
  sample: systemd
passed:
  description: Whether no check has status C(fail).
  returned: always
  type: bool
  sample: false
message:
  description: One line naming each failed check and why; C(null) when all passed.
  returned: always
  type: str
  sample: "http home page: status 502, expected 200"
failed_checks:
  description: Names of the checks whose status is C(fail).
  returned: always
  type: list
  elements: str
  sample: [home page]
checks:
  description: One result per check, in the order of O(checks).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's O(checks[].name), or the name made for it.
      type: str
      returned: always
      sample: port tcp/80
    type:
      description: The check's O(checks[].type).
      type: str
      returned: always
      sample: port
    status:
      description: C(ok), C(fail), or C(skipped) for a log check with no starting point evaluated once.
      type: str
      returned: always
      sample: ok
    error:
      description: Why the check failed; C(null) otherwise.
      type: str
      returned: always
      sample: nothing listens on tcp/80
    attempts:
      description: How many times the check was looked at.
      type: int
      returned: always
      sample: 3
    elapsed_s:
      description: Seconds from the start of the call until the check settled; C(null) when skipped.
      type: float
      returned: always
      sample: 0.512
    pids:
      description: Process ids the process check found, ascending; empty for other types.
      type: list
      elements: int
      returned: always
      sample: [812, 813, 814]
    matches:
      description: The last lines that matched a log check's pattern (at most O(evidence_lines)).
      type: list
      elements: str
      returned: always
      sample: ["2026/01/08 09:12:40 [emerg] 812#812: bind() to 0.0.0.0:80 failed"]
    status_code:
      description: HTTP status of the last response; C(null) when none came.
      type: int
      returned: when type is http
      sample: 200
pids:
  description: Process ids found by all process checks, ascending, to tell whether a restart replaced them.
  returned: always
  type: list
  elements: int
  sample: [812, 813, 814]
log_offsets:
  description: For each log check's file, the offset read up to; pass it as O(log_offsets) to a later call.
  returned: always
  type: dict
  sample: {/var/log/nginx/error.log: 40960}
evidence:
  description:
    - When a check failed, the last lines of each log (O(evidence_logs) and the log checks' files) and, on
      systemd hosts with O(journal=true), of the service's journal (source C(journal)). Empty otherwise.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The log file, or C(journal).
      type: str
      returned: always
      sample: /var/log/nginx/error.log
    lines:
      description: The last lines, oldest first.
      type: list
      elements: str
      returned: always
      sample: ["2026/01/08 09:12:40 [emerg] 812#812: unknown directive \"lisen\""]
"""

import re
import urllib.parse

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._svccontract import (
    CHECK_TYPES,
    Contract,
    summarize,
    tail,
)
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_services import (
    SYSTEMD,
    detect_service_manager,
    invalid_service_names,
)

C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C'}
COMMON_KEYS = ('name', 'type', 'timeout')
TYPE_KEYS = {
    'process': ('process', 'pidfile'),
    'port': ('port', 'protocol', 'address'),
    'http': ('url', 'expect_status', 'body_match', 'validate_certs'),
    'log': ('path', 'pattern'),
}

CHECK_SPEC = dict(
    name=dict(type='str'),
    # Checked in build_check(): Ansible's required/choices messages do not say which check is wrong.
    type=dict(type='str'),
    timeout=dict(type='float'),
    process=dict(type='str'),
    pidfile=dict(type='path'),
    port=dict(type='int'),
    protocol=dict(type='str', choices=['tcp', 'udp']),
    address=dict(type='str'),
    url=dict(type='str'),
    expect_status=dict(type='list', elements='int'),
    body_match=dict(type='str'),
    validate_certs=dict(type='bool'),
    path=dict(type='path'),
    pattern=dict(type='str'),
)


class CheckError(ValueError):
    """Bad input in one or more checks; the message names each index and key."""


def _regex(index, key, value, errors):
    try:
        return re.compile(value)
    except re.error as exc:
        errors.append('checks[%d].%s is not a valid regular expression: %s' % (index, key, exc))
        return None


def _plan_http(index, spec, check, errors):
    url = spec['url'].strip()
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme in ('http', 'https') and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid:
        errors.append('checks[%d].url must be an http:// or https:// URL with a host, got %r' % (index, url))
    expect_status = spec['expect_status'] if spec['expect_status'] is not None else [200]
    if not expect_status or any(not 100 <= code <= 599 for code in expect_status):
        errors.append('checks[%d].expect_status must list HTTP status codes (100-599), got %s'
                      % (index, expect_status))
    body_match = None
    if spec['body_match'] is not None:
        body_match = _regex(index, 'body_match', spec['body_match'], errors)
    check['plan'] = {
        'name': check['name'], 'type': 'http', 'target': url, 'url': url, 'method': 'GET',
        'expect_status': expect_status, 'body_match': body_match, 'follow_redirects': False,
        'validate_certs': spec['validate_certs'] is not False, 'ca_path': None, 'headers': {},
        'secret_headers': {}, 'timeout': check['timeout'],
    }


def _plan_process(index, spec, check, errors):
    if not spec['process'] and not spec['pidfile']:
        errors.append('checks[%d] needs process or pidfile (or both)' % index)
    check.update(process=spec['process'], pidfile=spec['pidfile'])
    return spec['process'] or spec['pidfile']


def _plan_port(index, spec, check, errors):
    if spec['port'] is None or not 1 <= spec['port'] <= 65535:
        errors.append('checks[%d].port must be a port number from 1 to 65535, got %s' % (index, spec['port']))
    check.update(port=spec['port'], protocol=spec['protocol'] or 'tcp', address=spec['address'])
    return '%s/%s' % (check['protocol'], spec['port'])


def _plan_log(index, spec, check, errors):
    for key in ('path', 'pattern'):
        if not spec[key]:
            errors.append('checks[%d].%s is required for a log check' % (index, key))
    check.update(path=spec['path'], pattern=_regex(index, 'pattern', spec['pattern'] or '', errors))
    return spec['path']


def _target_http(index, spec, _check, _errors):
    if not spec['url']:
        raise CheckError('checks[%d].url is required for an http check' % index)
    return spec['url'].strip()


_PLANNERS = {'process': _plan_process, 'port': _plan_port, 'http': _target_http, 'log': _plan_log}


def build_check(index, spec, default_timeout):
    """Check one entry of `checks` and turn it into a check for the contract; raises CheckError."""
    spec = dict((key, spec.get(key)) for key in CHECK_SPEC)
    kind = spec['type']
    if kind not in CHECK_TYPES:
        raise CheckError('checks[%d].type must be one of %s, got %r' % (index, ', '.join(CHECK_TYPES), kind))
    errors = []
    foreign = sorted(key for key, value in spec.items()
                     if value is not None and key not in COMMON_KEYS + TYPE_KEYS[kind])
    for key in foreign:
        errors.append('checks[%d].%s does not apply to a %s check' % (index, key, kind))
    timeout = default_timeout if spec['timeout'] is None else spec['timeout']
    if timeout < 0:
        errors.append('checks[%d].timeout must be 0 or more, got %s' % (index, timeout))
    check = {'type': kind, 'timeout': timeout}
    target = _PLANNERS[kind](index, spec, check, errors)
    check['name'] = spec['name'] or '%s %s' % (kind, target)
    if kind == 'http':
        # The request plan needs the check's final name.
        _plan_http(index, spec, check, errors)
    if errors:
        raise CheckError('; '.join(errors))
    return check


def build_checks(specs, default_timeout):
    """All checks, or CheckError listing the problems of every bad one."""
    checks = []
    errors = []
    for index, spec in enumerate(specs):
        try:
            checks.append(build_check(index, spec, default_timeout))
        except CheckError as exc:
            errors.append(str(exc))
    names = [check['name'] for check in checks]
    for name in sorted(set(name for name in names if names.count(name) > 1)):
        errors.append('more than one check is named %r; give each a unique name' % name)
    if errors:
        raise CheckError('; '.join(errors))
    return checks


def gather_evidence(module, service, manager, paths, lines):
    """The last lines of each log and, under systemd, of the service's journal."""
    evidence = [{'source': path, 'lines': tail(path, lines)} for path in paths]
    journalctl = None
    if module.params['journal'] and manager == SYSTEMD and lines > 0:
        journalctl = module.get_bin_path('journalctl')
    if journalctl:
        rc, stdout, stderr = module.run_command(
            [journalctl, '--unit', service, '--lines', str(lines), '--no-pager', '--output', 'short-iso',
             '--quiet'], environ_update=C_LOCALE)
        journal = stdout.splitlines() if rc == 0 else ['journalctl failed (rc %d): %s' % (rc, stderr.strip())]
        evidence.append({'source': 'journal', 'lines': journal[-lines:]})
    return evidence


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type='str', required=True),
            checks=dict(type='list', elements='dict', default=[], options=CHECK_SPEC),
            wait=dict(type='bool', default=False),
            timeout=dict(type='float', default=30),
            interval=dict(type='float', default=0.5),
            log_offsets=dict(type='dict', default={}),
            evidence_logs=dict(type='list', elements='path', default=[]),
            evidence_lines=dict(type='int', default=20),
            journal=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    service = params['service']
    if invalid_service_names([service]):
        module.fail_json(msg='service %r is not a valid service name; give the unit or init script name'
                             % service)
    for key in ('timeout', 'interval'):
        if params[key] < 0:
            module.fail_json(msg='%s must be 0 or more, got %s' % (key, params[key]))
    if params['evidence_lines'] < 0:
        module.fail_json(msg='evidence_lines must be 0 or more, got %d' % params['evidence_lines'])
    offsets = {}
    for path, offset in params['log_offsets'].items():
        try:
            offsets[path] = int(offset)
        except (TypeError, ValueError):
            module.fail_json(msg='log_offsets[%r] must be a byte offset, got %r; pass log_offsets as an'
                                 ' earlier call returned them' % (path, offset))
    try:
        checks = build_checks(params['checks'], params['timeout'])
    except CheckError as exc:
        module.fail_json(msg=str(exc))

    manager, _pid1 = detect_service_manager()
    contract = Contract(checks, offsets, evidence_lines=params['evidence_lines'], interval=params['interval'])
    results = contract.run_waiting() if params['wait'] else contract.run_once()
    failed = [result['name'] for result in results if result['status'] == 'fail']
    evidence = []
    if failed:
        paths = list(params['evidence_logs'])
        paths.extend(check['path'] for check in checks
                     if check['type'] == 'log' and check['path'] not in paths)
        evidence = gather_evidence(module, service, manager, paths, params['evidence_lines'])
    pids = sorted(set(pid for result in results for pid in result['pids']))
    module.exit_json(
        changed=False,
        service=service,
        service_manager=manager,
        passed=not failed,
        message=summarize(results),
        failed_checks=failed,
        checks=results,
        pids=pids,
        log_offsets=contract.offsets,
        evidence=evidence,
    )


if __name__ == '__main__':
    main()
