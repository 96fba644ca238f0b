# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temperature and humidity from hwmon, thermal zones and the BMC (ipmitool)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import (
    SectionError,
    describe_exception,
    read_first_line,
)

CELSIUS = '\u00b0C'
RELATIVE_HUMIDITY = '%RH'
UNITS = {'temperature': CELSIUS, 'humidity': RELATIVE_HUMIDITY}
# hwmon file prefix -> kind; values are in thousandths of the unit (sysfs-interface ABI).
HWMON_KINDS = {'temp': 'temperature', 'humidity': 'humidity'}
_HWMON_INPUT = re.compile(r'^(temp|humidity)(\d+)_input$')
_THERMAL_TRIP = re.compile(r'^trip_point_(\d+)_type$')
_IPMI_VALUE = re.compile(r'^(-?\d+(?:\.\d+)?) degrees ([CF])$')
IPMI_DEVICES = ('/dev/ipmi0', '/dev/ipmi/0', '/dev/ipmidev/0')


def reading(source, kind, *, chip, device, sensor, label):
    """A sensor reading with every key present; value and thresholds are filled in by the caller."""
    return {
        'source': source,
        'chip': chip,
        'device': device,
        'sensor': sensor,
        'label': label,
        'kind': kind,
        'unit': UNITS[kind],
        'value': None,
        'max': None,
        'crit': None,
        'status': None,
        'error': None,
    }


def _read_milli(path):
    """A sysfs value in thousandths, scaled to units; None when the file does not exist."""
    try:
        return int(read_first_line(path).strip()) / 1000.0
    except FileNotFoundError:
        return None


def _read_optional(path):
    try:
        return read_first_line(path).strip() or None
    except OSError:
        return None


def _sorted_naturally(names):
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part
                                           for part in re.split(r'(\d+)', name)])


def hwmon_readings(sys_root='/sys'):
    """Every ``temp*_input`` and ``humidity*_input`` of every hwmon chip, in °C and %RH."""
    base = os.path.join(sys_root, 'class', 'hwmon')
    try:
        devices = _sorted_naturally(os.listdir(base))
    except FileNotFoundError:
        return []
    readings = []
    for device in devices:
        directory = os.path.join(base, device)
        # Drivers from before Linux 3.x keep the attributes in the parent device directory.
        legacy = os.path.join(directory, 'device')
        if not os.path.exists(os.path.join(directory, 'name')) and os.path.isdir(legacy):
            directory = legacy
        chip = _read_optional(os.path.join(directory, 'name'))
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in _sorted_naturally(names):
            match = _HWMON_INPUT.match(name)
            if not match:
                continue
            prefix = match.group(1) + match.group(2)
            entry = reading('hwmon', HWMON_KINDS[match.group(1)], chip=chip, device=device, sensor=prefix,
                            label=_read_optional(os.path.join(directory, prefix + '_label')))
            try:
                entry['value'] = _read_milli(os.path.join(directory, name))
                entry['max'] = _read_milli(os.path.join(directory, prefix + '_max'))
                entry['crit'] = _read_milli(os.path.join(directory, prefix + '_crit'))
            except (OSError, ValueError) as exc:
                # Sensors that are not wired up answer EIO/ENODATA; say so instead of hiding them.
                entry['error'] = describe_exception(exc)
            readings.append(entry)
    return readings


def thermal_zone_readings(sys_root='/sys'):
    """Every thermal zone's temperature; the ``critical`` and ``hot`` trip points as crit and max."""
    base = os.path.join(sys_root, 'class', 'thermal')
    try:
        zones = _sorted_naturally(name for name in os.listdir(base) if name.startswith('thermal_zone'))
    except FileNotFoundError:
        return []
    readings = []
    for zone in zones:
        directory = os.path.join(base, zone)
        entry = reading('thermal', 'temperature', chip=None, device=zone, sensor='temp',
                        label=_read_optional(os.path.join(directory, 'type')))
        try:
            entry['value'] = _read_milli(os.path.join(directory, 'temp'))
            for name in os.listdir(directory):
                match = _THERMAL_TRIP.match(name)
                trip_type = match and _read_optional(os.path.join(directory, name))
                if trip_type in ('critical', 'hot'):
                    temp = _read_milli(os.path.join(directory, 'trip_point_%s_temp' % match.group(1)))
                    entry['crit' if trip_type == 'critical' else 'max'] = temp
        except (OSError, ValueError) as exc:
            entry['error'] = describe_exception(exc)
        readings.append(entry)
    return readings


def gather_sensors(sys_root='/sys'):
    """The sensors section: hwmon chips, then thermal zones."""
    readings = hwmon_readings(sys_root) + thermal_zone_readings(sys_root)
    return {'readings': readings, 'count': len(readings)}


def parse_ipmitool_sdr(text):
    """Parse ``ipmitool sdr type Temperature``: ``name | id | status | entity | reading``."""
    readings = []
    for line in text.splitlines():
        fields = [field.strip() for field in line.split('|')]
        if len(fields) != 5:
            continue
        name, sensor_id, status, _entity, value_text = fields
        entry = reading('ipmi', 'temperature', chip=None, device=None, sensor=sensor_id, label=name)
        entry['status'] = status
        value = _IPMI_VALUE.match(value_text)
        if value:
            degrees = float(value.group(1))
            entry['value'] = round((degrees - 32.0) * 5.0 / 9.0, 1) if value.group(2) == 'F' else degrees
        readings.append(entry)
    return readings


def gather_ipmi(commands, timeout, devices=IPMI_DEVICES):
    """The ipmi section: the BMC's temperature sensors through ipmitool, when there is a BMC."""
    result = {'available': False, 'reason': None, 'readings': [], 'count': 0}
    tool = commands.which('ipmitool')
    if not tool:
        result['reason'] = 'ipmitool is not installed'
        return result
    if not any(os.path.exists(device) for device in devices):
        result['reason'] = ('no IPMI device (%s); this host has no BMC or the ipmi_si and ipmi_devintf'
                            ' kernel modules are not loaded' % ', '.join(devices))
        return result
    rc, out, err = commands.run([tool, 'sdr', 'type', 'Temperature'], timeout)
    if rc != 0:
        raise SectionError('ipmitool sdr type Temperature failed (rc=%d): %s' % (rc, (err or out).strip()))
    readings = parse_ipmitool_sdr(out)
    result.update(available=True, readings=readings, count=len(readings))
    return result
