# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which log files go into an archive, and what the archive of a host and period is called.

An archive is named ``<host>_<period key>.tar.<zst|gz>``: the host label and the period key are
the idempotency key of a backup, so a second run in the same period finds the first one's archive.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import os
import re
import stat
import time

PERIOD_FORMATS = {
    "hourly": "%Y-%m-%dT%H",
    "daily": "%Y-%m-%d",
    "weekly": "%G-W%V",
    "monthly": "%Y-%m",
}
EXTENSIONS = {"zstd": ".tar.zst", "gzip": ".tar.gz"}
COMPRESSION_OF_EXTENSION = dict((ext, kind) for kind, ext in EXTENSIONS.items())
MANIFEST_SUFFIX = ".manifest.json"
# The host label may hold underscores; the period key may not, so the name splits at its last one.
HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PERIOD_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
ARCHIVE_NAME_RE = re.compile(r"^(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*)_(?P<key>[A-Za-z0-9][A-Za-z0-9.-]*)"
                             r"(?P<ext>\.tar\.zst|\.tar\.gz)$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text, option):
    """Seconds in a duration such as ``90``, ``30m``, ``12h``, ``2d`` or ``1w``; None when empty.

    Raises ValueError naming the option.
    """
    if text is None or not str(text).strip():
        return None
    match = _DURATION_RE.match(str(text))
    if not match:
        raise ValueError("%s must be a number of seconds or a number with a unit s, m, h, d or w "
                         "(such as 30m or 2d), not %r" % (option, text))
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def period_key(period, when):
    """The key of the period that contains the epoch time ``when``, in the host's local time."""
    return time.strftime(PERIOD_FORMATS[period], time.localtime(when))


def check_host_label(label):
    if not HOST_LABEL_RE.match(label or ""):
        raise ValueError("host must start with a letter or digit and hold only letters, digits, '.', '_' "
                         "and '-' (it becomes part of file names), not %r" % label)


def check_period_key(key):
    if not PERIOD_KEY_RE.match(key or ""):
        raise ValueError("period_key must start with a letter or digit and hold only letters, digits, '.' "
                         "and '-', not %r" % key)


def base_name(host, key):
    """The archive's name without its extension: the host label and the period key."""
    return "%s_%s" % (host, key)


def parse_archive_name(name):
    """(host, period key, compression) of an archive file name, or None for any other name."""
    match = ARCHIVE_NAME_RE.match(name)
    if not match:
        return None
    return match.group("host"), match.group("key"), COMPRESSION_OF_EXTENSION[match.group("ext")]


def manifest_name(archive_name):
    """The manifest's file name for an archive file name."""
    for ext in EXTENSIONS.values():
        if archive_name.endswith(ext):
            return archive_name[:-len(ext)] + MANIFEST_SUFFIX
    raise ValueError("%r is not an archive name (.tar.zst or .tar.gz)" % archive_name)


def _excluded(path, patterns):
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(path if "/" in pattern else name, pattern) for pattern in patterns)


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class Selection:
    """The outcome of selecting files: what goes in, what was left out and why."""

    def __init__(self):
        self.files = []  # (path, os.stat_result), in archive order
        self.skipped = []  # {"path", "reason"}
        self.unmatched = []  # globs that matched no file


def _skip_reason(path, st, exclude, ages, *, now, never_inside):
    """Why a file the globs matched stays out of the archive, or None when it goes in."""
    min_age, max_age = ages
    checks = (
        (stat.S_ISLNK(st.st_mode), "symbolic link (not followed)"),
        (not stat.S_ISREG(st.st_mode), "not a regular file"),
        (any(_inside(path, directory) for directory in never_inside), "inside the staging directory"),
        (_excluded(path, exclude), "excluded"),
        (min_age is not None and now - st.st_mtime < min_age, "newer than min_age"),
        (max_age is not None and now - st.st_mtime > max_age, "older than max_age"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    if not os.access(path, os.R_OK):
        return "not readable; run with become"
    return None


def _expand(pattern):
    """Paths and lstat results of what a glob (or a plain path) names, directories left out."""
    matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
    found = []
    for match in matches:
        path = os.path.normpath(match)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            found.append((path, st))
    return found


def select_files(patterns, exclude, ages, now, never_inside=()):
    """Expand the globs and keep the regular files that pass the exclusions and the age limits.

    ``ages`` is (min_age, max_age) in seconds, either None: by modification time, a file must be at
    least min_age old and at most max_age old. Symbolic links are never followed, so an archive
    cannot reach outside the configured paths. Files inside any directory of ``never_inside`` (the
    staging directory) are left out. Raises ValueError for a relative glob.
    """
    selection = Selection()
    seen = set()
    for pattern in patterns:
        if not os.path.isabs(pattern):
            raise ValueError("paths must be absolute globs (such as /var/log/*.log), not %r" % pattern)
        found = _expand(pattern)
        if not found:
            selection.unmatched.append(pattern)
        for path, st in found:
            if path in seen:
                continue
            seen.add(path)
            reason = _skip_reason(path, st, exclude, ages, now=now, never_inside=never_inside)
            if reason is None:
                selection.files.append((path, st))
            else:
                selection.skipped.append({"path": path, "reason": reason})
    return selection
