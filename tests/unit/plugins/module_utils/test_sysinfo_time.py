# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time synchronisation parsing of the system_info module."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_time import (
    parse_chronyc_tracking,
    parse_ntpq_peers,
    parse_timedatectl_show,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.mark.parametrize('name, expected', [
    ('chronyc-tracking.synced',
     {'synchronized': True, 'offset_seconds': 0.000012345, 'source': '192.0.2.10', 'stratum': 3}),
    # "slow of NTP time": the local clock is behind, so the offset is negative.
    ('chronyc-tracking.slow', {'synchronized': True, 'offset_seconds': -0.25, 'source': 'GPS', 'stratum': 1}),
    ('chronyc-tracking.unsynced',
     {'synchronized': False, 'offset_seconds': 0.0, 'source': None, 'stratum': 0}),
])
def test_chronyc_tracking(name, expected):
    assert parse_chronyc_tracking(fixture(name)) == expected


def test_chronyc_tracking_rejects_other_text():
    with pytest.raises(ValueError, match='not chronyc tracking output'):
        parse_chronyc_tracking('506 Cannot talk to daemon\n')


@pytest.mark.parametrize('name, expected', [
    # ntpq's offset is the peer's, in ms: -0.105 ms there means this clock is 0.105 ms ahead.
    ('ntpq-pn.synced',
     {'synchronized': True, 'offset_seconds': 0.000105, 'source': '192.0.2.10', 'stratum': 1}),
    # A long IPv6 peer pushes the columns onto the next line.
    ('ntpq-pn.wrapped',
     {'synchronized': True, 'offset_seconds': -0.0015, 'source': '2001:db8:0:1::123', 'stratum': 1}),
    ('ntpq-pn.unsynced', {'synchronized': False, 'offset_seconds': None, 'source': None, 'stratum': None}),
])
def test_ntpq_peers(name, expected):
    result = parse_ntpq_peers(fixture(name))
    offset = result.pop('offset_seconds')
    expected = dict(expected)
    expected_offset = expected.pop('offset_seconds')
    assert result == expected
    assert offset == (pytest.approx(expected_offset) if expected_offset is not None else None)


def test_ntpq_rejects_other_text():
    with pytest.raises(ValueError, match='not ntpq -p output'):
        parse_ntpq_peers('localhost: timed out, nothing received\n***Request timed out\n')


def test_timedatectl_show_timesync():
    show = parse_timedatectl_show(fixture('timedatectl-show-timesync.txt'))
    assert show['ServerName'] == 'ntp.example.net'
