# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of patching: which updates to take, waiting for apt's locks, free space, what changed.

Nothing here runs a command; the modules patch_precheck and package_upgrade do, and pass the
results in. Clock, sleep and statvfs are parameters so tests need no real host state.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import time

from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_lock import describe_lock, lock_status

# The locks apt-get and dpkg take before changing packages, in the order they take them.
APT_LOCKS = (
    '/var/lib/dpkg/lock-frontend',
    '/var/lib/dpkg/lock',
    '/var/cache/apt/archives/lock',
    '/var/lib/apt/lists/lock',
)
LOCK_POLL_SECONDS = 0.5
MEBIBYTE = 1024 * 1024


def first_match(name, patterns):
    """The first fnmatch pattern (case-sensitive) that NAME matches, or None."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def select_updates(updates, exclude=(), allow=()):
    """Split package_updates_info's updates into (selected, skipped).

    An update is skipped when its name matches an EXCLUDE pattern, or when ALLOW is not empty and
    its name matches none of those patterns. Each skipped entry is {'name', 'reason'}.
    """
    selected, skipped = [], []
    for update in updates:
        name = update['name']
        pattern = first_match(name, exclude)
        if pattern is not None:
            skipped.append({'name': name, 'reason': 'excluded by %s' % pattern})
        elif allow and first_match(name, allow) is None:
            skipped.append({'name': name, 'reason': 'not in the allowed packages'})
        else:
            selected.append(update)
    return selected, skipped


def held_locks(paths=APT_LOCKS, proc_root='/proc', status_of=lock_status):
    """Lock status of each path that some process holds now."""
    held = []
    for path in paths:
        status = status_of(path, proc_root)
        if status['held']:
            held.append(status)
    return held


def wait_for_locks(timeout, paths=APT_LOCKS, *, proc_root='/proc', status_of=lock_status,
                   clock=time.monotonic, sleep=time.sleep):
    """Poll until no path is held or TIMEOUT seconds passed; return (still held, seconds waited)."""
    started = clock()
    while True:
        held = held_locks(paths, proc_root, status_of)
        waited = clock() - started
        if not held or waited >= timeout:
            return held, round(waited, 1)
        sleep(min(LOCK_POLL_SECONDS, max(0.0, timeout - waited)))


def describe_held(held):
    """'/var/lib/dpkg/lock-frontend is held by pid 812 (python3)' for every held lock, joined."""
    return '; '.join(describe_lock(status) for status in held)


def free_space_checks(min_free_mb, statvfs=os.statvfs):
    """One check per path of MIN_FREE_MB ({path: MiB}): name, ok, detail, path, free_mb, min_mb."""
    checks = []
    for path in sorted(min_free_mb):
        minimum = int(min_free_mb[path])
        check = {'name': 'free_space', 'path': path, 'min_mb': minimum, 'free_mb': None}
        try:
            stat = statvfs(path)
        except OSError as error:
            check.update(ok=False, detail='cannot read the free space of %s: %s' % (path, error.strerror))
            checks.append(check)
            continue
        free = stat.f_bavail * stat.f_frsize // MEBIBYTE
        check['free_mb'] = free
        check['ok'] = free >= minimum
        check['detail'] = '%s has %d MiB free, %s %d MiB' % (
            path, free, 'at least' if check['ok'] else 'below the minimum of', minimum)
        checks.append(check)
    return checks


def parse_dpkg_versions(text):
    """'name<TAB>version<TAB>status' lines of dpkg-query -W into {name: version} of installed packages."""
    versions = {}
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) != 3 or not fields[0]:
            continue
        name, version, status = fields
        if status.split()[-1:] in (['installed'], ['half-configured'], ['unpacked']):
            versions[name.split(':')[0]] = version
    return versions


def upgrade_arguments(selected):
    """apt-get install arguments that pin every selected package to its planned version."""
    return ['%s=%s' % (update['name'], update['candidate_version']) for update in selected]


def package_changes(selected, before, after):
    """What changed, per selected package: {'name', 'from', 'to', 'security', 'origin'}.

    BEFORE and AFTER are {name: version} read from dpkg; a package whose version did not move is
    left out, so the list is what was really done, not what was planned.
    """
    changes = []
    for update in selected:
        name = update['name']
        old, new = before.get(name, update['installed_version']), after.get(name)
        if new is None or new == old:
            continue
        changes.append({'name': name, 'from': old, 'to': new, 'security': bool(update['security']),
                        'origin': update.get('origin')})
    return changes


def planned_changes(selected):
    """The changes check mode reports: each selected update as it would be applied."""
    return [{'name': update['name'], 'from': update['installed_version'], 'to': update['candidate_version'],
             'security': bool(update['security']), 'origin': update.get('origin')} for update in selected]
