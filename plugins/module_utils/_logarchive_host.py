# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source host's staging directory: building archives, recording verification, cleaning up logs.

The staging directory keeps the archive of the latest period (so a failed copy is retried without
archiving again), and the manifests of archives the destination verified, each with the marker
``confirm`` wrote after that verification. ``cleanup`` deletes a rotated log only when a verified
manifest lists its path, size, modification time and SHA-256, and the file still has all four.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import pwd
import stat

from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import (
    MARKER_SUFFIX,
    PARTIAL_SUFFIX,
    ArchiveError,
    ensure_dir,
    format_marker,
    load_manifest,
    read_marker,
    remove_quietly,
    sha256_file,
    write_atomic,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_build import build_archive
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_lock import LOCK_NAME, DirectoryLock
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_select import (
    EXTENSIONS,
    MANIFEST_SUFFIX,
    base_name,
    select_files,
)


class LocalArchive:
    """What the staging directory holds for one archive base name (host and period key)."""

    def __init__(self, staging_dir, base):
        self.base = base
        self.manifest_path = os.path.join(staging_dir, base + MANIFEST_SUFFIX)
        self.manifest = None
        self.manifest_sha256 = None
        self.archive_path = None
        self.problem = None
        if not os.path.exists(self.manifest_path):
            self.problem = "no manifest"
            return
        try:
            manifest = load_manifest(self.manifest_path)
        except ArchiveError as exc:
            self.problem = str(exc)
            return
        if not manifest["archive"]["name"].startswith(base + "."):
            self.problem = "the manifest %s names another archive" % self.manifest_path
            return
        self.manifest = manifest
        self.manifest_sha256 = sha256_file(self.manifest_path)
        self.archive_path = os.path.join(staging_dir, manifest["archive"]["name"])

    @property
    def marker_path(self):
        return self.archive_path + MARKER_SUFFIX if self.archive_path else None

    def verified(self):
        """Whether confirm recorded that the destination verified exactly this manifest's archive."""
        if self.manifest is None:
            return False
        sums = read_marker(self.marker_path) or {}
        archive = self.manifest["archive"]
        return (sums.get(archive["name"]) == archive["sha256"]
                and sums.get(os.path.basename(self.manifest_path)) == self.manifest_sha256)

    def complete(self):
        """Whether the archive itself is here, whole, as its manifest describes it."""
        if self.manifest is None or not os.path.isfile(self.archive_path):
            return False
        return (os.path.getsize(self.archive_path) == self.manifest["archive"]["size"]
                and sha256_file(self.archive_path) == self.manifest["archive"]["sha256"])

    def files(self):
        """Every file that belongs to this base name, whether or not it exists."""
        names = [self.manifest_path]
        for ext in EXTENSIONS.values():
            archive = os.path.join(os.path.dirname(self.manifest_path), self.base + ext)
            names += [archive, archive + MARKER_SUFFIX]
        return names


def _summary(local, status):
    manifest = local.manifest
    archive = manifest["archive"]
    return {
        "status": status,
        "archive": local.archive_path if os.path.isfile(local.archive_path) else None,
        "manifest": local.manifest_path,
        "name": archive["name"],
        "sha256": archive["sha256"],
        "manifest_sha256": local.manifest_sha256,
        "size": archive["size"],
        "compression": archive["compression"],
        "members": len(manifest["members"]),
        "input_bytes": manifest["input_bytes"],
        "selected": [member["path"] for member in manifest["members"]],
        "skipped": manifest["skipped"],
        "unmatched": manifest["unmatched"],
    }


def _bases(staging_dir):
    names = os.listdir(staging_dir)
    bases = set(name[:-len(MANIFEST_SUFFIX)] for name in names
                if name.endswith(MANIFEST_SUFFIX) and not name.startswith("."))
    for name in names:
        for ext in EXTENSIONS.values():
            for suffix in (ext, ext + MARKER_SUFFIX):
                if name.endswith(suffix) and not name.startswith("."):
                    bases.add(name[:-len(suffix)])
    return sorted(bases)


def prune(staging_dir, current, keep_manifests, check_mode):
    """Remove what other periods left: archive bodies, unverified manifests, manifests beyond
    keep_manifests (newest kept), and temporary files of killed runs. Returns the paths removed.

    Runs under the staging lock, so no temporary file it removes can belong to a live run.
    """
    doomed = []
    for name in sorted(os.listdir(staging_dir)):
        temporary = name.endswith(PARTIAL_SUFFIX) or name.endswith(".tmp")
        if name.startswith(".") and name != LOCK_NAME and temporary:
            doomed.append(os.path.join(staging_dir, name))
    verified = []
    for base in _bases(staging_dir):
        if base == current:
            continue
        local = LocalArchive(staging_dir, base)
        if local.verified():
            verified.append(local)
            doomed.append(local.archive_path)
        else:
            doomed.extend(local.files())
    verified.sort(key=lambda local: (local.manifest.get("created_epoch", 0), local.base), reverse=True)
    for local in verified[keep_manifests:]:
        doomed.extend(local.files())
    removed = [path for path in doomed if os.path.lexists(path)]
    if not check_mode:
        for path in removed:
            remove_quietly(path)
    return removed


def _chown(paths, owner):
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise ArchiveError("owner %r is not a user on this host; give the user that fetches the archive"
                           % owner) from None
    for path in paths:
        if path and os.path.exists(path):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def archive(options, now, zstd, check_mode):
    """Build (or reuse) the archive of the period; ``options`` are the module's parameters, resolved.

    A complete archive of the same host and period in the staging directory is reused, so a second
    run in one period writes nothing.
    """
    staging = options["staging_dir"]
    base = base_name(options["host"], options["period_key"])
    plan = dict(host=options["host"], period=options["period"], period_key=options["period_key"],
                compression=options["compression"], level=options["level"], threads=options["threads"],
                zstd=zstd)
    if check_mode and not os.path.isdir(staging):
        result = _plan(options, base, plan, now)
        result["period_key"] = options["period_key"]
        return result
    ensure_dir(staging)
    if options["owner"] and not check_mode:
        _chown([staging], options["owner"])
    with DirectoryLock(staging, options["lock_timeout"], "archive %s" % base):
        local = LocalArchive(staging, base)
        if local.complete():
            result = _summary(local, "reused")
            result["changed"] = False
        elif check_mode:
            result = _plan(options, base, plan, now)
        else:
            for path in local.files():
                remove_quietly(path)
            selection = _select(options, now)
            plan.update(skipped=selection.skipped, unmatched=selection.unmatched)
            build_archive(selection.files, staging, plan, now)
            local = LocalArchive(staging, base)
            result = _summary(local, "created")
            result["changed"] = True
            if options["owner"]:
                _chown([local.archive_path, local.manifest_path], options["owner"])
        result["removed"] = prune(staging, base, options["keep_manifests"], check_mode)
        result["changed"] = result["changed"] or bool(result["removed"])
    result["period_key"] = options["period_key"]
    return result


def _select(options, now):
    return select_files(options["paths"], options["exclude"], (options["min_age"], options["max_age"]), now,
                        never_inside=[options["staging_dir"]])


def _plan(options, base, plan, now):
    selection = _select(options, now)
    return {
        "status": "planned", "archive": None, "manifest": None, "sha256": None, "manifest_sha256": None,
        "name": base + EXTENSIONS[plan["compression"]], "size": None, "compression": plan["compression"],
        "members": len(selection.files), "input_bytes": sum(st.st_size for _path, st in selection.files),
        "selected": [path for path, _st in selection.files], "skipped": selection.skipped,
        "unmatched": selection.unmatched, "removed": [], "changed": True,
    }


def confirm(staging_dir, base, sha256, manifest_sha256, *, lock_timeout, check_mode):
    """Record that the destination verified this host's archive of the period, for cleanup.

    The marker is written only when the local manifest is the one the destination verified.
    """
    result = {"name": None, "marker": None, "changed": False, "warnings": []}
    if not os.path.isdir(staging_dir):
        result["status"] = "absent"
        return result
    with DirectoryLock(staging_dir, lock_timeout, "confirm %s" % base):
        local = LocalArchive(staging_dir, base)
        if local.manifest is None:
            result["status"] = "absent"
            result["warnings"].append("the staging directory %s has no manifest of %s (%s); rotated logs it "
                                      "held cannot be cleaned up on this host"
                                      % (staging_dir, base, local.problem))
            return result
        name = local.manifest["archive"]["name"]
        result.update(name=name, marker=local.marker_path)
        if local.manifest["archive"]["sha256"] != sha256 or local.manifest_sha256 != manifest_sha256:
            result["status"] = "mismatch"
            result["warnings"].append("the destination verified another archive of %s (SHA-256 %s) than the "
                                      "one in %s (SHA-256 %s); its logs are not marked as backed up here"
                                      % (base, sha256, staging_dir, local.manifest["archive"]["sha256"]))
            return result
        content = format_marker(name, sha256, os.path.basename(local.manifest_path), manifest_sha256)
        try:
            with open(local.marker_path, "rb") as stream:
                current = stream.read()
        except OSError:
            current = None
        result["status"] = "confirmed"
        if current != content:
            result["changed"] = True
            if not check_mode:
                write_atomic(local.marker_path, content)
    return result


def _matches(path, patterns):
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _unchanged(path, member):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_size == member["size"]
            and st.st_mtime_ns == member["mtime_ns"])


