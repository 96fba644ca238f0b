# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Liveness probes run from the managed host, many at once, each bounded by its timeout.

A probe never raises for a target that is down: it returns a result whose status is
``fail`` and whose ``error`` says why. The module validates its input into *plans*
(plain dicts, see plugins/modules/probe.py) and hands them to :class:`Prober`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import datetime
import http.client
import ipaddress
import math
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible.module_utils.urls import make_context
from ansible_collections.opsrun.ops.plugins.module_utils._probe_parse import (
    normalize_dns_name,
    parse_certificate,
    parse_dig,
    parse_host,
    parse_ping,
)

PROBE_TYPES = ('ping', 'tcp', 'http', 'tls', 'dns')

# Keys each result carries besides name, type, target, status, latency_ms and error.
RESULT_FIELDS = {
    'ping': ('transmitted', 'received', 'loss_percent', 'rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms'),
    'tcp': ('address',),
    'http': ('status_code', 'final_url', 'redirect_location', 'body_matched'),
    'tls': ('address', 'verified', 'subject', 'issuer', 'not_before', 'not_after', 'days_to_expiry'),
    'dns': ('record_type', 'resolver', 'answers'),
}

# body_match looks at this much of a response body, so a huge page cannot stall a health check.
BODY_LIMIT = 1024 * 1024
USER_AGENT = 'opsrun.ops.probe'

INSTALL_HINTS = {
    'ping': 'install iputils-ping (Debian/Ubuntu) or iputils (EL)',
    'dns': 'install bind9-dnsutils or bind9-host (Debian/Ubuntu) or bind-utils (EL)',
}


# --- running many tasks, each bounded -----------------------------------------------------------

class TaskFailure:
    """Stands in for the result of a task that raised or ran past its budget."""

    def __init__(self, message):
        self.message = message


class _Pool:
    def __init__(self, tasks, concurrency, grace):
        self._tasks = tasks
        self._grace = grace
        self._queue = collections.deque(range(len(tasks)))
        self._results = [None] * len(tasks)
        self._deadlines = {}
        self._remaining = len(tasks)
        self._condition = threading.Condition()
        self._workers = min(concurrency, len(tasks))

    def _start_worker(self):
        # Daemon threads: a probe stuck in a call that ignores timeouts (a resolver, say) must not keep
        # the module process alive once every result is in.
        threading.Thread(target=self._work, daemon=True).start()

    def _work(self):
        while True:
            with self._condition:
                if not self._queue:
                    return
                index = self._queue.popleft()
                function, budget = self._tasks[index]
                self._deadlines[index] = time.monotonic() + budget + self._grace
                self._condition.notify_all()
            try:
                value = function()
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # A bug in one probe must cost only that target's result.
                value = TaskFailure('the probe raised %s: %s' % (type(exc).__name__, exc))
            with self._condition:
                if index not in self._deadlines:
                    # Given up on while running; a replacement worker already took this slot.
                    return
                del self._deadlines[index]
                self._results[index] = value
                self._remaining -= 1
                self._condition.notify_all()

    def run(self):
        for _worker in range(self._workers):
            self._start_worker()
        with self._condition:
            while self._remaining:
                now = time.monotonic()
                for index, deadline in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[index]
                        message = 'no result within %g s; the probe was abandoned' % self._tasks[index][1]
                        self._results[index] = TaskFailure(message)
                        self._remaining -= 1
                        self._start_worker()
                if self._remaining:
                    wait = min(self._deadlines.values()) - now if self._deadlines else None
                    self._condition.wait(wait)
        return self._results


def run_concurrently(tasks, concurrency, grace):
    """Run tasks, a list of (function, budget_seconds), at most `concurrency` at a time.

    Returns the functions' return values in task order. A task that raises, or that has not
    returned `grace` seconds after its budget ran out, yields a TaskFailure instead; its thread
    is left to finish in the background.
    """
    if not tasks:
        return []
    return _Pool(tasks, concurrency, grace).run()


# --- helpers ------------------------------------------------------------------------------------

def _elapsed_ms(start):
    return round((time.monotonic() - start) * 1000.0, 3)


