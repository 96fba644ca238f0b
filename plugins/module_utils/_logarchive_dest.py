# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup destination: a directory per host that holds archives, manifests and markers.

An archive arrives under a hidden temporary name (``.<name>.<run>.part``, with its manifest next
to it); ``commit`` checks it against the SHA-256 the source host reported and against its manifest,
moves both into place and writes the marker last. ``verify`` reports what the directory holds,
``retain`` applies the retention policy. All three hold the directory's lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import (
    MARKER_SUFFIX,
    PART_SUFFIX,
    ArchiveError,
    ensure_dir,
    format_marker,
    fsync_dir,
    fsync_file,
    load_manifest,
    read_marker,
    remove_quietly,
    sha256_file,
    write_atomic,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_lock import LOCK_NAME, DirectoryLock
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_read import (
    check_members,
    extract_members,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_select import (
    MANIFEST_SUFFIX,
    manifest_name,
    parse_archive_name,
)

VERIFIED = "verified"
UNVERIFIED = "unverified"
CORRUPT = "corrupt"
DEPTHS = ("marker", "checksum", "members")


def inspect_archive(directory, name, depth, zstd):
    """What one archive in directory is: verified, unverified (no marker) or corrupt, and why.

    depth ``marker`` compares marker, manifest and file size; ``checksum`` also hashes the archive;
    ``members`` also reads every member back and compares it with the manifest.
    """
    path = os.path.join(directory, name)
    _host, key, compression = parse_archive_name(name)
    manifest_file = manifest_name(name)
    manifest_path = os.path.join(directory, manifest_file)
    st = os.stat(path)
    record = {
        "name": name, "path": path, "period_key": key, "compression": compression, "status": UNVERIFIED,
        "problems": [], "size": st.st_size, "sha256": None, "manifest_sha256": None, "created": None,
        "members": None, "input_bytes": None,
    }
    problems = record["problems"]
    manifest = None
    try:
        manifest = load_manifest(manifest_path)
    except ArchiveError as exc:
        problems.append(str(exc))
    else:
        record.update(sha256=manifest["archive"]["sha256"], created=manifest.get("created"),
                      members=len(manifest["members"]), input_bytes=manifest.get("input_bytes"))
    record["_epoch"] = manifest.get("created_epoch", st.st_mtime) if manifest else st.st_mtime
    marker_path = path + MARKER_SUFFIX
    if not os.path.lexists(marker_path):
        problems.append("%s has no verification marker: it was never verified here and does not count as a "
                        "backup" % name)
        return record
    sums = read_marker(marker_path)
    if sums is None:
        problems.append("the marker %s is not in sha256sum format" % marker_path)
    elif manifest is not None:
        record["manifest_sha256"] = sha256_file(manifest_path)
        if sums.get(manifest_file) != record["manifest_sha256"]:
            problems.append("the manifest %s changed after the archive was verified" % manifest_path)
        if manifest["archive"]["name"] != name or sums.get(name) != manifest["archive"]["sha256"]:
            problems.append("the marker and the manifest of %s name different archives" % name)
        if st.st_size != manifest["archive"]["size"]:
            problems.append("%s is %d bytes, its manifest says %d"
                            % (path, st.st_size, manifest["archive"]["size"]))
        if not problems and depth in ("checksum", "members"):
            actual = sha256_file(path)
            if actual != manifest["archive"]["sha256"]:
                problems.append("the SHA-256 of %s is %s, its manifest says %s" % (path, actual,
                                                                                   manifest["archive"]["sha256"]))
        if not problems and depth == "members":
            try:
                problems.extend(check_members(path, compression, zstd, manifest))
            except ArchiveError as exc:
                problems.append(str(exc))
    record["status"] = CORRUPT if problems else VERIFIED
    return record


def _public(record):
    return dict((key, value) for key, value in record.items() if not key.startswith("_"))


def _archive_names(directory, period_key=None):
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    chosen = []
    for name in names:
        parsed = parse_archive_name(name)
        if not parsed or (period_key is not None and parsed[1] != period_key):
            continue
        if os.path.isfile(os.path.join(directory, name)):
            chosen.append(name)
    return sorted(chosen)


def _newest_first(records):
    return sorted(records, key=lambda record: (record["_epoch"], record["name"]), reverse=True)


def _extract(dest_dir, records, wanted, *, depth, extract_dir, zstd, check_mode):
    """Restore the archive named wanted (or the newest verified one for ``latest``) into extract_dir."""
    if wanted == "latest":
        verified = [record for record in _newest_first(records) if record["status"] == VERIFIED]
        if not verified:
            raise ArchiveError("%s holds no verified archive to extract" % dest_dir)
        wanted = verified[0]["name"]
    chosen = [record for record in records if record["name"] == wanted]
    if not chosen:
        raise ArchiveError("there is no archive %s in %s to extract" % (wanted, dest_dir))
    record = chosen[0]
    if record["status"] == VERIFIED and depth == "marker":
        record = inspect_archive(dest_dir, wanted, "checksum", zstd)
    if record["status"] != VERIFIED:
        raise ArchiveError("%s is %s, so it is not extracted: %s"
                           % (wanted, record["status"], "; ".join(record["problems"])))
    extracted = {"archive": wanted, "dir": extract_dir, "files": [], "bytes": 0}
    if not check_mode:
        manifest = load_manifest(os.path.join(dest_dir, manifest_name(wanted)))
        files, size = extract_members(record["path"], record["compression"], zstd, manifest, extract_dir)
        extracted.update(files=files, bytes=size)
    return extracted


def verify(dest_dir, depth, period_key, *, extract, extract_dir, zstd, lock_timeout, check_mode):
    """Report every archive in dest_dir (of one period when period_key is set); optionally extract one.

    ``extract`` names an archive or is ``latest`` for the newest verified one; it must verify at the
    requested depth (at least checksum), and every member is checked again as it is written.
    """
    result = {"dest_dir": dest_dir, "archives": [], "latest_verified": None, "extracted": None,
              "counts": {VERIFIED: 0, UNVERIFIED: 0, CORRUPT: 0}, "changed": False}
    if not os.path.isdir(dest_dir):
        if extract:
            raise ArchiveError("%s does not exist, so there is no archive to extract" % dest_dir)
        return result
    with DirectoryLock(dest_dir, lock_timeout, "verify", shared=True):
        names = _archive_names(dest_dir, period_key)
        if not zstd and (depth == "members" or extract) and any(name.endswith(".zst") for name in names):
            raise ArchiveError("reading zstd archives back needs the zstd command, which is not installed on "
                               "this host; install the zstd package, or use depth=checksum without extract")
        records = [inspect_archive(dest_dir, name, depth, zstd) for name in names]
        for record in records:
            result["counts"][record["status"]] += 1
        verified = [record for record in _newest_first(records) if record["status"] == VERIFIED]
        if verified:
            result["latest_verified"] = verified[0]["name"]
        if extract:
            result["extracted"] = _extract(dest_dir, records, extract, depth=depth, extract_dir=extract_dir,
                                           zstd=zstd, check_mode=check_mode)
            result["changed"] = True
        result["archives"] = [_public(record) for record in records]
    return result


def _verified_already(dest_dir, name, sha256):
    """(status, record) when the period's archive is already verified here, else (None, None)."""
    if not os.path.isfile(os.path.join(dest_dir, name)):
        return None, None
    existing = inspect_archive(dest_dir, name, "marker", None)
    if existing["status"] != VERIFIED:
        return None, None
    return ("already_verified" if existing["sha256"] == sha256 else "kept_existing"), existing


def _check_copy(src, manifest_src, manifest, sha256):
    """Problems that keep a copy from counting: its SHA-256 or size differ from what was reported."""
    problems = []
    actual = sha256_file(src)
    if actual != sha256:
        problems.append("the copy %s has SHA-256 %s but the source host reported %s: it was damaged in "
                        "transit" % (src, actual, sha256))
    if manifest["archive"]["sha256"] != sha256 or manifest["archive"]["size"] != os.path.getsize(src):
        problems.append("the manifest %s does not describe the copy %s" % (manifest_src, src))
    return problems


def _move_into_place(src, manifest_src, final, final_manifest, marker_text):
    """Rename the checked copy and its manifest to their final names, then write the marker."""
    dest_dir = os.path.dirname(final)
    remove_quietly(final + MARKER_SUFFIX)
    for path in (src, manifest_src):
        os.chmod(path, 0o600)
        fsync_file(path)
    os.rename(manifest_src, final_manifest)
    os.rename(src, final)
    fsync_dir(dest_dir)
    write_atomic(final + MARKER_SUFFIX, marker_text)


def commit(src, manifest_src, dest_dir, sha256, *, lock_timeout, check_mode):
    """Count a copied archive as a backup once its SHA-256 matches the source's and its manifest."""
    for path in (src, manifest_src):
        if not os.path.isfile(path):
            raise ArchiveError("%s does not exist; copy the archive and its manifest to the destination "
                               "first" % path)
    if not check_mode:
        ensure_dir(dest_dir)
    with DirectoryLock(dest_dir, lock_timeout, "commit"):
        manifest = load_manifest(manifest_src)
        name = manifest["archive"]["name"]
        if parse_archive_name(name) is None:
            raise ArchiveError("the manifest %s names the archive %r, which is not an archive name"
                               % (manifest_src, name))
        final = os.path.join(dest_dir, name)
        final_manifest = os.path.join(dest_dir, manifest_name(name))
        result = {"archive": final, "manifest": final_manifest, "marker": final + MARKER_SUFFIX, "name": name,
                  "sha256": sha256, "manifest_sha256": None, "size": os.path.getsize(src), "warnings": [],
                  "changed": False}
        status, existing = _verified_already(dest_dir, name, sha256)
        if status:
            result.update(status=status, sha256=existing["sha256"], size=existing["size"],
                          manifest_sha256=existing["manifest_sha256"])
            if status == "kept_existing":
                result["warnings"].append(
                    "%s already holds a verified %s with another SHA-256 (%s); it is kept and the new copy "
                    "(%s) is discarded, as a period has one archive"
                    % (dest_dir, name, existing["sha256"], sha256))
            problems = []
        else:
            problems = _check_copy(src, manifest_src, manifest, sha256)
        if (status or problems) and not check_mode:
            remove_quietly(src)
            remove_quietly(manifest_src)
        if problems:
            raise ArchiveError("; ".join(problems) + "; the copy was discarded, run the backup again")
        if status:
            return result
        result.update(status=VERIFIED, changed=True, manifest_sha256=sha256_file(manifest_src))
        if not check_mode:
            _move_into_place(src, manifest_src, final, final_manifest,
                             format_marker(name, sha256, os.path.basename(final_manifest),
                                           result["manifest_sha256"]))
        return result


def _stale(path, now, stale_after):
    try:
        return now - os.lstat(path).st_mtime > stale_after
    except OSError:
        return False


def _leftovers(dest_dir, archives):
    """Files in dest_dir that belong to no archive: temporary copies, and manifests or markers alone."""
    known = set(archives)
    for name in archives:
        known.add(manifest_name(name))
        known.add(name + MARKER_SUFFIX)
    found = []
    for name in sorted(os.listdir(dest_dir)):
        path = os.path.join(dest_dir, name)
        if name == LOCK_NAME or name in known or not stat.S_ISREG(os.lstat(path).st_mode):
            continue
        hidden_temporary = name.startswith(".") and (name.endswith(PART_SUFFIX) or name.endswith(".tmp"))
        alone = name.endswith(MANIFEST_SUFFIX) or name.endswith(MARKER_SUFFIX)
        if hidden_temporary or alone:
            found.append(name)
    return found


def _protect_newest(dest_dir, records):
    """The newest archive whose checksum still verifies; newer ones that fail become corrupt."""
    for record in records:
        if record["status"] == VERIFIED:
            checked = inspect_archive(dest_dir, record["name"], "checksum", None)
            record.update(status=checked["status"], problems=checked["problems"])
            if record["status"] == VERIFIED:
                return record["name"]
    return None


def _kept(records, protected, keep_days, keep_count, now):
    verified = [record for record in records if record["status"] == VERIFIED]
    keep = set(record["name"] for record in verified[:keep_count])
    if protected:
        keep.add(protected)
    if keep_days > 0:
        for record in records:
            if record["status"] in (VERIFIED, CORRUPT) and now - record["_epoch"] <= keep_days * 86400:
                keep.add(record["name"])
    return keep


def retain(dest_dir, *, keep_days, keep_count, stale_after, lock_timeout, now, check_mode):
    """Delete archives the policy no longer keeps; never the newest archive that still verifies.

    Kept: the newest verified archive (its checksum is recomputed first; a damaged one does not
    protect itself), the ``keep_count`` newest verified ones, and every verified or corrupt one
    created within ``keep_days`` days. Unverified archives and leftover temporary files are
    deleted once older than ``stale_after`` seconds. A verified archive loses its marker first, so an
    interrupted deletion never leaves something that counts.
    """
    result = {"dest_dir": dest_dir, "kept": [], "deleted_archives": [], "deleted_files": [],
              "protected": None, "bytes_freed": 0, "changed": False}
    if not os.path.isdir(dest_dir):
        return result
    with DirectoryLock(dest_dir, lock_timeout, "retain"):
        names = _archive_names(dest_dir)
        records = _newest_first([inspect_archive(dest_dir, name, "marker", None) for name in names])
        result["protected"] = _protect_newest(dest_dir, records)
        keep = _kept(records, result["protected"], keep_days, keep_count, now)
        for record in records:
            counted = record["status"] in (VERIFIED, CORRUPT)
            if record["name"] in keep or not (counted or _stale(record["path"], now, stale_after)):
                result["kept"].append(record["name"])
                continue
            result["deleted_archives"].append(record["name"])
            result["bytes_freed"] += record["size"]
            if not check_mode:
                for path in (record["path"] + MARKER_SUFFIX, record["path"],
                             os.path.join(dest_dir, manifest_name(record["name"]))):
                    remove_quietly(path)
        for name in _leftovers(dest_dir, names):
            if _stale(os.path.join(dest_dir, name), now, stale_after):
                result["deleted_files"].append(name)
                if not check_mode:
                    remove_quietly(os.path.join(dest_dir, name))
        if not check_mode and (result["deleted_archives"] or result["deleted_files"]):
            fsync_dir(dest_dir)
        result["kept"].sort()
        result["changed"] = bool(result["deleted_archives"] or result["deleted_files"])
    return result
