# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""opsrun.ops.probe: input checks, and real probes against servers started on loopback only."""

import contextlib
import datetime
import http.server
import ipaddress
import json
import pathlib
import shutil
import socket
import ssl
import threading

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.module_utils._probe import Prober
from ansible_collections.opsrun.ops.plugins.modules import probe

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError:
    x509 = None

FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures' / 'probe'
LOOPBACK = '127.0.0.1'
# Liveness bound for a test server waiting on probes: generous, so a loaded machine never trips it,
# and reached only when the probes do not run together. Tests assert what ran together, never how fast.
WAIT = 10


# --- helpers ------------------------------------------------------------------------------------

def no_command(*_args):
    raise AssertionError('this probe must not run or look up a command')


def probe_all(specs, timeout=2.0, concurrency=16, run_command=no_command, find_command=no_command):
    plans = probe.build_plans(specs, timeout)
    # A generous grace: these tests check what a probe's own timeout reports, so a loaded machine
    # must not get the probe abandoned first (abandonment is tested in test_probe_runner.py).
    return Prober(run_command, find_command).run(plans, concurrency, grace=WAIT)


def probe_one(spec, **kwargs):
    return probe_all([spec], **kwargs)[0]


def run_main(args, capsys):
    """Run the module's main() as Ansible would; return its exit code and JSON result."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        probe.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes of the loopback test server; requests are recorded on the server."""

    def _reply(self, status, body=b'', headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_GET(self):
        self.server.requests.append((self.command, self.path, dict(self.headers.items())))
        routes = {
            '/ok': (200, b'service status: healthy\n', ()),
            '/missing': (404, b'no such page\n', ()),
            '/redirect': (302, b'', (('Location', '/ok'),)),
            '/redirect-to-echo': (302, b'', (('Location', '/echo'),)),
            '/echo': (200, b'echo\n', ()),
        }
        self._reply(*routes.get(self.path, (500, b'unexpected path\n', ())))

    do_HEAD = do_GET

    def log_message(self, *_args):
        pass


class _GatedHandler(_Handler):
    """Holds each request until the server's barrier has as many requests waiting as it has parties.

    The server counts the requests in progress and keeps the peak; a request stops counting before
    its response goes out, so the count never exceeds the requests the probes have open.
    """

    def do_GET(self):
        server = self.server
        with server.lock:
            server.in_progress += 1
            server.peak = max(server.peak, server.in_progress)
        try:
            server.barrier.wait(WAIT)
            status = 200
        except threading.BrokenBarrierError:
            status = 504
        with server.lock:
            server.in_progress -= 1
        self._reply(status)


class _LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Room for every probe of a test to connect at once.
    request_queue_size = 64


@contextlib.contextmanager
def serve_http(context=None, handler=_Handler):
    server = _LoopbackServer((LOOPBACK, 0), handler)
    server.requests = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_gated(parties):
    """An HTTP server that answers requests in groups of `parties` that arrived together (else 504)."""
    with serve_http(handler=_GatedHandler) as server:
        server.lock = threading.Lock()
        server.barrier = threading.Barrier(parties)
        server.in_progress = 0
        server.peak = 0
        try:
            yield server
        finally:
            # Frees any request still held, so the server shuts down at once.
            server.barrier.abort()


@pytest.fixture
def http_server():
    with serve_http() as server:
        yield server


def base_url(server, scheme='http'):
    return f'{scheme}://{LOOPBACK}:{server.server_address[1]}'


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
def closed_port():
    probe_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe_socket.bind((LOOPBACK, 0))
    port = probe_socket.getsockname()[1]
    probe_socket.close()
    return port


# --- input checks -------------------------------------------------------------------------------

BAD_TARGETS = [
    ([{'type': 'tcp', 'host': 'db1'}], 'targets[0].port is required for a tcp target'),
    ([{'type': 'ping', 'host': 'a'}, {'type': 'icmp', 'host': 'b'}],
     "targets[1].type must be one of ping, tcp, http, tls, dns, got 'icmp'"),
    ([{'type': None, 'host': 'a'}], 'targets[0].type is required; one of ping, tcp, http, tls, dns'),
    ([{'type': 'ping', 'host': 'a'}, {'type': 'tcp', 'host': 'b', 'port': 1, 'url': 'http://b/'}],
     'targets[1].url does not apply to a tcp target; its keys are name, type, timeout, host, port'),
    ([{'type': 'tcp', 'host': 'db1', 'port': 70000}],
     'targets[0].port must be between 1 and 65535, got 70000'),
    ([{'type': 'ping', 'host': '-f'}], "targets[0].host is not a host name or IP address: '-f'"),
    ([{'type': 'ping', 'host': 'a b'}], "targets[0].host is not a host name or IP address: 'a b'"),
    ([{'type': 'ping', 'host': 'a', 'count': 0}], 'targets[0].count must be greater than 0, got 0'),
    ([{'type': 'tcp', 'host': 'a', 'port': 1, 'timeout': -1.0}], 'targets[0].timeout must be greater than 0'),
    ([{'type': 'http', 'url': 'ftp://files.example.test/'}],
     'targets[0].url must be an http:// or https:// URL'),
    ([{'type': 'http', 'url': 'http://x/', 'body_match': '('}],
     'targets[0].body_match is not a valid regular expression'),
    ([{'type': 'http', 'url': 'http://x/', 'method': 'HEAD', 'body_match': 'ok'}],
     'targets[0].body_match needs method GET; a HEAD response has no body'),
    ([{'type': 'http', 'url': 'http://x/', 'expect_status': [200, 99]}],
     'targets[0].expect_status holds 99, which is not an HTTP status code'),
    ([{'type': 'http', 'url': 'http://x/', 'headers': {'X-Api-Key': 'k'}}],
     'targets[0].headers X-Api-Key looks like a credential; move it to secret_headers'),
    ([{'type': 'http', 'url': 'http://x/', 'headers': {'Bad Name': 'v'}}],
     "targets[0].headers has a header name that HTTP does not allow: 'Bad Name'"),
    ([{'type': 'http', 'url': 'http://x/', 'ca_path': '/nonexistent/ca.pem'}],
     'targets[0].ca_path is not a file on the managed host: /nonexistent/ca.pem'),
    ([{'type': 'dns', 'host': 'localhost', 'expect': ['::1']}],
     'targets[0].expect[0] is not a A answer: ::1 is not an IPv4 address'),
    ([{'type': 'dns', 'host': 'localhost', 'record_type': 'MX', 'expect': ['mail example test']}],
     'targets[0].expect[0] is not a MX answer'),
    ([{'type': 'tcp', 'host': 'a', 'port': 1}, {'type': 'tcp', 'host': 'a', 'port': 1}],
     "targets[1].name 'tcp a:1' is already the name of targets[0]; give each target its own name"),
]


@pytest.mark.parametrize(('targets', 'message'), BAD_TARGETS, ids=[case[1][:50] for case in BAD_TARGETS])
def test_bad_targets_are_refused_with_index_and_key(targets, message):
    with pytest.raises(probe.TargetError) as error:
        probe.build_plans(targets, 5.0)
    assert message in str(error.value)


def test_every_problem_is_reported_at_once():
    targets = [
        {'type': 'tcp', 'host': 'a'},
        {'type': 'ping', 'host': 'b'},
        {'type': 'http', 'url': 'gopher://x'},
    ]
    with pytest.raises(probe.TargetError) as error:
        probe.build_plans(targets, 5.0)
    assert 'targets[0].port is required' in str(error.value)
    assert 'targets[2].url must be an http://' in str(error.value)
    assert 'targets[1]' not in str(error.value)


def test_secrets_in_bad_input_are_not_repeated():
    targets = [
        {'type': 'http', 'url': 'https://admin:hunter2@x.example.test/'},
        {'type': 'http', 'url': 'http://y/', 'secret_headers': {'Authorization': 'line\nbreak-hunter2'}},
    ]
    with pytest.raises(probe.TargetError) as error:
        probe.build_plans(targets, 5.0)
    assert 'targets[0].url must not hold a user name or password' in str(error.value)
    assert 'header Authorization: its value must not contain line breaks' in str(error.value)
    assert 'hunter2' not in str(error.value)


def test_defaults_fill_the_plan():
    ping, tls, dns, web = probe.build_plans([
        {'type': 'ping', 'host': '192.0.2.1'},
        {'type': 'tls', 'host': '[2001:db8::1]', 'timeout': 1.5},
        {'type': 'dns', 'host': 'www.example.test', 'expect': ['192.0.2.10']},
        {'type': 'http', 'url': 'https://www.example.test/healthz', 'name': 'web'},
    ], 4.0)
    assert ping == {'type': 'ping', 'timeout': 4.0, 'host': '192.0.2.1', 'count': 3, 'interval': 1.0,
                    'target': '192.0.2.1', 'name': 'ping 192.0.2.1'}
    assert (tls['host'], tls['port'], tls['server_name'], tls['validate_certs'], tls['timeout']) == \
        ('2001:db8::1', 443, '2001:db8::1', True, 1.5)
    assert tls['name'] == 'tls [2001:db8::1]:443'
    assert (dns['record_type'], dns['expect'], dns['name']) == ('A', ['192.0.2.10'], 'dns A www.example.test')
    assert (web['method'], web['expect_status'], web['follow_redirects'], web['validate_certs']) == \
        ('GET', [200], True, True)
    assert web['name'] == 'web'


# --- tcp ----------------------------------------------------------------------------------------

def test_tcp_connects_to_a_listening_port(silent_port):
    result = probe_one({'type': 'tcp', 'host': LOOPBACK, 'port': silent_port})
    assert (result['status'], result['error'], result['address']) == ('ok', None, LOOPBACK)
    assert result['target'] == f'127.0.0.1:{silent_port}'
    assert result['latency_ms'] >= 0


def test_tcp_to_a_closed_port_fails(closed_port):
    result = probe_one({'type': 'tcp', 'host': LOOPBACK, 'port': closed_port})
    assert result['status'] == 'fail'
    assert result['error'] == 'connect failed: Connection refused'
    assert result['latency_ms'] is None


# --- http ---------------------------------------------------------------------------------------

def test_http_expected_status(http_server):
    result = probe_one({'type': 'http', 'url': base_url(http_server) + '/ok'})
    assert (result['status'], result['status_code'], result['error']) == ('ok', 200, None)
    assert result['final_url'] == base_url(http_server) + '/ok'
    assert result['body_matched'] is None
    assert http_server.requests[0][2]['User-Agent'] == 'opsrun.ops.probe'


def test_http_unexpected_status_fails_and_listed_status_passes(http_server):
    missing = {'type': 'http', 'url': base_url(http_server) + '/missing'}
    failed = probe_one(missing)
    assert (failed['status'], failed['status_code']) == ('fail', 404)
    assert failed['error'] == 'status 404, expected 200'
    assert failed['latency_ms'] is not None
    accepted = probe_one(dict(missing, expect_status=[404, 410]))
    assert (accepted['status'], accepted['status_code']) == ('ok', 404)


def test_http_body_match(http_server):
    url = base_url(http_server) + '/ok'
    matched = probe_one({'type': 'http', 'url': url, 'body_match': r'status: (healthy|degraded)'})
    assert (matched['status'], matched['body_matched']) == ('ok', True)
    unmatched = probe_one({'type': 'http', 'url': url, 'body_match': r'status: down'})
    assert (unmatched['status'], unmatched['body_matched']) == ('fail', False)
    assert unmatched['error'] == "the body does not match 'status: down'"


def test_http_head_request(http_server):
    result = probe_one({'type': 'http', 'url': base_url(http_server) + '/ok', 'method': 'HEAD'})
    assert (result['status'], result['status_code']) == ('ok', 200)
    assert http_server.requests[0][0] == 'HEAD'


def test_http_redirect_followed_or_not(http_server):
    url = base_url(http_server) + '/redirect'
    followed = probe_one({'type': 'http', 'url': url})
    assert (followed['status'], followed['status_code']) == ('ok', 200)
    assert followed['final_url'] == base_url(http_server) + '/ok'
    assert followed['redirect_location'] is None

    not_followed = probe_one({'type': 'http', 'url': url, 'follow_redirects': False})
    assert (not_followed['status'], not_followed['status_code']) == ('fail', 302)
    assert not_followed['final_url'] == url
    assert not_followed['redirect_location'] == base_url(http_server) + '/ok'

    accepted = probe_one({'type': 'http', 'url': url, 'follow_redirects': False, 'expect_status': [302]})
    assert accepted['status'] == 'ok'


def test_http_secret_headers_are_sent_but_not_across_a_redirect(http_server):
    result = probe_one({
        'type': 'http',
        'url': base_url(http_server) + '/redirect-to-echo',
        'headers': {'Accept': 'text/plain'},
        'secret_headers': {'Authorization': 'Bearer probe-test-credential'},
    })
    assert result['status'] == 'ok'
    (_first_method, first_path, first), (_second_method, second_path, second) = http_server.requests
    assert (first_path, first['Authorization'], first['Accept']) == (
        '/redirect-to-echo', 'Bearer probe-test-credential', 'text/plain')
    assert second_path == '/echo'
    assert 'Authorization' not in second
    assert second['Accept'] == 'text/plain'


def test_http_timeout_on_a_server_that_never_answers(silent_port):
    result = probe_one({'type': 'http', 'url': f'http://127.0.0.1:{silent_port}/', 'timeout': 0.5})
    assert result['status'] == 'fail'
    # The request's own timeout ended it; an abandoned probe would say "no result within 0.5 s".
    assert result['error'] == 'request failed: timed out after 0.5 s'
    assert result['status_code'] is None


def gated_targets(server, count):
    # The probes' timeout is longer than the server's wait, so a request that is held too long
    # gets the server's 504 rather than a timeout.
    return [{'type': 'http', 'url': f'{base_url(server)}/{index}', 'timeout': 3 * WAIT}
            for index in range(count)]


def test_targets_run_concurrently():
    # Each request is held until all eight have arrived: one after another, none would pass.
    with serve_gated(8) as server:
        targets = gated_targets(server, 8)
        results = probe_all(targets)
    assert [(result['status'], result['status_code']) for result in results] == [('ok', 200)] * 8
    assert [result['target'] for result in results] == [target['url'] for target in targets]
    assert server.peak == 8


def test_concurrency_bounds_the_targets_probed_at_once():
    # Requests are answered in pairs, so two run together in every round; a third at once would
    # push the peak above 2.
    with serve_gated(2) as server:
        results = probe_all(gated_targets(server, 4), concurrency=2)
    assert [(result['status'], result['status_code']) for result in results] == [('ok', 200)] * 4
    assert server.peak == 2


# --- tls (and https) ----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A test CA and server certificates for 127.0.0.1 and localhost, written as PEM files."""
    if x509 is None:
        pytest.skip('the TLS tests build certificates with the cryptography package')
    directory = tmp_path_factory.mktemp('pki')
    # These tests also run on Python 3.8 under ansible-test units, which has no datetime.UTC.
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def name(common_name):
        return x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, 'opsrun test'),
                          x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])

    def write(stem, certificate, key):
        cert_path = directory / (stem + '.pem')
        key_path = directory / (stem + '.key')
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return str(cert_path), str(key_path)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = name('opsrun test CA')
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_subject).issuer_name(ca_subject).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day).not_valid_after(now + 365 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def server_certificate(stem, not_before, not_after):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name('localhost')).issuer_name(ca_subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return write(stem, certificate, key)

    ca_path, _ca_key_path = write('ca', ca_certificate, ca_key)
    return {
        'ca': ca_path,
        'now': now,
        'valid': server_certificate('valid', now - day, now + 30 * day),
        'expired': server_certificate('expired', now - 10 * day, now - 1.5 * day),
    }


@contextlib.contextmanager
def serve_https(pki, which):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pki[which])
    with serve_http(context) as server:
        yield server