def _iso8601(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def describe_error(exc, timeout):
    """One line saying what went wrong, for the result's error field."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, (socket.timeout, TimeoutError)):
        message = 'timed out after %g s' % timeout
    elif isinstance(exc, socket.gaierror):
        message = 'cannot resolve the host name: %s' % exc.strerror
    elif isinstance(exc, ssl.SSLCertVerificationError):
        message = 'certificate verification failed: %s' % (exc.verify_message or exc.reason)
    elif isinstance(exc, ssl.SSLError):
        message = 'TLS error: %s' % (exc.reason or exc)
    elif isinstance(exc, urllib.error.URLError):
        message = str(exc.reason)
    elif isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror
    else:
        message = str(exc) or type(exc).__name__
    return message


def _whole_seconds(seconds):
    # Command-line tools take whole seconds; round up so a short timeout is never 0.
    return max(1, math.ceil(seconds))


def _format_seconds(seconds):
    # "%g" writes 1.0 as "1": whole seconds keep the plain integer form that any ping accepts.
    return '%g' % seconds


class _RedirectPolicy(urllib.request.HTTPRedirectHandler):
    """Follow redirects or not; also follows 308 on Pythons older than 3.11, as newer ones do."""

    http_error_308 = urllib.request.HTTPRedirectHandler.http_error_302

    def __init__(self, follow):
        self._follow = follow

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0917 (urllib's signature)
        if not self._follow:
            # None makes urllib hand the 3xx response back as it is.
            return None
        return urllib.request.HTTPRedirectHandler.redirect_request(
            self, req, fp, 307 if code == 308 else code, msg, headers, newurl)


def new_result(plan):
    """A result for the plan with every key its type returns, status fail until a probe says ok."""
    result = {
        'name': plan['name'],
        'type': plan['type'],
        'target': plan['target'],
        'status': 'fail',
        'latency_ms': None,
        'error': None,
    }
    for key in RESULT_FIELDS[plan['type']]:
        result[key] = None
    return result


def budget(plan):
    """Seconds a probe may take before it is abandoned (its own timeouts should end it first)."""
    if plan['type'] == 'ping':
        return plan['count'] * plan['interval'] + plan['timeout']
    if plan['type'] == 'tls' and plan['validate_certs']:
        # A certificate that fails verification is fetched again without verifying, to describe it.
        return 2 * plan['timeout']
    return plan['timeout']


class Prober:
    """Runs plans. run_command(args) -> (rc, stdout, stderr); find_command(name) -> path or None."""

    def __init__(self, run_command, find_command):
        self._run_command = run_command
        self._find_command = find_command
        self._commands = {}
        self._contexts = {}
        self._lock = threading.Lock()

    def run(self, plans, concurrency, grace):
        """Probe every plan; results come back in plan order."""
        tasks = [(self._task(plan), budget(plan)) for plan in plans]
        results = run_concurrently(tasks, concurrency, grace)
        for index, outcome in enumerate(results):
            if isinstance(outcome, TaskFailure):
                results[index] = new_result(plans[index])
                results[index]['error'] = outcome.message
        return results

    def _task(self, plan):
        return lambda: self.probe(plan)

    def probe(self, plan):
        result = new_result(plan)
        getattr(self, '_probe_' + plan['type'])(plan, result)
        if result['error'] is None:
            result['status'] = 'ok'
        return result

    def _command(self, name):
        with self._lock:
            if name not in self._commands:
                self._commands[name] = self._find_command(name)
            return self._commands[name]

    def _ssl_context(self, validate_certs, ca_path):
        # Loading the CA store costs ~0.1 s of CPU; share one context per setting (contexts are thread-safe).
        key = (validate_certs, ca_path)
        with self._lock:
            if key not in self._contexts:
                self._contexts[key] = make_context(cafile=ca_path, validate_certs=validate_certs)
            return self._contexts[key]

    def _context_for(self, plan, result, validate_certs):
        """The plan's TLS context, or None after recording why its CA certificates cannot be used."""
        try:
            return self._ssl_context(validate_certs, plan['ca_path'])
        except (OSError, ValueError) as exc:
            source = plan['ca_path'] or 'the system store'
            reason = describe_error(exc, plan['timeout'])
            result['error'] = 'cannot load CA certificates from %s: %s' % (source, reason)
            return None

    # --- ping -----------------------------------------------------------------------------------

    def _probe_ping(self, plan, result):
        ping = self._command('ping')
        if ping is None:
            result['error'] = 'the ping command is not on the managed host; %s' % INSTALL_HINTS['ping']
            return
        args = [
            ping, '-n',
            '-c', str(plan['count']),
            '-W', str(_whole_seconds(plan['timeout'])),
            '-i', _format_seconds(plan['interval']),
            plan['host'],
        ]
        try:
            _rc, stdout, stderr = self._run_command(args)
        except OSError as exc:
            result['error'] = 'cannot run %s: %s' % (ping, describe_error(exc, plan['timeout']))
            return
        parsed = parse_ping(stdout, stderr)
        result['error'] = parsed.pop('error')
        result.update(parsed)
        result['latency_ms'] = parsed['rtt_avg_ms']

    # --- tcp ------------------------------------------------------------------------------------

    def _probe_tcp(self, plan, result):
        start = time.monotonic()
        try:
            connection = socket.create_connection((plan['host'], plan['port']), timeout=plan['timeout'])
        except OSError as exc:
            result['error'] = 'connect failed: %s' % describe_error(exc, plan['timeout'])
            return
        with contextlib.closing(connection):
            result['latency_ms'] = _elapsed_ms(start)
            result['address'] = connection.getpeername()[0]

    # --- http -----------------------------------------------------------------------------------

    def _probe_http(self, plan, result):
        handlers = [_RedirectPolicy(plan['follow_redirects'])]
        if plan['url'].startswith('https:') or plan['follow_redirects']:
            context = self._context_for(plan, result, plan['validate_certs'])
            if context is None:
                return
            handlers.append(urllib.request.HTTPSHandler(context=context))
        # A private opener per request: ansible.module_utils.urls.Request installs a process-wide
        # opener, so concurrent requests could run with each other's TLS and redirect settings.
        opener = urllib.request.build_opener(*handlers)
        # The module accepts only http:// and https:// URLs.
        request = urllib.request.Request(plan['url'], method=plan['method'], headers=plan['headers'])  # noqa: S310
        if not any(name.lower() == 'user-agent' for name in plan['headers']):
            request.add_header('User-Agent', USER_AGENT)
        for name, value in plan['secret_headers'].items():
            # Unredirected: a redirect to another server must not receive the credentials.
            request.add_unredirected_header(name, value)

        start = time.monotonic()
        try:
            response = opener.open(request, timeout=plan['timeout'])
        except urllib.error.HTTPError as exc:
            response = exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            result['error'] = 'request failed: %s' % describe_error(exc, plan['timeout'])
            return
        with contextlib.closing(response):
            status = response.getcode()
            result['status_code'] = status
            result['final_url'] = response.geturl()
            location = response.headers.get('Location') if 300 <= status < 400 else None
            if location:
                result['redirect_location'] = urllib.parse.urljoin(result['final_url'], location)
            if plan['body_match'] is not None:
                try:
                    body = response.read(BODY_LIMIT)
                except (OSError, http.client.HTTPException) as exc:
                    result['error'] = 'reading the body failed: %s' % describe_error(exc, plan['timeout'])
                    return
                text = _decode_body(body, response.headers)
                result['body_matched'] = plan['body_match'].search(text) is not None
        result['latency_ms'] = _elapsed_ms(start)

        if status not in plan['expect_status']:
            expected = ', '.join(str(code) for code in plan['expect_status'])
            result['error'] = 'status %d, expected %s' % (status, expected)
        elif result['body_matched'] is False:
            result['error'] = 'the body does not match %r' % plan['body_match'].pattern

    # --- tls ------------------------------------------------------------------------------------

    def _handshake(self, plan, context):
        start = time.monotonic()
        connection = socket.create_connection((plan['host'], plan['port']), timeout=plan['timeout'])
        with contextlib.closing(connection):
            tls = context.wrap_socket(connection, server_hostname=plan['server_name'])
            with contextlib.closing(tls):
                return tls.getpeercert(binary_form=True), tls.getpeername()[0], _elapsed_ms(start)

    def _probe_tls(self, plan, result):
        verify_error = None
        context = self._context_for(plan, result, plan['validate_certs'])
        if context is None:
            return
        try:
            try:
                der, address, latency = self._handshake(plan, context)
                result['verified'] = True if plan['validate_certs'] else None
            except ssl.SSLCertVerificationError as exc:
                result['verified'] = False
                verify_error = describe_error(exc, plan['timeout'])
                der, address, latency = self._handshake(plan, self._ssl_context(False, None))
        except (OSError, ValueError) as exc:
            handshake_error = 'TLS handshake failed: %s' % describe_error(exc, plan['timeout'])
            result['error'] = verify_error or handshake_error
            return
        result['latency_ms'] = latency
        result['address'] = address
        if not der:
            result['error'] = verify_error or 'the server sent no certificate'
            return
        try:
            certificate = parse_certificate(der)
        except ValueError as exc:
            result['error'] = verify_error or 'cannot read the server certificate: %s' % exc
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        result['subject'] = certificate['subject']
        result['issuer'] = certificate['issuer']
        result['not_before'] = _iso8601(certificate['not_before'])
        result['not_after'] = _iso8601(certificate['not_after'])
        result['days_to_expiry'] = int((certificate['not_after'] - now).total_seconds() // 86400)
        if verify_error is not None:
            result['error'] = verify_error
        elif certificate['not_after'] <= now:
            result['error'] = 'the certificate expired at %s' % result['not_after']
        elif certificate['not_before'] > now:
            result['error'] = 'the certificate is not valid before %s' % result['not_before']

    # --- dns ------------------------------------------------------------------------------------

    def _probe_dns(self, plan, result):
        record_type = plan['record_type']
        result['record_type'] = record_type
        start = time.monotonic()
        if record_type in ('A', 'AAAA'):
            result['resolver'] = 'getaddrinfo'
            answers, error = self._resolve_address(plan)
        else:
            answers, error = self._resolve_with_tool(plan, result)
        if error is not None:
            result['error'] = error
            return
        result['latency_ms'] = _elapsed_ms(start)
        result['answers'] = answers
        missing = [value for value in plan['expect'] if not _dns_expectation_met(record_type, value, answers)]
        if missing:
            result['error'] = 'expected %s among the answers' % ', '.join(missing)

    def _resolve_address(self, plan):
        family = socket.AF_INET if plan['record_type'] == 'A' else socket.AF_INET6
        try:
            infos = socket.getaddrinfo(plan['host'], None, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return None, describe_error(exc, plan['timeout'])
        answers = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split('%')[0]).compressed
            if address not in answers:
                answers.append(address)
        return answers, None

    def _resolve_with_tool(self, plan, result):
        timeout = plan['timeout']
        dig = self._command('dig')
        if dig is not None:
            result['resolver'] = 'dig'
            args = [dig, '+time=%d' % _whole_seconds(timeout), '+tries=1', '+noall', '+comments', '+answer',
                    '-t', plan['record_type'], plan['host']]
            parse = parse_dig
        else:
            host = self._command('host')
            if host is None:
                message = '%s lookups need dig or host on the managed host; %s'
                return None, message % (plan['record_type'], INSTALL_HINTS['dns'])
            result['resolver'] = 'host'
            # host always tries twice, so each try gets half of the time.
            args = [host, '-W', str(max(1, int(timeout // 2))), '-t', plan['record_type'], plan['host']]
            parse = parse_host
        try:
            _rc, stdout, _stderr = self._run_command(args)
        except OSError as exc:
            return None, 'cannot run %s: %s' % (args[0], describe_error(exc, timeout))
        parsed = parse(stdout, plan['record_type'])
        return parsed['answers'], parsed['error']


def _decode_body(body, headers):
    charset = headers.get_content_charset() or 'utf-8'
    try:
        return body.decode(charset, 'replace')
    except LookupError:
        return body.decode('utf-8', 'replace')


def _dns_expectation_met(record_type, expected, answers):
    if record_type == 'MX':
        # "mail.example.com" matches whatever its preference; "10 mail.example.com" must match exactly.
        return any(expected in (answer, answer.split(' ', 1)[1]) for answer in answers)
    return expected in answers


def normalize_expected_answer(record_type, value):
    """Canonical form of an expected DNS answer; ValueError when it cannot be one of that type."""
    value = value.strip()
    if record_type in ('A', 'AAAA'):
        address = ipaddress.ip_address(value)
        if address.version != (4 if record_type == 'A' else 6):
            raise ValueError('%s is not an IPv%d address' % (value, 4 if record_type == 'A' else 6))
        return address.compressed
    if record_type == 'MX':
        parts = value.split()
        if len(parts) == 2 and parts[0].isdigit():
            return '%d %s' % (int(parts[0]), normalize_dns_name(parts[1]))
        if len(parts) != 1:
            raise ValueError('write an MX answer as "mail.example.com" or "10 mail.example.com"')
    return normalize_dns_name(value)
