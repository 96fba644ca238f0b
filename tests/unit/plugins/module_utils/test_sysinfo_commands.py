# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sections of the system_info module that run tools, driven by recorded tool output."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import Deadline, SectionError
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_reboot import gather_reboot
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_sensors import gather_ipmi
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_services import gather_services
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_time import (
    gather_time_sync,
    read_kernel_clock,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')
SHOW_ARGS = ['show', '--no-pager', '-p', 'Id', '-p', 'LoadState', '-p', 'ActiveState', '-p', 'SubState',
             '-p', 'UnitFileState', '-p', 'StateChangeTimestamp', '--']


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


class FakeCommands:
    """Stands in for CommandRunner: installed tools and the answers they give."""

    def __init__(self, tools=(), answers=None):
        self.tools = set(tools)
        self.answers = answers or {}
        self.calls = []

    def which(self, name):
        return '/usr/bin/' + name if name in self.tools else None

    def run(self, args, timeout, environ_update=None):
        assert timeout > 0
        command = tuple(args)
        self.calls.append((command, environ_update))
        if command not in self.answers:
            raise AssertionError(f'unexpected command {command!r}')
        answer = self.answers[command]
        if isinstance(answer, Exception):
            raise answer
        return answer


def systemctl(*args):
    return ('/usr/bin/systemctl', *args)


LIST_JSON = systemctl('list-units', '--failed', '--no-pager', '--full', '--output=json')
LIST_PLAIN = systemctl('list-units', '--failed', '--no-pager', '--full', '--plain', '--no-legend')


def test_systemd_failed_units_with_since_and_named_services():
    show = systemctl(*SHOW_ARGS, 'backup.service', 'var-cache-nfs.mount', 'nginx', 'nosuch')
    commands = FakeCommands(['systemctl'], {
        LIST_JSON: (0, fixture('systemctl-failed.json'), ''),
        show: (0, fixture('systemctl-show.txt'), ''),
    })
    result = gather_services(commands, 'systemd', ['nginx', 'nosuch'], Deadline(5), pid1_comm='systemd')
    assert result['service_manager'] == 'systemd'
    assert result['failed_count'] == 2
    assert [(unit['name'], unit['since']) for unit in result['failed_units']] == [
        ('backup.service', '2026-01-08T03:00:12Z'), ('var-cache-nfs.mount', '2026-01-08T09:13:40Z')]
    assert [(entry['name'], entry['unit'], entry['state']) for entry in result['named']] == [
        ('nginx', 'nginx.service', 'active'), ('nosuch', 'nosuch.service', 'not-found')]
    assert result['note'] is None
    # Timestamps are only parseable when systemctl prints them in UTC.
    assert all(environ == {'TZ': 'UTC'} for dummy, environ in commands.calls)


def test_systemd_without_json_output_falls_back_to_plain():
    commands = FakeCommands(['systemctl'], {
        LIST_JSON: (1, '', "Unknown output 'json'.\n"),
        LIST_PLAIN: (0, '', ''),
    })
    result = gather_services(commands, 'systemd', [], Deadline(5))
    assert (result['failed_units'], result['failed_count'], result['named']) == ([], 0, [])
    # Nothing failed and nothing named: no systemctl show call.
    assert len(commands.calls) == 2


def test_systemd_show_that_drops_units_is_an_error():
    show = systemctl(*SHOW_ARGS, 'nginx')
    commands = FakeCommands(['systemctl'], {
        LIST_JSON: (0, '[]', ''),
        show: (1, '', 'Failed to connect to bus: No such file or directory\n'),
    })
    with pytest.raises(SectionError, match=r'returned 0 of 1 units \(rc=1\): Failed to connect to bus'):
        gather_services(commands, 'systemd', ['nginx'], Deadline(5))


def test_systemd_without_systemctl_is_an_error():
    with pytest.raises(SectionError, match='systemctl is not in PATH'):
        gather_services(FakeCommands(), 'systemd', [], Deadline(5))


def test_without_systemd_failed_units_are_not_invented(tmp_path):
    (tmp_path / 'cron').write_text('#!/bin/sh\n')
    (tmp_path / 'ssh').write_text('#!/bin/sh\n')
    commands = FakeCommands(['service'], {
        ('/usr/bin/service', 'cron', 'status'): (0, 'cron is running.\n', ''),
        ('/usr/bin/service', 'ssh', 'status'): (3, 'sshd is not running ... failed!\n', ''),
    })
    result = gather_services(commands, 'sysvinit', ['cron', 'ssh', 'nginx'], Deadline(5), pid1_comm='init',
                             initd=str(tmp_path))
    assert result['failed_units'] is None
    assert result['failed_count'] is None
    assert result['note'] == 'systemd is not PID 1 (PID 1 is init); failed units are not tracked'
    assert [(entry['name'], entry['state'], entry['rc']) for entry in result['named']] == [
        ('cron', 'active', 0), ('ssh', 'inactive', 3), ('nginx', 'not-found', None)]


def test_without_systemd_or_service_command(tmp_path):
    result = gather_services(FakeCommands(), 'other', ['cron'], Deadline(5), pid1_comm='tini',
                             initd=str(tmp_path))
    assert result['named'][0]['state'] == 'unknown'
    assert 'service command is not installed' in result['note']


def test_reboot_required_on_debian(tmp_path):
    flag = tmp_path / 'reboot-required'
    flag.write_text(fixture('reboot-required'))
    (tmp_path / 'reboot-required.pkgs').write_text(fixture('reboot-required.pkgs'))
    result = gather_reboot(FakeCommands(), 5, flag_files=(str(tmp_path / 'missing'), str(flag)),
                           debian_marker=str(tmp_path / 'debian_version'))
    assert result == {'required': True, 'reasons': ['System restart required'],
                      'packages': ['linux-image-6.1.0-18-amd64', 'libc6', 'libssl3'], 'method': str(flag)}


def test_no_reboot_required_on_debian(tmp_path):
    marker = tmp_path / 'debian_version'
    marker.write_text('12.5\n')
    # needs-restarting is installed but Debian's own flag is the authority there.
    result = gather_reboot(FakeCommands(['needs-restarting']), 5, flag_files=(str(tmp_path / 'flag'),),
                           debian_marker=str(marker))
    assert result == {'required': False, 'reasons': [], 'packages': [], 'method': str(tmp_path / 'flag')}


@pytest.mark.parametrize('rc, name, required', [
    (1, 'needs-restarting.required', True),
    (0, 'needs-restarting.not-required', False),
])
def test_reboot_on_enterprise_linux(tmp_path, rc, name, required):
    commands = FakeCommands(['needs-restarting'], {
        ('/usr/bin/needs-restarting', '-r'): (rc, fixture(name), ''),
    })
    result = gather_reboot(commands, 5, flag_files=(str(tmp_path / 'flag'),),
                           debian_marker=str(tmp_path / 'debian_version'))
    assert result['required'] is required
    assert result['method'] == 'needs-restarting -r'
    assert result['packages'] == (['glibc', 'kernel', 'systemd'] if required else [])


def test_reboot_unknown_without_any_indicator(tmp_path):
    result = gather_reboot(FakeCommands(), 5, flag_files=(str(tmp_path / 'flag'),),
                           debian_marker=str(tmp_path / 'debian_version'))
    assert result == {'required': None, 'reasons': [], 'packages': [], 'method': None}


CHRONYC = ('/usr/bin/chronyc', '-n', 'tracking')
NTPQ = ('/usr/bin/ntpq', '-pn')
TIMESYNC = ('/usr/bin/timedatectl', 'show-timesync', '-p', 'ServerName', '-p', 'ServerAddress')
SYNCED_CLOCK = (250000, 0)  # adjtimex: maxerror 0.25 s, status PLL
UNSYNCED_CLOCK = (16000000, 0x40)  # maxerror at the kernel's limit, STA_UNSYNC


def kernel_clock(state):
    def read():
        if isinstance(state, Exception):
            raise state
        return state
    return read


def test_time_sync_from_chrony():
    commands = FakeCommands(['chronyc', 'ntpq', 'timedatectl'], {
        CHRONYC: (0, fixture('chronyc-tracking.synced'), ''),
    })
    result = gather_time_sync(commands, 'systemd', Deadline(5), kernel_clock(SYNCED_CLOCK))
    assert result == {'status': 'synchronized', 'synchronized': True, 'offset_seconds': 0.000012345,
                      'source': '192.0.2.10', 'stratum': 3, 'tool': 'chronyc', 'notes': []}


def test_time_sync_falls_through_to_ntpd_when_chrony_does_not_answer():
    commands = FakeCommands(['chronyc', 'ntpq'], {
        CHRONYC: (1, '', '506 Cannot talk to daemon\n'),
        NTPQ: (0, fixture('ntpq-pn.unsynced'), ''),
    })
    result = gather_time_sync(commands, 'sysvinit', Deadline(5), kernel_clock(SYNCED_CLOCK))
    assert (result['status'], result['synchronized'], result['tool']) == ('unsynchronized', False, 'ntpq')
    assert result['notes'] == ['chronyc tracking (rc=1): 506 Cannot talk to daemon']


def test_time_sync_names_the_timesyncd_server_when_it_synchronised_the_clock(tmp_path):
    flag = tmp_path / 'synchronized'
    flag.write_text('')
    commands = FakeCommands(['timedatectl'], {TIMESYNC: (0, fixture('timedatectl-show-timesync.txt'), '')})
    result = gather_time_sync(commands, 'systemd', Deadline(5), kernel_clock(SYNCED_CLOCK), str(flag))
    assert result == {'status': 'synchronized', 'synchronized': True, 'offset_seconds': None,
                      'source': 'ntp.example.net', 'stratum': None, 'tool': 'adjtimex', 'notes': []}
    assert commands.calls == [(TIMESYNC, None)]


@pytest.mark.parametrize('manager', ['systemd', 'sysvinit'])
def test_time_sync_from_the_kernel_asks_no_daemon_without_timesyncd(tmp_path, manager):
    commands = FakeCommands(['timedatectl'])
    result = gather_time_sync(commands, manager, Deadline(5), kernel_clock(SYNCED_CLOCK),
                              str(tmp_path / 'absent'))
    assert (result['status'], result['source'], result['tool']) == ('synchronized', None, 'adjtimex')
    assert commands.calls == []


def test_time_sync_unsynchronised_kernel_clock_follows_no_server(tmp_path):
    flag = tmp_path / 'synchronized'
    flag.write_text('')
    commands = FakeCommands(['timedatectl'])
    result = gather_time_sync(commands, 'systemd', Deadline(5), kernel_clock(UNSYNCED_CLOCK), str(flag))
    assert (result['status'], result['synchronized'], result['source']) == ('unsynchronized', False, None)
    assert commands.calls == []


def test_time_sync_unknown_when_every_source_fails():
    commands = FakeCommands(['ntpq'], {
        NTPQ: (0, 'localhost: timed out, nothing received\n', ''),
    })
    refused = kernel_clock(OSError(1, 'Operation not permitted'))
    result = gather_time_sync(commands, 'systemd', Deadline(5), refused)
    assert (result['status'], result['synchronized'], result['tool']) == ('unknown', None, None)
    assert result['notes'] == [
        'ntpq -pn: localhost: timed out, nothing received',
        'adjtimex: [Errno 1] Operation not permitted',
    ]


def test_kernel_clock_reads_this_machine():
    maxerror, status = read_kernel_clock()
    assert maxerror >= 0 and isinstance(status, int)


IPMITOOL = ('/usr/bin/ipmitool', 'sdr', 'type', 'Temperature')


def test_ipmi_without_ipmitool():
    result = gather_ipmi(FakeCommands(), 5)
    assert result['available'] is False
    assert (result['reason'], result['readings']) == ('ipmitool is not installed', [])


def test_ipmi_without_device(tmp_path):
    result = gather_ipmi(FakeCommands(['ipmitool']), 5, devices=(str(tmp_path / 'ipmi0'),))
    assert result['available'] is False
    assert 'no IPMI device' in result['reason']


def test_ipmi_readings(tmp_path):
    device = tmp_path / 'ipmi0'
    device.write_text('')
    commands = FakeCommands(['ipmitool'], {IPMITOOL: (0, fixture('ipmitool-sdr-temperature.txt'), '')})
    result = gather_ipmi(commands, 5, devices=(str(device),))
    assert (result['available'], result['reason'], result['count']) == (True, None, 6)
    assert result['readings'][0]['label'] == 'Inlet Temp'


def test_ipmi_failure_is_a_section_error(tmp_path):
    device = tmp_path / 'ipmi0'
    device.write_text('')
    commands = FakeCommands(['ipmitool'], {IPMITOOL: (1, '', 'Get Device ID command failed\n')})
    with pytest.raises(SectionError, match=r'ipmitool sdr type Temperature failed \(rc=1\): Get Device ID'):
        gather_ipmi(commands, 5, devices=(str(device),))
