# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clock synchronisation as chrony, ntpd or systemd-timesyncd report it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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


def _from_timedatectl(commands, tool, timeout):
    rc, out, err = commands.run([tool, 'show'], timeout)
    if rc != 0:
        raise SectionError('timedatectl show (rc=%d): %s' % (rc, (err or out).strip()))
    show = parse_timedatectl_show(out)
    if 'NTPSynchronized' not in show:
        raise SectionError('timedatectl show printed no NTPSynchronized property')
    result = {'synchronized': show['NTPSynchronized'] == 'yes', 'offset_seconds': None, 'source': None,
              'stratum': None}
    # Only systemd-timesyncd answers show-timesync (systemd 239+); other daemons leave no source.
    rc, out, _err = commands.run([tool, 'show-timesync', '-p', 'ServerName', '-p', 'ServerAddress'], timeout)
    if rc == 0:
        timesync = parse_timedatectl_show(out)
        result['source'] = timesync.get('ServerName') or timesync.get('ServerAddress') or None
    return result


def gather_time_sync(commands, service_manager, deadline):
    """Ask chrony, then ntpd, then timedatectl (only where systemd runs the host); the first that
    answers wins. Tools that are installed but do not answer are listed in ``notes``."""
    result = empty_time_sync()
    sources = [('chronyc', _from_chrony), ('ntpq', _from_ntpq)]
    if service_manager == SYSTEMD:
        sources.append(('timedatectl', _from_timedatectl))
    for name, read in sources:
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
    if not result['notes']:
        result['notes'].append('no time synchronisation tool found (chronyc, ntpq%s)'
                               % (', timedatectl' if service_manager == SYSTEMD else ''))
    return result
