# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notable events of one host in an incident's window, for the cross-host timeline.

Events are read from texts that were already redacted, so they carry no secret either: error
and critical log lines, kernel trouble (out of memory, segfaults, panics, I/O errors), failed
units, boots and shutdowns, and package changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.opsrun.ops.plugins.module_utils._logscan_scan import TIME_LOOKBACK_LINES, line_time
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import parse_line_time

SEVERITIES = ("info", "warn", "error", "crit")
# Characters of a line kept as the event's text.
MAX_WHAT = 500
# Two boot (or shutdown) events of one host closer than this are one event seen by two sources.
BOOT_MERGE_SECONDS = 120

# Kinds of log lines worth a place on the timeline, the most specific first: (kind, severity, regex).
LOG_RULES = (
    ("oom", "crit", r"out of memory|oom-kill|invoked oom-killer"),
    ("segfault", "crit", r"segfault at|general protection fault|traps: \S+\[\d+\] trap"),
    ("kernel", "crit",
     r"kernel panic|\bbug: |\boops: |call trace:|blocked for more than \d+ seconds|soft lockup"),
    ("io_error", "crit", r"i/o error|ext4-fs error|remounting filesystem read-only"),
    ("unit_failed", "error", r"failed to start|entered failed state|failed with result"),
    ("critical", "crit", r"\b(?:crit(?:ical)?|emerg(?:ency)?|alert|fatal|panic)\b"),
    ("error", "error", r"\b(?:err(?:or)?|fail(?:ed|ure)?)\b"),
)

# Ansible's own record of the modules it ran on the host ("ansible-<module>[pid]: Invoked with
# ..."), which names options such as "failed_units" and would put the collection itself on the timeline.
_ANSIBLE_INVOCATION = re.compile(rb"\bansible-[\w.]+\[\d+\]: Invoked with ")
# The timestamp a line starts with, in the forms syslog files and journalctl write. Two lines of
# the same second that are the same after it are one line seen by two sources (a syslog file and
# the journal).
_LEADING_TIME = re.compile(
    r"^(?:<\d{1,3}>\d{0,2} ?)?(?:[A-Z][a-z]{2} )?(?:\d{4}-\d\d-\d\d[T ]|[A-Z][a-z]{2} [ \d]\d )"
    r"\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?: ?(?:Z|[+-]\d\d:?\d\d|[A-Z]{2,5}))? +")
_DPKG = re.compile(rb"^\S+ \S+ (install|upgrade|remove|purge) (\S+) (\S+) (\S+)\r?$", re.MULTILINE)
_DNF_RPM = re.compile(rb"^\S+ \S+ (Installed|Upgrade|Downgrade|Erase|Reinstall): (\S+)\r?$", re.MULTILINE)
_ISO_TIME = rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:,\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
_LAST = re.compile(rb"^(reboot|shutdown) +system (?:boot|down) +(\S+) +" + _ISO_TIME, re.MULTILINE)
_BOOT_TIME = rb"(\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: \w+)?)"
_LIST_BOOTS = re.compile(
    rb"^ *(-?\d+) +([0-9a-f]{32}) +" + _BOOT_TIME + rb"\W+" + _BOOT_TIME + rb" *$", re.MULTILINE)


