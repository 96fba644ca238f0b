#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

# Ansible modules keep DOCUMENTATION, EXAMPLES and RETURN above the imports.

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diagnostics_bundle
short_description: Collect an incident's evidence on a host, redact it and pack it into one archive
version_added: 0.1.0
description:
  - Collects what a root-cause analysis needs from one host for a time window around an incident, removes
    secrets from it on the host, and packs it into one C(.tar.gz) archive in a new private directory
    (mode C(0700), archive C(0600)) for M(ansible.builtin.fetch) to take to the controller.
  - "Collected, each only when named in O(collect): C(logs), the lines of the system's log files
    (C(/var/log/syslog), C(/var/log/messages), C(kern.log), C(auth.log), C(secure), C(daemon.log), C(cron))
    that lie in the window, with their rotated generations, read the way M(opsrun.ops.log_scan) reads a time
    window; C(journal), C(journalctl --since --until) for the whole journal, for its entries of priority
    C(err) and worse and for each of O(services), and C(journalctl --list-boots), where the host has a
    systemd journal; C(kernel), the lines of C(dmesg --time-format iso) in the window; C(packages), the
    window's lines of C(/var/log/dpkg.log) and C(/var/log/dnf.rpm.log), and C(dnf history list) where dnf
    exists; C(logins), C(last -x) up to the end of the window."
  - The window's lines of O(paths) are always collected, as are those of C(/var/log/NAME.log) and
    C(/var/log/NAME/*.log) for each of O(services). O(system_info), when given, is stored as
    C(system/system_info.json).
  - Every text goes through the redaction patterns before it is kept, in memory; nothing unredacted is
    written to disk or returned. The events returned are read from the redacted texts.
  - A command that is missing or fails (C(dmesg) is often denied in containers or with
    C(kernel.dmesg_restrict)) is recorded in the manifest with its error; it does not fail the module.
  - The archive holds C(NAME/manifest.json) (window, what was read or run for each source, its status and
    error, and how many secrets each pattern replaced, never the secrets), C(NAME/events.json) and the
    collected texts under C(NAME/logs/), C(NAME/journal/), C(NAME/kernel/), C(NAME/packages/),
    C(NAME/logins/) and C(NAME/system/).
options:
  name:
    description:
      - Name of the archive (C(NAME.tar.gz)) and of its top directory; usually C(inventory_hostname).
      - Letters, digits, C(.), C(_) and C(-), starting with a letter, digit or C(_).
    type: str
    required: true
  host:
    description:
      - The host named in the events and the manifest; O(name) when not given.
    type: str
  since:
    description:
      - Start of the window, in the forms the C(since) option of M(opsrun.ops.log_scan) accepts, such as an
        ISO 8601 time (C(2026-01-08T09:12:40Z)) or a time back from now (C(-30m)).
      - Times without an offset are the host's local time.
    type: str
    required: true
  until:
    description:
      - End of the window (inclusive), in the forms of O(since).
    type: str
    required: true
  collect:
    description:
      - What to collect besides O(paths), O(services)' log files and O(system_info); see the description.
    type: list
    elements: str
    choices: [logs, journal, kernel, packages, logins]
    default: [logs, journal, kernel, packages, logins]
  paths:
    description:
      - More log files to collect the window's lines of. Entries with C(*), C(?) or C([) are globs.
      - Lines are dated by their timestamps, as M(opsrun.ops.log_scan) dates them; a line without one takes
        the time of the line before it.
    type: list
    elements: path
    default: []
  services:
    description:
      - Services whose journal entries (C(journalctl --unit)) and log files under C(/var/log) to collect.
      - Unit names (letters, digits and C(_@.:+-\)), not starting with C(-).
    type: list
    elements: str
    default: []
  include_rotated:
    description:
      - Also read the rotated generations of log files (C(syslog.1), C(syslog.2.gz), C(messages-20260108))
        that were written during the window.
    type: bool
    default: true
  system_info:
    description:
      - The registered result of M(opsrun.ops.system_info), stored (redacted, without Ansible's own keys
        such as C(changed) and C(invocation)) in the bundle. Its current boot and its failed units that
        entered their state in the window become events.
    type: dict
  redact_builtin:
    description:
      - Apply the built-in redaction patterns; see the notes. Switch them off only to replace them with
        O(redact_patterns) that cover the same secrets.
    type: bool
    default: true
  redact_patterns:
    description:
      - More Python regular expressions whose matches are replaced by C([REDACTED]), after the built-in ones.
      - Each is applied to the bytes of a whole text, so use C((?i)) for case and C([ \t]) rather than
        C(\s) to stay within a line. A pattern with capturing groups has only its groups replaced (keep
        the key, hide the value); without groups its whole match is replaced.
    type: list
    elements: str
    default: []
  event_patterns:
    description:
      - More kinds of log lines to put on the timeline, tried before the built-in ones (out of memory,
        segfaults, kernel trouble, I/O errors, failed units, critical and error lines).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The kind of event a matching line is.
        type: str
        required: true
      pattern:
        description:
          - Python regular expression, matched regardless of case.
        type: str
        required: true
      severity:
        description:
          - Severity of the event.
        type: str
        choices: [info, warn, error, crit]
        default: error
  max_file_bytes:
    description:
      - The most bytes kept of each collected text; the earliest lines are kept and the source is marked
        C(truncated) in the manifest.
    type: int
    default: 16777216
  max_events:
    description:
      - The most events returned; beyond it the least severe are left out and counted in RV(events_omitted).
    type: int
    default: 200
  login_entries:
    description:
      - How many entries of C(last -x) to collect.
    type: int
    default: 100
  temp_dir:
    description:
      - Directory in which the private directory holding the archive is created; the system's temporary
        directory (C(TMPDIR), else C(/tmp)) when not given. Remove RV(bundle_dir) after fetching the archive.
    type: path
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: In check mode everything is collected, redacted and counted as usual, but no archive is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - "The built-in redaction patterns replace: private key blocks (C(-----BEGIN ... PRIVATE KEY-----) to
    C(-----END ... PRIVATE KEY-----)); the credentials of C(Authorization) and C(Proxy-Authorization)
    headers; C(Bearer) tokens; the values after C(password), C(passwd), C(passphrase), C(pwd), C(secret),
    C(token), C(api_key), C(access_key), C(private_key) and C(credentials) followed by C(=) or C(:);
    passwords in URLs (C(scheme://user:password@host)); AWS access key IDs (C(AKIA...))."
  - Redaction works by pattern, so a secret in a form no pattern knows stays in the bundle. Add patterns for
    the secrets of your applications with O(redact_patterns).
  - Reading other users' logs, the whole journal and C(dmesg) usually needs C(become).
  - Commands run with a C locale and C(TZ=UTC), so their times read the same on every host.
seealso:
  - module: opsrun.ops.log_scan
  - module: opsrun.ops.system_info
author:
  - opsrun maintainers (@opsrun)
"""

EXAMPLES = r"""
- name: Take a system snapshot for the bundle
  opsrun.ops.system_info:
    gather: [all]
  register: snapshot

- name: Collect the half hour around the incident into a bundle
  become: true
  opsrun.ops.diagnostics_bundle:
    name: "{{ inventory_hostname }}"
    since: "2026-01-08T08:42:40Z"
    until: "2026-01-08T09:42:40Z"
    services: [nginx, postgresql]
    paths:
      - /srv/app/log/*.log
    redact_patterns:
      - "(?i)x-api-secret:[ \\t]*(\\S+)"
    system_info: "{{ snapshot }}"
  register: evidence

- name: Fetch the bundle to the controller
  ansible.builtin.fetch:
    src: "{{ evidence.bundle }}"
    dest: "incidents/20260108T091240Z/{{ inventory_hostname }}.tar.gz"
    flat: true

- name: Remove the bundle from the host
  become: true
  ansible.builtin.file:
    path: "{{ evidence.bundle_dir }}"
    state: absent
"""

RETURN = r"""
bundle:
  description: The archive; V(null) in check mode.
  returned: always
  type: str
  sample: /tmp/opsrun-diagnostics-k2j4x8qz/web01.tar.gz
bundle_dir:
  description: The private directory holding the archive, to remove after fetching it; V(null) in check mode.
  returned: always
  type: str
  sample: /tmp/opsrun-diagnostics-k2j4x8qz
size:
  description: Size of the archive in bytes; V(null) in check mode.
  returned: always
  type: int
  sample: 48213
sha256:
  description: SHA-256 of the archive; V(null) in check mode.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
collected_at:
  description: When the collection ran, ISO 8601 in UTC.
  returned: always
  type: str
  sample: "2026-01-08T09:44:02.511230Z"
window:
  description: The window collected, ISO 8601 in UTC.
  returned: always
  type: dict
  contains:
    since:
      description: Start of the window.
      type: str
      sample: "2026-01-08T08:42:40.000000Z"
    until:
      description: End of the window.
      type: str
      sample: "2026-01-08T09:42:40.000000Z"
journal:
  description: Whether a systemd journal was found; V(null) values when C(journal) was not collected.
  returned: always
  type: dict
  contains:
    available:
      description: A journald socket or journal files exist.
      type: bool
      sample: true
    reason:
      description: Why the journal was not read, else V(null).
      type: str
      sample: null
sources:
  description: Every file read and command run, in the order of collection, as in the manifest.
  returned: always
  type: list
  elements: dict
  contains:
    member:
      description: Path of the text in the archive below C(NAME/), or V(null) when nothing was kept.
      type: str
      sample: logs/var/log/syslog
    kind:
      description: C(log), C(journal), C(kernel), C(package), C(logins) or C(snapshot).
      type: str
      sample: log
    origin:
      description: The file, glob or command line read.
      type: str
      sample: /var/log/syslog
    status:
      description:
        - C(collected); C(empty) when nothing lay in the window; C(missing) for a file or command that does
          not exist; C(no_match) for a glob that matched nothing; C(error) when it could not be read or run.
      type: str
      sample: collected
    error:
      description: What went wrong (redacted), else V(null).
      type: str
      sample: "exit code 1: dmesg: read kernel buffer failed: Operation not permitted"
    bytes:
      description: Bytes kept, after redaction.
      type: int
      sample: 20211
    lines:
      description: Lines kept.
      type: int
      sample: 180
    truncated:
      description: O(max_file_bytes) cut the text short.
      type: bool
      sample: false
redactions:
  description: Per pattern (built-in names, then C(custom_1), C(custom_2), ...), how many secrets it replaced.
  returned: always
  type: dict
  sample: {private_key: 0, authorization: 1, bearer: 0, password: 2, url_credentials: 0, aws_access_key_id: 0}
events:
  description: Notable events in the window, sorted by time, from the redacted texts.
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: ISO 8601 in UTC, fixed width, so that times sort as text.
      type: str
      sample: "2026-01-08T09:12:40.000000Z"
    epoch:
      description: The same time in seconds since the epoch.
      type: float
      sample: 1767863560.0
    host:
      description: O(host), else O(name).
      type: str
      sample: web01
    kind:
      description:
        - C(oom), C(segfault), C(kernel), C(io_error), C(unit_failed), C(critical), C(error), C(boot),
          C(shutdown), C(package), or the name of one of O(event_patterns).
      type: str
      sample: oom
    severity:
      description: C(info), C(warn), C(error) or C(crit).
      type: str
      sample: crit
    source:
      description: The member of the archive the event was read from.
      type: str
      sample: kernel/dmesg.log
    what:
      description: The line or a description, at most 500 characters.
      type: str
      sample: "2026-01-08T09:12:40,123456+00:00 Out of memory: Killed process 4242 (java)"
events_omitted:
  description: Events left out beyond O(max_events).
  returned: always
  type: int
  sample: 0
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle import (
    COLLECT_CHOICES,
    COMMAND_ENVIRONMENT,
    Settings,
    bundle_members,
    collect,
    manifest_and_events,
    write_bundle,
)
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_events import SEVERITIES
from ansible_collections.opsrun.ops.plugins.module_utils._diagbundle_redact import Redactor
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import parse_time_spec

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    host=dict(type="str"),
    since=dict(type="str", required=True),
    until=dict(type="str", required=True),
    collect=dict(type="list", elements="str", choices=list(COLLECT_CHOICES), default=list(COLLECT_CHOICES)),
    paths=dict(type="list", elements="path", default=[]),
    services=dict(type="list", elements="str", default=[]),
    include_rotated=dict(type="bool", default=True),
    system_info=dict(type="dict"),
    redact_builtin=dict(type="bool", default=True),
    redact_patterns=dict(type="list", elements="str", default=[]),
    event_patterns=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            name=dict(type="str", required=True),
            pattern=dict(type="str", required=True),
            severity=dict(type="str", choices=list(SEVERITIES), default="error"),
        ),
    ),
    max_file_bytes=dict(type="int", default=16 * 1024 * 1024),
    max_events=dict(type="int", default=200),
    login_entries=dict(type="int", default=100),
    temp_dir=dict(type="path"),
)

# The system's own log files; a file a distribution does not write is noted as missing.
SYSTEM_LOGS = (
    "/var/log/syslog",
    "/var/log/messages",
    "/var/log/kern.log",
    "/var/log/auth.log",
    "/var/log/secure",
    "/var/log/daemon.log",
    "/var/log/cron",
)


class HostTools(object):
    """Finds and runs the host's commands for collect(): argument lists, C locale, UTC."""

    def __init__(self, module):
        self.module = module

    def which(self, name):
        return self.module.get_bin_path(name)

    def run(self, argv):
        return self.module.run_command(argv, environ_update=COMMAND_ENVIRONMENT, encoding=None)


def settings_from(params, now):
    """Settings from the module's parameters; ValueError names the option that is wrong."""
    window = {}
    for option in ("since", "until"):
        try:
            window[option] = parse_time_spec(params[option], now)
        except ValueError as exc:
            raise ValueError("%s: %s" % (option, exc)) from None
    paths = list(params["paths"])
    if "logs" in params["collect"]:
        paths = list(SYSTEM_LOGS) + paths
    return Settings(
        params["name"], params["host"] or params["name"], window["since"], window["until"],
        Redactor(params["redact_builtin"], params["redact_patterns"]),
        log_paths=paths,
        services=params["services"],
        collect=params["collect"],
        include_rotated=params["include_rotated"],
        max_file_bytes=params["max_file_bytes"],
        max_events=params["max_events"],
        login_entries=params["login_entries"],
        event_patterns=params["event_patterns"],
    )


def run(params, check_mode, tools, now):
    """Collect, redact and (unless check_mode) pack; the module's result. ValueError for bad options."""
    settings = settings_from(params, now)
    collection = collect(settings, tools, params["system_info"], now)
    manifest, events, omitted = manifest_and_events(collection)
    result = dict(
        changed=True,
        bundle=None,
        bundle_dir=None,
        size=None,
        sha256=None,
        collected_at=manifest["collected_at"],
        window=manifest["window"],
        journal=manifest["journal"],
        sources=manifest["sources"],
        redactions=manifest["redactions"],
        events=events,
        events_omitted=omitted,
    )
    if not check_mode:
        members = bundle_members(collection, manifest, events)
        directory, path, size, digest = write_bundle(members, settings.name, params["temp_dir"], now)
        result.update(bundle=path, bundle_dir=directory, size=size, sha256=digest)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run(module.params, module.check_mode, HostTools(module), time.time())
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the bundle under %s: %s; set temp_dir to a writable directory"
                         % (module.params["temp_dir"] or "the temporary directory", exc))
    else:
        module.exit_json(**result)


if __name__ == "__main__":
    main()
