# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure parsers for the probe module: ping and DNS tool output, X.509 certificates.

Nothing here touches the network or runs commands, so every function can be
tested on captured output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# --- ping ---------------------------------------------------------------------------------------

# iputils: "3 packets transmitted, 1 received, +2 errors, 66.6667% packet loss, time 2031ms"
# busybox: "3 packets transmitted, 0 packets received, 100% packet loss"
_PING_STATS = re.compile(
    r'^(?P<transmitted>\d+) packets transmitted, (?P<received>\d+) (?:packets )?received'
    r'(?P<extra>.*?)(?:, (?P<loss>[\d.]+)% packet loss)?(?:, time \d+ms)?$',
    re.MULTILINE,
)
_PING_ERRORS = re.compile(r'\+(\d+) errors')
# iputils: "rtt min/avg/max/mdev = 0.044/0.051/0.062/0.007 ms"; busybox: "round-trip min/avg/max = ..."
_PING_RTT = re.compile(r'^(?:rtt|round-trip) min/avg/max(?:/mdev)? = ([\d.]+)/([\d.]+)/([\d.]+)',
                       re.MULTILINE)
# iputils reports ICMP errors per packet: "From 192.0.2.1 icmp_seq=2 Destination Host Unreachable"
_PING_ICMP_ERROR = re.compile(r'^From \S+ icmp_seq=\d+ (.+)$', re.MULTILINE)
# Error lines start with the program's name, which may be a full path: "/usr/bin/ping: connect: ..."
_PING_PROGRAM_PREFIX = re.compile(r'^(?:\S*/)?(?:ping\d?|busybox): ')


def _tool_message(text, prefix):
    """Join the non-empty lines of a tool's error output into one line, without the tool's name."""
    lines = [prefix.sub('', line.strip()) for line in text.splitlines()]
    return '; '.join(line for line in lines if line)


def parse_ping(stdout, stderr):
    """Read the statistics of an iputils or busybox ping run.

    Returns a dict with transmitted, received, loss_percent, rtt_min_ms, rtt_avg_ms,
    rtt_max_ms (None where ping did not say) and error: None when at least one reply
    came, else why not.
    """
    result = {
        'transmitted': None,
        'received': None,
        'loss_percent': None,
        'rtt_min_ms': None,
        'rtt_avg_ms': None,
        'rtt_max_ms': None,
        'error': None,
    }
    stats = _PING_STATS.search(stdout)
    if stats is None:
        result['error'] = _tool_message(stderr, _PING_PROGRAM_PREFIX) or 'ping printed no statistics'
        return result

    result['transmitted'] = int(stats.group('transmitted'))
    result['received'] = int(stats.group('received'))
    if stats.group('loss') is not None:
        result['loss_percent'] = float(stats.group('loss'))
    rtt = _PING_RTT.search(stdout)
    if rtt is not None:
        result['rtt_min_ms'], result['rtt_avg_ms'], result['rtt_max_ms'] = (float(ms) for ms in rtt.groups())

    if result['received'] == 0:
        reasons = []
        icmp_error = _PING_ICMP_ERROR.search(stdout)
        if icmp_error is not None:
            reasons.append(icmp_error.group(1).strip())
        errors = _PING_ERRORS.search(stats.group('extra'))
        if errors is not None:
            reasons.append('%s errors' % errors.group(1))
        stderr_message = _tool_message(stderr, _PING_PROGRAM_PREFIX)
        if stderr_message:
            reasons.append(stderr_message)
        message = 'no reply to %d echo requests' % result['transmitted']
        result['error'] = '%s (%s)' % (message, '; '.join(reasons)) if reasons else message
    return result


# --- DNS (dig and host) -------------------------------------------------------------------------

_DIG_STATUS = re.compile(r'status: ([A-Z]+)')
_DIG_COMMENT_PREFIX = re.compile(r'^;+\s*')
_HOST_ALIAS = re.compile(r'^\S+ is an alias for (\S+)$')
_HOST_MAIL = re.compile(r'^\S+ mail is handled by (\d+) (\S+)$')
_HOST_NOT_FOUND = re.compile(r'^Host \S+ not found: (.+)$')
_HOST_NO_RECORD = re.compile(r'^\S+ has no \S+ record$')


def normalize_dns_name(name):
    """Compare DNS names the way DNS does: case-insensitive, the root dot optional."""
    return name.rstrip('.').lower()


def _dns_answer(record_type, data_fields):
    """Format one record's data; None when it is not a well-formed record of that type."""
    if record_type == 'MX':
        if len(data_fields) != 2 or not data_fields[0].isdigit():
            return None
        return '%d %s' % (int(data_fields[0]), normalize_dns_name(data_fields[1]))
    if len(data_fields) != 1:
        return None
    return normalize_dns_name(data_fields[0])


