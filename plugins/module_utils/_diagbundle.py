# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What opsrun.ops.diagnostics_bundle collects on a host, and how it packs the bundle.

Every text is redacted in memory before it is kept; nothing unredacted is written to disk or
returned. Commands run through a tools object (which, run) so that tests can stand in for them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import io
import json
import math
import os
import re
import shutil
import tarfile
import tempfile
import time

from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_events import Events, utc_text
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_logs import (
    WindowText,
    read_file_window,
    window_lines,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan import expand_paths

# What can be collected: "logs" is the module's (the system's log files); collect() reads
# Settings.log_paths whatever it holds.
COLLECT_CHOICES = ("logs", "journal", "kernel", "packages", "logins")
# Keys Ansible adds to every module result, left out of a stored system_info result.
RESULT_KEYS = ("changed", "failed", "invocation", "warnings", "deprecations")
PACKAGE_LOGS = ("/var/log/dpkg.log", "/var/log/dnf.rpm.log")
JOURNAL_FILES = ("/run/log/journal/*/*.journal", "/var/log/journal/*/*.journal")
JOURNAL_SOCKET = "/run/systemd/journal/socket"
# Commands run with a C locale and in UTC, so their times read the same on every host.
COMMAND_ENVIRONMENT = {"LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
# Characters of a failed command's error output kept in the manifest.
MAX_ERROR = 500
BUNDLE_FORMAT = 1
# The names systemd accepts for units (as system_info checks them), and the part of one that may
# name a log file or directory under /var/log.
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_@.:+\\-]+$")
SERVICE_LOG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
BUNDLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class Settings(object):
    """The module's options in the form collect() uses."""

    def __init__(self, name, host, since, until, redactor, *, log_paths=(), services=(),
                 collect=COLLECT_CHOICES, include_rotated=True, max_file_bytes=16 * 1024 * 1024,
                 max_events=200, login_entries=100, event_patterns=()):
        self.name = name
        self.host = host
        self.since = since
        self.until = until
        self.redactor = redactor
        self.log_paths = list(log_paths)
        self.services = list(services)
        self.collect = set(collect)
        self.include_rotated = include_rotated
        self.max_file_bytes = max_file_bytes
        self.max_events = max_events
        self.login_entries = login_entries
        self.event_patterns = list(event_patterns)


def check_settings(settings):
    """Raise ValueError naming the option when a setting cannot work."""
    if not BUNDLE_NAME.match(settings.name):
        raise ValueError("name %r cannot name a bundle file; use letters, digits, '.', '_' and '-'"
                         % settings.name)
    if settings.until < settings.since:
        raise ValueError("until (%s) is before since (%s); give the window's start first"
                         % (utc_text(settings.until), utc_text(settings.since)))
    for service in settings.services:
        if not SERVICE_NAME.match(service) or service.startswith("-"):
            raise ValueError("services: %r is not a unit name; use letters, digits and _@.:+-\\ "
                             "and do not start with '-'" % service)
    for option in ("max_file_bytes", "max_events", "login_entries"):
        if getattr(settings, option) < 1:
            raise ValueError("%s must be at least 1, not %d" % (option, getattr(settings, option)))


def service_log_paths(services):
    """The usual log files of named services: /var/log/NAME.log and /var/log/NAME/*.log."""
    paths = []
    for service in services:
        base = service[:-len(".service")] if service.endswith(".service") else service
        if SERVICE_LOG_NAME.match(base) and ".." not in base:
            paths.extend(["/var/log/%s.log" % base, "/var/log/%s/*.log" % base])
    return paths


def journal_available():
    """Whether systemd's journal runs or has files on this host."""
    return os.path.exists(JOURNAL_SOCKET) or any(glob.glob(pattern) for pattern in JOURNAL_FILES)


def cut_at_line(data, limit):
    """(data cut to at most limit bytes at a line end, whether it was cut)."""
    if len(data) <= limit:
        return data, False
    end = data.rfind(b"\n", 0, limit)
    return data[:end + 1], True


class Collection(object):
    """The redacted members of a bundle, what was read or run for each, and the events."""

    def __init__(self, settings, now):
        self.settings = settings
        self.now = now
        self.members = []
        self.sources = []
        self.events = Events(settings.host, settings.since, settings.until, settings.event_patterns)
        self.journal = {"available": None, "reason": None}

    def keep(self, member, kind, origin, data, *, status="collected", error=None, truncated=False):
        """Redact data, keep it as member when not empty, note the source; return the redacted data."""
        data = self.settings.redactor.redact(bytes(data))
        if error is not None:
            error = self.settings.redactor.redact(error.encode("utf-8", "replace")).decode("utf-8", "replace")
        if status == "collected" and not data:
            status = "empty"
        if data:
            self.members.append((member, data))
        self.sources.append({
            "member": member if data else None,
            "kind": kind,
            "origin": origin,
            "status": status,
            "error": error,
            "bytes": len(data),
            "lines": data.count(b"\n"),
            "truncated": truncated,
        })
        return data

    def run(self, tools, member, kind, argv, windowed=False):
        """Run a read-only command; keep its output (redacted, cut to the limit) as member.

        windowed: keep only the output's lines that lie in the window, dated by their timestamps.
        Returns the kept output, or None when the command is missing or failed (noted, not raised).
        """
        origin = " ".join(argv)
        binary = tools.which(argv[0])
        if binary is None:
            self.keep(member, kind, origin, b"", status="missing", error="%s is not installed" % argv[0])
            return None
        rc, out, err = tools.run([binary, *argv[1:]])
        if rc != 0:
            message = (err or out or b"").decode("utf-8", "replace").strip()[:MAX_ERROR]
            self.keep(member, kind, origin, b"", status="error", error="exit code %d: %s" % (rc, message))
            return None
        if windowed:
            kept = WindowText(self.settings.max_file_bytes)
            window_lines(io.BytesIO(out), self.settings.since, self.settings.until, self.now, kept)
            data, truncated = kept.data, kept.truncated
        else:
            data, truncated = cut_at_line(out, self.settings.max_file_bytes)
        return self.keep(member, kind, origin, data, truncated=truncated)

    def read_logs(self, member_dir, kind, paths):
        """Keep the window's lines of each file that paths and globs name.

        Yields (path, kept text, modification time of the newest file read) for each file that
        had lines in the window.
        """
        files, unmatched = expand_paths(paths)
        settings = self.settings
        for path in files:
            text, report = read_file_window(path, settings.since, settings.until, settings.max_file_bytes,
                                            settings.include_rotated)
            status = "collected" if report["status"] == "read" else report["status"]
            data = self.keep(member_dir + path, kind, path, text.data, status=status, error=report["error"],
                             truncated=report["truncated"])
            if data:
                yield path, data, report["mtime"]
        for pattern in unmatched:
            self.keep(member_dir + pattern, kind, pattern, b"", status="no_match")


def _collect_logs(collection):
    settings = collection.settings
    paths = settings.log_paths + service_log_paths(settings.services)
    for path, data, mtime in collection.read_logs("logs", "log", paths):
        collection.events.scan_log(data, "logs" + path, mtime)


def _collect_packages(collection, tools):
    for path, data, mtime in collection.read_logs("packages", "package", list(PACKAGE_LOGS)):
        collection.events.scan_packages(data, "packages" + path, mtime)
    if tools.which("dnf") is not None:
        argv = ["dnf", "--quiet", "--cacheonly", "history", "list"]
        collection.run(tools, "packages/dnf-history.txt", "package", argv)


def _journal_argv(settings, *extra):
    return ["journalctl", "--no-pager", "--quiet", "--output=short-iso-precise",
            "--since=@%d" % math.floor(settings.since), "--until=@%d" % math.ceil(settings.until), *extra]


def _collect_journal(collection, tools):
    settings = collection.settings
    if not journal_available():
        reason = "no systemd journal on this host (no journald socket, no journal files)"
        collection.journal = {"available": False, "reason": reason}
        return
    collection.journal = {"available": True, "reason": None}
    events = collection.events
    found = collection.run(tools, "journal/all.log", "journal", _journal_argv(settings))
    if found is not None:
        events.scan_log(found, "journal/all.log", collection.now)
    found = collection.run(tools, "journal/errors.log", "journal", _journal_argv(settings, "--priority=err"))
    if found is not None:
        events.scan_log(found, "journal/errors.log", collection.now, every_line=True)
    for service in settings.services:
        member = "journal/unit-%s.log" % service
        found = collection.run(tools, member, "journal", _journal_argv(settings, "--unit=" + service))
        if found is not None:
            events.scan_log(found, member, collection.now)
    boots = ["journalctl", "--no-pager", "--list-boots"]
    found = collection.run(tools, "journal/boots.txt", "journal", boots)
    if found is not None:
        events.scan_boots(found, "journal/boots.txt")


def _collect_kernel(collection, tools):
    """The kernel ring buffer's lines in the window; dmesg may be denied (dmesg_restrict, containers)."""
    argv = ["dmesg", "--time-format", "iso"]
    found = collection.run(tools, "kernel/dmesg.log", "kernel", argv, windowed=True)
    if found is not None:
        collection.events.scan_log(found, "kernel/dmesg.log", collection.now)


def _collect_logins(collection, tools):
    settings = collection.settings
    until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(math.ceil(settings.until)))
    argv = ["last", "-x", "--time-format", "iso", "--until", until, "-n", str(settings.login_entries)]
    found = collection.run(tools, "logins/last.txt", "logins", argv)
    if found is not None:
        collection.events.scan_last(found, "logins/last.txt")


