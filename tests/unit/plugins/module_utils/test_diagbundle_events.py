# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notable events for the timeline: log rules, packages, logins, boots, snapshots, repeats and limits."""

import calendar
import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_events import Events, utc_text

pytestmark = pytest.mark.usefixtures('utc_time')

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'diagnostics_bundle')


def utc(*fields):
    return calendar.timegm(fields + (0,) * (9 - len(fields)))


SINCE = utc(2026, 1, 8, 9, 0, 0)
UNTIL = utc(2026, 1, 8, 9, 30, 0)


def fixture(name):
    with open(os.path.join(FIXTURES, name), 'rb') as stream:
        return stream.read()


def summary(events):
    return [(item['time'][11:19], item['kind'], item['severity']) for item in events.items]


def test_utc_text_is_fixed_width_so_that_it_sorts():
    assert utc_text(utc(2026, 1, 8, 9, 12, 40)) == '2026-01-08T09:12:40.000000Z'
    assert utc_text(utc(2026, 1, 8, 9, 12, 40) + 0.25) == '2026-01-08T09:12:40.250000Z'


def test_log_lines_are_classified_by_the_most_specific_rule():
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(fixture('dmesg.txt'), 'kernel/dmesg.log', SINCE)
    assert summary(events) == [
        ('09:10:03', 'oom', 'crit'),
        ('09:10:03', 'oom', 'crit'),
        ('09:10:09', 'segfault', 'crit'),
    ]
    assert events.items[2]['what'].startswith('2026-01-08T09:10:09,500000+00:00 app[777]: segfault at 0')
    assert events.items[2]['host'] == 'web01'
    assert events.items[2]['source'] == 'kernel/dmesg.log'


@pytest.mark.parametrize('line, kind, severity', [
    (b'app: ERROR could not connect', 'error', 'error'),
    (b'systemd[1]: Failed to start nginx.service - A high performance web server.', 'unit_failed', 'error'),
    (b'postgres[9]: FATAL:  the database system is starting up', 'critical', 'crit'),
    (b'kernel: EXT4-fs error (device sda1): ext4_find_entry', 'io_error', 'crit'),
    (b'kernel: INFO: task kworker/0:1 blocked for more than 120 seconds.', 'kernel', 'crit'),
    (b'app: 0 errors, 3 warnings', None, None),
    (b'app: request served in 3 ms', None, None),
])
def test_rules(line, kind, severity):
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(b'2026-01-08T09:05:00Z web01 ' + line + b'\n', 'logs/var/log/syslog', SINCE)
    found = [(item['kind'], item['severity']) for item in events.items]
    assert found == ([] if kind is None else [(kind, severity)])


def test_custom_rules_come_first_and_ignore_case():
    rule = {'name': 'payment', 'pattern': r'payment (?:declined|error)', 'severity': 'warn'}
    events = Events('web01', SINCE, UNTIL, [rule])
    events.scan_log(b'2026-01-08T09:05:00Z web01 shop: PAYMENT ERROR for order 7\n', 'logs/x', SINCE)
    assert summary(events) == [('09:05:00', 'payment', 'warn')]


def test_every_line_mode_takes_unmatched_lines_as_errors_and_skips_journal_notes():
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(
        b'-- Boot 8de13499ada7488389c73eda56e33ea9 --\n'
        b'2026-01-08T09:05:00.000001+0000 web01 sshd[9]: pam_env(sshd:session): Unable to open env file\n',
        'journal/errors.log', SINCE, every_line=True)
    assert summary(events) == [('09:05:00', 'error', 'error')]


def test_ansible_module_invocations_are_not_events():
    events = Events('web01', SINCE, UNTIL)
    line = b'2026-01-08T09:05:00+0000 web01 ansible-opsrun.ops.system_info[150]: Invoked with failed_units=x'
    events.scan_log(line + b'\n', 'journal/all.log', SINCE)
    assert events.items == []


def test_events_outside_the_window_or_without_time_are_dropped():
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(b'2026-01-08T08:59:59Z error before\n2026-01-08T09:30:01Z error after\nerror untimed\n',
                    'logs/x', SINCE)
    assert events.items == []


def test_the_same_line_from_two_sources_is_one_event():
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(b'Jan  8 09:05:00 web01 app[3]: error: disk full\n', 'logs/var/log/syslog', SINCE)
    events.scan_log(b'2026-01-08T09:05:00.417000+0000 web01 app[3]: error: disk full\n', 'journal/all.log',
                    SINCE)
    assert [item['source'] for item in events.items] == ['logs/var/log/syslog']