def _digest(path):
    try:
        return sha256_file(path)
    except OSError:
        return None


def cleanup(staging_dir, patterns, *, lock_timeout, check_mode):
    """Delete rotated logs (names matching patterns) whose exact bytes a verified archive holds."""
    result = {"deleted_sources": [], "bytes_freed": 0, "errors": [], "changed": False}
    if not os.path.isdir(staging_dir):
        return result
    with DirectoryLock(staging_dir, lock_timeout, "cleanup"):
        done = set()
        for base in reversed(_bases(staging_dir)):
            local = LocalArchive(staging_dir, base)
            if not local.verified():
                continue
            for member in local.manifest["members"]:
                path = member["path"]
                if path in done or member.get("changed_while_read") or not _matches(path, patterns):
                    continue
                # stat, hash, stat again: a file that changed meanwhile is not the archived one
                same = _unchanged(path, member) and _digest(path) == member["sha256"]
                if not (same and _unchanged(path, member)):
                    continue
                done.add(path)
                if not check_mode:
                    try:
                        os.unlink(path)
                    except OSError as exc:
                        result["errors"].append("%s: %s" % (path, exc.strerror or exc))
                        continue
                result["deleted_sources"].append({"path": path, "size": member["size"],
                                                  "archive": local.manifest["archive"]["name"]})
                result["bytes_freed"] += member["size"]
    result["changed"] = bool(result["deleted_sources"])
    return result
