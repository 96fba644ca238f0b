# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing one archive: tar streamed into zstd (or gzip), every member hashed as it is read.

The archive is written under a temporary name ending in ``.partial``, fsynced, and renamed only
after its manifest is in place, so a run killed at any point leaves nothing that looks finished.
Each member's SHA-256 is taken over exactly the bytes that go into the archive, so the manifest
describes the archive even when a log changes while it is read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import grp
import gzip
import hashlib
import os
import pwd
import stat
import subprocess
import tarfile
import tempfile
import time

from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import (
    MANIFEST_FORMAT,
    PARTIAL_SUFFIX,
    READ_SIZE,
    ArchiveError,
    dump_manifest,
    fsync_dir,
    remove_quietly,
    sha256_file,
    write_atomic,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_select import (
    EXTENSIONS,
    MANIFEST_SUFFIX,
    base_name,
)

# (lowest, highest, default) level. zstd's level 1 compresses logs about as well as gzip -6 does, for a
# fraction of its CPU time; higher levels trade much more CPU for a few percent.
LEVELS = {"zstd": (1, 19, 1), "gzip": (1, 9, 6)}


class MemberReader:
    """What tarfile reads a member's data from: exactly ``size`` bytes, hashed on the way.

    A file that shrinks while it is read (truncated in place, as copytruncate does) is padded
    with NUL bytes up to the size the tar header already announced, the way GNU tar does;
    ``padded`` then says how many bytes were made up.
    """

    def __init__(self, stream, size):
        self._stream = stream
        self._remaining = size
        self.digest = hashlib.sha256()
        self.padded = 0

    def read(self, size=-1):
        if self._remaining <= 0:
            return b""
        want = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._stream.read(want)
        if len(data) < want:
            self.padded += want - len(data)
            data += b"\0" * (want - len(data))
        self._remaining -= want
        self.digest.update(data)
        return data


class _CountingSink:
    """A write-only file object for tarfile that counts what passed, so a pipe can be its target."""

    def __init__(self, stream):
        self._stream = stream
        self._offset = 0

    def write(self, data):
        self._stream.write(data)
        self._offset += len(data)
        return len(data)

    def tell(self):
        return self._offset


class ZstdCompressor:
    """A ``zstd`` process that compresses its standard input into the archive file."""

    def __init__(self, binary, level, threads, out_stream, err_stream):
        self.command = [binary, "-q", "-c", "-%d" % level, "-T%d" % threads]
        # A pipe is needed to stream tar into zstd; run_command takes its input in memory only.
        self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=out_stream,
                                         stderr=err_stream, close_fds=True)
        self._err_stream = err_stream
        self.stream = self._process.stdin

    def _stderr(self):
        self._err_stream.seek(0)
        return self._err_stream.read().decode("utf-8", "replace").strip()

    def finish(self):
        with contextlib.suppress(OSError):  # zstd already exited; its exit status says why
            self.stream.close()
        rc = self._process.wait()
        if rc != 0:
            raise ArchiveError("%s exited %d: %s; is the staging directory's file system full?"
                               % (" ".join(self.command), rc, self._stderr() or "no message"))

    def abort(self):
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def explain(self, exc):
        """An ArchiveError for a write that failed because zstd stopped reading its input."""
        self.abort()
        message = self._stderr() or "no message"
        return ArchiveError("%s stopped reading (%s): %s" % (" ".join(self.command), exc, message))


class GzipCompressor:
    """gzip in this process: the fallback when zstd is not installed."""

    def __init__(self, level, out_stream, mtime):
        self._out = out_stream
        self.stream = gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=out_stream,
                                    mtime=mtime)

    def finish(self):
        self.stream.close()
        self._out.flush()

    def abort(self):
        with contextlib.suppress(OSError):  # the archive is discarded; the first error is the one reported
            self.stream.close()


def resolve_compression(requested, zstd_path, level):
    """(compression, level) to use; raises ValueError when it cannot be had."""
    compression = requested
    if requested == "auto":
        compression = "zstd" if zstd_path else "gzip"
    if compression == "zstd" and not zstd_path:
        raise ValueError("compression=zstd but the zstd command is not installed on this host; install "
                         "the zstd package, or use compression=auto (gzip when zstd is missing) or gzip")
    low, high, default = LEVELS[compression]
    if level is None:
        return compression, default
    if not low <= level <= high:
        raise ValueError("compression_level must be between %d and %d for %s, not %d"
                         % (low, high, compression, level))
    return compression, level


