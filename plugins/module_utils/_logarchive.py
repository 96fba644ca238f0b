# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files of opsrun.ops.log_archive: manifests, verification markers and durable writes.

Next to every archive ``<host>_<key>.tar.zst`` lie its manifest ``<host>_<key>.manifest.json``
(the SHA-256, size and modification time of every member, and the archive's own SHA-256) and,
once the archive was verified at the backup destination, the marker ``<archive>.sha256``: two
lines in ``sha256sum`` format, for the archive and for the manifest. Only an archive whose marker,
manifest and bytes agree counts as a backup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile

MANIFEST_FORMAT = "opsrun.log_archive/1"
MARKER_SUFFIX = ".sha256"
PART_SUFFIX = ".part"
PARTIAL_SUFFIX = ".partial"
READ_SIZE = 1 << 20


class ArchiveError(Exception):
    """A failure with a message that says what failed and what to do."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while True:
            block = stream.read(READ_SIZE)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data, mode=0o600):
    """Write bytes to path durably: a temporary file in the same directory, fsync, rename, fsync."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(directory)


def remove_quietly(path):
    """Remove a file; a file that is already gone is fine."""
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def ensure_dir(path, mode=0o700):
    if not os.path.isdir(path):
        os.makedirs(path, mode)


def dump_manifest(manifest):
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")


def load_manifest(path):
    """The manifest at path; raises ArchiveError when it is missing, unreadable or not a manifest."""
    try:
        with open(path, "rb") as stream:
            manifest = json.loads(stream.read().decode("utf-8"))
    except OSError as exc:
        raise ArchiveError("cannot read the manifest %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:
        raise ArchiveError("the manifest %s is not valid JSON (%s); it was cut short or is not a manifest"
                           % (path, exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ArchiveError("%s is not a log archive manifest (format %s expected)" % (path, MANIFEST_FORMAT))
    archive = manifest.get("archive")
    if (not isinstance(archive, dict) or not isinstance(archive.get("sha256"), str)
            or not isinstance(archive.get("name"), str) or not isinstance(archive.get("size"), int)
            or not isinstance(manifest.get("members"), list)):
        raise ArchiveError("the manifest %s lacks the archive's name, size or SHA-256 or the member list"
                           % path)
    return manifest


def format_marker(archive_name, archive_sha256, manifest_file_name, manifest_sha256):
    """The marker's text: the archive's and the manifest's SHA-256 in sha256sum format."""
    text = "%s  %s\n%s  %s\n" % (archive_sha256, archive_name, manifest_sha256, manifest_file_name)
    return text.encode("utf-8")


def read_marker(path):
    """{file name: sha256} from a marker, or None when it is missing or not in the expected form."""
    try:
        with open(path, "rb") as stream:
            text = stream.read(4096).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    sums = {}
    for line in text.splitlines():
        parts = line.split("  ", 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            return None
        sums[parts[1]] = parts[0]
    return sums
