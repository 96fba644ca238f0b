# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where opsrun.ops.log_scan stopped in each file, and how a file changed since then.

A file is known by its device, inode and a fingerprint (SHA-256 of its first bytes). The state
file holds, per configured path, that identity and the offset (always just after a line end)
and line number where the last run stopped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import json
import os
import re
import stat
import tempfile
import zlib

STATE_VERSION = 1
FINGERPRINT_SIZE = 256
# Entries of files that are gone and were not touched for this long are dropped.
STATE_RETENTION_SECONDS = 30 * 86400
# Rotated generations examined when looking for the previous file, newest first.
MAX_GENERATIONS = 10
# Bytes read from the end of a file to find its last line end (from_start false).
TAIL_PROBE = 64 * 1024

# What decide_action returns.
NEW = "new"
UNCHANGED = "unchanged"
GROWN = "grown"
TRUNCATED = "truncated"
REPLACED = "replaced"

_ENTRY_FIELDS = {"dev": int, "ino": int, "offset": int, "fingerprint": str, "fingerprint_size": int}


class StateError(Exception):
    """The state file cannot be read or written; the message says which and what to do."""


def fingerprint(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def open_log(path, compressed):
    """Open a log file for binary reading; gzip-compressed ones are decompressed on the fly."""
    if compressed:
        return gzip.open(path, "rb")
    return open(path, "rb", buffering=0)


def read_head(path, compressed=False, size=FINGERPRINT_SIZE):
    """The first size bytes of a file (fewer when it is shorter)."""
    with open_log(path, compressed) as stream:
        return stream.read(size)


def make_identity(dev, ino, head):
    return {"dev": dev, "ino": ino, "fingerprint": fingerprint(head), "fingerprint_size": len(head)}


def _same_head(entry, head):
    size = entry["fingerprint_size"]
    return len(head) >= size and fingerprint(head[:size]) == entry["fingerprint"]


def decide_action(entry, dev, ino, size, head):
    """How to continue in a file, given the stored entry and the file's dev, ino, size and head.

    NEW: no entry. UNCHANGED: nothing new. GROWN: continue at the stored offset.
    TRUNCATED: same inode but shorter than the offset or with other first bytes (truncated or
    rewritten in place, as copytruncate does). REPLACED: another inode (rotated by rename);
    a changed device number alone, with the same inode and first bytes, is the same file.
    """
    if entry is None:
        return NEW
    same_head = _same_head(entry, head)
    if ino != entry["ino"] or (dev != entry["dev"] and not same_head):
        return REPLACED
    if size < entry["offset"] or not same_head:
        return TRUNCATED
    if size == entry["offset"]:
        return UNCHANGED
    return GROWN


def _rotated_name(base):
    """Regex of the names logrotate and syslog daemons give to rotated copies of base.

    The last group, "gz", is the compression suffix; the one other group that matched holds
    the generation part.
    """
    suffix = r"[.\-_](\d[\d\-_]*)"
    forms = [re.escape(base) + suffix]
    stem, ext = os.path.splitext(base)
    if stem and ext:
        forms.append(re.escape(stem) + suffix + re.escape(ext))
    return re.compile(r"^(?:%s)(?P<gz>\.gz)?$" % "|".join(forms))


def _recency(match):
    """Orders rotated copies written within the same timestamp tick, higher for the newer.

    A plain number of fewer than 8 digits counts generations (name.1 is newer than name.2);
    anything else is a date or epoch seconds, which grow with time.
    """
    generation = next(group for group in match.groups()[:-1] if group is not None)
    number = int(re.sub(r"\D", "", generation))
    if generation.isdigit() and len(generation) < 8:
        return -number
    return number


def rotated_siblings(path):
    """Rotated generations of path in its directory, newest first.

    Each is (path, compressed, stat result): name.1, name.2.gz, name-20251128, name-20251128.gz,
    stem-20251128.ext and the like. Unreadable entries are skipped.
    """
    directory, base = os.path.split(path)
    pattern = _rotated_name(base)
    found = []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return found
    for name in names:
        match = pattern.match(name)
        if not match:
            continue
        candidate = os.path.join(directory, name)
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((info.st_mtime, _recency(match), candidate, bool(match.group("gz")), info))
    # Quick rotations can leave generations with the same modification time (file timestamps
    # advance in ticks of a few milliseconds, or whole seconds on some file systems).
    found.sort(reverse=True)
    return [item[2:] for item in found]


def _is_previous(entry, candidate, compressed, info):
    if entry["fingerprint_size"] == 0:
        # Nothing was in the file last time: only the inode can tell.
        return not compressed and (info.st_dev, info.st_ino) == (entry["dev"], entry["ino"])
    try:
        head = read_head(candidate, compressed, entry["fingerprint_size"])
    except (OSError, EOFError, zlib.error):
        return False
    return _same_head(entry, head)


def locate_previous(path, entry, current):
    """Find the file the entry describes among the rotated generations of path.

    current is the stat result of path (None when it is missing); that inode is never a
    candidate. Returns (previous, newer): previous is (path, compressed, stat) or None, newer
    lists the generations rotated after it (never read), oldest first.
    """
    candidates = [
        item for item in rotated_siblings(path)
        if current is None or (item[2].st_dev, item[2].st_ino) != (current.st_dev, current.st_ino)
    ][:MAX_GENERATIONS]
    for index, (candidate, compressed, info) in enumerate(candidates):
        if _is_previous(entry, candidate, compressed, info):
            return candidates[index], list(reversed(candidates[:index]))
    return None, []


def tail_offset(path, size):
    """Offset just after the last line end of a file of size bytes (where a tail would start)."""
    if size == 0:
        return 0
    probe = min(size, TAIL_PROBE)
    with open(path, "rb", buffering=0) as stream:
        stream.seek(size - probe)
        tail = stream.read(probe)
    return size - len(tail) + tail.rfind(b"\n") + 1


def _valid_entry(entry):
    if not isinstance(entry, dict):
        return False
    for field, kind in _ENTRY_FIELDS.items():
        if not isinstance(entry.get(field), kind) or isinstance(entry.get(field), bool):
            return False
    line = entry.get("line")
    if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
        return False
    return isinstance(entry.get("updated", 0), (int, float))


def load_state(path):
    """Entries of the state file by path, and a warning (None when all was well).

    A missing file is an empty state. A file that cannot be understood is reported in the
    warning and ignored (every file then counts as seen for the first time). A file that
    cannot be read raises StateError.
    """
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise StateError(
            "cannot read the state file %s: %s; run with become, or set state_file to a file "
            "the connecting user may read and write" % (path, exc.strerror or exc)
        ) from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        return {}, "state file %s is not valid JSON (%s); starting over as if it were empty" % (path, exc)
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION or not isinstance(
        document.get("files"), dict
    ):
        return {}, "state file %s has an unknown layout; starting over as if it were empty" % path
    files = {}
    dropped = []
    for name, entry in document["files"].items():
        if _valid_entry(entry):
            files[name] = entry
        else:
            dropped.append(name)
    warning = None
    if dropped:
        warning = "state file %s has unreadable entries for %s; those files start over" % (
            path, ", ".join(sorted(dropped)))
    return files, warning


def save_state(path, files):
    """Write the state atomically: a 0600 temporary file in the same directory, then rename.

    A missing directory is created with mode 0700.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
            os.chmod(directory, 0o700)
        handle, temporary = tempfile.mkstemp(prefix=".log_scan.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateError(
            "cannot write the state file %s: %s; run with become, or set state_file to a path "
            "the connecting user may write" % (path, exc.strerror or exc)
        ) from None
    try:
        with os.fdopen(handle, "w") as stream:
            os.fchmod(stream.fileno(), 0o600)
            json.dump({"version": STATE_VERSION, "files": files}, stream, sort_keys=True, indent=1)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise StateError("cannot write the state file %s: %s" % (path, exc.strerror or exc)) from None


def prune_entries(files, now, exists):
    """Drop entries of files that no longer exist and were not updated for the retention time."""
    return {
        name: entry for name, entry in files.items()
        if exists(name) or now - entry.get("updated", 0) < STATE_RETENTION_SECONDS
    }