def test_tls_reads_the_certificate_without_verifying(pki):
    with serve_https(pki, 'valid') as server:
        result = probe_one({'type': 'tls', 'host': LOOPBACK, 'port': server.server_address[1],
                            'validate_certs': False})
    assert (result['status'], result['error'], result['verified']) == ('ok', None, None)
    # Valid for 30 more days from the fixture's "now", so 29 whole days are left.
    assert result['days_to_expiry'] == 29
    assert result['subject'] == 'CN=localhost,O=opsrun test'
    assert result['issuer'] == 'CN=opsrun test CA,O=opsrun test'
    expected_not_after = pki['now'] + datetime.timedelta(days=30)
    assert result['not_after'] == expected_not_after.strftime('%Y-%m-%dT%H:%M:%SZ')
    assert result['address'] == LOOPBACK


def test_tls_verification(pki):
    with serve_https(pki, 'valid') as server:
        port = server.server_address[1]
        untrusted, trusted, wrong_name = probe_all([
            {'type': 'tls', 'host': LOOPBACK, 'port': port, 'name': 'untrusted'},
            {'type': 'tls', 'host': LOOPBACK, 'port': port, 'server_name': 'localhost', 'ca_path': pki['ca']},
            {'type': 'tls', 'host': LOOPBACK, 'port': port, 'server_name': 'db.example.test',
             'ca_path': pki['ca'], 'name': 'wrong name'},
        ])
    assert (untrusted['status'], untrusted['verified']) == ('fail', False)
    assert untrusted['error'].startswith('certificate verification failed: ')
    # Described all the same, so an operator sees what is being served.
    assert untrusted['days_to_expiry'] == 29
    assert (trusted['status'], trusted['verified'], trusted['error']) == ('ok', True, None)
    assert (wrong_name['status'], wrong_name['verified']) == ('fail', False)
    assert 'db.example.test' in wrong_name['error']


