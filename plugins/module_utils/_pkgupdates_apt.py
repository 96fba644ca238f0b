# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending apt updates, read through python3-apt or parsed from an apt-get simulation.

Both paths produce the same plain records, one per upgradable installed package:
{name, arch, installed_version, candidate_version, held, origins}, where origins is a list of
{origin, label, version, archive, codename} for the repositories offering the candidate.
apt_records_to_updates() turns records into update dicts; it is pure and unit-tested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates import make_update

try:
    import apt_pkg
except ImportError:
    apt_pkg = None

# 'Inst libperl5.36 [5.36.0-7+deb12u2] (5.36.0-7+deb12u4 Debian-Security:12/oldstable-security [amd64]) []'
# A package that is newly installed has no '[installed]' part and is not an update.
_SIMULATED_UPGRADE = re.compile(
    r'^Inst (?P<name>\S+) \[(?P<installed>[^\]]+)\] '
    r'\((?P<candidate>\S+)(?P<origins>.*?) \[(?P<arch>[^\]\s]+)\]\)'
)


def python_apt_available():
    return apt_pkg is not None


def read_python_apt_records():
    """Read upgradable installed packages from the apt cache with python3-apt (no locks taken).

    Integration on real hosts covers this function; everything it returns is plain data.
    """
    apt_pkg.init()
    cache = apt_pkg.Cache(None)
    depcache = apt_pkg.DepCache(cache)
    records = []
    for package in cache.packages:
        installed = package.current_ver
        if installed is None or not depcache.is_upgradable(package):
            continue
        candidate = depcache.get_candidate_ver(package)
        origins = []
        for package_file, _index in candidate.file_list:
            if package_file.not_source:
                continue
            origins.append({
                'origin': package_file.origin or '',
                'label': package_file.label or '',
                'version': package_file.version or '',
                'archive': package_file.archive or '',
                'codename': package_file.codename or '',
            })
        records.append({
            'name': package.name,
            'arch': candidate.arch,
            'installed_version': installed.ver_str,
            'candidate_version': candidate.ver_str,
            'held': package.selected_state == apt_pkg.SELSTATE_HOLD,
            'origins': origins,
        })
    return records


def parse_simulated_origin(text):
    """'Debian-Security:12/oldstable-security' -> origin dict.

    apt prints 'Label:' only when the repository has a label, then 'Version/Archive', or only
    'Archive' when the Release file has no Version (as in many mirrors and local repositories).
    """
    label, colon, location = text.partition(':')
    if not colon:
        label, location = '', text
    version, slash, archive = location.rpartition('/')
    if not slash:
        version, archive = '', location
    return {'origin': '', 'label': label, 'version': version, 'archive': archive, 'codename': ''}


def parse_apt_simulation(text, held_names=()):
    """Records from `apt-get -s dist-upgrade` output; packages named in held_names are marked held.

    held_names holds names as `apt-mark showhold` prints them ('pkg' or 'pkg:arch').
    """
    held = set(held_names)
    records = []
    for line in text.splitlines():
        match = _SIMULATED_UPGRADE.match(line)
        if match is None:
            continue
        name = match.group('name').split(':', 1)[0]
        arch = match.group('arch')
        origin_texts = [part.strip() for part in match.group('origins').split(',')]
        origins = [parse_simulated_origin(origin_text) for origin_text in origin_texts if origin_text]
        records.append({
            'name': name,
            'arch': arch,
            'installed_version': match.group('installed'),
            'candidate_version': match.group('candidate'),
            'held': name in held or '%s:%s' % (name, arch) in held,
            'origins': origins,
        })
    return records


def parse_showhold(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_security_origin(origin):
    """True for Debian's 'Debian-Security' label and any '*-security' suite (Debian, Ubuntu, mirrors)."""
    if origin['label'].lower().endswith('-security'):
        return True
    return any(origin[key].endswith('-security') for key in ('archive', 'codename'))


def describe_origin(origin):
    """Render an origin the way apt prints it: 'Debian-Security:12/oldstable-security', 'Debian:bookworm'."""
    name = origin['label'] or origin['origin']
    suite = origin['archive'] or origin['codename']
    if origin['version'] and suite:
        location = '%s/%s' % (origin['version'], suite)
    else:
        location = suite or origin['version']
    if name and location:
        return '%s:%s' % (name, location)
    return name or location


def apt_records_to_updates(records):
    """Split records into (updates, held) update dicts, classifying security by origin."""
    updates = []
    held = []
    for record in records:
        security_origins = [origin for origin in record['origins'] if is_security_origin(origin)]
        shown_origins = security_origins or record['origins']
        update = make_update(
            name=record['name'],
            arch=record['arch'],
            installed_version=record['installed_version'],
            candidate_version=record['candidate_version'],
            origin=describe_origin(shown_origins[0]) if shown_origins else '',
            security=bool(security_origins),
        )
        (held if record['held'] else updates).append(update)
    return updates, held
