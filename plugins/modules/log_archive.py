#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

# Ansible modules keep DOCUMENTATION, EXAMPLES and RETURN above the imports.

__metaclass__ = type

DOCUMENTATION = r"""
---
module: log_archive
short_description: Archive logs once per period with a SHA-256 manifest; verify, retain and restore archives
version_added: 0.1.0
description:
  - Builds one compressed tar archive of a host's logs per period, with a manifest that records the SHA-256,
    size and modification time of every file inside and the SHA-256 of the archive itself, and manages those
    archives at a backup destination. O(state) says which step to take; the role C(opsrun.ops.log_backup)
    chains them.
  - V(archive) runs on the source host. It selects files by globs, exclusions and age, and streams them
    through tar into C(zstd -T<threads>) (every core by default) when the zstd command exists, otherwise into
    gzip. The archive is written under a temporary name ending in C(.partial), synced to disk, and renamed
    only after its manifest is in place, so a run killed at any moment never leaves a file that looks like a
    finished archive. Archives are named C(<host>_<period key>.tar.zst) (or C(.tar.gz)); a complete archive
    of the same host and period in O(staging_dir) is reused instead of archiving again. Archives of earlier
    periods, their temporary files and the manifests of unverified ones are removed from O(staging_dir).
  - V(commit) runs at the destination on an archive and manifest copied there under temporary names
    (O(src), O(manifest_src)). It checks the copy's SHA-256 against O(sha256) (what the source host reported)
    and against the manifest, moves both into O(dest_dir) and writes the verification marker
    C(<archive>.sha256) last, in C(sha256sum) format, for the archive and the manifest. Only an archive with a
    marker that agrees with its manifest and its bytes counts as a backup.
  - V(confirm) runs on the source host after V(commit) and records, with the same marker next to the local
    manifest, that the destination verified this archive. V(cleanup) then deletes rotated source logs, but
    only a file whose path, size, modification time and SHA-256 are all in such a verified manifest.
  - V(verify) reports every archive in O(dest_dir) as verified, unverified or corrupt, at the chosen O(depth),
    and with O(extract) restores one into O(extract_dir). V(retain) applies the retention policy at the
    destination and never deletes the newest archive that still verifies.
  - Every state that writes takes an C(flock) on a C(.lock) file in its directory, waiting at most
    O(lock_timeout) seconds, so two runs at once queue instead of interfering.
author:
  - opsrun maintainers (@opsrun)
options:
  state:
    description:
      - The step to take; see the description.
    type: str
    choices: [archive, confirm, cleanup, commit, verify, retain]
    default: archive
  host:
    description:
      - The host's label in archive names, usually C(inventory_hostname). Letters, digits, C(.), C(_) and
        C(-), starting with a letter or digit.
      - Required with O(state=archive) and O(state=confirm).
    type: str
  period:
    description:
      - The backup period, which gives the period key when O(period_key) is not set, from the host's local
        time (V(daily) gives C(2025-11-28), V(hourly) C(2025-11-28T13), V(weekly) C(2025-W48), V(monthly)
        C(2025-11)).
    type: str
    choices: [hourly, daily, weekly, monthly]
    default: daily
  period_key:
    description:
      - The period key itself, so that all hosts of one run use the same key whatever their clocks say.
        Letters, digits, C(.) and C(-).
      - With O(state=verify), only archives of this period are reported.
    type: str
  paths:
    description:
      - Absolute paths or globs of the logs to archive (C(**) matches across directories). Only regular files
        are taken; symbolic links are not followed. Required with O(state=archive).
    type: list
    elements: path
  exclude:
    description:
      - Globs of files to leave out. A glob with a C(/) is matched against the full path, one without against
        the file name.
    type: list
    elements: str
    default: []
  min_age:
    description:
      - Leave out files modified more recently than this, as seconds or with a unit (V(30m), V(12h), V(2d),
        V(1w)).
    type: str
  max_age:
    description:
      - Leave out files last modified longer ago than this, in the forms of O(min_age).
    type: str
  staging_dir:
    description:
      - Where the source host writes its archives and keeps verified manifests. Created with mode C(0700).
    type: path
    default: /var/lib/opsrun/log_backup
  owner:
    description:
      - User who gets ownership of O(staging_dir), the archive and its manifest, so that an unprivileged
        connecting user can fetch what the module wrote with privilege escalation.
    type: str
  compression:
    description:
      - V(auto) uses zstd when the C(zstd) command is installed and gzip otherwise; V(zstd) fails without it.
    type: str
    choices: [auto, zstd, gzip]
    default: auto
  compression_level:
    description:
      - Compression level, 1 to 19 for zstd and 1 to 9 for gzip. The default is 1 for zstd, which compresses
        logs about as well as gzip's default 6 for a fraction of its CPU time, and 6 for gzip.
    type: int
  compression_threads:
    description:
      - Threads zstd compresses with; V(0) uses every core.
    type: int
    default: 0
  keep_manifests:
    description:
      - How many manifests of verified archives of earlier periods O(staging_dir) keeps for O(state=cleanup).
    type: int
    default: 30
  sha256:
    description:
      - The archive's SHA-256 as the source host reported it. Required with O(state=commit) and
        O(state=confirm).
    type: str
  manifest_sha256:
    description:
      - The SHA-256 of the manifest the destination verified. Required with O(state=confirm).
    type: str
  cleanup_patterns:
    description:
      - File name globs of rotated logs that O(state=cleanup) may delete. Logs still being written (C(syslog),
        C(app.log)) must not match.
    type: list
    elements: str
    default:
      - '*.[0-9]'
      - '*.[0-9].gz'
      - '*.[0-9][0-9]'
      - '*.[0-9][0-9].gz'
      - '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
      - '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].gz'
      - '*.old'
  src:
    description:
      - The archive copied to the destination under a temporary name. Required with O(state=commit).
    type: path
  manifest_src:
    description:
      - The manifest copied to the destination under a temporary name. Required with O(state=commit).
    type: path
  dest_dir:
    description:
      - The destination directory of one host's archives. Required with O(state=commit), O(state=verify) and
        O(state=retain).
    type: path
  depth:
    description:
      - How thoroughly O(state=verify) checks. V(marker) compares the marker, the manifest and the archive's
        size; V(checksum) also recomputes the archive's SHA-256; V(members) also decompresses the archive and
        checks every member against the manifest.
    type: str
    choices: [marker, checksum, members]
    default: checksum
  extract:
    description:
      - With O(state=verify), the archive to restore into O(extract_dir), by file name or V(latest) for the
        newest verified one. It must verify; each member is checked against the manifest before it is kept.
        Files are written with mode C(0600) and their original modification times; existing files are never
        overwritten.
    type: str
  extract_dir:
    description:
      - Where O(extract) writes; created with mode C(0700) when missing.
    type: path
  keep_days:
    description:
      - With O(state=retain), keep every archive created within this many days; V(0) keeps none for its age.
    type: int
    default: 0
  keep_count:
    description:
      - With O(state=retain), keep this many newest verified archives. The newest archive that verifies is
        kept in any case.
    type: int
    default: 1
  stale_after:
    description:
      - With O(state=retain), seconds after which unverified archives and temporary copies left by failed runs
        are deleted.
    type: int
    default: 86400
  lock_timeout:
    description:
      - Seconds to wait for another run's lock on the directory before failing.
    type: int
    default: 600
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: O(state=archive) selects the files and reports what it would archive; the other states check
      everything they would check and report what they would write or delete.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Reading another user's logs usually needs C(become).
  - A file that shrinks while it is read (truncated in place) is padded with NUL bytes up to the size its tar
    header announced, as GNU tar does, and its manifest entry says C(changed_while_read=true); such a member
    is never a reason to delete its source. A file that grows while it is read is archived up to the size it
    had when it was opened. A file rotated by renaming while it is read is archived whole under its old name.
  - The archive of the latest period stays in O(staging_dir) until an archive of a later period replaces it,
    so a failed copy can be retried without archiving again.
seealso:
  - module: opsrun.ops.log_scan
"""

