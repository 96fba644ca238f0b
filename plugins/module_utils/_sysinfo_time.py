# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clock synchronisation as chrony, ntpd or systemd-timesyncd report it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_services import SYSTEMD

NTPQ_TALLY = '*+-#x.o '


def empty_time_sync():
    """The time_sync section before any tool answered: everything unknown."""
    return {
        'status': 'unknown',
        'synchronized': None,
        'offset_seconds': None,
        'source': None,
        'stratum': None,
        'tool': None,
        'notes': [],
    }


def _key_values(text, separator):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(separator)
        if sep:
            values[key.strip()] = value.strip()
    return values


def parse_chronyc_tracking(text):
    """Parse ``chronyc -n tracking``. Offset is positive when the local clock is ahead."""
    values = _key_values(text, ':')
    if 'Reference ID' not in values or 'Leap status' not in values:
        raise ValueError('not chronyc tracking output: %r' % text[:120])
    reference = values['Reference ID']
    ref_id, _space, name = reference.partition(' ')
    name = name.strip().strip('()') or None
    synchronized = values['Leap status'] != 'Not synchronised' and ref_id.strip('0') != ''
    offset = None
    system_time = values.get('System time', '').split()
    if len(system_time) >= 3 and system_time[1] == 'seconds':
        offset = float(system_time[0]) * (-1.0 if system_time[2] == 'slow' else 1.0)
    stratum = values.get('Stratum')
    return {
        'synchronized': synchronized,
        'offset_seconds': offset,
        'source': name if synchronized else None,
        'stratum': int(stratum) if stratum and stratum.isdigit() else None,
    }


def parse_ntpq_peers(text):
    """Parse ``ntpq -pn``; the peer marked ``*`` is the one the clock follows.

    ntpq reports the peer's offset relative to this host in milliseconds; it is converted to
    seconds and its sign flipped so that positive means the local clock is ahead, as for chrony.
    """
    lines = text.splitlines()
    if not any(line.split()[:1] == ['remote'] for line in lines):
        raise ValueError('not ntpq -p output: %r' % text[:120])
    peers = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line or line[0] not in NTPQ_TALLY or line.lstrip().startswith(('remote', '=')):
            continue
        # A long remote address makes ntpq put the other columns on the next line.
        if len(line.split()) == 1 and index < len(lines):
            line = line + ' ' + lines[index]
            index += 1
        fields = line[1:].split()
        if len(fields) >= 9:
            peers.append((line[0], fields))
    for tally, fields in peers:
        if tally == '*':
            return {
                'synchronized': True,
                'offset_seconds': -float(fields[8]) / 1000.0,
                'source': fields[0],
                'stratum': int(fields[2]) if fields[2].isdigit() else None,
            }
    return {'synchronized': False, 'offset_seconds': None, 'source': None, 'stratum': None}


def parse_timedatectl_show(text):
    """Parse ``timedatectl show`` / ``show-timesync`` ``Key=value`` lines."""
    return _key_values(text, '=')


def _status(result):
    result['status'] = 'synchronized' if result['synchronized'] else 'unsynchronized'
    return result


def _from_chrony(commands, tool, timeout):
    rc, out, err = commands.run([tool, '-n', 'tracking'], timeout)
    if rc != 0:
        raise SectionError('chronyc tracking (rc=%d): %s' % (rc, (err or out).strip()))
    return parse_chronyc_tracking(out)


def _from_ntpq(commands, tool, timeout):
    rc, out, err = commands.run([tool, '-pn'], timeout)
    if rc != 0:
        raise SectionError('ntpq -pn (rc=%d): %s' % (rc, (err or out).strip()))
    try:
        return parse_ntpq_peers(out)
    except ValueError as exc:
        raise SectionError('ntpq -pn: %s' % (err or out).strip()) from exc


