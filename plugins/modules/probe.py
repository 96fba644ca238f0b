#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: probe
short_description: Check from the managed host that other hosts and services answer
version_added: 0.1.0
description:
  - Runs liveness checks B(from the managed host) - ICMP ping, TCP connect, HTTP(S) requests,
    TLS certificate expiry and DNS resolution - and returns one result per target.
  - All targets are probed at the same time (up to O(concurrency) at once), each bounded by its own
    timeout, so one call takes about as long as the slowest target.
  - A target that is down is a result (RV(results[].status=fail)), never a module failure. The module fails
    only on bad input, with a message that names the target's index and the key.
  - The module changes nothing; it returns C(changed=false) and runs in check mode too.
author:
  - opsrun maintainers (@opsrun)
attributes:
  check_mode:
    description: Can run in check mode and return the same results as without it.
    support: full
    details: Probes only read, so check mode probes exactly as a normal run does.
  diff_mode:
    description: Would show what changed in diff mode.
    support: none
    details: The module changes nothing.
  platform:
    description: Target operating systems.
    support: full
    platforms: posix
options:
  targets:
    description:
      - What to probe. Each entry has a O(targets[].type) and the keys of that type; keys of other
        types are refused, so a misplaced key is caught instead of ignored.
      - "Keys by type: C(ping): O(targets[].host), O(targets[].count), O(targets[].interval).
        C(tcp): O(targets[].host), O(targets[].port).
        C(http): O(targets[].url), O(targets[].method), O(targets[].expect_status),
        O(targets[].body_match), O(targets[].follow_redirects), O(targets[].validate_certs),
        O(targets[].ca_path), O(targets[].headers), O(targets[].secret_headers).
        C(tls): O(targets[].host), O(targets[].port), O(targets[].server_name),
        O(targets[].validate_certs), O(targets[].ca_path).
        C(dns): O(targets[].host), O(targets[].record_type), O(targets[].expect).
        Every type also takes O(targets[].name) and O(targets[].timeout)."
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the check in the results; must be unique within the call.
          - Defaults to the type and the target, for example C(tcp db1:5432) or C(dns A www.example.com).
        type: str
      type:
        description:
          - Required. One of C(ping), C(tcp), C(http), C(tls), C(dns); a missing or unknown type is reported
            with the target's index.
          - C(ping) sends ICMP echo requests with the system C(ping) command.
          - C(tcp) opens a TCP connection and closes it.
          - C(http) sends one HTTP or HTTPS request and checks the status and, optionally, the body.
          - C(tls) completes a TLS handshake and reads the server certificate's validity.
          - C(dns) resolves a name.
        type: str
      timeout:
        description:
          - Seconds this target may take. Defaults to O(timeout).
          - For C(ping) it is how long to wait for each reply, rounded up to whole seconds; the whole
            ping then takes at most about O(targets[].count) x O(targets[].interval) + O(targets[].timeout)
            seconds.
          - A probe that overruns its time by more than a second is abandoned and reported as failed. C(tls)
            gets twice the time when it verifies, as it connects again to describe a certificate that
            failed verification.
        type: float
      host:
        description:
          - Host name or IP address to probe (C(ping), C(tcp), C(tls)) or the name to resolve (C(dns)).
          - Required for every type except C(http).
        type: str
      port:
        description:
          - TCP port. Required for C(tcp); defaults to C(443) for C(tls).
        type: int
      count:
        description:
          - Number of echo requests to send (C(ping)). Defaults to C(3).
        type: int
      interval:
        description:
          - Seconds between echo requests (C(ping)). Defaults to C(1). Below C(0.2) ping may need root.
        type: float
      url:
        description:
          - The C(http://) or C(https://) URL to request (C(http)). Required for C(http).
          - Must not hold a user name or password; send credentials in O(targets[].secret_headers).
        type: str
      method:
        description:
          - HTTP method (C(http)). Defaults to C(GET).
        type: str
        choices: [GET, HEAD]
      expect_status:
        description:
          - HTTP status codes that count as up (C(http)). Defaults to C([200]).
        type: list
        elements: int
      body_match:
        description:
          - Python regular expression searched for in the response body (C(http), C(GET) only); the target
            is up only if it is found. Only the first MiB of the body is searched.
        type: str
      follow_redirects:
        description:
          - Whether to follow redirects (C(http)). Defaults to C(true). When V(false), a redirect is the
            response, so list its status in O(targets[].expect_status) to accept it.
        type: bool
      validate_certs:
        description:
          - Whether the server certificate must be trusted and match the host name (C(http), C(tls)).
            Defaults to C(true).
          - For C(tls), a certificate that fails verification is still described in the result.
        type: bool
      ca_path:
        description:
          - PEM file of the CA certificates to trust instead of the system store (C(http), C(tls)).
        type: path
      headers:
        description:
          - Request headers that are not secret (C(http)), for example C(Accept) or C(Host).
          - These are logged like any other option. Header names that look like credentials
            (C(Authorization), C(Cookie), names with C(token), C(secret), C(auth), C(api-key) ...) are
            refused here; put them in O(targets[].secret_headers).
        type: dict
      secret_headers:
        description:
          - Request headers that carry credentials (C(http)), for example C(Authorization).
          - Their values are kept out of logs and results. Ansible masks such values wherever they appear
            in the output, which is why they are separate from O(targets[].headers); a short value such as
            C(1) would otherwise be masked inside every number and address of the results.
          - They are sent to O(targets[].url) only, never to the target of a redirect.
        type: dict
      server_name:
        description:
          - Name sent in TLS SNI and checked against the certificate (C(tls)). Defaults to O(targets[].host).
        type: str
      record_type:
        description:
          - Record type to look up (C(dns)). Defaults to C(A).
          - C(A) and C(AAAA) use the system resolver (C(getaddrinfo)), so C(/etc/hosts) counts, as it does
            for every program on the host.
          - C(CNAME) and C(MX) need C(dig) or C(host) on the managed host; without them the target fails
            with a message saying what to install.
        type: str
        choices: [A, AAAA, CNAME, MX]
      expect:
        description:
          - Answers that must all be among the answers (C(dns)). Addresses for C(A) and C(AAAA), names for
            C(CNAME), and C(mail.example.com) or C(10 mail.example.com) for C(MX).
        type: list
        elements: str
  timeout:
    description:
      - Seconds each target may take unless it sets its own O(targets[].timeout).
    type: float
    default: 5
  concurrency:
    description:
      - How many targets are probed at the same time.
    type: int
    default: 16
notes:
  - HTTP requests honour the C(http_proxy), C(https_proxy) and C(no_proxy) environment variables and
    build their TLS trust the way M(ansible.builtin.uri) does.
  - ICMP ping needs the C(ping) command (package C(iputils-ping) on Debian and Ubuntu, C(iputils) on EL);
    busybox C(ping) works too.
seealso:
  - module: ansible.builtin.uri
  - module: ansible.builtin.wait_for
"""

EXAMPLES = r"""
- name: Check that the services this host depends on answer
  opsrun.ops.probe:
    targets:
      - type: ping
        host: 192.0.2.1
      - name: database
        type: tcp
        host: db1.example.com
        port: 5432
      - name: web health
        type: http
        url: https://www.example.com/healthz
        body_match: '"status":\s*"ok"'
        secret_headers:
          Authorization: "Bearer {{ health_token }}"
      - name: web certificate
        type: tls
        host: www.example.com
      - type: dns
        host: www.example.com
        expect: [192.0.2.10]
    timeout: 3
  register: probe

- name: Show what is down
  ansible.builtin.debug:
    msg: "{{ probe.results | selectattr('status', 'eq', 'fail') | map(attribute='name') | list }}"
  when: not probe.all_ok

- name: Accept a redirect to the login page as up
  opsrun.ops.probe:
    targets:
      - type: http
        url: http://intranet.example.com/
        follow_redirects: false
        expect_status: [301, 302]
"""

RETURN = r"""
results:
  description: One result per target, in the order of O(targets).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target's O(targets[].name), or the name made for it.
      type: str
      returned: always
      sample: web health
    type:
      description: The target's O(targets[].type).
      type: str
      returned: always
      sample: http
    target:
      description: What was probed, for example C(db1.example.com:5432), a URL, or C(A www.example.com).
      type: str
      returned: always
      sample: https://www.example.com/healthz
    status:
      description: C(ok) when the target answered as expected, else C(fail).
      type: str
      returned: always
      sample: ok
    latency_ms:
      description:
        - Milliseconds until the answer; for C(ping) the average round trip.
        - C(null) when no answer came (refused, timed out, name not resolved).
      type: float
      returned: always
      sample: 12.345
    error:
      description: Why the target failed; C(null) when RV(results[].status) is C(ok).
      type: str
      returned: always
      sample: "connect failed: Connection refused"
    transmitted:
      description: Echo requests sent.
      type: int
      returned: when type is ping
      sample: 3
    received:
      description: Echo replies received.
      type: int
      returned: when type is ping
      sample: 3
    loss_percent:
      description: Packet loss in percent as ping reports it.
      type: float
      returned: when type is ping
      sample: 0.0
    rtt_min_ms:
      description: Shortest round trip in milliseconds; C(null) without replies.
      type: float
      returned: when type is ping
      sample: 0.044
    rtt_avg_ms:
      description: Average round trip in milliseconds; C(null) without replies.
      type: float
      returned: when type is ping
      sample: 0.051
    rtt_max_ms:
      description: Longest round trip in milliseconds; C(null) without replies.
      type: float
      returned: when type is ping
      sample: 0.062
    address:
      description: IP address the connection was made to.
      type: str
      returned: when type is tcp or tls
      sample: 192.0.2.10
    status_code:
      description: HTTP status of the response; C(null) when none came.
      type: int
      returned: when type is http
      sample: 200
    final_url:
      description: URL that gave the response, after any redirects followed.
      type: str
      returned: when type is http
      sample: https://www.example.com/healthz
    redirect_location:
      description: Where a redirect response points, when the response is one (not followed).
      type: str
      returned: when type is http
      sample: https://www.example.com/login
    body_matched:
      description: Whether O(targets[].body_match) was found; C(null) when no pattern was given.
      type: bool
      returned: when type is http
      sample: true
    verified:
      description:
        - Whether the certificate chain and name were verified; C(null) when
          O(targets[].validate_certs=false).
      type: bool
      returned: when type is tls
      sample: true
    subject:
      description: Certificate subject as an RFC 4514 string.
      type: str
      returned: when type is tls
      sample: CN=www.example.com,O=Example
    issuer:
      description: Certificate issuer as an RFC 4514 string.
      type: str
      returned: when type is tls
      sample: CN=Example CA,O=Example
    not_before:
      description: Start of the certificate's validity (UTC, ISO 8601).
      type: str
      returned: when type is tls
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of the certificate's validity (UTC, ISO 8601).
      type: str
      returned: when type is tls
      sample: "2026-04-01T00:00:00Z"
    days_to_expiry:
      description:
        - Whole days until RV(results[].not_after), rounded down; negative once the certificate has expired.
        - Warning and critical thresholds are for the caller to apply.
      type: int
      returned: when type is tls
      sample: 42
    record_type:
      description: The record type looked up.
      type: str
      returned: when type is dns
      sample: A
    resolver:
      description: What resolved the name, C(getaddrinfo), C(dig) or C(host).
      type: str
      returned: when type is dns
      sample: getaddrinfo
    answers:
      description:
        - The answers, addresses for C(A) and C(AAAA), names in lower case without the final dot for
          C(CNAME), C(preference name) for C(MX).
      type: list
      elements: str
      returned: when type is dns
      sample: [192.0.2.10]
failed_targets:
  description: Number of targets whose status is C(fail).
  returned: always
  type: int
  sample: 0
all_ok:
  description: Whether every target's status is C(ok).
  returned: always
  type: bool
  sample: true
"""

import os
import re
import urllib.parse

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._probe import (
    PROBE_TYPES,
    Prober,
    normalize_expected_answer,
)

# Seconds past a target's time before its probe is abandoned; its own timeouts normally end it first.
ABANDON_GRACE = 1.0
C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C'}

COMMON_KEYS = ('name', 'type', 'timeout')
TYPE_KEYS = {
    'ping': ('host', 'count', 'interval'),
    'tcp': ('host', 'port'),
    'http': ('url', 'method', 'expect_status', 'body_match', 'follow_redirects', 'validate_certs', 'ca_path',
             'headers', 'secret_headers'),
    'tls': ('host', 'port', 'server_name', 'validate_certs', 'ca_path'),
    'dns': ('host', 'record_type', 'expect'),
}
REQUIRED_KEYS = {
    'ping': ('host',),
    'tcp': ('host', 'port'),
    'http': ('url',),
    'tls': ('host',),
    'dns': ('host',),
}

# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CREDENTIAL_HEADER = re.compile(r'auth|token|secret|passw|api[-_]?key|cookie|session', re.IGNORECASE)

TARGET_SPEC = dict(
    name=dict(type='str'),
    # Checked in build_plan(): Ansible's required/choices messages do not say which target is wrong.
    type=dict(type='str'),
    timeout=dict(type='float'),
    host=dict(type='str'),
    port=dict(type='int'),
    count=dict(type='int'),
    interval=dict(type='float'),
    url=dict(type='str'),
    method=dict(type='str', choices=['GET', 'HEAD']),
    expect_status=dict(type='list', elements='int'),
    body_match=dict(type='str'),
    follow_redirects=dict(type='bool'),
    validate_certs=dict(type='bool'),
    ca_path=dict(type='path'),
    headers=dict(type='dict'),
    secret_headers=dict(type='dict', no_log=True),
    server_name=dict(type='str'),
    record_type=dict(type='str', choices=['A', 'AAAA', 'CNAME', 'MX']),
    expect=dict(type='list', elements='str'),
)


class TargetError(ValueError):
    """Bad input in one or more targets; the message names each index and key."""


class _Target:
    """Reads one entry of `targets`, collecting every problem with it."""

    def __init__(self, index, spec):
        self.index = index
        self.spec = spec
        self.kind = spec['type']
        self.errors = []

    def fail(self, key, message):
        self.errors.append('targets[%d].%s %s' % (self.index, key, message))

    def get(self, key, default=None):
        value = self.spec.get(key)
        return default if value is None else value

    def positive(self, key, default, convert=float):
        value = self.get(key, default)
        if value <= 0:
            self.fail(key, 'must be greater than 0, got %s' % value)
        return convert(value)

    def host(self, key):
        value = self.spec[key].strip()
        if value.startswith('[') and value.endswith(']'):
            value = value[1:-1]
        if not value or value[0] in '-+@' or any(char.isspace() or ord(char) < 32 for char in value):
            self.fail(key, 'is not a host name or IP address: %r' % self.spec[key])
        return value

    def port(self, default=None):
        value = self.get('port', default)
        if not 1 <= value <= 65535:
            self.fail('port', 'must be between 1 and 65535, got %d' % value)
        return value

    def headers(self, key, secret):
        headers = {}
        for raw_name, raw_value in self.get(key, {}).items():
            name = str(raw_name)
            # Never echo a secret header's value in a message.
            shown = 'its value' if secret else repr(raw_value)
            if not _HEADER_NAME.match(name):
                self.fail(key, 'has a header name that HTTP does not allow: %r' % name)
            elif not secret and _CREDENTIAL_HEADER.search(name):
                self.fail(key, '%s looks like a credential; move it to secret_headers' % name)
            if raw_value is None or isinstance(raw_value, (dict, list)):
                self.fail(key, 'needs a text value for header %s, got %s' % (name, shown))
                continue
            value = str(raw_value)
            if '\r' in value or '\n' in value:
                self.fail(key, 'header %s: %s must not contain line breaks' % (name, shown))
            headers[name] = value
        return headers


def _format_host_port(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def _plan_ping(target, plan):
    plan['host'] = target.host('host')
    plan['count'] = target.positive('count', 3, int)
    plan['interval'] = target.positive('interval', 1.0)
    plan['target'] = plan['host']


def _plan_tcp(target, plan):
    plan['host'] = target.host('host')
    plan['port'] = target.port()
    plan['target'] = _format_host_port(plan['host'], plan['port'])


def _plan_tls(target, plan):
    plan['host'] = target.host('host')
    plan['port'] = target.port(443)
    plan['server_name'] = plan['host'] if target.get('server_name') is None else target.host('server_name')
    plan['validate_certs'] = target.get('validate_certs', True)
    plan['ca_path'] = _ca_path(target)
    plan['target'] = _format_host_port(plan['host'], plan['port'])


def _ca_path(target):
    ca_path = target.get('ca_path')
    if ca_path is not None and not os.path.isfile(ca_path):
        target.fail('ca_path', 'is not a file on the managed host: %s' % ca_path)
    return ca_path


def _plan_http(target, plan):
    url = target.spec['url'].strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        target.fail('url', 'is not a valid URL: %s' % exc)
        parts = port = None
    if parts is not None:
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            target.fail('url', 'must be an http:// or https:// URL with a host, got %r' % url)
        elif parts.username is not None or parts.password is not None:
            # The value is not repeated: it holds a credential.
            target.fail('url', 'must not hold a user name or password; send credentials in secret_headers')
        elif port == 0:
            target.fail('url', 'has port 0')
    plan['url'] = url
    plan['method'] = target.get('method', 'GET')
    plan['expect_status'] = target.get('expect_status', [200])
    if not plan['expect_status']:
        target.fail('expect_status', 'must list at least one status code')
    for code in plan['expect_status']:
        if not 100 <= code <= 599:
            target.fail('expect_status', 'holds %d, which is not an HTTP status code' % code)
    plan['body_match'] = None
    if target.get('body_match') is not None:
        if plan['method'] == 'HEAD':
            target.fail('body_match', 'needs method GET; a HEAD response has no body')
        try:
            plan['body_match'] = re.compile(target.spec['body_match'])
        except re.error as exc:
            target.fail('body_match', 'is not a valid regular expression: %s' % exc)
    plan['follow_redirects'] = target.get('follow_redirects', True)
    plan['validate_certs'] = target.get('validate_certs', True)
    plan['ca_path'] = _ca_path(target)
    plan['headers'] = target.headers('headers', secret=False)
    plan['secret_headers'] = target.headers('secret_headers', secret=True)
    for name in sorted(set(plan['headers']) & set(plan['secret_headers'])):
        target.fail('headers', 'and secret_headers both set %s; set it in one of them' % name)
    plan['target'] = url


def _plan_dns(target, plan):
    plan['host'] = target.host('host')
    plan['record_type'] = target.get('record_type', 'A')
    plan['expect'] = []
    for position, value in enumerate(target.get('expect', [])):
        try:
            plan['expect'].append(normalize_expected_answer(plan['record_type'], value))
        except ValueError as exc:
            target.fail('expect[%d]' % position, 'is not a %s answer: %s' % (plan['record_type'], exc))
    plan['target'] = '%s %s' % (plan['record_type'], plan['host'])


_PLANNERS = {'ping': _plan_ping, 'tcp': _plan_tcp, 'http': _plan_http, 'tls': _plan_tls, 'dns': _plan_dns}


def build_plan(index, spec, default_timeout):
    """Check one target and turn it into a plan for the prober; raises TargetError."""
    kind = spec.get('type')
    types = ', '.join(PROBE_TYPES)
    if kind is None:
        raise TargetError('targets[%d].type is required; one of %s' % (index, types))
    if kind not in PROBE_TYPES:
        raise TargetError('targets[%d].type must be one of %s, got %r' % (index, types, kind))
    target = _Target(index, spec)
    allowed = COMMON_KEYS + TYPE_KEYS[target.kind]
    for key in sorted(spec):
        if spec[key] is not None and key not in allowed:
            keys = ', '.join(allowed)
            target.fail(key, 'does not apply to a %s target; its keys are %s' % (target.kind, keys))
    for key in REQUIRED_KEYS[target.kind]:
        if spec.get(key) is None:
            target.fail(key, 'is required for a %s target' % target.kind)
    if target.errors:
        raise TargetError('; '.join(target.errors))

    plan = {'type': target.kind, 'timeout': target.positive('timeout', default_timeout)}
    _PLANNERS[target.kind](target, plan)
    plan['name'] = target.get('name', '%s %s' % (target.kind, plan['target']))
    if not plan['name'].strip():
        target.fail('name', 'must not be empty')
    if target.errors:
        raise TargetError('; '.join(target.errors))
    return plan


def build_plans(targets, default_timeout):
    """Check every target; raises TargetError listing all problems found."""
    plans = []
    errors = []
    first_index_of_name = {}
    for index, spec in enumerate(targets):
        try:
            plan = build_plan(index, spec, default_timeout)
        except TargetError as exc:
            errors.append(str(exc))
            continue
        if plan['name'] in first_index_of_name:
            message = 'targets[%d].name %r is already the name of targets[%d]; give each target its own name'
            errors.append(message % (index, plan['name'], first_index_of_name[plan['name']]))
        first_index_of_name.setdefault(plan['name'], index)
        plans.append(plan)
    if errors:
        raise TargetError('; '.join(errors))
    return plans


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type='list', elements='dict', required=True, options=TARGET_SPEC),
            timeout=dict(type='float', default=5),
            concurrency=dict(type='int', default=16),
        ),
        supports_check_mode=True,
    )
    if module.params['timeout'] <= 0:
        module.fail_json(msg='timeout must be greater than 0, got %s' % module.params['timeout'])
    if module.params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be at least 1, got %d' % module.params['concurrency'])
    try:
        plans = build_plans(module.params['targets'], module.params['timeout'])
    except TargetError as exc:
        module.fail_json(msg='Bad probe targets: %s' % exc)

    prober = Prober(
        run_command=lambda args: module.run_command(args, environ_update=C_LOCALE, handle_exceptions=False),
        find_command=module.get_bin_path,
    )
    results = prober.run(plans, module.params['concurrency'], ABANDON_GRACE)
    failed = sum(1 for result in results if result['status'] != 'ok')
    module.exit_json(changed=False, results=results, failed_targets=failed, all_ok=failed == 0)


if __name__ == '__main__':
    main()