def test_tls_expired_certificate_fails_with_negative_days(pki):
    with serve_https(pki, 'expired') as server:
        result = probe_one({'type': 'tls', 'host': LOOPBACK, 'port': server.server_address[1],
                            'validate_certs': False})
    assert result['status'] == 'fail'
    assert result['error'].startswith('the certificate expired at ')
    # Expired 36 hours ago: rounded down, -2 days.
    assert result['days_to_expiry'] == -2


def test_tls_handshake_timeout(silent_port):
    result = probe_one({'type': 'tls', 'host': LOOPBACK, 'port': silent_port, 'timeout': 0.5,
                        'validate_certs': False})
    assert result['status'] == 'fail'
    assert result['error'] == 'TLS handshake failed: timed out after 0.5 s'


def test_https_uses_ca_path_and_validate_certs(pki):
    with serve_https(pki, 'valid') as server:
        url = base_url(server, 'https') + '/ok'
        trusted, untrusted, unchecked = probe_all([
            {'type': 'http', 'url': url, 'ca_path': pki['ca'], 'name': 'trusted'},
            {'type': 'http', 'url': url, 'name': 'untrusted'},
            {'type': 'http', 'url': url, 'validate_certs': False, 'name': 'unchecked'},
        ])
    assert (trusted['status'], trusted['status_code']) == ('ok', 200)
    assert untrusted['status'] == 'fail'
    assert untrusted['error'].startswith('request failed: certificate verification failed: ')
    assert (unchecked['status'], unchecked['status_code']) == ('ok', 200)


