# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service manager detection, failed systemd units and the state of named services."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import os
import re
import time

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError, read_first_line
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_host import iso_utc

SYSTEMD = 'systemd'
SYSVINIT = 'sysvinit'
OTHER = 'other'
# Unit and init script names: letters, digits and the punctuation systemd allows; no leading dash,
# so a name can never be read as an option.
SERVICE_NAME = re.compile(r'^[A-Za-z0-9_@.:\\+][A-Za-z0-9_@.:\\+-]*$')
SHOW_PROPERTIES = ('Id', 'LoadState', 'ActiveState', 'SubState', 'UnitFileState', 'StateChangeTimestamp')
# LSB init script status codes (``service NAME status``).
LSB_STATUS = {0: 'active', 1: 'failed', 2: 'failed', 3: 'inactive'}
UTC = {'TZ': 'UTC'}


def decide_service_manager(pid1_comm, systemd_booted):
    """``systemd`` when systemd runs the host (sd_booted(3) logic), ``sysvinit`` for a classic
    init, else ``other`` (a container's entry point, runit, OpenRC's init, ...)."""
    if systemd_booted or pid1_comm == 'systemd':
        return SYSTEMD
    if pid1_comm == 'init':
        return SYSVINIT
    return OTHER


def detect_service_manager(proc_root='/proc', run_root='/run'):
    """Return ``(service_manager, pid1_comm)``; pid1_comm is None when /proc/1 is hidden."""
    try:
        comm = read_first_line(os.path.join(proc_root, '1', 'comm'))
    except OSError:
        comm = None
    booted = os.path.isdir(os.path.join(run_root, 'systemd', 'system'))
    return decide_service_manager(comm, booted), comm


def invalid_service_names(names):
    """The names that are not valid unit or init script names."""
    return [name for name in names if not SERVICE_NAME.match(name)]


def parse_systemctl_failed_json(text):
    """Parse ``systemctl list-units --failed --output=json``."""
    units = json.loads(text)
    if not isinstance(units, list):
        raise ValueError('expected a JSON list of units')
    return [{
        'name': unit['unit'],
        'load': unit.get('load'),
        'active': unit.get('active'),
        'sub': unit.get('sub'),
        'description': unit.get('description'),
    } for unit in units]


def parse_systemctl_failed_plain(text):
    """Parse ``systemctl list-units --failed --plain --no-legend --full`` (systemd without JSON output)."""
    units = []
    for line in text.splitlines():
        fields = line.split(None, 4)
        # Some versions mark failed units with a bullet even in plain mode.
        if fields and fields[0] in ('\u25cf', '\u00d7', '*'):
            fields = line.split(None, 5)[1:]
        if len(fields) < 4:
            continue
        units.append({
            'name': fields[0],
            'load': fields[1],
            'active': fields[2],
            'sub': fields[3],
            'description': fields[4] if len(fields) > 4 else '',
        })
    return units


def parse_systemctl_show(text):
    """Parse ``systemctl show`` output for several units: blocks of ``Key=value`` lines."""
    blocks = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition('=')
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def parse_systemd_timestamp(value):
    """A systemd timestamp printed with TZ=UTC (``Thu 2026-01-08 10:00:00 UTC``, or ``@epoch``) as
    ISO 8601 UTC text; None for an empty or ``n/a`` value."""
    value = (value or '').strip()
    if not value or value == 'n/a':
        return None
    if value.startswith('@'):
        return iso_utc(int(float(value[1:])))
    fields = value.split()
    if len(fields) == 4 and fields[3] == 'UTC':
        return iso_utc(calendar.timegm(time.strptime(' '.join(fields[1:3]), '%Y-%m-%d %H:%M:%S')))
    raise ValueError('unexpected systemd timestamp %r (expected "Day YYYY-MM-DD HH:MM:SS UTC")' % value)


def systemd_service_state(name, show):
    """The reported state of a named service from its ``systemctl show`` block."""
    load_state = show.get('LoadState')
    return {
        'name': name,
        'unit': show.get('Id'),
        'state': 'not-found' if load_state == 'not-found' else show.get('ActiveState', 'unknown'),
        'sub_state': show.get('SubState'),
        'enabled': show.get('UnitFileState') or None,
        'since': parse_systemd_timestamp(show.get('StateChangeTimestamp')),
        'rc': None,
    }


