# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending dnf/yum updates parsed from `check-update`, `updateinfo list` and `rpm -q` output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates import make_update

# check-update exits 100 when updates are pending, 0 when there are none, anything else on error.
CHECK_UPDATE_PENDING = 100

OBSOLETING_HEADER = 'Obsoleting Packages'

_NAME_ARCH = re.compile(r'^(?P<name>\S+)\.(?P<arch>[A-Za-z0-9_]+)$')
_EVR = re.compile(r'^(?:\d+:)?[^\s:-]+-[^\s-]+$')
_NEVRA = re.compile(r'^(?P<name>\S+)-(?P<evr>(?:\d+:)?[^\s:-]+-[^\s-]+)\.(?P<arch>[A-Za-z0-9_]+)$')

RPM_QUERY_FORMAT = '%{NAME}\\t%{ARCH}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{INSTALLTIME}\\n'


def _check_update_rows(text):
    """Yield (section, tokens) for each logical row; long names make dnf/yum wrap a row onto the next line."""
    section = 'updates'
    pending = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        if stripped == OBSOLETING_HEADER:
            section = 'obsoleting'
            pending = []
            continue
        tokens = stripped.split()
        pending = pending + tokens if line[0].isspace() else tokens
        if len(pending) < 3:
            continue
        if len(pending) == 3:
            yield section, pending
        pending = []


def parse_check_update(text):
    """Parse `dnf check-update` output.

    Returns (available, obsoleted): available is a list of {name, arch, version, repo};
    obsoleted maps 'name.arch' of an obsoleting package to the 'name.arch' it replaces.
    Lines that are not package rows (plugin notices, headers) are skipped.
    """
    available = []
    obsoleted = {}
    last_obsoleting = None
    for section, (name_arch, version, repo) in _check_update_rows(text):
        name_match = _NAME_ARCH.match(name_arch)
        if name_match is None or _EVR.match(version) is None:
            continue
        if section == 'obsoleting' and repo.startswith('@'):
            # An installed package ('@repo') listed under the obsoleting package above it.
            if last_obsoleting is not None:
                obsoleted.setdefault(last_obsoleting, []).append(name_arch)
            continue
        row = {'name': name_match.group('name'), 'arch': name_match.group('arch'),
               'version': version, 'repo': repo}
        if section == 'obsoleting':
            last_obsoleting = name_arch
        available.append(row)
    return available, obsoleted


def parse_security_advisories(text):
    """Set of (name, arch) named by `updateinfo list security` rows.

    Rows read 'RHSA-2025:4051 Important/Sec. kernel-5.14.0-503.40.1.el9_5.x86_64'; verbose dnf
    appends the issue date, so the package is the first token after id and type that is a NEVRA.
    """
    packages = set()
    for line in text.splitlines():
        for token in line.split()[2:]:
            match = _NEVRA.match(token)
            if match is not None:
                packages.add((match.group('name'), match.group('arch')))
                break
    return packages


def parse_rpm_query(text):
    """Map (name, arch) to the installed 'epoch:version-release' from RPM_QUERY_FORMAT lines.

    Install-only packages (kernels) are installed several times; the most recently installed wins.
    """
    newest = {}
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) != 6 or not fields[5].isdigit():
            continue
        name, arch, epoch, version, release, install_time = fields
        evr = '%s-%s' % (version, release)
        if epoch not in ('(none)', '0'):
            evr = '%s:%s' % (epoch, evr)
        key = (name, arch)
        if key not in newest or int(install_time) >= newest[key][0]:
            newest[key] = (int(install_time), evr)
    return dict((key, value[1]) for key, value in newest.items())


def dnf_updates(available, obsoleted, security_packages, installed):
    """Combine parsed outputs into update dicts.

    A package listed both as an update and as obsoleting (dnf repeats same-name obsoletes) counts once.
    """
    updates = []
    seen = set()
    for row in available:
        key = (row['name'], row['arch'])
        if key in seen:
            continue
        seen.add(key)
        name_arch = '%s.%s' % key
        updates.append(make_update(
            name=row['name'],
            arch=row['arch'],
            installed_version=installed.get(key),
            candidate_version=row['version'],
            origin=row['repo'],
            security=key in security_packages,
            obsoletes=[replaced for replaced in obsoleted.get(name_arch, []) if replaced != name_arch],
        ))
    return updates