def test_a_ca_path_that_holds_no_certificate_is_a_failed_result():
    not_pem = str(FIXTURES / 'dig_mx.stdout')
    https, tls = probe_all([
        {'type': 'http', 'url': 'https://127.0.0.1:1/', 'ca_path': not_pem},
        {'type': 'tls', 'host': LOOPBACK, 'port': 1, 'ca_path': not_pem},
    ])
    for result in (https, tls):
        assert result['status'] == 'fail'
        assert result['error'].startswith(f'cannot load CA certificates from {not_pem}: ')


# --- dns ----------------------------------------------------------------------------------------

def test_dns_resolves_localhost():
    result = probe_one({'type': 'dns', 'host': 'localhost', 'expect': ['127.0.0.1']})
    assert (result['status'], result['error']) == ('ok', None)
    assert (result['record_type'], result['resolver']) == ('A', 'getaddrinfo')
    assert '127.0.0.1' in result['answers']


def test_dns_unexpected_answer_fails():
    result = probe_one({'type': 'dns', 'host': 'localhost', 'expect': ['127.0.0.1', '127.0.0.2']})
    assert result['status'] == 'fail'
    assert result['error'] == 'expected 127.0.0.2 among the answers'
    assert '127.0.0.1' in result['answers']


def test_dns_resolution_failure_is_a_result():
    # A numeric IPv4 host has no IPv6 address; no query leaves the host.
    result = probe_one({'type': 'dns', 'host': LOOPBACK, 'record_type': 'AAAA'})
    assert result['status'] == 'fail'
    assert result['error'].startswith('cannot resolve the host name: ')
    assert result['answers'] is None


