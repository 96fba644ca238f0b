# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health findings from module results: thresholds, every check, reports, textfile and JUnit output."""

import copy
from xml.etree import ElementTree

import pytest
from ansible_collections.opsrun.ops.plugins.plugin_utils import _health_findings as health

HOST = 'web01'
LEVELS = {'warn': 80.0, 'crit': 90.0}


def mount(point, used, inodes=10.0, error=None, fstype='ext4'):
    return {'mount': point, 'device': '/dev/sda1', 'fstype': fstype, 'used_percent': used,
            'inodes_used_percent': inodes, 'error': error}


def system(**sections):
    """A system_info result with every section the checks read; SECTIONS replace or add to them."""
    result = {
        'changed': False,
        'gathered': ['cpu', 'memory', 'filesystems', 'services', 'reboot', 'time_sync', 'sockets', 'sensors'],
        'section_errors': {},
        'cpu': {'count': 4, 'load_1': 1.0, 'load_5': 6.0, 'load_15': 2.0,
                'load_per_cpu_1': 0.25, 'load_per_cpu_5': 1.5, 'load_per_cpu_15': 0.5},
        'memory': {'total_bytes': 8 * 1048576 * 1024, 'available_bytes': 4 * 1048576 * 1024,
                   'swap_total_bytes': 1048576 * 1024, 'swap_used_percent': 12.5},
        'filesystems': {'mounts': [mount('/', 42.0)]},
        'services': {'service_manager': 'systemd', 'failed_units': [], 'named': [], 'note': None},
        'reboot': {'required': False, 'reasons': [], 'packages': [], 'method': '/run/reboot-required'},
        'time_sync': {'tool': 'chronyc', 'status': 'synchronized', 'synchronized': True,
                      'offset_seconds': -0.0001, 'source': '192.0.2.10', 'notes': []},
        'sockets': {'listening': [{'protocol': 'tcp', 'port': 22, 'address': '10.0.0.5', 'process': 'sshd'}]},
        'sensors': {'readings': []},
    }
    result.update(sections)
    return result


def reading(value, label='Rack inlet', chip='opsrun_env', *, kind='temperature', device='hwmon0',
            sensor='temp1'):
    return {'chip': chip, 'label': label, 'kind': kind, 'value': value, 'device': device, 'sensor': sensor,
            'source': 'hwmon', 'unit': '°C' if kind == 'temperature' else '%RH', 'error': None}


TEMPERATURE_RULES = [
    {'kind': 'temperature', 'match': 'coretemp/*', 'warn_above': 90.0, 'crit_above': 100.0},
    {'kind': 'temperature', 'match': '*', 'warn_above': 35.0, 'crit_above': 40.0},
    {'kind': 'humidity', 'match': '*', 'warn_below': 20.0, 'crit_below': 10.0, 'warn_above': 70.0,
     'crit_above': 80.0},
]


def only(findings, check):
    return [(item['item'], item['status'], item['value']) for item in findings if item['check'] == check]


# ---------------------------------------------------------------- levels


@pytest.mark.parametrize('value, expected', [(79.9, 'ok'), (80.0, 'warn'), (89.9, 'warn'), (90.0, 'crit'),
                                             (100.0, 'crit')])
def test_level_above_is_reached_at_equality(value, expected):
    assert health.level_above(value, LEVELS) == expected


@pytest.mark.parametrize('value, expected', [(10.1, 'ok'), (10.0, 'warn'), (5.0, 'crit'), (0.0, 'crit')])
def test_level_below_is_reached_at_equality(value, expected):
    assert health.level_below(value, {'warn': 10.0, 'crit': 5.0}) == expected


def test_a_null_level_is_left_out():
    assert health.level_above(99.0, {'warn': 80.0, 'crit': None}) == 'warn'
    assert health.level_above(99.0, {'warn': None, 'crit': None}) == 'ok'