# The kernel's limit of a clock's estimated error; at or above it the clock counts as not
# synchronised (timedatectl's NTPSynchronized property is the same test).
MAXERROR_LIMIT_USEC = 16000000
TIMESYNCD_FLAG = '/run/systemd/timesync/synchronized'


def read_kernel_clock():
    """The kernel clock's discipline state from adjtimex(2) in read-only mode: (maxerror_usec, status).

    Reading needs no privilege and no daemon, and it is the truth for containers too: they share the
    kernel's clock. Raises OSError when the call is refused (seccomp, unusual libc).
    """
    import ctypes  # noqa: PLC0415 - here only: other sections do not pay for the import

    class Timex(ctypes.Structure):
        # struct timex of <sys/timex.h>; ctypes adds the platform's padding.
        _fields_ = [('modes', ctypes.c_uint), ('offset', ctypes.c_long), ('freq', ctypes.c_long),
                    ('maxerror', ctypes.c_long), ('esterror', ctypes.c_long), ('status', ctypes.c_int),
                    ('constant', ctypes.c_long), ('precision', ctypes.c_long), ('tolerance', ctypes.c_long),
                    ('time_sec', ctypes.c_long), ('time_usec', ctypes.c_long), ('tick', ctypes.c_long),
                    ('ppsfreq', ctypes.c_long), ('jitter', ctypes.c_long), ('shift', ctypes.c_int),
                    ('stabil', ctypes.c_long), ('jitcnt', ctypes.c_long), ('calcnt', ctypes.c_long),
                    ('errcnt', ctypes.c_long), ('stbcnt', ctypes.c_long), ('tai', ctypes.c_int),
                    ('reserved', ctypes.c_int * 11)]

    libc = ctypes.CDLL(None, use_errno=True)
    timex = Timex()  # modes 0: read only
    if libc.adjtimex(ctypes.byref(timex)) < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, 'adjtimex: %s' % os.strerror(errno))
    return timex.maxerror, timex.status


def _from_kernel(commands, service_manager, deadline, kernel_clock, timesyncd_flag):
    try:
        maxerror, _status = kernel_clock()
    except (OSError, AttributeError) as exc:
        raise SectionError('adjtimex: %s' % exc) from exc
    result = {'synchronized': maxerror < MAXERROR_LIMIT_USEC, 'offset_seconds': None, 'source': None,
              'stratum': None}
    # systemd-timesyncd marks a synchronised clock with a flag file; only then is it worth asking
    # it (over D-Bus) which server it follows. Other daemons leave no source here.
    tool = commands.which('timedatectl') if service_manager == SYSTEMD else None
    if result['synchronized'] and tool and os.path.exists(timesyncd_flag):
        rc, out, _err = commands.run([tool, 'show-timesync', '-p', 'ServerName', '-p', 'ServerAddress'],
                                     deadline.remaining())
        if rc == 0:
            timesync = parse_timedatectl_show(out)
            result['source'] = timesync.get('ServerName') or timesync.get('ServerAddress') or None
    return result


def gather_time_sync(commands, service_manager, deadline, kernel_clock=read_kernel_clock,
                     timesyncd_flag=TIMESYNCD_FLAG):
    """Ask chrony, then ntpd (they know offset and source); else the kernel's own clock state,
    which is what systemd-timesyncd and timedatectl report too. Tools that are installed but do
    not answer are listed in ``notes``."""
    result = empty_time_sync()
    for name, read in (('chronyc', _from_chrony), ('ntpq', _from_ntpq)):
        tool = commands.which(name)
        if not tool:
            continue
        try:
            answer = read(commands, tool, deadline.remaining())
        except SectionError as exc:
            result['notes'].append(str(exc))
            continue
        result.update(answer)
        result['tool'] = name
        return _status(result)
    try:
        answer = _from_kernel(commands, service_manager, deadline, kernel_clock, timesyncd_flag)
    except SectionError as exc:
        result['notes'].append(str(exc))
        return result
    result.update(answer)
    result['tool'] = 'adjtimex'
    return _status(result)
