#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

# Ansible modules keep DOCUMENTATION, EXAMPLES and RETURN above the imports.

__metaclass__ = type

DOCUMENTATION = r"""
---
module: log_scan
short_description: Scan log files for patterns, incrementally or in a time window
version_added: 0.1.0
description:
  - Looks for named patterns (literal text or regular expressions, each with a severity) in log files and
    returns, per pattern, how many lines matched and the first and last matching lines with file, line number
    and timestamp.
  - By default the scan is incremental, the way C(logtail2) works. A state file on the host remembers for
    every file where the last run stopped (device, inode, byte offset, line number and a fingerprint of the
    first 256 bytes), so the next run reads only the lines written since.
  - A file whose inode changed was rotated. With O(include_rotated) the module finds the previous file among
    the rotated generations (C(name.1), C(name-20251128), C(name.2.gz) and the like, by fingerprint or inode),
    reads the lines it had not yet seen there and any generation rotated after it, then reads the new file
    from its start. A file that became shorter than the stored offset, or whose first bytes changed while the
    inode stayed (for example C(copytruncate)), is read again from the start with a warning; the unread end
    of its copy is finished first, found the same way.
  - With O(since) or O(until) the module scans a time window instead, for incident diagnostics. Offsets are
    then neither read nor stored; the current file and, with O(include_rotated), its rotated generations
    written during the window are read, and only lines whose timestamp lies in the window count.
  - Files are read in large blocks and each literal is searched with a fast substring search over the whole
    block, so a scan runs at a good fraction of the speed of C(grep -F). Literals with
    O(patterns[].ignore_case) cost one more pass over the data (shared by all of them); regular
    expressions, with O(patterns[].ignore_case) above all, are much slower than literals, so prefer literals
    where they will do.
author:
  - opsrun maintainers (@opsrun)
options:
  paths:
    description:
      - Log files to scan. Entries with C(*), C(?) or C([) are globs; they match files only, in sorted order.
      - A missing file is reported with RV(files[].status=missing); a glob that matches nothing with
        RV(files[].status=no_match). Neither fails the module.
      - Globs should not match the rotated copies of the files they match (C(/var/log/app/*.log), not
        C(/var/log/app/*)), or rotated lines are read twice.
    type: list
    elements: path
    required: true
  patterns:
    description:
      - What to look for. Each pattern is matched against each line; a line counts once per pattern however
        often the pattern occurs in it.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the pattern, the key of the pattern in RV(patterns). Names must be unique.
        type: str
        required: true
      pattern:
        description:
          - The text to look for, or a Python regular expression when O(patterns[].regex=true).
          - Matching works on the UTF-8 bytes of the line. A regex is compiled as a bytes regex with
            C(MULTILINE), so C(^) and C($) anchor at line starts and ends, and C(\w), C(\d) and C(\s) match
            ASCII characters only; a character class cannot list non-ASCII characters.
        type: str
        required: true
      regex:
        description:
          - Treat O(patterns[].pattern) as a regular expression instead of literal text.
        type: bool
        default: false
      severity:
        description:
          - Severity of a match, used for RV(summary.severity).
        type: str
        choices: [info, warn, crit]
        default: warn
      ignore_case:
        description:
          - Match regardless of the case of ASCII letters (other letters match as written).
        type: bool
        default: false
  state_file:
    description:
      - The JSON file that keeps the offsets between runs. A missing directory is created with mode C(0700),
        and the file is written with mode C(0600), atomically (a temporary file in the same directory,
        then a rename).
      - It is keyed by file path, so two tasks that scan the same files for different patterns need different
        state files, or each would see only part of the new lines. Two runs with the same state file must not
        overlap in time.
      - Entries of files that no longer exist are dropped after 30 days without a change.
      - Not used when O(since) or O(until) is set.
    type: path
    default: /var/lib/opsrun/log_scan.json
  include_rotated:
    description:
      - After a rotation, read the unseen end of the previous file and any generation rotated after it before
        the new file. When false, the unseen end of a rotated file is skipped.
      - In window mode, also read the rotated generations of each file that were written during the window,
        oldest first.
      - Compressed generations must be gzip (C(.gz)).
    type: bool
    default: true
  from_start:
    description:
      - Where to start in a file the state file does not know yet.
      - V(true), the default, reads it from the start, as C(logtail2) does, within O(max_bytes); a large file
        is then worked through over several runs, oldest lines first.
      - V(false) starts at its end, so only lines written after the first run are reported; line numbers
        in that file are then unknown (V(null)) until it is rotated.
    type: bool
    default: true
  max_bytes:
    description:
      - The most bytes to read in one run, over all files, so that a runaway log cannot stall a health check.
      - Each file may use an equal share of what is left; what files did not need goes to the files that
        were cut short. A file cut short has RV(files[].truncated_by_limit=true) and the next run continues
        where this one stopped. At least one line is read from a file whatever the limit.
    type: int
    default: 67108864
  lines:
    description:
      - How many of the first and of the last matching lines to return per pattern. V(0) returns counts only.
    type: int
    default: 5
  max_line_length:
    description:
      - Returned line texts are cut to this many characters.
    type: int
    default: 1024
  since:
    description:
      - Start of a time window; with O(since) or O(until) set the module scans that window instead of
        continuing from stored offsets.
      - V(now), a time back from now such as V(-30m), V(-2h), V(-1d), V(-90s) or V(-1w), or an ISO 8601 time
        such as V(2025-11-28T23:00:00+09:00), V(2025-11-28 23:00) (local time) or V(2025-11-28) (local
        midnight).
    type: str
  until:
    description:
      - End of a time window (inclusive), in the forms O(since) accepts. No end when omitted.
    type: str
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the files are scanned as usual but the state file is not written, so the stored
      offsets do not move.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - C(changed) is true when the run moved a stored offset, that is when the state file was rewritten (in check
    mode, when it would have been). A run that found nothing new, and every window scan, reports
    C(changed=false).
  - Only complete lines are read from a file that may still grow; a last line without its line end is read
    by the next run once it is complete.
  - Timestamps are read from the start of each line, after an optional C(<PRI>). Understood are RFC 3164
    syslog (C(Nov 28 23:15:16), with the year inferred from the file's modification time), RFC 5424 and
    ISO 8601 (C(2025-11-28T23:15:16.123+09:00), C(2025-11-28 23:15:16,123), and C(2025/11/28 23:15:16) of
    the nginx error log), and journald C(short), C(short-precise), C(short-iso), C(short-iso-precise) and
    C(short-full). In web server logs the Common Log Format time (C([28/Nov/2025:23:15:16 +0900])) is found
    near the start of the line. Times without an offset are the host's local time.
  - In window mode a line without a timestamp (a continuation line) takes the time of the nearest line before
    it that has one, within 20 lines; it is left out when there is none. The start of the window is found in
    a large file by bisection, which assumes the file is in time order, and reading stops after the first
    block that is later than O(until). Line numbers are V(null) in a file whose start was skipped that way.
  - Files of other users usually need C(become).
seealso:
  - module: opsrun.ops.system_info
"""

