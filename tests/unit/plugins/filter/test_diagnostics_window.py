# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics_window filter: incident time, window and identifier."""

import calendar
import time

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsrun.ops.plugins.filter import diagnostics_window

NOW = calendar.timegm((2026, 1, 8, 9, 12, 40, 0, 0, 0)) + 0.75


pytestmark = pytest.mark.usefixtures('tokyo_time')


@pytest.mark.parametrize('incident', ['', 'now', None, '  now '])
def test_an_empty_incident_time_is_now_in_whole_seconds(incident):
    assert diagnostics_window.incident_window(incident, '30m', '30m', NOW) == {
        'incident': '2026-01-08T09:12:40Z',
        'since': '2026-01-08T08:42:40Z',
        'until': '2026-01-08T09:42:40Z',
        'id': '20260108T091240Z',
    }


@pytest.mark.parametrize('incident', [
    '2026-01-08T18:12:40+09:00', '2026-01-08T09:12:40Z', '2026-01-08 18:12:40',
])
def test_offsets_and_local_times_give_the_same_utc_window(incident):
    window = diagnostics_window.incident_window(incident, '2h', '90s', NOW)
    assert window == {
        'incident': '2026-01-08T09:12:40Z',
        'since': '2026-01-08T07:12:40Z',
        'until': '2026-01-08T09:14:10Z',
        'id': '20260108T091240Z',
    }


def test_units_of_days_and_weeks():
    window = diagnostics_window.incident_window('2026-01-08T09:12:40Z', '1w', '1d', NOW)
    assert (window['since'], window['until']) == ('2026-01-01T09:12:40Z', '2026-01-09T09:12:40Z')


@pytest.mark.parametrize('before, after, message', [
    ('30', '30m', "before='30' is not a length of time"),
    ('30m', '-5m', "after='-5m' is not a length of time"),
    ('30m', 'now', "after='now' is not a length of time"),
])
def test_bad_lengths_are_refused_naming_the_argument(before, after, message):
    with pytest.raises(AnsibleFilterError, match=message):
        diagnostics_window.incident_window('', before, after, NOW)


def test_a_bad_incident_time_says_what_is_expected():
    with pytest.raises(AnsibleFilterError, match="the incident time cannot read 'yesterday' as a time"):
        diagnostics_window.incident_window('yesterday', '30m', '30m', NOW)


def test_the_filter_is_registered_and_uses_the_current_time():
    window_filter = diagnostics_window.FilterModule().filters()['diagnostics_window']
    window = window_filter('')
    now = time.time()
    incident = calendar.timegm(time.strptime(window['incident'], '%Y-%m-%dT%H:%M:%SZ'))
    assert now - 5 < incident <= now