def lsb_service_state(name, rc):
    """The reported state of a named service from the exit code of ``service NAME status``."""
    return {
        'name': name,
        'unit': None,
        'state': LSB_STATUS.get(rc, 'unknown'),
        'sub_state': None,
        'enabled': None,
        'since': None,
        'rc': rc,
    }


def unknown_service_state(name, state='unknown'):
    """A named service whose state nothing on this host can tell."""
    entry = lsb_service_state(name, None)
    entry['state'] = state
    return entry


def systemd_failed_units(commands, systemctl, timeout):
    """Failed units, using JSON output where systemctl has it (systemd 246 and later)."""
    base = [systemctl, 'list-units', '--failed', '--no-pager', '--full']
    rc, out, err = commands.run([*base, '--output=json'], timeout, environ_update=UTC)
    if rc == 0 and out.lstrip().startswith('['):
        return parse_systemctl_failed_json(out)
    rc, out, err = commands.run([*base, '--plain', '--no-legend'], timeout, environ_update=UTC)
    if rc != 0:
        raise SectionError('systemctl list-units --failed failed (rc=%d): %s'
                           % (rc, err.strip() or out.strip()))
    return parse_systemctl_failed_plain(out)


def systemd_show(commands, systemctl, units, timeout):
    """``systemctl show`` blocks for ``units``, in the order given."""
    args = [systemctl, 'show', '--no-pager']
    for prop in SHOW_PROPERTIES:
        args += ['-p', prop]
    rc, out, err = commands.run([*args, '--', *units], timeout, environ_update=UTC)
    blocks = parse_systemctl_show(out)
    if rc != 0 or len(blocks) != len(units):
        raise SectionError('systemctl show returned %d of %d units (rc=%d): %s'
                           % (len(blocks), len(units), rc, err.strip()))
    return blocks


def gather_systemd(commands, names, deadline):
    """Failed units with the time they failed, and the named services."""
    systemctl = commands.which('systemctl')
    if not systemctl:
        raise SectionError('systemd runs this host but systemctl is not in PATH; check PATH or skip services')
    failed = systemd_failed_units(commands, systemctl, deadline.remaining())
    units = [unit['name'] for unit in failed] + list(names)
    blocks = systemd_show(commands, systemctl, units, deadline.remaining()) if units else []
    for index, unit in enumerate(failed):
        unit['since'] = parse_systemd_timestamp(blocks[index].get('StateChangeTimestamp'))
    named = [systemd_service_state(name, blocks[len(failed) + index]) for index, name in enumerate(names)]
    return failed, named


def gather_lsb(commands, names, deadline, initd='/etc/init.d'):
    """Named services through their init scripts' status exit codes."""
    if not names:
        return [], None
    service = commands.which('service')
    if not service:
        return ([unknown_service_state(name) for name in names],
                'the service command is not installed; states of named services are unknown')
    named = []
    for name in names:
        if not os.path.exists(os.path.join(initd, name)):
            named.append(unknown_service_state(name, 'not-found'))
            continue
        rc, _out, _err = commands.run([service, name, 'status'], deadline.remaining())
        named.append(lsb_service_state(name, rc))
    return named, None


def gather_services(commands, manager, names, deadline, *, pid1_comm=None, initd='/etc/init.d'):
    """The services section: failed units where systemd runs the host, and named services."""
    result = {
        'service_manager': manager,
        'pid1': pid1_comm,
        'failed_units': None,
        'failed_count': None,
        'named': [],
        'note': None,
    }
    if manager == SYSTEMD:
        failed, named = gather_systemd(commands, names, deadline)
        result.update(failed_units=failed, failed_count=len(failed), named=named)
        return result
    named, note = gather_lsb(commands, names, deadline, initd)
    result['named'] = named
    result['note'] = note or ('systemd is not PID 1 (PID 1 is %s); failed units are not tracked'
                              % (pid1_comm or 'hidden'))
    return result