class _Names:
    """User and group names of members, looked up once per id."""

    def __init__(self):
        self._users = {}
        self._groups = {}

    def user(self, uid):
        if uid not in self._users:
            try:
                self._users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self._users[uid] = ""
        return self._users[uid]

    def group(self, gid):
        if gid not in self._groups:
            try:
                self._groups[gid] = grp.getgrgid(gid).gr_name
            except KeyError:
                self._groups[gid] = ""
        return self._groups[gid]


def _add_member(tar, path, names):
    """Append one file; return (member record, None) or (None, skip reason) when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return None, "could not be opened (%s); it may have been rotated away" % (exc.strerror or exc)
    with os.fdopen(fd, "rb") as stream:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size = st.st_size
        info.mtime = int(st.st_mtime)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname, info.gname = names.user(st.st_uid), names.group(st.st_gid)
        reader = MemberReader(stream, st.st_size)
        tar.addfile(info, reader)
        shrank = reader.padded > 0 or os.fstat(fd).st_size < st.st_size
    return {
        "path": path,
        "name": info.name,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "mode": "%04o" % info.mode,
        "sha256": reader.digest.hexdigest(),
        "changed_while_read": shrank,
    }, None


def _write_tar(files, stream, members, skipped):
    """Stream the files as a tar archive into stream; append member records and skip reasons."""
    names = _Names()
    with tarfile.open(fileobj=_CountingSink(stream), mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.copybufsize = READ_SIZE
        for path, _selected in files:
            member, reason = _add_member(tar, path, names)
            if member is None:
                skipped.append({"path": path, "reason": reason})
            else:
                members.append(member)


def build_archive(files, staging_dir, plan, now):
    """Write the archive of ``files`` (path, stat) into ``staging_dir``; return its manifest.

    ``plan`` holds host, period, period_key, compression, level, threads, zstd (the binary's path)
    and skipped/unmatched from the selection. The manifest is written before the archive gets its
    final name; the archive is renamed last.
    """
    base = base_name(plan["host"], plan["period_key"])
    name = base + EXTENSIONS[plan["compression"]]
    final = os.path.join(staging_dir, name)
    manifest_path = os.path.join(staging_dir, base + MANIFEST_SUFFIX)
    fd, partial = tempfile.mkstemp(prefix="." + name + ".", suffix=PARTIAL_SUFFIX, dir=staging_dir)
    members = []
    skipped = list(plan["skipped"])
    try:
        with os.fdopen(fd, "wb") as out, tempfile.TemporaryFile() as errors:
            if plan["compression"] == "zstd":
                compressor = ZstdCompressor(plan["zstd"], plan["level"], plan["threads"], out, errors)
            else:
                compressor = GzipCompressor(plan["level"], out, int(now))
            try:
                _write_tar(files, compressor.stream, members, skipped)
            except BrokenPipeError as exc:
                raise compressor.explain(exc) from None
            except OSError as exc:
                compressor.abort()
                raise ArchiveError("writing the archive %s failed: %s; is the staging directory's "
                                   "file system full?" % (partial, exc)) from None
            except BaseException:
                compressor.abort()
                raise
            compressor.finish()
            out.flush()
            os.fsync(out.fileno())
        manifest = {
            "format": MANIFEST_FORMAT,
            "host": plan["host"],
            "period": plan["period"],
            "period_key": plan["period_key"],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
            "created_epoch": now,
            "archive": {
                "name": name,
                "compression": plan["compression"],
                "level": plan["level"],
                "sha256": sha256_file(partial),
                "size": os.path.getsize(partial),
            },
            "input_bytes": sum(member["size"] for member in members),
            "members": members,
            "skipped": skipped,
            "unmatched": plan["unmatched"],
        }
        write_atomic(manifest_path, dump_manifest(manifest))
        os.rename(partial, final)
        fsync_dir(staging_dir)
    except BaseException:
        remove_quietly(partial)
        raise
    return manifest