EXAMPLES = r"""
- name: Archive the system logs of today
  become: true
  opsrun.ops.log_archive:
    host: "{{ inventory_hostname }}"
    paths:
      - /var/log/syslog*
      - /var/log/*.log
    exclude:
      - "*.journal"
    period: daily
  register: log_archive

- name: Count the copy at the destination as a backup once its checksum matches
  opsrun.ops.log_archive:
    state: commit
    src: "/srv/backups/{{ inventory_hostname }}/.{{ log_archive.name }}.part"
    manifest_src: "/srv/backups/{{ inventory_hostname }}/.{{ log_archive.name }}.manifest.part"
    dest_dir: "/srv/backups/{{ inventory_hostname }}"
    sha256: "{{ log_archive.sha256 }}"
  delegate_to: localhost

- name: Check every archive of a host, member by member, and restore the newest one
  opsrun.ops.log_archive:
    state: verify
    dest_dir: /srv/backups/web01
    depth: members
    extract: latest
    extract_dir: /srv/restore/web01
  delegate_to: localhost

- name: Keep two weeks of archives at the destination
  opsrun.ops.log_archive:
    state: retain
    dest_dir: /srv/backups/web01
    keep_days: 14
    keep_count: 7
  delegate_to: localhost
"""

RETURN = r"""
state:
  description: The step that was taken.
  returned: always
  type: str
  sample: archive
status:
  description:
    - With O(state=archive), V(created), V(reused) (a complete archive of the period was there) or
      V(planned) (check mode).
    - With O(state=commit), V(verified), V(already_verified) (the period's archive was verified before; the
      copy is discarded) or V(kept_existing) (a verified archive of the period with another checksum is kept).
    - With O(state=confirm), V(confirmed), V(mismatch) (the destination verified another archive than the
      local one) or V(absent) (no local manifest).
  returned: when state is archive, commit or confirm
  type: str
  sample: created
archive:
  description: Path of the archive on the host (V(null) in check mode), or at the destination.
  returned: when state is archive or commit
  type: str
  sample: /var/lib/opsrun/log_backup/web01_2025-11-28.tar.zst
manifest:
  description: Path of the archive's manifest (V(null) in check mode).
  returned: when state is archive or commit
  type: str
  sample: /var/lib/opsrun/log_backup/web01_2025-11-28.manifest.json
marker:
  description: Path of the verification marker.
  returned: when state is commit or confirm
  type: str
  sample: /srv/backups/web01/web01_2025-11-28.tar.zst.sha256
name:
  description: File name of the archive.
  returned: when state is archive, commit or confirm
  type: str
  sample: web01_2025-11-28.tar.zst
period_key:
  description: The period key of the archive.
  returned: when state is archive or confirm
  type: str
  sample: "2025-11-28"
sha256:
  description: SHA-256 of the archive (V(null) in check mode).
  returned: when state is archive or commit
  type: str
  sample: 5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef
manifest_sha256:
  description: SHA-256 of the manifest file.
  returned: when state is archive or commit
  type: str
  sample: 0b3e7a1a7b4c1f5e2f0a8d1c9e6b3a4f5d2c1b0a9e8f7d6c5b4a3f2e1d0c9b8a
size:
  description: Size of the archive in bytes (V(null) in check mode).
  returned: when state is archive or commit
  type: int
  sample: 10485760
compression:
  description: V(zstd) or V(gzip).
  returned: when state is archive
  type: str
  sample: zstd
members:
  description: Number of files in the archive.
  returned: when state is archive
  type: int
  sample: 12
input_bytes:
  description: Bytes of the files in the archive, before compression.
  returned: when state is archive
  type: int
  sample: 104857600
selected:
  description: The files in the archive (in check mode, the files that would be).
  returned: when state is archive
  type: list
  elements: str
  sample: [/var/log/syslog, /var/log/syslog.1]
skipped:
  description: Files the globs matched that were left out, with the reason.
  returned: when state is archive
  type: list
  elements: dict
  sample: [{"path": "/var/log/syslog.7.gz", "reason": "older than max_age"}]
unmatched:
  description: Globs that matched no file.
  returned: when state is archive
  type: list
  elements: str
  sample: [/var/log/messages*]
removed:
  description: Files of earlier periods and of killed runs removed from O(staging_dir).
  returned: when state is archive
  type: list
  elements: str
  sample: [/var/lib/opsrun/log_backup/web01_2025-11-27.tar.zst]
deleted_sources:
  description: Source logs deleted by O(state=cleanup), each with the archive that holds it.
  returned: when state is cleanup
  type: list
  elements: dict
  sample: [{"path": "/var/log/syslog.1", "size": 48213, "archive": "web01_2025-11-28.tar.zst"}]
errors:
  description: Source logs that matched but could not be deleted, with the reason.
  returned: when state is cleanup
  type: list
  elements: str
  sample: []
bytes_freed:
  description: Bytes deleted.
  returned: when state is cleanup or retain
  type: int
  sample: 48213
dest_dir:
  description: The destination directory examined.
  returned: when state is verify or retain
  type: str
  sample: /srv/backups/web01
archives:
  description: Every archive in O(dest_dir) (of O(period_key) when given), oldest name first.
  returned: when state is verify
  type: list
  elements: dict
  contains:
    name:
      description: File name of the archive.
      type: str
      sample: web01_2025-11-28.tar.zst
    path:
      description: Path of the archive.
      type: str
      sample: /srv/backups/web01/web01_2025-11-28.tar.zst
    period_key:
      description: The period key from the name.
      type: str
      sample: "2025-11-28"
    compression:
      description: V(zstd) or V(gzip), from the name.
      type: str
      sample: zstd
    status:
      description: V(verified) (it counts as a backup), V(unverified) (no marker) or V(corrupt) (see
        RV(archives[].problems)).
      type: str
      choices: [verified, unverified, corrupt]
      sample: verified
    problems:
      description: What is wrong, empty for a verified archive.
      type: list
      elements: str
      sample: []
    size:
      description: Size of the archive in bytes.
      type: int
      sample: 10485760
    sha256:
      description: SHA-256 of the archive according to its manifest, V(null) without a readable manifest.
      type: str
      sample: 5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef
    manifest_sha256:
      description: SHA-256 of the manifest file, V(null) when it was not needed.
      type: str
      sample: 0b3e7a1a7b4c1f5e2f0a8d1c9e6b3a4f5d2c1b0a9e8f7d6c5b4a3f2e1d0c9b8a
    created:
      description: When the archive was built (ISO 8601, the source host's local time).
      type: str
      sample: "2025-11-28T23:00:04+0900"
    members:
      description: Number of files in the archive, according to its manifest.
      type: int
      sample: 12
    input_bytes:
      description: Bytes of the files in the archive, according to its manifest.
      type: int
      sample: 104857600
counts:
  description: Number of archives per status.
  returned: when state is verify
  type: dict
  sample: {"verified": 7, "unverified": 0, "corrupt": 0}
latest_verified:
  description: File name of the newest verified archive, V(null) when there is none.
  returned: when state is verify
  type: str
  sample: web01_2025-11-28.tar.zst
extracted:
  description: What O(extract) restored, V(null) without O(extract).
  returned: when state is verify
  type: dict
  contains:
    archive:
      description: File name of the archive restored.
      type: str
      sample: web01_2025-11-28.tar.zst
    dir:
      description: The directory restored into.
      type: str
      sample: /srv/restore/web01
    files:
      description: Paths of the files written (empty in check mode).
      type: list
      elements: str
      sample: [/srv/restore/web01/var/log/syslog]
    bytes:
      description: Bytes written.
      type: int
      sample: 48213
kept:
  description: Archives O(state=retain) kept.
  returned: when state is retain
  type: list
  elements: str
  sample: [web01_2025-11-27.tar.zst, web01_2025-11-28.tar.zst]
deleted_archives:
  description: Archives O(state=retain) deleted, with their manifests and markers.
  returned: when state is retain
  type: list
  elements: str
  sample: [web01_2025-10-01.tar.zst]
deleted_files:
  description: Leftover temporary copies, lone manifests and lone markers O(state=retain) deleted.
  returned: when state is retain
  type: list
  elements: str
  sample: [.web01_2025-11-20.tar.zst.20251120T230000-1a2b3c4d.part]
protected:
  description: The newest archive that verified, which O(state=retain) never deletes; V(null) when none did.
  returned: when state is retain
  type: str
  sample: web01_2025-11-28.tar.zst
"""