def fake_tools(present, fixture, calls):
    def find_command(name):
        return '/usr/bin/' + name if name in present else None

    def run_command(args):
        calls.append(args)
        return 0, (FIXTURES / fixture).read_text(encoding='utf-8'), ''

    return {'find_command': find_command, 'run_command': run_command}


def test_dns_cname_with_dig():
    calls = []
    result = probe_one({'type': 'dns', 'host': 'www.example.test', 'record_type': 'CNAME',
                        'expect': ['Web.Example.Test.'], 'timeout': 2.5},
                       **fake_tools({'dig', 'host'}, 'dig_cname.stdout', calls))
    assert calls == [['/usr/bin/dig', '+time=3', '+tries=1', '+noall', '+comments', '+answer',
                      '-t', 'CNAME', 'www.example.test']]
    assert (result['status'], result['resolver'], result['answers']) == ('ok', 'dig', ['web.example.test'])


def test_dns_mx_with_host_when_dig_is_missing():
    calls = []
    result = probe_one({'type': 'dns', 'host': 'example.test', 'record_type': 'MX',
                        'expect': ['mx2.example.test', '10 mx1.example.test'], 'timeout': 4.0},
                       **fake_tools({'host'}, 'host_mx.stdout', calls))
    assert calls == [['/usr/bin/host', '-W', '2', '-t', 'MX', 'example.test']]
    assert (result['status'], result['resolver']) == ('ok', 'host')
    assert result['answers'] == ['10 mx1.example.test', '20 mx2.example.test']