EXAMPLES = r"""
- name: Check the system log for new problems since the last run
  become: true
  opsrun.ops.log_scan:
    paths:
      - /var/log/syslog
      - /var/log/kern.log
    patterns:
      - name: oom
        pattern: "Out of memory"
        severity: crit
      - name: segfault
        pattern: segfault
        severity: warn
      - name: auth_failure
        pattern: authentication failure
        severity: info
  register: system_log

- name: Fail the health check on critical log lines
  ansible.builtin.assert:
    that: system_log.summary.severity != 'crit'
    fail_msg: >-
      {{ system_log.patterns.oom.count }} out-of-memory kills, the last:
      {{ system_log.patterns.oom.last | map(attribute='text') | join(' | ') }}

- name: Count HTTP 5xx answers in all virtual hosts' access logs, with a separate state file
  become: true
  opsrun.ops.log_scan:
    paths:
      - /var/log/nginx/*access.log
    patterns:
      - name: server_error
        pattern: '" 5\d\d '
        regex: true
        severity: warn
    state_file: /var/lib/opsrun/log_scan_nginx.json
    max_bytes: 268435456

- name: Collect the errors of the last 30 minutes for an incident
  become: true
  opsrun.ops.log_scan:
    paths:
      - /var/log/app/app.log
    patterns:
      - name: error
        pattern: error
        ignore_case: true
        severity: crit
    since: -30m
    lines: 20
  register: incident_errors
"""