import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import ArchiveError
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_build import resolve_compression
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_dest import (
    DEPTHS,
    commit,
    retain,
    verify,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_host import archive, cleanup, confirm
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_lock import LockTimeout
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_select import (
    base_name,
    check_host_label,
    check_period_key,
    parse_duration,
    period_key,
)

STATES = ["archive", "confirm", "cleanup", "commit", "verify", "retain"]
DEFAULT_CLEANUP_PATTERNS = [
    "*.[0-9]", "*.[0-9].gz", "*.[0-9][0-9]", "*.[0-9][0-9].gz", "*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]",
    "*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].gz", "*.old",
]
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=STATES, default="archive"),
    host=dict(type="str"),
    period=dict(type="str", choices=["hourly", "daily", "weekly", "monthly"], default="daily"),
    period_key=dict(type="str", no_log=False),
    paths=dict(type="list", elements="path"),
    exclude=dict(type="list", elements="str", default=[]),
    min_age=dict(type="str"),
    max_age=dict(type="str"),
    staging_dir=dict(type="path", default="/var/lib/opsrun/log_backup"),
    owner=dict(type="str"),
    compression=dict(type="str", choices=["auto", "zstd", "gzip"], default="auto"),
    compression_level=dict(type="int"),
    compression_threads=dict(type="int", default=0),
    keep_manifests=dict(type="int", default=30),
    sha256=dict(type="str"),
    manifest_sha256=dict(type="str"),
    cleanup_patterns=dict(type="list", elements="str", default=DEFAULT_CLEANUP_PATTERNS),
    src=dict(type="path"),
    manifest_src=dict(type="path"),
    dest_dir=dict(type="path"),
    depth=dict(type="str", choices=list(DEPTHS), default="checksum"),
    extract=dict(type="str"),
    extract_dir=dict(type="path"),
    keep_days=dict(type="int", default=0),
    keep_count=dict(type="int", default=1),
    stale_after=dict(type="int", default=86400),
    lock_timeout=dict(type="int", default=600),
)
REQUIRED_IF = [
    ("state", "archive", ["host", "paths"]),
    ("state", "confirm", ["host", "sha256", "manifest_sha256"]),
    ("state", "commit", ["src", "manifest_src", "dest_dir", "sha256"]),
    ("state", "verify", ["dest_dir"]),
    ("state", "retain", ["dest_dir"]),
]


