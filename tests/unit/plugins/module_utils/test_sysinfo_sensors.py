# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temperature and humidity sensors of the system_info module, read from a fake sysfs tree."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_sensors import (
    gather_sensors,
    hwmon_readings,
    parse_ipmitool_sdr,
    thermal_zone_readings,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def write_files(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content + '\n')


@pytest.fixture
def sysfs(tmp_path):
    """hwmon: a CPU package sensor, a humidity/temperature chip, a pre-3.x driver layout, a dead
    input; thermal: two zones with trip points."""
    hwmon = tmp_path / 'class' / 'hwmon'
    write_files(hwmon / 'hwmon0', {
        'name': 'coretemp',
        'temp1_input': '45000', 'temp1_label': 'Package id 0', 'temp1_max': '80000', 'temp1_crit': '100000',
        'temp2_input': '43500', 'temp2_label': 'Core 0',
        'temp10_input': '41000', 'temp10_label': 'Core 8',
        'in0_input': '1200', 'fan1_input': '1500',
    })
    write_files(hwmon / 'hwmon1', {
        'name': 'sht3x',
        'temp1_input': '23450', 'temp1_max': '60000', 'temp1_crit': '65000',
        'humidity1_input': '41250', 'humidity1_max': '80000',
    })
    # Old drivers keep the attributes in the device directory.
    write_files(hwmon / 'hwmon2' / 'device', {'name': 'it87', 'temp1_input': '-5000'})
    write_files(hwmon / 'hwmon3', {'name': 'acpitz', 'temp1_input': 'not a number'})
    thermal = tmp_path / 'class' / 'thermal'
    write_files(thermal / 'thermal_zone0', {
        'type': 'x86_pkg_temp', 'temp': '47000',
        'trip_point_0_type': 'passive', 'trip_point_0_temp': '85000',
        'trip_point_1_type': 'hot', 'trip_point_1_temp': '95000',
        'trip_point_2_type': 'critical', 'trip_point_2_temp': '105000',
    })
    write_files(thermal / 'thermal_zone1', {'type': 'acpitz', 'temp': '27800'})
    write_files(thermal / 'cooling_device0', {'type': 'Processor'})
    return tmp_path


def summary(readings):
    return [(entry['source'], entry['chip'], entry['device'], entry['sensor'], entry['label'], entry['kind'],
             entry['unit'], entry['value'], entry['max'], entry['crit']) for entry in readings]


def test_hwmon_readings(sysfs):
    readings = hwmon_readings(str(sysfs))
    assert summary(readings) == [
        ('hwmon', 'coretemp', 'hwmon0', 'temp1', 'Package id 0', 'temperature', '\u00b0C', 45.0, 80.0, 100.0),
        ('hwmon', 'coretemp', 'hwmon0', 'temp2', 'Core 0', 'temperature', '\u00b0C', 43.5, None, None),
        ('hwmon', 'coretemp', 'hwmon0', 'temp10', 'Core 8', 'temperature', '\u00b0C', 41.0, None, None),
        ('hwmon', 'sht3x', 'hwmon1', 'humidity1', None, 'humidity', '%RH', 41.25, 80.0, None),
        ('hwmon', 'sht3x', 'hwmon1', 'temp1', None, 'temperature', '\u00b0C', 23.45, 60.0, 65.0),
        ('hwmon', 'it87', 'hwmon2', 'temp1', None, 'temperature', '\u00b0C', -5.0, None, None),
        ('hwmon', 'acpitz', 'hwmon3', 'temp1', None, 'temperature', '\u00b0C', None, None, None),
    ]
    assert [entry['error'] is None for entry in readings] == [True] * 6 + [False]
    assert 'not a number' in readings[-1]['error']


def test_thermal_zone_readings(sysfs):
    assert summary(thermal_zone_readings(str(sysfs))) == [
        ('thermal', None, 'thermal_zone0', 'temp', 'x86_pkg_temp', 'temperature', '\u00b0C', 47.0, 95.0,
         105.0),
        ('thermal', None, 'thermal_zone1', 'temp', 'acpitz', 'temperature', '\u00b0C', 27.8, None, None),
    ]


def test_gather_sensors_counts_both_sources(sysfs):
    result = gather_sensors(str(sysfs))
    assert result['count'] == 9
    assert [entry['source'] for entry in result['readings']] == ['hwmon'] * 7 + ['thermal'] * 2


def test_no_sensors_at_all(tmp_path):
    assert gather_sensors(str(tmp_path)) == {'readings': [], 'count': 0}


def test_parse_ipmitool_sdr():
    readings = parse_ipmitool_sdr(fixture('ipmitool-sdr-temperature.txt'))
    assert [(entry['label'], entry['sensor'], entry['status'], entry['value']) for entry in readings] == [
        ('Inlet Temp', '04h', 'ok', 23.0),
        ('Exhaust Temp', '01h', 'ok', 31.5),
        ('CPU1 Temp', '0Eh', 'ok', 45.0),
        ('CPU2 Temp', '0Fh', 'ns', None),
        ('Ambient', '30h', 'ok', 25.0),
        ('Temp', '0Ah', 'ns', None),
    ]
    assert set(entry['unit'] for entry in readings) == {'\u00b0C'}
    assert set(entry['source'] for entry in readings) == {'ipmi'}