def test_package_changes_from_dpkg_and_dnf_logs():
    events = Events('web01', SINCE, UNTIL)
    events.scan_packages(fixture('dpkg.log'), 'packages/var/log/dpkg.log', UNTIL)
    events.scan_packages(fixture('dnf.rpm.log'), 'packages/var/log/dnf.rpm.log', UNTIL)
    assert [item['what'] for item in events.items] == [
        'upgrade libssl3:amd64 3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2',
        'install nginx:amd64 <none> -> 1.22.1-9',
        'remove telnet:amd64 0.17+2.4-2 -> <none>',
        'Upgrade openssl-libs-1:3.0.7-25.el9.x86_64',
        'Installed nginx-1:1.20.1-14.el9.x86_64',
    ]
    assert {item['kind'] for item in events.items} == {'package'}


def test_boots_and_shutdowns_from_last():
    events = Events('web01', SINCE, UNTIL)
    events.scan_last(fixture('last_x.txt'), 'logins/last.txt')
    assert [(item['time'][11:19], item['kind'], item['what']) for item in events.items] == [
        ('09:12:40', 'boot', 'system booted (kernel 6.1.0-18-amd64)'),
        ('09:11:58', 'shutdown', 'system went down (kernel 6.1.0-17-amd64)'),
    ]


@pytest.mark.parametrize('name', ['list_boots.txt', 'list_boots_old.txt'])
def test_boots_from_the_journal_in_both_layouts(name):
    events = Events('web01', SINCE, UNTIL)
    events.scan_boots(fixture(name), 'journal/boots.txt')
    assert [(item['time'][11:19], item['kind'], item['what']) for item in events.items] == [
        ('09:11:57', 'shutdown',
         'boot 1f0e6c1d2b3a ended (last journal entry; the host stopped or crashed after it)'),
        ('09:12:41', 'boot', 'boot 8de13499ada7 started (first journal entry)'),
    ]


def test_one_boot_seen_by_several_sources_is_one_event():
    events = Events('web01', SINCE, UNTIL)
    events.scan_boots(fixture('list_boots.txt'), 'journal/boots.txt')
    events.scan_last(fixture('last_x.txt'), 'logins/last.txt')
    events.scan_system_info({'identity': {'boot_time': '2026-01-08T09:12:40Z', 'kernel': '6.1.0-18-amd64'}},
                            'system/system_info.json')
    assert [(item['kind'], item['source']) for item in events.items] == [
        ('shutdown', 'journal/boots.txt'),
        ('boot', 'journal/boots.txt'),
    ]


def test_failed_units_of_the_snapshot_that_failed_in_the_window():
    events = Events('web01', SINCE, UNTIL)
    events.scan_system_info({
        'identity': {'boot_time': '2025-12-01T00:00:00Z', 'kernel': '6.1.0-18-amd64'},
        'services': {'failed_units': [
            {'name': 'backup.service', 'sub': 'failed', 'description': 'Nightly backup',
             'since': '2026-01-08T09:03:00Z'},
            {'name': 'old.service', 'sub': 'failed', 'description': 'Old', 'since': '2026-01-07T09:03:00Z'},
            {'name': 'unknown.service', 'sub': 'failed', 'description': None, 'since': None},
        ]},
    }, 'system/system_info.json')
    assert [(item['kind'], item['severity'], item['what']) for item in events.items] == [
        ('unit_failed', 'error', 'backup.service failed (failed): Nightly backup'),
    ]


def test_a_snapshot_without_systemd_gives_no_unit_events():
    events = Events('web01', SINCE, UNTIL)
    events.scan_system_info({'identity': {}, 'services': {'failed_units': None}}, 'system/system_info.json')
    assert events.items == []


def test_finish_keeps_the_most_severe_events_and_sorts_by_time():
    events = Events('web01', SINCE, UNTIL)
    events.add(utc(2026, 1, 8, 9, 1), 'package', 'info', 'packages/x', 'install a')
    events.add(utc(2026, 1, 8, 9, 2), 'oom', 'crit', 'kernel/dmesg.log', 'Out of memory')
    events.add(utc(2026, 1, 8, 9, 3), 'error', 'error', 'logs/x', 'error one')
    events.add(utc(2026, 1, 8, 9, 4), 'error', 'error', 'logs/x', 'error two')
    kept, omitted = events.finish(3)
    assert [item['what'] for item in kept] == ['Out of memory', 'error one', 'error two']
    assert omitted == 1


def test_long_lines_are_cut():
    events = Events('web01', SINCE, UNTIL)
    events.scan_log(b'2026-01-08T09:05:00Z error ' + b'x' * 2000 + b'\n', 'logs/x', SINCE)
    assert len(events.items[0]['what']) == 500
