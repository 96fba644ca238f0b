# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service manager detection and systemctl parsing of the system_info module."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_services import (
    decide_service_manager,
    detect_service_manager,
    invalid_service_names,
    lsb_service_state,
    parse_systemctl_failed_json,
    parse_systemctl_failed_plain,
    parse_systemctl_show,
    parse_systemd_timestamp,
    systemd_service_state,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')
FAILED_UNITS = [
    {'name': 'backup.service', 'load': 'loaded', 'active': 'failed', 'sub': 'failed',
     'description': 'Nightly backup'},
    {'name': 'var-cache-nfs.mount', 'load': 'loaded', 'active': 'failed', 'sub': 'failed',
     'description': '/var/cache/nfs'},
]


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.mark.parametrize('parser, name', [
    (parse_systemctl_failed_json, 'systemctl-failed.json'),
    (parse_systemctl_failed_plain, 'systemctl-failed.plain'),
    (parse_systemctl_failed_plain, 'systemctl-failed.bullets'),
])
def test_failed_units(parser, name):
    assert parser(fixture(name)) == FAILED_UNITS


def test_no_failed_units():
    assert parse_systemctl_failed_json('[]\n') == []
    assert parse_systemctl_failed_plain('') == []


def test_failed_units_json_must_be_a_list():
    with pytest.raises(ValueError, match='JSON list'):
        parse_systemctl_failed_json('{"unit": "x.service"}')


def test_systemctl_show_blocks_and_states():
    blocks = parse_systemctl_show(fixture('systemctl-show.txt'))
    assert [block['Id'] for block in blocks] == ['backup.service', 'var-cache-nfs.mount', 'nginx.service',
                                                 'nosuch.service']
    assert systemd_service_state('nginx', blocks[2]) == {
        'name': 'nginx', 'unit': 'nginx.service', 'state': 'active', 'sub_state': 'running',
        'enabled': 'enabled', 'since': '2026-01-08T09:13:02Z', 'rc': None,
    }
    assert systemd_service_state('nosuch', blocks[3]) == {
        'name': 'nosuch', 'unit': 'nosuch.service', 'state': 'not-found', 'sub_state': 'dead',
        'enabled': None, 'since': None, 'rc': None,
    }


@pytest.mark.parametrize('value, expected', [
    ('Thu 2026-01-08 03:00:12 UTC', '2026-01-08T03:00:12Z'),
    ('@1767841212', '2026-01-08T03:00:12Z'),
    ('', None),
    ('n/a', None),
    (None, None),
])
def test_systemd_timestamp(value, expected):
    assert parse_systemd_timestamp(value) == expected


def test_systemd_timestamp_in_another_zone_is_refused():
    with pytest.raises(ValueError, match='unexpected systemd timestamp'):
        parse_systemd_timestamp('Thu 2026-01-08 12:00:12 CET')


@pytest.mark.parametrize('pid1_comm, booted, expected', [
    ('systemd', True, 'systemd'),
    ('systemd', False, 'systemd'),
    # A container whose entry point is not systemd, but with the host's /run mounted in.
    ('bash', True, 'systemd'),
    ('init', False, 'sysvinit'),
    ('tini', False, 'other'),
    (None, False, 'other'),
])
def test_decide_service_manager(pid1_comm, booted, expected):
    assert decide_service_manager(pid1_comm, booted) == expected


def test_detect_service_manager(tmp_path):
    (tmp_path / 'proc' / '1').mkdir(parents=True)
    (tmp_path / 'proc' / '1' / 'comm').write_text('init\n')
    (tmp_path / 'run').mkdir()
    assert detect_service_manager(str(tmp_path / 'proc'), str(tmp_path / 'run')) == ('sysvinit', 'init')
    (tmp_path / 'run' / 'systemd' / 'system').mkdir(parents=True)
    assert detect_service_manager(str(tmp_path / 'proc'), str(tmp_path / 'run')) == ('systemd', 'init')
    (tmp_path / 'proc' / '1' / 'comm').unlink()
    assert detect_service_manager(str(tmp_path / 'proc'), str(tmp_path / 'run')) == ('systemd', None)


@pytest.mark.parametrize('rc, state', [
    (0, 'active'), (1, 'failed'), (2, 'failed'), (3, 'inactive'), (4, 'unknown'), (127, 'unknown'),
])
def test_lsb_status_codes(rc, state):
    assert lsb_service_state('cron', rc)['state'] == state
    assert lsb_service_state('cron', rc)['rc'] == rc


def test_invalid_service_names():
    names = ['nginx', 'getty@tty1.service', 'system-foo\\x2dbar.slice', '-h', 'a b', '../../bin/sh', '']
    assert invalid_service_names(names) == ['-h', 'a b', '../../bin/sh', '']