def utc_text(epoch):
    """Fixed-width ISO 8601 time in UTC (sorts as text): 2026-01-08T09:12:40.000000Z."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compile_rules(custom=()):
    """Custom rules (dicts name, pattern, severity) first, then LOG_RULES, compiled to ignore case.

    Raises ValueError for a pattern that is not a valid regular expression.
    """
    specs = [(rule["name"], rule["severity"], rule["pattern"]) for rule in custom]
    specs.extend(LOG_RULES)
    compiled = []
    for kind, severity, text in specs:
        try:
            compiled.append((kind, severity, re.compile(text.encode("utf-8"), re.IGNORECASE | re.MULTILINE)))
        except re.error as exc:
            raise ValueError("event pattern %s (%r) is not a valid regular expression: %s"
                             % (kind, text, exc)) from None
    return compiled


def _line_bounds(data, position):
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    return start, len(data) if end < 0 else end


class Events(object):
    """The events of one host inside [since, until], without repeats."""

    def __init__(self, host, since, until, custom_rules=()):
        self.host = host
        self.since = since
        self.until = until
        self.rules = compile_rules(custom_rules)
        self.items = []
        self._seen = set()

    def add(self, epoch, kind, severity, source, what):
        """Note one event (what is bytes or text); ignored outside the window or when already noted."""
        if epoch is None or not self.since <= epoch <= self.until:
            return
        if isinstance(what, bytes):
            what = what.decode("utf-8", "replace")
        text = what.strip()[:MAX_WHAT]
        key = (int(epoch), _LEADING_TIME.sub("", text, count=1))
        if key in self._seen:
            return
        if kind in ("boot", "shutdown") and any(
                item["kind"] == kind and abs(item["epoch"] - epoch) < BOOT_MERGE_SECONDS
                for item in self.items):
            return
        self._seen.add(key)
        self.items.append({
            "time": utc_text(epoch),
            "epoch": round(epoch, 6),
            "host": self.host,
            "kind": kind,
            "severity": severity,
            "source": source,
            "what": text,
        })

    def _matching_lines(self, data):
        """{line start: (line end, kind, severity)} of the lines a rule matches; the first rule wins."""
        lines = {}
        for kind, severity, regex in self.rules:
            for match in regex.finditer(data):
                start, end = _line_bounds(data, match.start())
                if start not in lines:
                    lines[start] = (end, kind, severity)
        return lines

    def scan_log(self, data, source, ref_epoch, every_line=False):
        """Events from the lines of a log text that match a rule.

        every_line: also the other lines, as errors, for a text that holds errors only (the
        journal's entries of priority err and worse).
        """
        lines = self._matching_lines(data)
        if every_line:
            for match in re.finditer(rb"^.+$", data, re.MULTILINE):
                lines.setdefault(match.start(), (match.end(), "error", "error"))
        for start in sorted(lines):
            end, kind, severity = lines[start]
            line = data[start:end].rstrip(b"\r")
            # journalctl's notes ("-- Boot ... --") are not log lines.
            if line.startswith(b"-- ") or _ANSIBLE_INVOCATION.search(line):
                continue
            self.add(line_time(data, start, ref_epoch, TIME_LOOKBACK_LINES), kind, severity, source, line)

    def scan_packages(self, data, source, ref_epoch):
        """Package installs, upgrades and removals from dpkg.log or dnf.rpm.log lines."""
        for match in _DPKG.finditer(data):
            action, package, old, new = match.groups()
            what = b"%s %s %s -> %s" % (action, package, old, new)
            self.add(parse_line_time(match.group(0), ref_epoch), "package", "info", source, what)
        for match in _DNF_RPM.finditer(data):
            what = b"%s %s" % match.groups()
            self.add(parse_line_time(match.group(0), ref_epoch), "package", "info", source, what)

    def scan_last(self, data, source):
        """Boots and shutdowns from `last -x --time-format iso`."""
        for match in _LAST.finditer(data):
            record, kernel, moment = match.groups()
            if record == b"reboot":
                kind, what = "boot", b"system booted (kernel %s)" % kernel
            else:
                kind, what = "shutdown", b"system went down (kernel %s)" % kernel
            self.add(parse_line_time(moment), kind, "info", source, what)

    def scan_boots(self, data, source):
        """Starts and last entries of boots from `journalctl --list-boots`."""
        for match in _LIST_BOOTS.finditer(data):
            index, boot_id, first, last = match.groups()
            short_id = boot_id[:12]
            self.add(parse_line_time(first), "boot", "info", source,
                     b"boot %s started (first journal entry)" % short_id)
            if int(index) != 0:
                what = b"boot %s ended (last journal entry; the host stopped or crashed after it)" % short_id
                self.add(parse_line_time(last), "shutdown", "info", source, what)

    def scan_system_info(self, system_info, source):
        """The current boot and the failed units of an opsrun.ops.system_info result."""
        identity = system_info.get("identity") or {}
        if identity.get("boot_time"):
            what = "system booted (kernel %s)" % (identity.get("kernel") or "unknown")
            self.add(_iso_epoch(identity["boot_time"]), "boot", "info", source, what)
        services = system_info.get("services") or {}
        for unit in services.get("failed_units") or []:
            if unit.get("since"):
                what = "%s failed (%s): %s" % (unit.get("name"), unit.get("sub"),
                                               unit.get("description") or "")
                self.add(_iso_epoch(unit["since"]), "unit_failed", "error", source, what)

    def finish(self, limit):
        """(events sorted by time, how many were left out): beyond limit, the least severe go first."""
        rank = dict((severity, number) for number, severity in enumerate(SEVERITIES))
        kept = sorted(self.items, key=lambda item: (-rank[item["severity"]], item["epoch"]))[:limit]
        kept.sort(key=lambda item: (item["epoch"], item["source"], item["what"]))
        return kept, len(self.items) - len(kept)


def _iso_epoch(text):
    return parse_line_time(str(text).encode("ascii", "replace"))