def _collect_system_info(collection, system_info):
    redactor = collection.settings.redactor
    system_info = dict((key, value) for key, value in system_info.items() if key not in RESULT_KEYS)
    text = json.dumps(system_info, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
    collection.keep("system/system_info.json", "snapshot", "opsrun.ops.system_info", text)
    settings = collection.settings
    snapshot_events = Events(settings.host, settings.since, settings.until)
    snapshot_events.scan_system_info(system_info, "system/system_info.json")
    for event in snapshot_events.items:
        # The same text was counted when the snapshot was kept.
        what = redactor.redact(event["what"].encode("utf-8"), count=False).decode("utf-8", "replace")
        collection.events.add(event["epoch"], event["kind"], event["severity"], event["source"], what)


def collect(settings, tools, system_info=None, now=None):
    """Collect the log files, what settings.collect names and the snapshot (when given)."""
    check_settings(settings)
    collection = Collection(settings, time.time() if now is None else now)
    _collect_logs(collection)
    if "journal" in settings.collect:
        _collect_journal(collection, tools)
    if "kernel" in settings.collect:
        _collect_kernel(collection, tools)
    if "packages" in settings.collect:
        _collect_packages(collection, tools)
    if "logins" in settings.collect:
        _collect_logins(collection, tools)
    if system_info:
        _collect_system_info(collection, system_info)
    return collection


def manifest_and_events(collection):
    """(manifest dict, events list, events left out) of a finished collection."""
    settings = collection.settings
    events, omitted = collection.events.finish(settings.max_events)
    manifest = {
        "format": BUNDLE_FORMAT,
        "host": settings.host,
        "bundle": settings.name,
        "collected_at": utc_text(collection.now),
        "window": {"since": utc_text(settings.since), "until": utc_text(settings.until)},
        "journal": collection.journal,
        "sources": collection.sources,
        "redactions": dict(settings.redactor.counts),
        "events": len(events),
        "events_omitted": omitted,
    }
    return manifest, events, omitted


def write_bundle(members, name, parent=None, mtime=None):
    """Pack members [(member, bytes)] as NAME.tar.gz in a new private directory under parent.

    The directory is created mode 0700 and the archive 0600; members are NAME/member, mode 0600.
    Returns (directory, archive path, size, sha256). Nothing is left behind on failure.
    """
    directory = tempfile.mkdtemp(prefix="opsrun-diagnostics-", dir=parent)
    try:
        path = os.path.join(directory, name + ".tar.gz")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for member, data in members:
                info = tarfile.TarInfo("%s/%s" % (name, member))
                info.size = len(data)
                info.mode = 0o600
                info.mtime = int(time.time() if mtime is None else mtime)
                archive.addfile(info, io.BytesIO(data))
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1024 * 1024), b""):
                digest.update(block)
        return directory, path, os.path.getsize(path), digest.hexdigest()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def bundle_members(collection, manifest, events):
    """All members of the bundle: the manifest, the events, then what was collected."""
    def as_json(value):
        return json.dumps(value, indent=2, sort_keys=True).encode("utf-8") + b"\n"

    return [("manifest.json", as_json(manifest)), ("events.json", as_json(events)), *collection.members]