def _rcode_error(rcode):
    if 'NXDOMAIN' in rcode:
        return 'the name does not exist (NXDOMAIN)'
    return 'the DNS server answered %s' % rcode


def parse_dig(stdout, record_type):
    """Read `dig +noall +comments +answer -t TYPE NAME` output.

    Returns a dict with answers (CNAME: the target name; MX: "preference exchange", names in
    lower case without the root dot) and error (None when there is at least one answer).
    """
    status = None
    answers = []
    for raw_line in stdout.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith(';'):
            match = _DIG_STATUS.search(line)
            if match is not None:
                status = match.group(1)
            continue
        fields = line.split()
        # owner TTL class type data...
        if len(fields) < 5 or fields[3].upper() != record_type:
            continue
        answer = _dns_answer(record_type, fields[4:])
        if answer is not None:
            answers.append(answer)

    if status is None:
        message = _tool_message(stdout, _DIG_COMMENT_PREFIX)
        return {'answers': [], 'error': message or 'dig printed no answer'}
    if status != 'NOERROR':
        return {'answers': [], 'error': _rcode_error(status)}
    if not answers:
        return {'answers': [], 'error': 'no %s record' % record_type}
    return {'answers': answers, 'error': None}


def parse_host(stdout, record_type):
    """Read `host -t TYPE NAME` output; returns the same shape as parse_dig."""
    answers = []
    errors = []
    no_record = False
    for raw_line in stdout.splitlines():
        line = raw_line.strip()
        alias = _HOST_ALIAS.match(line)
        mail = _HOST_MAIL.match(line)
        not_found = _HOST_NOT_FOUND.match(line)
        if alias is not None and record_type == 'CNAME':
            answers.append(_dns_answer('CNAME', alias.groups()))
        elif mail is not None and record_type == 'MX':
            answers.append(_dns_answer('MX', mail.groups()))
        elif not_found is not None:
            errors.append(_rcode_error(not_found.group(1)))
        elif _HOST_NO_RECORD.match(line):
            no_record = True
        elif line.startswith(';'):
            errors.append(_DIG_COMMENT_PREFIX.sub('', line))

    if answers:
        return {'answers': answers, 'error': None}
    if errors:
        return {'answers': [], 'error': '; '.join(errors)}
    if no_record:
        return {'answers': [], 'error': 'no %s record' % record_type}
    return {'answers': [], 'error': 'host printed no answer'}


# --- X.509 certificates (DER) -------------------------------------------------------------------
# Only what a liveness check reports: validity dates, subject and issuer. The certificate is read
# without verifying it, so an expired or self-signed certificate can still be described.

_TAG_INTEGER = 0x02
_TAG_OID = 0x06
_TAG_UTC_TIME = 0x17
_TAG_GENERALIZED_TIME = 0x18
_TAG_SEQUENCE = 0x30
_TAG_SET = 0x31
_TAG_VERSION = 0xA0

_STRING_DECODERS = {
    0x0C: 'utf-8',  # UTF8String
    0x12: 'ascii',  # NumericString
    0x13: 'ascii',  # PrintableString
    0x14: 'latin-1',  # TeletexString, in practice Latin-1
    0x16: 'ascii',  # IA5String
    0x1A: 'ascii',  # VisibleString
    0x1C: 'utf-32-be',  # UniversalString
    0x1E: 'utf-16-be',  # BMPString
}

# The attribute names RFC 4514 defines; others are written as dotted OIDs.
_RFC4514_NAMES = {
    '2.5.4.3': 'CN',
    '2.5.4.6': 'C',
    '2.5.4.7': 'L',
    '2.5.4.8': 'ST',
    '2.5.4.9': 'STREET',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    '0.9.2342.19200300.100.1.1': 'UID',
    '0.9.2342.19200300.100.1.25': 'DC',
}

_DN_SPECIAL = re.compile(r'([\\"+,;<>])')


def _read_tlv(data, offset, end):
    """Return (tag, content_start, content_end) of the DER element at offset."""
    if offset + 2 > end:
        raise ValueError('truncated DER element at byte %d' % offset)
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or offset + size > end:
            raise ValueError('bad DER length at byte %d' % offset)
        length = int.from_bytes(data[offset:offset + size], 'big')
        offset += size
    if offset + length > end:
        raise ValueError('DER element at byte %d runs past its container' % offset)
    return tag, offset, offset + length


def _children(data, start, end):
    """Yield (tag, content_start, content_end, element_start) for each element in data[start:end]."""
    offset = start
    while offset < end:
        tag, content_start, content_end = _read_tlv(data, offset, end)
        yield tag, content_start, content_end, offset
        offset = content_end


