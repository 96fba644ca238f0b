# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package-manager-neutral handling of pending updates: filtering and reboot implications.

An update is a plain dict with the keys name, arch, installed_version, candidate_version,
origin, security and obsoletes; the apt and dnf helpers produce them, this file judges them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

# Updates to these packages only take full effect after a reboot: the running kernel, the C
# library every process has mapped, PID 1, the system bus and CPU microcode loaded at boot.
# Patterns are matched against the package name; the first matching category wins.
REBOOT_CATEGORIES = (
    ('kernel', ('linux-image-*', 'kernel', 'kernel-core', 'kernel-rt-core', 'kernel-uek', 'kernel-uek-core')),
    ('libc', ('libc6', 'glibc')),
    ('systemd', ('systemd',)),
    ('dbus', ('dbus', 'dbus-daemon', 'dbus-broker')),
    ('microcode', ('*-microcode', 'microcode_ctl')),
)


def make_update(*, name, arch, installed_version, candidate_version, origin, security, obsoletes=()):
    """Build one update record; every producer goes through here so all records share one shape."""
    return {
        'name': name,
        'arch': arch,
        'installed_version': installed_version,
        'candidate_version': candidate_version,
        'origin': origin,
        'security': bool(security),
        'obsoletes': sorted(obsoletes),
    }


def sort_updates(updates):
    return sorted(updates, key=lambda update: (update['name'], update['arch']))


def _matches_any(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def filter_updates(updates, name_patterns=None, security_only=False):
    """Keep updates whose name matches one of the fnmatch patterns (all when none given)."""
    kept = []
    for update in updates:
        if security_only and not update['security']:
            continue
        if name_patterns and not _matches_any(update['name'], name_patterns):
            continue
        kept.append(update)
    return kept


def reboot_category(package_name):
    """Return why updating this package implies a reboot ('kernel', 'libc', ...), or None."""
    for category, patterns in REBOOT_CATEGORIES:
        if _matches_any(package_name, patterns):
            return category
    return None


def reboot_reasons(updates):
    """One line per update that implies a reboot, e.g. 'kernel: linux-image-amd64 6.1.129-1'."""
    reasons = []
    for update in updates:
        category = reboot_category(update['name'])
        if category is not None:
            reasons.append('%s: %s %s' % (category, update['name'], update['candidate_version']))
    return reasons


def summarize(updates, held, *, manager, backend, cache_updated, name_patterns=None, security_only=False):
    """The module result (without 'changed') for the given raw updates and held packages."""
    selected = sort_updates(filter_updates(updates, name_patterns, security_only))
    reasons = reboot_reasons(selected)
    return {
        'updates': selected,
        'count': len(selected),
        'security_count': sum(1 for update in selected if update['security']),
        'held': sort_updates(filter_updates(held, name_patterns, security_only)),
        'manager': manager,
        'backend': backend,
        'reboot_required_after_update': bool(reasons),
        'reboot_reasons': reasons,
        'cache_updated': cache_updated,
    }