def test_dns_nxdomain_from_dig_is_a_failed_result():
    result = probe_one({'type': 'dns', 'host': 'nxdomain.example.test', 'record_type': 'MX'},
                       **fake_tools({'dig'}, 'dig_nxdomain.stdout', []))
    assert (result['status'], result['error']) == ('fail', 'the name does not exist (NXDOMAIN)')


def test_dns_cname_without_tools_says_what_to_install():
    result = probe_one({'type': 'dns', 'host': 'www.example.test', 'record_type': 'CNAME'},
                       **fake_tools(set(), 'dig_cname.stdout', []))
    assert result['status'] == 'fail'
    assert result['error'].startswith(
        'CNAME lookups need dig or host on the managed host; install bind9-dnsutils')


# --- ping ---------------------------------------------------------------------------------------

def test_ping_runs_the_command_with_an_argument_list():
    calls = []
    result = probe_one({'type': 'ping', 'host': '192.0.2.1', 'interval': 0.5, 'timeout': 1.5},
                       **fake_tools({'ping'}, 'ping_iputils_ok.stdout', calls))
    assert calls == [['/usr/bin/ping', '-n', '-c', '3', '-W', '2', '-i', '0.5', '192.0.2.1']]
    assert result == {
        'name': 'ping 192.0.2.1', 'type': 'ping', 'target': '192.0.2.1', 'status': 'ok', 'error': None,
        'latency_ms': 0.051, 'transmitted': 3, 'received': 3, 'loss_percent': 0.0,
        'rtt_min_ms': 0.044, 'rtt_avg_ms': 0.051, 'rtt_max_ms': 0.062,
    }