RETURN = r"""
mode:
  description: V(offsets) when continuing from the state file, V(window) when scanning a time window.
  returned: always
  type: str
  sample: offsets
state_file:
  description: The state file used, V(null) in window mode.
  returned: always
  type: str
  sample: /var/lib/opsrun/log_scan.json
window:
  description: The time window scanned, V(null) in offsets mode.
  returned: always
  type: dict
  contains:
    since:
      description: Start of the window (ISO 8601, local time), V(null) when open.
      type: str
      sample: "2025-11-28T22:45:00+09:00"
    until:
      description: End of the window (ISO 8601, local time), V(null) when open.
      type: str
      sample: null
summary:
  description: The outcome over all patterns.
  returned: always
  type: dict
  contains:
    severity:
      description: The worst severity of the patterns that matched at least once, V(ok) when none did.
      type: str
      choices: [ok, info, warn, crit]
      sample: crit
    matches:
      description: Matching lines over all patterns (a line that matches two patterns counts twice).
      type: int
      sample: 3
    by_severity:
      description: Matching lines per severity.
      type: dict
      sample: {"info": 0, "warn": 2, "crit": 1}
patterns:
  description: Per pattern name, what was found.
  returned: always
  type: dict
  contains:
    severity:
      description: The severity of the pattern.
      type: str
      sample: crit
    count:
      description: Lines that matched.
      type: int
      sample: 1
    first:
      description: The first O(lines) matching lines, in reading order.
      type: list
      elements: dict
      contains:
        file:
          description: The file the line was read from (a rotated generation when it was read there).
          type: str
          sample: /var/log/syslog
        line:
          description: Line number in that file, counted from 1; V(null) when unknown (see the notes).
          type: int
          sample: 1532
        offset:
          description: Byte offset of the start of the line in that file (decompressed for C(.gz)).
          type: int
          sample: 120394
        timestamp:
          description: The line's time (ISO 8601, local time), V(null) when it has none that could be read.
          type: str
          sample: "2025-11-28T23:15:16+09:00"
        text:
          description: The line, without its line end, cut to O(max_line_length) characters.
          type: str
          sample: "Nov 28 23:15:16 web01 kernel: Out of memory: Killed process 4242 (java)"
    last:
      description: The last O(lines) matching lines, in reading order, with the keys of RV(patterns.first).
      type: list
      elements: dict
  sample:
    oom:
      severity: crit
      count: 1
      first:
        - file: /var/log/syslog
          line: 1532
          offset: 120394
          timestamp: "2025-11-28T23:15:16+09:00"
          text: "Nov 28 23:15:16 web01 kernel: Out of memory: Killed process 4242 (java)"
      last:
        - file: /var/log/syslog
          line: 1532
          offset: 120394
          timestamp: "2025-11-28T23:15:16+09:00"
          text: "Nov 28 23:15:16 web01 kernel: Out of memory: Killed process 4242 (java)"
files:
  description: Per configured file (after glob expansion), what was read, then one entry per glob that matched
    nothing.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, or the glob that matched nothing.
      type: str
      sample: /var/log/syslog
    status:
      description:
        - V(scanned) when read, V(unchanged) when nothing was new, V(missing) when the file does not exist
          (its rotated generations may still have been read), V(error) when it could not be read
          (see RV(files[].error)), V(no_match) for a glob that matched no file.
      type: str
      choices: [scanned, unchanged, missing, error, no_match]
      sample: scanned
    error:
      description: Why the file could not be read, V(null) otherwise.
      type: str
      sample: "cannot read /var/log/secure: Permission denied; run with become or give the connecting user
        read access"
    rotated:
      description: The file was replaced by a new one (another inode) since the last run.
      type: bool
      sample: false
    truncated:
      description: The file became shorter, or its first bytes changed, since the last run, so it was read
        again from its start.
      type: bool
      sample: false
    truncated_by_limit:
      description: Reading stopped at the O(max_bytes) limit; the next run continues there.
      type: bool
      sample: false
    bytes_scanned:
      description: Bytes read, over all sources.
      type: int
      sample: 48213
    lines_scanned:
      description: Lines read, over all sources.
      type: int
      sample: 402
    first_timestamp:
      description: Time of the first line read that has a timestamp, V(null) when none.
      type: str
      sample: "2025-11-28T23:00:01+09:00"
    last_timestamp:
      description: Time of the last line read that has a timestamp, V(null) when none.
      type: str
      sample: "2025-11-28T23:15:16+09:00"
    sources:
      description: The stretches of files read, in order (a rotated generation, then the file itself).
      type: list
      elements: dict
      contains:
        path:
          description: The file read.
          type: str
          sample: /var/log/syslog.1
        compressed:
          description: Whether it was gzip-compressed (offsets are then in the decompressed data).
          type: bool
          sample: false
        start:
          description: Byte offset where reading started.
          type: int
          sample: 0
        end:
          description: Byte offset where reading ended (just after the last line read).
          type: int
          sample: 48213
        bytes:
          description: Bytes read.
          type: int
          sample: 48213
        lines:
          description: Lines read.
          type: int
          sample: 402
    warnings:
      description: What the module noticed about this file, such as a truncation or a rotated file that was
        not found. The same texts are also shown as Ansible warnings.
      type: list
      elements: str
      sample: []
bytes_scanned:
  description: Bytes read over all files.
  returned: always
  type: int
  sample: 48213
lines_scanned:
  description: Lines read over all files.
  returned: always
  type: int
  sample: 402
truncated_by_limit:
  description: Some file was cut short by O(max_bytes); the next run continues there.
  returned: always
  type: bool
  sample: false
time_range:
  description: The earliest and the latest timestamp seen at the starts and ends of the data read (ISO 8601,
    local time), V(null) when nothing read had one.
  returned: always
  type: dict
  contains:
    first:
      description: The earliest timestamp.
      type: str
      sample: "2025-11-28T23:00:01+09:00"
    last:
      description: The latest timestamp.
      type: str
      sample: "2025-11-28T23:15:16+09:00"
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._logscan import (
    DEFAULT_MAX_BYTES,
    Settings,
    expand_paths,
    scan_tracked,
    scan_window,
    summarize,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_scan import (
    BLOCK_SIZE,
    SEVERITIES,
    Pattern,
    Scanner,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_state import (
    StateError,
    load_state,
    save_state,
)
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import (
    format_epoch,
    parse_time_spec,
)

ARGUMENT_SPEC = dict(
    paths=dict(type="list", elements="path", required=True),
    patterns=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            name=dict(type="str", required=True),
            pattern=dict(type="str", required=True),
            regex=dict(type="bool", default=False),
            severity=dict(type="str", choices=list(SEVERITIES), default="warn"),
            ignore_case=dict(type="bool", default=False),
        ),
    ),
    state_file=dict(type="path", default="/var/lib/opsrun/log_scan.json"),
    include_rotated=dict(type="bool", default=True),
    from_start=dict(type="bool", default=True),
    max_bytes=dict(type="int", default=DEFAULT_MAX_BYTES),
    lines=dict(type="int", default=5),
    max_line_length=dict(type="int", default=1024),
    since=dict(type="str"),
    until=dict(type="str"),
)


def build_patterns(specs):
    """Compile the patterns option; raises ValueError naming the offending pattern."""
    patterns = []
    seen = set()
    for spec in specs:
        if spec["name"] in seen:
            raise ValueError("pattern name %r is used twice in patterns; names must be unique" % spec["name"])
        seen.add(spec["name"])
        patterns.append(
            Pattern(spec["name"], spec["pattern"], spec["regex"], spec["severity"], spec["ignore_case"]))
    return patterns


def parse_window(since, until, now):
    """(since, until) as epoch seconds (None where not given); raises ValueError naming the option."""
    bounds = []
    for option, value in (("since", since), ("until", until)):
        if value is None:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_time_spec(value, now))
        except ValueError as exc:
            raise ValueError("%s: %s" % (option, exc)) from None
    if None not in bounds and bounds[0] > bounds[1]:
        raise ValueError("since (%s) is later than until (%s); swap them" % (since, until))
    return bounds[0], bounds[1]


def check_limits(params):
    """Raise ValueError when a numeric option is out of range."""
    for option, minimum in (("max_bytes", 1), ("lines", 0), ("max_line_length", 1)):
        if params[option] < minimum:
            raise ValueError("%s must be at least %d, got %d" % (option, minimum, params[option]))


def run(params, check_mode, now):
    """Scan as the options say. Returns (result, warnings).

    Raises ValueError for a bad option and StateError when the state file cannot be read or
    written (the offsets then stay where they were, so nothing is lost).
    """
    check_limits(params)
    patterns = build_patterns(params["patterns"])
    since, until = parse_window(params["since"], params["until"], now)
    scanner = Scanner(patterns, params["lines"], params["max_line_length"], since, until)
    settings = Settings(params["include_rotated"], params["from_start"], params["max_bytes"], BLOCK_SIZE)
    files, unmatched = expand_paths(params["paths"])
    changed = False
    warnings = []
    if scanner.windowed:
        reports = scan_window(files, scanner, settings)
        result = summarize(scanner, reports, unmatched)
        result.update(mode="window", state_file=None,
                      window={"since": format_epoch(since), "until": format_epoch(until)})
    else:
        state_file = params["state_file"]
        entries, state_warning = load_state(state_file)
        if state_warning:
            warnings.append(state_warning)
        reports, new_entries, changed = scan_tracked(files, entries, scanner, settings, now)
        if changed and not check_mode:
            save_state(state_file, new_entries)
        result = summarize(scanner, reports, unmatched)
        result.update(mode="offsets", state_file=state_file, window=None)
    for report in reports:
        warnings.extend(report.warnings)
    result["changed"] = changed
    return result, warnings


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result, warnings = run(module.params, module.check_mode, time.time())
    except (ValueError, StateError) as exc:
        module.fail_json(msg=str(exc))
    else:
        for warning in warnings:
            module.warn(warning)
        module.exit_json(**result)


if __name__ == "__main__":
    main()