def check_numbers(params):
    """Raise ValueError when a numeric option is out of range."""
    for option in ("compression_threads", "keep_manifests", "keep_days", "keep_count", "stale_after",
                   "lock_timeout"):
        if params[option] < 0:
            raise ValueError("%s must be 0 or more, not %d" % (option, params[option]))


def checksum_option(params, option):
    value = (params[option] or "").strip().lower()
    if not SHA256_RE.match(value):
        raise ValueError("%s must be a SHA-256 in hex (64 characters), not %r" % (option, params[option]))
    return value


def the_period_key(params, now):
    key = params["period_key"] or period_key(params["period"], now)
    check_period_key(key)
    return key


def run(params, check_mode, now, zstd):
    """Take the step params['state'] names. Returns (result, warnings).

    Raises ValueError for a bad option, ArchiveError or LockTimeout for a step that cannot be taken.
    """
    check_numbers(params)
    state = params["state"]
    if state == "archive":
        check_host_label(params["host"])
        compression, level = resolve_compression(params["compression"], zstd, params["compression_level"])
        options = dict(params, period_key=the_period_key(params, now), compression=compression, level=level,
                       threads=params["compression_threads"],
                       min_age=parse_duration(params["min_age"], "min_age"),
                       max_age=parse_duration(params["max_age"], "max_age"))
        result = archive(options, now, zstd, check_mode)
        warnings = [] if result["members"] else [
            "no file matched paths; the archive of %s is empty" % result["period_key"]]
    elif state == "confirm":
        check_host_label(params["host"])
        key = the_period_key(params, now)
        result = confirm(params["staging_dir"], base_name(params["host"], key),
                         checksum_option(params, "sha256"), checksum_option(params, "manifest_sha256"),
                         lock_timeout=params["lock_timeout"], check_mode=check_mode)
        result["period_key"] = key
        warnings = result.pop("warnings")
    elif state == "cleanup":
        result = cleanup(params["staging_dir"], params["cleanup_patterns"],
                         lock_timeout=params["lock_timeout"], check_mode=check_mode)
        warnings = ["could not delete %s" % error for error in result["errors"]]
    elif state == "commit":
        result = commit(params["src"], params["manifest_src"], params["dest_dir"],
                        checksum_option(params, "sha256"), lock_timeout=params["lock_timeout"],
                        check_mode=check_mode)
        warnings = result.pop("warnings")
    elif state == "verify":
        result = verify(params["dest_dir"], params["depth"], params["period_key"], extract=params["extract"],
                        extract_dir=params["extract_dir"], zstd=zstd, lock_timeout=params["lock_timeout"],
                        check_mode=check_mode)
        warnings = []
    else:
        result = retain(params["dest_dir"], keep_days=params["keep_days"], keep_count=params["keep_count"],
                        stale_after=params["stale_after"], lock_timeout=params["lock_timeout"], now=now,
                        check_mode=check_mode)
        warnings = []
    result["state"] = state
    return result, warnings


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF,
                           required_by=dict(extract="extract_dir"), supports_check_mode=True)
    zstd = module.get_bin_path("zstd")
    try:
        result, warnings = run(module.params, module.check_mode, time.time(), zstd)
    except (ValueError, ArchiveError, LockTimeout) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="log_archive state=%s failed: %s; check free space and permissions"
                         % (module.params["state"], exc))
    else:
        for warning in warnings:
            module.warn(warning)
        module.exit_json(**result)


if __name__ == "__main__":
    main()