@pytest.mark.parametrize('levels, higher_is_worse, message', [
    ({'warn': 90, 'crit': 80}, True, 'disk.used_percent: crit (80) is below warn (90)'),
    ({'warn': 5, 'crit': 10}, False, 'disk.used_percent: crit (10) is above warn (5)'),
    ({'warn': 'high', 'crit': 90}, True, 'disk.used_percent.warn must be a number or null'),
    ({'warn': True, 'crit': 90}, True, 'disk.used_percent.warn must be a number or null'),
    ({'warning': 80}, True, 'disk.used_percent has unknown keys warning'),
    ([80, 90], True, 'disk.used_percent must be a dict'),
])
def test_levels_that_cannot_work_are_refused_with_their_name(levels, higher_is_worse, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        health.validate_levels('disk.used_percent', levels, higher_is_worse)


def test_per_mount_levels_are_checked_and_made_floats():
    checks = {'disk': {'used_percent': LEVELS, 'mounts': {'/srv': {'warn': 50, 'crit': 60}}}}
    health.validate_checks(checks)
    assert checks['disk']['mounts'] == {'/srv': {'warn': 50.0, 'crit': 60.0}}
    with pytest.raises(ValueError, match=r"disk.mounts\['/var'\]: crit \(1\) is below warn \(2\)"):
        health.validate_checks({'disk': {'used_percent': LEVELS, 'mounts': {'/var': {'warn': 2, 'crit': 1}}}})


@pytest.mark.parametrize('checks, message', [
    ({'logs': {'patterns': [{'name': 'a', 'pattern': 'x'}, {'name': 'a', 'pattern': 'y'}]}},
     "the name 'a' is used more than once"),
    ({'logs': {'patterns': [{'name': 'oom', 'pattern': 'x', 'warn': 5, 'crit': 1}]}},
     r'logs.patterns\[0\] \(oom\): crit \(1\) is below warn \(5\)'),
    ({'sensors': {'rules': [{'warn_below': 30.0, 'warn_above': 25.0}]}},
     r'sensors.rules\[0\]: the lower levels \(30.0\) must stay below the upper levels \(25.0\)'),
    ({'probes': {'tls_days_left': {'warn': 30, 'crit': 7},
                 'targets': [{'type': 'tcp', 'severity': 'major'}]}},
     r"probes.targets\[0\].severity must be warn or crit, not 'major'"),
    ({'probes': {'tls_days_left': {'warn': 30, 'crit': 7},
                 'targets': [{'type': 'tcp', 'expect_down': 'yes'}]}},
     r'probes.targets\[0\].expect_down must be true or false'),
    ({'memory': {'available_percent': {'warn': 5, 'crit': 10}}}, 'memory.available_percent: crit'),
])
def test_check_options_that_cannot_work_are_refused(checks, message):
    with pytest.raises(ValueError, match=message):
        health.validate_checks(checks)


# ---------------------------------------------------------------- what to ask the host


@pytest.mark.parametrize('enabled, sections', [
    (['disk'], ['filesystems']),
    (['disk', 'inodes'], ['filesystems']),
    (['swap', 'load'], ['cpu', 'memory']),
    (['failed_units', 'time'], ['services', 'time_sync']),
    (['ports', 'reboot'], ['reboot', 'sockets']),
    (['logs', 'probes'], []),
])
def test_only_the_sections_the_enabled_checks_read_are_gathered(enabled, sections):
    checks = dict((name, {'enabled': True}) for name in enabled)
    assert health.system_sections(checks) == sections


def test_system_info_arguments_carry_services_tmpfs_and_ipmi():
    args = health.system_info_args({'disk': {'include_tmpfs': True}, 'services': {'names': ['nginx']},
                                    'sensors': {'rules': [], 'ipmi': True}}, 3.0)
    assert args == {'gather': ['filesystems', 'services', 'sensors', 'ipmi'], 'section_timeout': 3.0,
                    'services': ['nginx'], 'include_pseudo_filesystems': True}
    assert health.system_info_args({'logs': {'paths': ['/x']}}, 3.0) is None


def test_log_scan_arguments_take_the_severity_from_the_levels():
    logs = {'paths': ['/var/log/syslog'], 'state_file': '/var/lib/opsrun/hc.json', 'from_start': False,
            'max_bytes': 1024, 'patterns': [{'name': 'oom', 'pattern': 'Out of memory', 'crit': 1},
                                            {'name': 'seg', 'pattern': 'segfault', 'warn': 1},
                                            {'name': 'note', 'pattern': 'x', 'regex': True}]}
    args = health.log_scan_args(logs)
    assert [pattern['severity'] for pattern in args['patterns']] == ['crit', 'warn', 'info']
    assert args['patterns'][2] == {'name': 'note', 'pattern': 'x', 'regex': True, 'ignore_case': False,
                                   'severity': 'info'}
    assert args['lines'] == 1 and args['state_file'] == '/var/lib/opsrun/hc.json'
    assert health.log_scan_args(dict(logs, paths=[])) is None


def test_probe_arguments_leave_out_the_keys_of_the_health_check():
    probes = {'timeout': 2.0, 'targets': [{'type': 'tcp', 'host': 'db1', 'port': 5432, 'severity': 'warn',
                                           'expect_down': True}]}
    assert health.probe_args(probes) == {'timeout': 2.0,
                                         'targets': [{'type': 'tcp', 'host': 'db1', 'port': 5432}]}
    assert health.probe_args(dict(probes, targets=[])) is None


# ---------------------------------------------------------------- system checks, cases as data

SYSTEM_CASES = [
    # (id, checks, system_info result, check, [(item, status, value)])
    ('disk levels and a per-mount override',
     {'disk': {'used_percent': LEVELS, 'mounts': {'/srv': {'warn': 95.0, 'crit': 99.0}}}},
     system(filesystems={'mounts': [mount('/', 79.9), mount('/var', 85.0), mount('/data', 90.0),
                                    mount('/srv', 96.0)]}),
     'disk', [('/', 'ok', 79.9), ('/var', 'warn', 85.0), ('/data', 'crit', 90.0), ('/srv', 'warn', 96.0)]),
    ('disk excluded mounts and an unreadable one',
     {'disk': {'used_percent': LEVELS, 'exclude': ['/snap/*']}},
     system(filesystems={'mounts': [mount('/snap/core/1', 100.0),
                                    mount('/mnt/nfs', None, None, error='timeout')]}),
     'disk', [('/mnt/nfs', 'unknown', None)]),
    ('inodes skip filesystems without a fixed count',
     {'inodes': {'used_percent': LEVELS}},
     system(filesystems={'mounts': [mount('/', 10.0, 95.5), mount('/btrfs', 10.0, None)]}),
     'inodes', [('/', 'crit', 95.5)]),
    ('memory available is lower-is-worse',
     {'memory': {'available_percent': {'warn': 60.0, 'crit': 5.0}}},
     system(), 'memory', [('available', 'warn', 50.0)]),
    ('swap without swap is ok',
     {'swap': {'used_percent': {'warn': 1.0, 'crit': 2.0}}},
     system(memory={'total_bytes': 1024, 'available_bytes': 512, 'swap_total_bytes': 0,
                    'swap_used_percent': 0.0}),
     'swap', [('used', 'ok', 0.0)]),
    ('swap used',
     {'swap': {'used_percent': {'warn': 10.0, 'crit': 50.0}}}, system(), 'swap', [('used', 'warn', 12.5)]),
    ('load per cpu over the chosen period',
     {'load': {'per_cpu': {'warn': 1.0, 'crit': 2.0}, 'period': 5}}, system(), 'load',
     [('per_cpu_5m', 'warn', 1.5)]),
    ('load over 15 minutes',
     {'load': {'per_cpu': {'warn': 1.0, 'crit': 2.0}, 'period': 15}}, system(), 'load',
     [('per_cpu_15m', 'ok', 0.5)]),
    ('no failed units',
     {'failed_units': {'status': 'crit', 'ignore': []}}, system(), 'failed_units', [('all', 'ok', 0)]),
    ('failed units, one ignored',
     {'failed_units': {'status': 'warn', 'ignore': ['user@*']}},
     system(services={'failed_units': [
         {'name': 'backup.service', 'active': 'failed', 'description': 'Backup'},
         {'name': 'user@1000.service', 'active': 'failed'}]}),
     'failed_units', [('backup.service', 'warn', 'failed')]),
    ('failed units all ignored',
     {'failed_units': {'status': 'crit', 'ignore': ['*']}},
     system(services={'failed_units': [{'name': 'a.service', 'active': 'failed'}]}),
     'failed_units', [('all', 'ok', 0)]),
    ('no systemd, no failed-unit findings',
     {'failed_units': {'status': 'crit', 'ignore': []}},
     system(services={'failed_units': None, 'note': 'systemd is not PID 1'}), 'failed_units', []),
    ('named services',
     {'services': {'names': ['ssh', 'cron', 'nginx', 'odd'], 'status': 'crit'}},
     system(services={'named': [{'name': 'ssh', 'state': 'active'}, {'name': 'cron', 'state': 'inactive'},
                                {'name': 'nginx', 'state': 'not-found'}, {'name': 'odd', 'state': 'unknown'}],
                      'note': 'no service command'}),
     'services', [('ssh', 'ok', 'active'), ('cron', 'crit', 'inactive'), ('nginx', 'crit', 'not-found'),
                  ('odd', 'unknown', 'unknown')]),
    ('reboot needed',
     {'reboot': {'status': 'warn'}}, system(reboot={'required': True, 'packages': ['libc6'], 'reasons': []}),
     'reboot', [('required', 'warn', True)]),
    ('reboot not recorded',
     {'reboot': {'status': 'warn'}}, system(reboot={'required': None}), 'reboot', []),
    ('clock offset either way',
     {'time': {'offset_seconds': {'warn': 0.5, 'crit': 5.0}}},
     system(time_sync={'tool': 'chronyc', 'synchronized': True, 'offset_seconds': -6.25}),
     'time', [('offset', 'crit', -6.25)]),
    ('clock not synchronised is at least warn',
     {'time': {'offset_seconds': {'warn': 0.5, 'crit': 5.0}}},
     system(time_sync={'tool': 'chronyc', 'synchronized': False, 'offset_seconds': 0.01}),
     'time', [('offset', 'warn', 0.01)]),
    ('clock synchronised without an offset',
     {'time': {'offset_seconds': {'warn': 0.5, 'crit': 5.0}}},
     system(time_sync={'tool': 'timedatectl', 'synchronized': True, 'offset_seconds': None}),
     'time', [('offset', 'ok', None)]),
    ('no time synchronisation tool',
     {'time': {'offset_seconds': {'warn': 0.5, 'crit': 5.0}}},
     system(time_sync={'tool': None, 'synchronized': None, 'offset_seconds': None, 'notes': ['none found']}),
     'time', [('offset', 'unknown', None)]),
    ('listening ports',
     {'ports': {'expected': [{'port': 22, 'protocol': 'tcp'}, {'port': 22, 'protocol': 'tcp',
                                                               'address': '127.0.0.1'},
                             {'port': 53, 'protocol': 'udp'}], 'status': 'warn'}},
     system(), 'ports',
     [('tcp/22', 'ok', True), ('tcp/22 on 127.0.0.1', 'warn', False), ('udp/53', 'warn', False)]),
    ('sensors: first fitting rule, both kinds, no reading',
     {'sensors': {'rules': TEMPERATURE_RULES}},
     system(sensors={'readings': [reading(92.0, 'Package id 0', 'coretemp'), reading(38.5),
                                  reading(15.0, 'Rack humidity', kind='humidity', sensor='humidity1'),
                                  reading(None, 'Dead', sensor='temp2')]}),
     'sensors', [('coretemp/Package id 0', 'warn', 92.0), ('opsrun_env/Rack inlet', 'warn', 38.5),
                 ('opsrun_env/Rack humidity', 'warn', 15.0), ('opsrun_env/Dead', 'unknown', None)]),
    ('sensors: ignored and unmatched readings are not reported',
     {'sensors': {'rules': [{'kind': 'temperature', 'match': 'acpitz/*', 'ignore': True},
                            {'kind': 'temperature', 'match': 'coretemp/*', 'crit_above': 90.0}]}},
     system(sensors={'readings': [reading(99.0, 'temp1', 'acpitz'), reading(99.0, 'Core 0', 'coretemp'),
                                  reading(99.0)]}),
     'sensors', [('coretemp/Core 0', 'crit', 99.0)]),
    ('sensors: thermal zones and same-named chips get distinct items',
     {'sensors': {'rules': [{'match': '*', 'crit_above': 200.0}]}},
     system(sensors={'readings': [reading(40.0, 'x86_pkg_temp', None, device='thermal_zone0', sensor='temp'),
                                  reading(30.0, 'Composite', 'nvme', device='hwmon2'),
                                  reading(31.0, 'Composite', 'nvme', device='hwmon3')]}),
     'sensors', [('thermal_zone0/x86_pkg_temp', 'ok', 40.0), ('nvme/Composite (hwmon2/temp1)', 'ok', 30.0),
                 ('nvme/Composite (hwmon3/temp1)', 'ok', 31.0)]),
    ('a failed section is unknown for the checks that read it',
     {'disk': {'used_percent': LEVELS}, 'inodes': {'used_percent': LEVELS},
      'memory': {'available_percent': {'warn': 1, 'crit': 0}}},
     system(section_errors={'filesystems': 'did not finish within 10.0 s'},
            filesystems={'error': 'did not finish within 10.0 s'}),
     'inodes', [('filesystems', 'unknown', None)]),
    ('sensors still checked from IPMI when hwmon failed',
     {'sensors': {'rules': [{'match': 'ipmi/*', 'crit_above': 45.0}], 'ipmi': True}},
     system(section_errors={'sensors': 'permission denied'}, sensors={'error': 'permission denied'},
            ipmi={'readings': [dict(reading(46.0, 'Inlet Temp', None, device=None, sensor='04h'),
                                    source='ipmi')]}),
     'sensors', [('sensors', 'unknown', None), ('ipmi/Inlet Temp', 'crit', 46.0)]),
]


@pytest.mark.parametrize('checks, result, check, expected', [case[1:] for case in SYSTEM_CASES],
                         ids=[case[0] for case in SYSTEM_CASES])
def test_system_checks(checks, result, check, expected):
    findings = health.system_findings(HOST, checks, result)
    assert only(findings, check) == expected
    assert all(set(item) == {'host', 'check', 'item', 'status', 'value', 'threshold', 'message'}
               for item in findings)
    assert all(item['host'] == HOST and item['message'] for item in findings)


def test_disk_findings_carry_their_levels_and_a_readable_message():
    findings = health.system_findings(HOST, {'disk': {'used_percent': LEVELS}},
                                      system(filesystems={'mounts': [mount('/var', 93.1)]}))
    assert findings == [{'host': HOST, 'check': 'disk', 'item': '/var', 'status': 'crit', 'value': 93.1,
                         'threshold': LEVELS,
                         'message': 'space of /var used: 93.1% (warn at 80%, crit at 90%)'}]


def test_a_failed_system_info_is_unknown_for_every_enabled_check():
    failed = {'failed': True, 'msg': 'MODULE FAILURE', 'module_stderr': 'python3: not found'}
    checks = {'disk': {'used_percent': LEVELS}, 'time': {'offset_seconds': LEVELS}}
    findings = health.system_findings(HOST, checks, failed)
    assert [(item['check'], item['item'], item['status']) for item in findings] == [
        ('disk', 'system_info', 'unknown'), ('time', 'system_info', 'unknown')]
    assert findings[0]['message'] == 'system_info failed: MODULE FAILURE: python3: not found'


def test_messages_say_what_is_wrong():
    findings = health.system_findings(
        HOST, {'services': {'names': ['nginx'], 'status': 'crit'}, 'reboot': {'status': 'warn'}},
        system(services={'named': [{'name': 'nginx', 'state': 'not-found'}]},
               reboot={'required': True, 'packages': ['linux-image-6.1.0-18-amd64'], 'reasons': []}))
    assert [item['message'] for item in findings] == [
        'service nginx is not-found (not installed)', 'a reboot is needed for linux-image-6.1.0-18-amd64']


# ---------------------------------------------------------------- logs and probes

LOGS = {'paths': ['/var/log/app.log'], 'patterns': [
    {'name': 'error', 'pattern': 'ERROR', 'warn': 1, 'crit': 3},
    {'name': 'oom', 'pattern': 'Out of memory', 'crit': 1},
    {'name': 'info', 'pattern': 'started'},
]}


def scan(counts, files=None):
    patterns = {}
    for name, count in counts.items():
        last = [{'file': '/var/log/app.log', 'line': 7, 'text': 'line with %s' % name}] if count else []
        patterns[name] = {'count': count, 'first': last, 'last': last, 'severity': 'warn'}
    return {'changed': True, 'patterns': patterns,
            'files': files or [{'path': '/var/log/app.log', 'status': 'scanned', 'error': None}]}


@pytest.mark.parametrize('counts, expected', [
    ({'error': 0, 'oom': 0, 'info': 9}, [('error', 'ok', 0), ('oom', 'ok', 0), ('info', 'ok', 9)]),
    ({'error': 2, 'oom': 0, 'info': 0}, [('error', 'warn', 2), ('oom', 'ok', 0), ('info', 'ok', 0)]),
    ({'error': 3, 'oom': 1, 'info': 0}, [('error', 'crit', 3), ('oom', 'crit', 1), ('info', 'ok', 0)]),
])
def test_log_counts_reach_their_levels(counts, expected):
    assert only(health.log_findings(HOST, LOGS, scan(counts)), 'logs') == expected


def test_a_last_line_without_a_line_number_names_its_file():
    result = scan({'error': 1, 'oom': 0, 'info': 0})
    result['patterns']['error']['last'][0]['line'] = None
    message = health.log_findings(HOST, LOGS, result)[0]['message']
    assert message.endswith('; last: /var/log/app.log: line with error')


def test_log_findings_name_the_last_line_and_unreadable_files():
    files = [{'path': '/var/log/app.log', 'status': 'scanned', 'error': None},
             {'path': '/var/log/secure', 'status': 'error', 'error': 'Permission denied'},
             {'path': '/var/log/gone.log', 'status': 'missing', 'error': None}]
    findings = health.log_findings(HOST, LOGS, scan({'error': 1, 'oom': 0, 'info': 0}, files))
    assert only(findings, 'logs')[0] == ('/var/log/secure', 'unknown', None)
    assert findings[1]['message'] == ("1 new line matching 'ERROR' in /var/log/app.log (warn at 1 lines, "
                                      "crit at 3 lines); last: /var/log/app.log:7: line with error")
    assert findings[1]['threshold'] == {'warn': 1, 'crit': 3}


def test_a_failed_log_scan_is_unknown():
    assert only(health.log_findings(HOST, LOGS, {'failed': True, 'msg': 'bad'}), 'logs') == [
        ('log_scan', 'unknown', None)]


PROBES = {'tls_days_left': {'warn': 30, 'crit': 7}, 'targets': [
    {'type': 'tcp', 'host': 'db1', 'port': 5432},
    {'type': 'http', 'url': 'http://127.0.0.1/', 'severity': 'warn'},
    {'type': 'tcp', 'host': 'db1', 'port': 3306, 'expect_down': True},
    {'type': 'tls', 'host': 'www'},
]}


def probe_result(name, kind, status, **extra):
    up = status == 'ok'
    return dict({'name': name, 'type': kind, 'target': name, 'status': status,
                 'latency_ms': 1.5 if up else None,
                 'error': None if up else 'connect failed: Connection refused'}, **extra)


def test_probe_targets_and_certificates():
    answer = {'results': [probe_result('tcp db1:5432', 'tcp', 'fail'), probe_result('web', 'http', 'fail'),
                          probe_result('tcp db1:3306', 'tcp', 'ok'),
                          probe_result('tls www:443', 'tls', 'ok', days_to_expiry=5,
                                       not_after='2026-01-13T00:00:00Z', subject='CN=www')]}
    findings = health.probe_findings(HOST, PROBES, answer)
    assert [(item['check'], item['item'], item['status'], item['value']) for item in findings] == [
        ('probes', 'tcp db1:5432', 'crit', 'fail'), ('probes', 'web', 'warn', 'fail'),
        ('probes', 'tcp db1:3306', 'crit', 'ok'), ('probes', 'tls www:443', 'ok', 'ok'),
        ('tls', 'tls www:443', 'crit', 5)]
    assert findings[2]['threshold'] == 'fail'
    assert findings[2]['message'] == 'tcp tcp db1:3306 answered in 1.5 ms (expected to fail)'


def test_an_expected_failure_is_ok():
    answer = {'results': [probe_result('closed', 'tcp', 'fail')]}
    probes = {'tls_days_left': {'warn': 30, 'crit': 7},
              'targets': [{'type': 'tcp', 'host': 'x', 'port': 1, 'expect_down': True}]}
    assert only(health.probe_findings(HOST, probes, answer), 'probes') == [('closed', 'ok', 'fail')]


# ---------------------------------------------------------------- outputs


def test_reachability():
    assert health.reachable_finding(HOST)['status'] == 'ok'
    down = health.reachable_finding(HOST, 'ssh: connect to host 192.0.2.1 port 22: No route to host')
    assert (down['check'], down['item'], down['status'], down['value']) == (
        'reachable', 'connection', 'crit', False)
    assert 'No route to host' in down['message']


@pytest.mark.parametrize('fail_on, expected', [
    ('warn', ['crit disk /: d', 'unknown time offset: t', 'warn load per_cpu_5m: l']),
    ('unknown', ['crit disk /: d', 'unknown time offset: t']),
    ('crit', ['crit disk /: d']),
    ('never', []),
])
def test_fail_reasons_are_the_findings_at_fail_on_most_severe_first(fail_on, expected):
    findings = [health.finding(HOST, 'load', 'per_cpu_5m', 'warn', message='l'),
                health.finding(HOST, 'time', 'offset', 'unknown', message='t'),
                health.finding(HOST, 'disk', '/', 'crit', message='d'),
                health.finding(HOST, 'swap', 'used', 'ok', message='s')]
    assert health.fail_reasons(findings, fail_on) == expected


def test_worst_status_orders_unknown_between_warn_and_crit():
    assert health.worst([]) == 'ok'
    assert health.worst(['ok', 'unknown', 'warn']) == 'unknown'
    assert health.worst(['unknown', 'crit']) == 'crit'


def test_prometheus_textfile():
    findings = [health.finding(HOST, 'disk', '/va"r\\x\n', 'crit', value=93.1),
                health.finding(HOST, 'reboot', 'required', 'warn', value=True),
                health.finding(HOST, 'services', 'ssh', 'ok', value='active'),
                health.finding(HOST, 'time', 'offset', 'unknown')]
    text = health.prometheus_text(findings, 1767863560.7)
    lines = text.splitlines()
    assert 'opsrun_health_check_status{check="disk",item="/va\\"r\\\\x\\n"} 2' in lines
    assert 'opsrun_health_check_status{check="reboot",item="required"} 1' in lines
    assert 'opsrun_health_check_status{check="services",item="ssh"} 0' in lines
    assert 'opsrun_health_check_status{check="time",item="offset"} 3' in lines
    values = [line for line in lines if line.startswith('opsrun_health_check_value{')]
    assert values == ['opsrun_health_check_value{check="disk",item="/va\\"r\\\\x\\n"} 93.1',
                      'opsrun_health_check_value{check="reboot",item="required"} 1.0']
    assert lines[-1] == 'opsrun_health_check_last_run_timestamp_seconds 1767863560'
    assert text.endswith('\n')


def test_report_lists_every_host_even_without_a_result():
    checked = {'changed': False, 'findings': [health.finding('web01', 'disk', '/', 'warn', value=85.0),
                                              health.finding('web01', 'swap', 'used', 'ok', value=0.0)]}
    broken = {'failed': True, 'msg': 'disk.used_percent: crit (1) is below warn (2)'}
    report = health.build_report([('web01', checked), ('web02', None), ('web03', broken)])
    assert report['hosts'] == {'web01': 'warn', 'web02': 'crit', 'web03': 'unknown'}
    assert report['summary'] == {'ok': 1, 'warn': 1, 'unknown': 1, 'crit': 1}
    assert report['worst'] == 'crit'
    assert [(item['host'], item['check'], item['item'], item['status']) for item in report['findings']] == [
        ('web01', 'disk', '/', 'warn'), ('web01', 'swap', 'used', 'ok'),
        ('web02', 'reachable', 'connection', 'crit'), ('web03', 'health_check', 'run', 'unknown')]
    assert 'crit (1) is below warn (2)' in report['findings'][3]['message']


def test_junit_report():
    result = {'findings': [health.finding('web01', 'disk', '/', 'crit', message='full \x1b[31m<&>'),
                           health.finding('web01', 'swap', 'used', 'ok', message='fine'),
                           health.finding('web01', 'time', 'offset', 'unknown', message='no tool')]}
    report = health.build_report([('web01', result), ('db01', None)])
    report['generated'] = '2026-01-08T09:12:40Z'
    root = ElementTree.fromstring(health.junit_xml(report).split('\n', 1)[1])  # noqa: S314 - our own output
    assert root.attrib == {'name': 'opsrun health check', 'tests': '4', 'failures': '2', 'errors': '1',
                           'timestamp': '2026-01-08T09:12:40Z'}
    suites = root.findall('testsuite')
    assert [(suite.get('name'), suite.get('tests'), suite.get('failures'), suite.get('errors'))
            for suite in suites] == [('web01', '3', '1', '1'), ('db01', '1', '1', '0')]
    cases = suites[0].findall('testcase')
    assert cases[0].get('name') == 'disk /' and cases[0].find('failure').get('message') == 'full [31m<&>'
    assert cases[1].find('failure') is None and cases[1].find('error') is None
    assert cases[2].find('error').get('type') == 'unknown'


def test_findings_functions_do_not_change_their_input():
    result = system(filesystems={'mounts': [mount('/', 95.0)]})
    before = copy.deepcopy(result)
    health.system_findings(HOST, {'disk': {'used_percent': LEVELS}}, result)
    assert result == before