def _expect(element, tag, what):
    if element is None or element[0] != tag:
        raise ValueError('not an X.509 certificate: %s is missing' % what)
    return element


def _decode_oid(content):
    if not content:
        raise ValueError('empty object identifier')
    arcs = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if content[-1] & 0x80:
        raise ValueError('object identifier ends inside a sub-identifier')
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return '.'.join(str(arc) for arc in head + arcs[1:])


def _escape_dn_value(value):
    escaped = _DN_SPECIAL.sub(r'\\\1', value).replace('\x00', '\\00')
    if escaped[:1] in ('#', ' '):
        escaped = '\\' + escaped
    if len(value) > 1 and value.endswith(' '):
        escaped = escaped[:-1] + '\\ '
    return escaped


def _decode_name(data, start, end):
    """Return a Name as an RFC 4514 string (most specific part first, as LDAP writes it)."""
    rdns = []
    for tag, rdn_start, rdn_end, _element in _children(data, start, end):
        if tag != _TAG_SET:
            raise ValueError('not an X.509 name: expected a SET')
        attributes = []
        for atv_tag, atv_start, atv_end, _atv in _children(data, rdn_start, rdn_end):
            if atv_tag != _TAG_SEQUENCE:
                raise ValueError('not an X.509 name: expected an attribute SEQUENCE')
            parts = list(_children(data, atv_start, atv_end))
            if len(parts) != 2:
                raise ValueError('not an X.509 name: an attribute needs a type and a value')
            oid_part = _expect(parts[0], _TAG_OID, 'attribute type')
            oid = _decode_oid(data[oid_part[1]:oid_part[2]])
            value_tag, value_start, value_end, value_element = parts[1]
            encoding = _STRING_DECODERS.get(value_tag)
            if encoding is None:
                text = '#' + data[value_element:value_end].hex()
            else:
                # Certificates in the wild carry mis-encoded names; describe them rather than fail.
                text = _escape_dn_value(data[value_start:value_end].decode(encoding, 'replace'))
            attributes.append('%s=%s' % (_RFC4514_NAMES.get(oid, oid), text))
        rdns.append('+'.join(attributes))
    return ','.join(reversed(rdns))


def _decode_time(tag, content):
    try:
        text = content.decode('ascii')
    except UnicodeDecodeError:
        raise ValueError('certificate time is not ASCII') from None
    if tag == _TAG_UTC_TIME:
        # RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
        if len(text) != 13 or not text.endswith('Z'):
            raise ValueError('unsupported UTCTime %r' % text)
        year = int(text[:2])
        text = '%d%s' % (year + (1900 if year >= 50 else 2000), text[2:])
    elif tag != _TAG_GENERALIZED_TIME:
        raise ValueError('certificate validity holds no time')
    if len(text) != 15 or not text.endswith('Z'):
        raise ValueError('unsupported GeneralizedTime %r' % text)
    moment = datetime.datetime.strptime(text, '%Y%m%d%H%M%SZ')
    return moment.replace(tzinfo=datetime.timezone.utc)


def parse_certificate(der):
    """Describe a DER-encoded X.509 certificate.

    Returns a dict with not_before and not_after (aware UTC datetimes) and subject and issuer
    (RFC 4514 strings). Raises ValueError for anything that is not a well-formed certificate.
    """
    data = bytes(der)
    certificate = _expect(next(_children(data, 0, len(data)), None), _TAG_SEQUENCE, 'certificate')
    first_field = next(_children(data, certificate[1], certificate[2]), None)
    tbs = _expect(first_field, _TAG_SEQUENCE, 'tbsCertificate')
    fields = list(_children(data, tbs[1], tbs[2]))
    if fields and fields[0][0] == _TAG_VERSION:
        fields = fields[1:]
    if len(fields) < 5:
        raise ValueError('not an X.509 certificate: tbsCertificate is too short')
    _expect(fields[0], _TAG_INTEGER, 'serial number')
    issuer = _expect(fields[2], _TAG_SEQUENCE, 'issuer')
    validity = _expect(fields[3], _TAG_SEQUENCE, 'validity')
    subject = _expect(fields[4], _TAG_SEQUENCE, 'subject')
    times = list(_children(data, validity[1], validity[2]))
    if len(times) != 2:
        raise ValueError('not an X.509 certificate: validity needs two times')
    return {
        'not_before': _decode_time(times[0][0], data[times[0][1]:times[0][2]]),
        'not_after': _decode_time(times[1][0], data[times[1][1]:times[1][2]]),
        'subject': _decode_name(data, subject[1], subject[2]),
        'issuer': _decode_name(data, issuer[1], issuer[2]),
    }
