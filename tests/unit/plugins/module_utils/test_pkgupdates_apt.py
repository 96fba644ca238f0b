# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""apt: parsing apt-get simulations and classifying records from either backend.

read_python_apt_records() needs the real apt_pkg and an apt cache; it is exercised on real hosts by
the integration tests. Here its output shape is represented by python-apt-records-bookworm.json,
which describes the same host state as apt-get-simulate-bookworm.txt.
"""

import json
import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_apt import (
    apt_records_to_updates,
    describe_origin,
    is_security_origin,
    parse_apt_simulation,
    parse_showhold,
    parse_simulated_origin,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'package_updates_info')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def by_name(updates):
    return dict(((item['name'], item['arch']), item) for item in updates)


def origin(label='', version='', archive='', codename='', origin_name=''):
    return {'origin': origin_name, 'label': label, 'version': version, 'archive': archive,
            'codename': codename}


@pytest.mark.parametrize(('candidate_origin', 'security'), [
    (origin('Debian-Security', '12', 'bookworm-security', 'bookworm-security', 'Debian'), True),
    (origin('Debian-Security', '12', 'stable-security', 'bookworm-security', 'Debian'), True),
    (origin('Ubuntu', '22.04', 'jammy-security', 'jammy', 'Ubuntu'), True),
    # Local mirrors: one keeps the suite name but sets its own label, one keeps only the label.
    (origin('Fleet mirror', '', 'bookworm-security'), True),
    (origin('Debian-Security', '', 'fleet-sec', 'fleet-sec'), True),
    (origin('Debian', '12.11', 'stable', 'bookworm', 'Debian'), False),
    (origin('Debian', '12.11', 'stable-updates', 'bookworm-updates', 'Debian'), False),
    (origin('Ubuntu', '22.04', 'jammy-updates', 'jammy', 'Ubuntu'), False),
    (origin('security-tools', '1', 'stable'), False),
])
def test_is_security_origin(candidate_origin, security):
    assert is_security_origin(candidate_origin) is security


@pytest.mark.parametrize(('text', 'expected'), [
    ('Debian-Security:12/bookworm-security', origin('Debian-Security', '12', 'bookworm-security')),
    ('Debian:12.11/stable', origin('Debian', '12.11', 'stable')),
    ('localrepo:/fleet', origin('localrepo', '', 'fleet')),
    # A Release file without Version: apt prints Label:Archive.
    ('Debian:bookworm', origin('Debian', '', 'bookworm')),
    # Without a Label apt prints only Version/Archive, or the Archive (or the site) alone.
    ('12/stable-security', origin('', '12', 'stable-security')),
    ('fleet', origin('', '', 'fleet')),
])
def test_parse_simulated_origin(text, expected):
    assert parse_simulated_origin(text) == expected


@pytest.mark.parametrize(('candidate_origin', 'text'), [
    (origin('Debian-Security', '12', 'bookworm-security', 'bookworm-security', 'Debian'),
     'Debian-Security:12/bookworm-security'),
    (origin('Debian', '', 'bookworm', 'bookworm', 'Debian'), 'Debian:bookworm'),
    (origin('', '', '', 'fleet', 'Fleet'), 'Fleet:fleet'),
    (origin('localrepo'), 'localrepo'),
])
def test_describe_origin(candidate_origin, text):
    assert describe_origin(candidate_origin) == text


def test_simulation_lists_upgrades_only():
    records = parse_apt_simulation(fixture_text('apt-get-simulate-bookworm.txt'))
    names = [(record['name'], record['arch']) for record in records]
    # The newly installed kernel image has no installed version and is not an update; Conf lines are skipped.
    assert names == [
        ('base-files', 'amd64'), ('libc6', 'amd64'), ('libc6', 'i386'), ('libssl3', 'amd64'),
        ('openssl', 'amd64'), ('linux-image-amd64', 'amd64'), ('openssh-server', 'amd64'), ('tzdata', 'all'),
    ]
    libc6 = records[1]
    assert libc6['installed_version'] == '2.36-9+deb12u9'
    assert libc6['candidate_version'] == '2.36-9+deb12u10'
    assert [item['label'] for item in libc6['origins']] == ['Debian', 'Debian-Security']
    assert not any(record['held'] for record in records)


def test_normal_and_security_update_from_simulation():
    held_names = parse_showhold(fixture_text('apt-mark-showhold.txt'))
    updates, held = apt_records_to_updates(parse_apt_simulation(fixture_text('apt-get-simulate-bookworm.txt'),
                                                                held_names))
    found = by_name(updates)
    assert found['base-files', 'amd64'] == {
        'name': 'base-files', 'arch': 'amd64', 'installed_version': '12.4+deb12u10',
        'candidate_version': '12.4+deb12u11', 'origin': 'Debian:12.11/stable', 'security': False,
        'obsoletes': [],
    }
    assert found['libssl3', 'amd64']['security'] is True
    assert found['libssl3', 'amd64']['origin'] == 'Debian-Security:12/bookworm-security'
    # Offered by both the point release and the security suite: security, and the security origin is shown.
    assert found['libc6', 'i386']['security'] is True
    assert found['libc6', 'i386']['origin'] == 'Debian-Security:12/bookworm-security'
    assert found['tzdata', 'all']['security'] is False
    assert [item['name'] for item in held] == ['openssh-server']
    assert ('openssh-server', 'amd64') not in found


def test_hold_given_with_architecture_matches():
    text = fixture_text('apt-get-simulate-bookworm.txt')
    _updates, held = apt_records_to_updates(parse_apt_simulation(text, ['libc6:i386']))
    assert [(item['name'], item['arch']) for item in held] == [('libc6', 'i386')]


def test_ubuntu_security_pocket():
    updates, held = apt_records_to_updates(parse_apt_simulation(fixture_text('apt-get-simulate-jammy.txt')))
    security = dict((item['name'], item['security']) for item in updates)
    assert security == {'curl': True, 'libcurl4': True, 'systemd': False, 'ubuntu-advantage-tools': False}
    assert by_name(updates)['curl', 'amd64']['origin'] == 'Ubuntu:22.04/jammy-security'
    assert held == []


def test_python_apt_records_give_the_same_result_as_the_simulation():
    records = json.loads(fixture_text('python-apt-records-bookworm.json'))
    from_cache = apt_records_to_updates(records)
    held_names = parse_showhold(fixture_text('apt-mark-showhold.txt'))
    from_simulation = apt_records_to_updates(
        parse_apt_simulation(fixture_text('apt-get-simulate-bookworm.txt'), held_names))
    assert sorted(from_cache[0], key=lambda item: (item['name'], item['arch'])) == \
        sorted(from_simulation[0], key=lambda item: (item['name'], item['arch']))
    assert from_cache[1] == from_simulation[1]


def test_record_without_origins_is_not_security():
    record = {'name': 'fleet-agent', 'arch': 'amd64', 'installed_version': '1.0', 'candidate_version': '1.1',
              'held': False, 'origins': []}
    updates, _held = apt_records_to_updates([record])
    assert updates[0]['security'] is False
    assert updates[0]['origin'] == ''


def test_simulation_without_upgrades():
    text = ('Reading package lists...\nBuilding dependency tree...\nReading state information...\n'
            'Calculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n')
    assert parse_apt_simulation(text) == []
