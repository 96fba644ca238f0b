# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers of the probe module, on captured tool output and real certificates."""

import datetime
import ipaddress
import pathlib
import ssl

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._probe_parse import (
    normalize_dns_name,
    parse_certificate,
    parse_dig,
    parse_host,
    parse_ping,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError:
    x509 = None

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / 'modules' / 'fixtures' / 'probe'
# These tests also run on Python 3.8 under ansible-test units, which has no datetime.UTC.
UTC = datetime.timezone.utc
needs_cryptography = pytest.mark.skipif(x509 is None,
                                        reason='the cryptography package builds these certificates')


def read_fixture(name):
    path = FIXTURES / name
    return path.read_text(encoding='utf-8') if path.exists() else ''


def ping_output(case):
    return read_fixture(f'ping_{case}.stdout'), read_fixture(f'ping_{case}.stderr')


# --- ping ---------------------------------------------------------------------------------------

NO_STATISTICS = dict(transmitted=None, received=None, loss_percent=None,
                     rtt_min_ms=None, rtt_avg_ms=None, rtt_max_ms=None)
NO_REPLY = dict(rtt_min_ms=None, rtt_avg_ms=None, rtt_max_ms=None)

PING_CASES = {
    # Captured from iputils 20221126 and busybox 1.35 on Debian 12, C locale; the two *_errors cases
    # are written in iputils' format for replies an unreachable network gives.
    'iputils_ok': dict(transmitted=3, received=3, loss_percent=0.0,
                       rtt_min_ms=0.044, rtt_avg_ms=0.051, rtt_max_ms=0.062, error=None),
    'iputils_ok_ipv6': dict(transmitted=2, received=2, loss_percent=0.0,
                            rtt_min_ms=0.064, rtt_avg_ms=0.083, rtt_max_ms=0.102, error=None),
    'busybox_ok': dict(transmitted=3, received=3, loss_percent=0.0,
                       rtt_min_ms=0.068, rtt_avg_ms=0.091, rtt_max_ms=0.104, error=None),
    'iputils_loss100': dict(transmitted=3, received=0, loss_percent=100.0,
                            error='no reply to 3 echo requests', **NO_REPLY),
    'busybox_loss100': dict(transmitted=3, received=0, loss_percent=100.0,
                            error='no reply to 3 echo requests', **NO_REPLY),
    'iputils_partial_errors': dict(transmitted=3, received=1, loss_percent=66.6667,
                                   rtt_min_ms=0.412, rtt_avg_ms=0.412, rtt_max_ms=0.412, error=None),
    'iputils_unreachable_errors': dict(
        transmitted=3, received=0, loss_percent=100.0,
        error='no reply to 3 echo requests (Destination Host Unreachable; 3 errors)', **NO_REPLY),
    'iputils_unknown_host': dict(error='nosuchhost.invalid: Temporary failure in name resolution',
                                 **NO_STATISTICS),
    'busybox_unknown_host': dict(error="bad address 'nosuchhost.invalid'", **NO_STATISTICS),
    'iputils_unreachable': dict(error='connect: Network is unreachable', **NO_STATISTICS),
    'busybox_unreachable': dict(error='sendto: Network is unreachable', **NO_STATISTICS),
    'iputils_no_permission': dict(
        error='socktype: SOCK_RAW; socket: Operation not permitted; '
              '=> missing cap_net_raw+p capability or setuid?',
        **NO_STATISTICS),
    'busybox_no_permission': dict(error='permission denied (are you root?)', **NO_STATISTICS),
}


@pytest.mark.parametrize('case', sorted(PING_CASES))
def test_parse_ping_reads_statistics_and_errors(case):
    assert parse_ping(*ping_output(case)) == PING_CASES[case]


def test_parse_ping_without_output_says_so():
    assert parse_ping('', '')['error'] == 'ping printed no statistics'


# --- dig and host -------------------------------------------------------------------------------

TIMED_OUT = 'communications error to 127.0.0.1#5353: timed out'
DNS_CASES = [
    # (fixture, record type, answers, error); dig 9.18 and host 9.18 against a loopback test server.
    ('dig_mx', 'MX', ['10 mx1.example.test', '20 mx2.example.test'], None),
    ('dig_cname', 'CNAME', ['web.example.test'], None),
    ('dig_nodata', 'CNAME', [], 'no CNAME record'),
    ('dig_nxdomain', 'MX', [], 'the name does not exist (NXDOMAIN)'),
    ('dig_timeout', 'MX', [], f'{TIMED_OUT}; no servers could be reached'),
    ('host_mx', 'MX', ['10 mx1.example.test', '20 mx2.example.test'], None),
    ('host_cname', 'CNAME', ['web.example.test'], None),
    ('host_nodata', 'CNAME', [], 'no CNAME record'),
    ('host_nxdomain', 'MX', [], 'the name does not exist (NXDOMAIN)'),
    ('host_timeout', 'MX', [], f'{TIMED_OUT}; {TIMED_OUT}; no servers could be reached'),
]


@pytest.mark.parametrize(('fixture', 'record_type', 'answers', 'error'), DNS_CASES,
                         ids=[case[0] for case in DNS_CASES])
def test_parse_dns_tools(fixture, record_type, answers, error):
    parse = parse_dig if fixture.startswith('dig') else parse_host
    assert parse(read_fixture(fixture + '.stdout'), record_type) == {'answers': answers, 'error': error}


def test_parse_dig_keeps_only_the_asked_type_and_reports_servfail():
    # An MX query for an alias answers with the CNAME first; only the MX records are answers.
    text = (';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n'
            'mail.example.test.\t300\tIN\tCNAME\tmx.example.test.\n'
            'mx.example.test.\t300\tIN\tMX\t5 MX.Example.Test.\n')
    assert parse_dig(text, 'MX') == {'answers': ['5 mx.example.test'], 'error': None}
    servfail = ';; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 2\n'
    assert parse_dig(servfail, 'MX')['error'] == 'the DNS server answered SERVFAIL'


def test_parse_host_keeps_only_the_asked_type():
    text = ('www.example.test is an alias for web.example.test.\n'
            'web.example.test mail is handled by 0 mx.example.test.\n')
    assert parse_host(text, 'MX')['answers'] == ['0 mx.example.test']
    assert parse_host(text, 'CNAME')['answers'] == ['web.example.test']


def test_normalize_dns_name():
    assert normalize_dns_name('WWW.Example.COM.') == 'www.example.com'


# --- certificates -------------------------------------------------------------------------------

def load_fixture_certificate():
    return ssl.PEM_cert_to_DER_cert(read_fixture('certificate_long_lived.pem'))


def test_parse_certificate_fixture():
    # Made with openssl req -x509 -utf8 -days 36500
    #   -subj "/C=JP/ST=Tokyo/O=運用チーム, 東京/OU=ops+UID=probe/CN=probe.example.test"
    # notBefore is a UTCTime, notAfter (2126) a GeneralizedTime. The multi-valued RDN keeps its DER order
    # (OU before UID), as the cryptography package writes it too.
    certificate = parse_certificate(load_fixture_certificate())
    expected_name = 'CN=probe.example.test,OU=ops+UID=probe,O=運用チーム\\, 東京,ST=Tokyo,C=JP'
    assert certificate == {
        'not_before': datetime.datetime(2026, 11, 28, 23, 30, 32, tzinfo=UTC),
        'not_after': datetime.datetime(2126, 11, 4, 23, 30, 32, tzinfo=UTC),
        'subject': expected_name,
        'issuer': expected_name,
    }


def test_parse_certificate_rejects_every_truncation():
    der = load_fixture_certificate()
    for length in range(len(der)):
        with pytest.raises(ValueError):
            parse_certificate(der[:length])


@pytest.mark.parametrize('garbage', [
    b'',
    b'\x30',
    b'\x04\x03abc',
    b'\x30\x03\x02\x01\x01',
    b'\x30\x85\x01\x02\x03\x04\x05',
])
def test_parse_certificate_rejects_what_is_not_a_certificate(garbage):
    with pytest.raises(ValueError):
        parse_certificate(garbage)


def build_certificate(subject, not_before, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, 'Test CA'),
                        x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, 'opsrun')])
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(loopback, critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, certificate.public_bytes(serialization.Encoding.DER)


# Each case is a list of RDNs, each RDN a list of (attribute, value).
NAME_CASES = [
    [[('CN', 'plain.example.test')]],
    [[('CN', 'a,b+c;d<e>f"g\\h')], [('O', '#leading hash')], [('OU', ' spaces around ')]],
    [[('C', 'JP')], [('ST', 'Tokyo')], [('L', 'Chiyoda')], [('STREET', '1-1 Marunouchi')],
     [('O', '運用保守')], [('CN', 'サーバー監視')]],
    [[('DC', 'example')], [('UID', 'ops'), ('OU', 'night shift')], [('EMAIL', 'ops@example.test')],
     [('SERIAL', '42')]],
]


@needs_cryptography
@pytest.mark.parametrize('rdns', NAME_CASES)
def test_parse_certificate_matches_cryptography(rdns):
    oids = {
        'CN': x509.NameOID.COMMON_NAME, 'O': x509.NameOID.ORGANIZATION_NAME,
        'OU': x509.NameOID.ORGANIZATIONAL_UNIT_NAME, 'C': x509.NameOID.COUNTRY_NAME,
        'L': x509.NameOID.LOCALITY_NAME, 'ST': x509.NameOID.STATE_OR_PROVINCE_NAME,
        'STREET': x509.NameOID.STREET_ADDRESS, 'DC': x509.NameOID.DOMAIN_COMPONENT,
        'UID': x509.NameOID.USER_ID, 'EMAIL': x509.NameOID.EMAIL_ADDRESS,
        'SERIAL': x509.NameOID.SERIAL_NUMBER,
    }
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(oids[key], value) for key, value in rdn])
        for rdn in rdns
    ])
    # One date before 2050 (UTCTime), one after (GeneralizedTime).
    not_before = datetime.datetime(2020, 2, 29, 12, 0, 1, tzinfo=UTC)
    not_after = datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC)
    certificate, der = build_certificate(subject, not_before, not_after)

    parsed = parse_certificate(der)

    assert parsed['subject'] == certificate.subject.rfc4514_string()
    assert parsed['issuer'] == certificate.issuer.rfc4514_string() == 'O=opsrun,CN=Test CA'
    assert parsed['not_before'] == not_before
    assert parsed['not_after'] == not_after