def test_ping_with_total_loss_fails():
    result = probe_one({'type': 'ping', 'host': '192.0.2.1'},
                       **fake_tools({'ping'}, 'ping_busybox_loss100.stdout', []))
    assert (result['status'], result['loss_percent'], result['latency_ms']) == ('fail', 100.0, None)
    assert result['error'] == 'no reply to 3 echo requests'


def test_ping_missing_says_what_to_install():
    result = probe_one({'type': 'ping', 'host': '192.0.2.1'},
                       **fake_tools(set(), 'ping_iputils_ok.stdout', []))
    assert result['status'] == 'fail'
    assert result['error'] == ('the ping command is not on the managed host; '
                               'install iputils-ping (Debian/Ubuntu) or iputils (EL)')


@pytest.mark.skipif(shutil.which('ping') is None, reason='no ping command on this machine')
def test_real_ping_of_loopback_through_main(capsys):
    targets = [{'type': 'ping', 'host': LOOPBACK, 'count': 2, 'interval': 0.2}]
    code, output = run_main({'targets': targets}, capsys)
    assert code == 0
    result = output['results'][0]
    assert (result['status'], result['transmitted'], result['received']) == ('ok', 2, 2), result
    assert result['rtt_avg_ms'] >= 0


# --- main() -------------------------------------------------------------------------------------

def test_main_in_check_mode_probes_and_reports(http_server, closed_port, capsys):
    code, output = run_main({
        '_ansible_check_mode': True,
        'targets': [
            {'type': 'http', 'url': base_url(http_server) + '/ok', 'name': 'web',
             'secret_headers': {'Authorization': 'Bearer main-test-credential'}},
            {'type': 'tcp', 'host': LOOPBACK, 'port': closed_port},
            {'type': 'dns', 'host': 'localhost'},
        ],
        'timeout': 2,
    }, capsys)
    assert code == 0
    assert output['changed'] is False
    assert [(result['name'], result['status']) for result in output['results']] == [
        ('web', 'ok'), (f'tcp 127.0.0.1:{closed_port}', 'fail'), ('dns A localhost', 'ok')]
    assert (output['failed_targets'], output['all_ok']) == (1, False)
    # The credential reached the server but appears nowhere in what the module returns.
    assert http_server.requests[0][2]['Authorization'] == 'Bearer main-test-credential'
    assert 'main-test-credential' not in json.dumps(output)


def test_main_fails_on_bad_input_naming_the_target(capsys):
    targets = [{'type': 'ping', 'host': '127.0.0.1'}, {'type': 'tcp', 'host': 'a'}]
    code, output = run_main({'targets': targets}, capsys)
    assert code == 1
    assert output['failed'] is True
    assert output['msg'] == 'Bad probe targets: targets[1].port is required for a tcp target'


def test_main_with_no_targets_is_all_ok(capsys):
    code, output = run_main({'targets': []}, capsys)
    assert (code, output['results'], output['failed_targets'], output['all_ok']) == (0, [], 0, True)
