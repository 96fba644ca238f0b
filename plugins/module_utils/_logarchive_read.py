# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading archives back: every member checked against the manifest, and safe extraction."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import posixpath
import subprocess
import tarfile
import tempfile

from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import (
    READ_SIZE,
    ArchiveError,
    ensure_dir,
    fsync_dir,
    remove_quietly,
)


class _ArchiveReader:
    """``with _ArchiveReader(path, compression, zstd) as tar:`` reads an archive as a tar stream.

    A zstd archive is decompressed by ``zstd -d`` into a pipe: tarfile reads it as it comes, where
    run_command would hold it all in memory. When the body fails, zstd is killed; otherwise the rest
    of its output is drained and its exit status checked.
    """

    def __init__(self, path, compression, zstd):
        if compression == "zstd" and not zstd:
            raise ArchiveError("%s is zstd-compressed and the zstd command is not installed on this host; "
                               "install the zstd package to check or extract its members" % path)
        self._path = path
        self._command = [zstd, "-d", "-c", "-q", path] if compression == "zstd" else None
        self._process = None
        self._errors = None
        self._tar = None

    def __enter__(self):
        if self._command is None:
            self._tar = tarfile.open(self._path, mode="r|gz")
            return self._tar
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, stderr=self._errors,
                                         close_fds=True)
        try:
            self._tar = tarfile.open(fileobj=self._process.stdout, mode="r|")
        except BaseException:
            self._stop()
            raise
        return self._tar

    def _stop(self):
        self._process.kill()
        self._process.wait()
        self._process.stdout.close()
        self._errors.close()

    def __exit__(self, exc_type, exc_value, traceback):
        self._tar.close()
        if self._process is None:
            return False
        if exc_type is not None:
            self._stop()
            return False
        while self._process.stdout.read(READ_SIZE):
            pass  # the zero blocks after tar's end marker
        self._process.stdout.close()
        rc = self._process.wait()
        self._errors.seek(0)
        message = self._errors.read().decode("utf-8", "replace").strip() or "no message"
        self._errors.close()
        if rc != 0:
            raise ArchiveError("%s exited %d: %s" % (" ".join(self._command), rc, message))
        return False


def _safe_name(name):
    """A member name that stays inside the extraction directory, or None."""
    normal = posixpath.normpath(name)
    if name.startswith("/") or normal.startswith("../") or normal in ("..", ".", ""):
        return None
    return normal


def _check_member(path, info, member, data, visit):
    """Hand the member's data to visit while hashing it; a problem when it differs from the manifest."""
    digest = hashlib.sha256()
    size = [0]

    def chunks():
        while True:
            block = data.read(READ_SIZE)
            if not block:
                return
            digest.update(block)
            size[0] += len(block)
            yield block

    visit(info, member, chunks())
    if size[0] == member["size"] and digest.hexdigest() == member["sha256"]:
        return None
    return ("%s: member %s does not match its manifest (size %d, SHA-256 %s; manifest: size %d, SHA-256 %s)"
            % (path, info.name, size[0], digest.hexdigest(), member["size"], member["sha256"]))


def walk_members(path, compression, zstd, manifest, visit):
    """Read every member of the archive and check it against the manifest.

    ``visit(info, expected, chunks)`` is called for each member that the manifest lists, with an
    iterator over its data; it must consume the iterator. Returns a list of problems (empty when every
    member's name, size and SHA-256 match the manifest and nothing is missing or extra).
    Raises ArchiveError when the archive cannot be read at all.
    """
    expected = dict((member["name"], member) for member in manifest["members"])
    problems = []
    try:
        with _ArchiveReader(path, compression, zstd) as tar:
            for info in tar:
                member = expected.pop(info.name, None)
                if member is None:
                    problems.append("%s holds %s, which its manifest does not list" % (path, info.name))
                elif not info.isreg() or _safe_name(info.name) is None:
                    problems.append("%s: member %s is not a plain file with a relative name"
                                    % (path, info.name))
                else:
                    problem = _check_member(path, info, member, tar.extractfile(info), visit)
                    if problem:
                        problems.append(problem)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveError("cannot read %s: %s; the archive is damaged" % (path, exc)) from None
    for name in sorted(expected):
        problems.append("%s lacks member %s, which its manifest lists" % (path, name))
    return problems


def check_members(path, compression, zstd, manifest):
    """Problems found by reading every member (see walk_members)."""

    def drain(_info, _member, chunks):
        for _block in chunks:
            pass

    return walk_members(path, compression, zstd, manifest, drain)


def extract_members(path, compression, zstd, manifest, target_dir):
    """Extract every member under target_dir, each checked against the manifest before it is kept.

    Files are written 0600 under temporary names and renamed when complete; a member whose data do
    not match the manifest is removed again and the extraction fails. Existing files are never
    overwritten. Returns (files written, bytes written).
    """
    ensure_dir(target_dir)
    written = []

    def write(info, member, chunks):
        target = os.path.join(target_dir, _safe_name(info.name))
        if os.path.lexists(target):
            raise ArchiveError("%s already exists; extract into an empty directory" % target)
        tmp = None
        try:
            directory = os.path.dirname(target)
            ensure_dir(directory)
            fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp",
                                       dir=directory)
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as stream:
                for block in chunks:
                    digest.update(block)
                    stream.write(block)
                stream.flush()
                os.fsync(stream.fileno())
            if digest.hexdigest() != member["sha256"]:
                raise ArchiveError("member %s of %s does not match its manifest; it was not kept"
                                   % (info.name, path))
            os.utime(tmp, ns=(member["mtime_ns"], member["mtime_ns"]))
            os.rename(tmp, target)
            tmp = None
            fsync_dir(directory)
        except OSError as exc:
            raise ArchiveError("writing %s failed: %s" % (target, exc)) from None
        finally:
            if tmp is not None:
                remove_quietly(tmp)
        written.append((target, member["size"]))

    problems = walk_members(path, compression, zstd, manifest, write)
    if problems:
        raise ArchiveError("; ".join(problems))
    return [name for name, _size in written], sum(size for _name, size in written)
