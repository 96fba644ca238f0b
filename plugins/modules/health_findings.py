# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/health_findings.py);
# this file documents it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_findings
short_description: Check a host's health against thresholds and return findings
version_added: 0.1.0
description:
  - Asks the host for its state with at most one call each of M(opsrun.ops.system_info) (only the sections the
    enabled checks read), M(opsrun.ops.log_scan) (when log paths and patterns are given) and
    M(opsrun.ops.probe) (when probe targets are given), and measures the answers against thresholds on the
    controller.
  - The result is a list of findings, each with the keys C(host), C(check), C(item), C(status), C(value),
    C(threshold) and C(message). C(status) is C(ok), C(warn), C(crit) or C(unknown) (the check could not
    look, because a section of system_info failed, a file could not be read or a module failed).
  - A check whose option is omitted or null is not run. Levels are reached at equality; either level of a
    pair may be null to leave it out.
  - A host that cannot be reached is not an error of the connection. It gets the finding
    C(reachable) / C(connection) with status C(crit) like any other finding.
  - The task fails when the findings reach O(fail_on), and only then, with every finding in its result all the
    same. Put it in a C(block) whose C(always) section reports on all hosts with M(opsrun.ops.health_report),
    failed ones included.
options:
  fail_on:
    description:
      - The status from which the task fails. Statuses rise C(ok) < C(warn) < C(unknown) < C(crit).
      - With C(crit), a module that failed also fails the task, as a check that cannot run must not pass
        unnoticed.
      - C(never) only records.
    type: str
    choices: [warn, unknown, crit, never]
    default: crit
  section_timeout:
    description:
      - Seconds each section of M(opsrun.ops.system_info) may take.
    type: float
    default: 10.0
  disk:
    description:
      - Space used per mounted filesystem, in percent as C(df) shows it; one finding per mount point.
    type: dict
    suboptions:
      used_percent:
        description: Levels of the space used.
        type: dict
        default: {warn: 80.0, crit: 90.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
      mounts:
        description:
          - Levels for single mount points, instead of O(disk.used_percent), as a dict of mount point to
            C({warn, crit}).
        type: dict
        default: {}
      exclude:
        description: Mount points not to check, as shell-style patterns (C(/snap/*)).
        type: list
        elements: str
        default: []
      include_tmpfs:
        description: Also check memory-backed filesystems (C(tmpfs), C(devtmpfs), C(ramfs)).
        type: bool
        default: false
  inodes:
    description:
      - Inodes used per mounted filesystem in percent. Filesystems without a fixed number of inodes are
        skipped.
    type: dict
    suboptions:
      used_percent:
        description: Levels of the inodes used.
        type: dict
        default: {warn: 80.0, crit: 90.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
      mounts:
        description: Levels for single mount points, as a dict of mount point to C({warn, crit}).
        type: dict
        default: {}
      exclude:
        description: Mount points not to check, as shell-style patterns.
        type: list
        elements: str
        default: []
  memory:
    description:
      - Memory available for new work without swapping, in percent of the RAM. Lower is worse.
    type: dict
    suboptions:
      available_percent:
        description: Levels of the memory available; a status is reached at or below its level.
        type: dict
        default: {warn: 10.0, crit: 5.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
  swap:
    description:
      - Swap used in percent. A host without swap is C(ok).
    type: dict
    suboptions:
      used_percent:
        description: Levels of the swap used.
        type: dict
        default: {warn: 50.0, crit: 80.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
  load:
    description:
      - Load average divided by the number of CPUs.
    type: dict
    suboptions:
      per_cpu:
        description: Levels of the load per CPU.
        type: dict
        default: {warn: 2.0, crit: 4.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
      period:
        description: The load average to use, over 1, 5 or 15 minutes.
        type: int
        choices: [1, 5, 15]
        default: 5
  failed_units:
    description:
      - systemd units in the failed state, one finding per unit, or one C(ok) finding with the item C(all).
      - Hosts without systemd as PID 1 get no finding.
    type: dict
    suboptions:
      status:
        description: The status of a failed unit.
        type: str
        choices: [warn, crit]
        default: crit
      ignore:
        description: Units not to report, as shell-style patterns (C(user@*.service)).
        type: list
        elements: str
        default: []
  reboot:
    description:
      - Whether the host needs a reboot to use updated packages. Hosts that record nothing either way get no
        finding.
    type: dict
    suboptions:
      status:
        description: The status when a reboot is needed.
        type: str
        choices: [warn, crit]
        default: warn
  time:
    description:
      - Offset of the clock from its time source, in seconds either way. A clock that is not synchronised is
        at least C(warn); C(unknown) when no time synchronisation tool answers.
    type: dict
    suboptions:
      offset_seconds:
        description: Levels of the absolute offset.
        type: dict
        default: {warn: 0.5, crit: 5.0}
        suboptions:
          warn:
            description: Warning level.
            type: float
          crit:
            description: Critical level.
            type: float
  services:
    description:
      - Services that must be running, one finding per service.
    type: dict
    suboptions:
      names:
        description: Service names as M(opsrun.ops.system_info) takes them (C(nginx), C(cron.service)).
        type: list
        elements: str
        required: true
      status:
        description: The status of a service that is not running.
        type: str
        choices: [warn, crit]
        default: crit
  ports:
    description:
      - Sockets that must be listening, one finding per entry.
    type: dict
    suboptions:
      expected:
        description: The sockets.
        type: list
        elements: dict
        required: true
        suboptions:
          port:
            description: Port number.
            type: int
            required: true
          protocol:
            description: Protocol.
            type: str
            choices: [tcp, udp]
            default: tcp
          address:
            description: Local address the socket must be bound to; any address when omitted.
            type: str
      status:
        description: The status of a socket that is not listening.
        type: str
        choices: [warn, crit]
        default: crit
  sensors:
    description:
      - Temperature and humidity readings of hwmon chips and thermal zones (and IPMI with O(sensors.ipmi)).
      - A reading's item is C(chip/label), for example C(coretemp/Package id 0), C(thermal_zone0/x86_pkg_temp)
        or C(ipmi/Inlet Temp); the first rule whose O(sensors.rules[].kind) and O(sensors.rules[].match) fit
        it applies. A reading no rule fits is not reported.
    type: dict
    suboptions:
      rules:
        description: Ranges per sensor.
        type: list
        elements: dict
        required: true
        suboptions:
          match:
            description: Shell-style pattern on the item (C(*/Rack inlet), C(coretemp/*)).
            type: str
            default: '*'
          kind:
            description: C(temperature) or C(humidity); both when omitted.
            type: str
            choices: [temperature, humidity]
          warn_above:
            description: Warning at or above this value (°C or %RH).
            type: float
          crit_above:
            description: Critical at or above this value.
            type: float
          warn_below:
            description: Warning at or below this value.
            type: float
          crit_below:
            description: Critical at or below this value.
            type: float
          ignore:
            description: Do not report the readings this rule fits.
            type: bool
            default: false
      ipmi:
        description: Also ask the baseboard management controller, which can take seconds.
        type: bool
        default: false
  logs:
    description:
      - New lines in log files that match patterns, counted since the previous run with
        M(opsrun.ops.log_scan) (offsets kept in O(logs.state_file)); one finding per pattern with the count as
        value, and one C(unknown) finding per file that could not be read. Missing files are skipped.
    type: dict
    suboptions:
      paths:
        description: Log files or globs.
        type: list
        elements: path
        required: true
      patterns:
        description: What to count, with the counts from which a status is reached.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Unique name of the pattern, the item of its finding.
            type: str
            required: true
          pattern:
            description: Literal text, or a Python regular expression with O(logs.patterns[].regex).
            type: str
            required: true
          regex:
            description: Treat O(logs.patterns[].pattern) as a regular expression.
            type: bool
            default: false
          ignore_case:
            description: Match regardless of the case of ASCII letters.
            type: bool
            default: false
          warn:
            description: Count of new matching lines from which the status is C(warn).
            type: int
          crit:
            description: Count of new matching lines from which the status is C(crit).
            type: int
      state_file:
        description: The offsets file on the host; the default of M(opsrun.ops.log_scan) when omitted.
        type: path
      from_start:
        description:
          - Read files the state file does not know yet from their start. By default only lines written after
            the first run count, so that old lines do not raise alarms on the first day.
        type: bool
        default: false
      max_bytes:
        description: The most bytes read in one run over all files.
        type: int
        default: 67108864
  probes:
    description:
      - Liveness probes run from the host with M(opsrun.ops.probe), one finding per target; a C(tls) target
        also gives a C(tls) finding with the days until its certificate expires.
    type: dict
    suboptions:
      targets:
        description:
          - Targets as M(opsrun.ops.probe) takes them, plus two keys of the health check.
          - C(severity) (C(warn) or C(crit), default C(crit)) is the status of a target that does not answer
            as expected.
          - C(expect_down) (default C(false)) expects the probe to fail, for something that must stay closed.
        type: list
        elements: dict
        required: true
      timeout:
        description: Seconds each target may take unless it sets its own.
        type: float
        default: 5.0
      tls_days_left:
        description:
          - Levels of the days until a certificate expires; a status is reached at or below its level.
        type: dict
        default: {warn: 30, crit: 7}
        suboptions:
          warn:
            description: Warning level.
            type: int
          crit:
            description: Critical level.
            type: int
  prometheus_textfile:
    description:
      - Write the host's findings to this file on the host for the node_exporter textfile collector, replacing
        it atomically, with C(opsrun_health_check_status{check,item}) (0 ok, 1 warn, 2 crit, 3 unknown),
        C(opsrun_health_check_value{check,item}) for numeric values and
        C(opsrun_health_check_last_run_timestamp_seconds).
      - The directory must exist. A write that fails is an C(unknown) finding of the check C(prometheus).
    type: path
  prometheus_textfile_mode:
    description:
      - Mode of the textfile. node_exporter runs as its own user and must read it; it holds status codes and
        measurements only.
    type: str
    default: '0644'
attributes:
  action:
    description: The work is done by an action plugin on the controller, which runs modules on the host.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  check_mode:
    description: Reads and probes as usual; log offsets and the textfile are not written.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  platform:
    description: Linux hosts, as M(opsrun.ops.system_info) needs.
    platforms: linux
    support: full
notes:
  - C(changed) is always C(false); the only writes are the check's own bookkeeping (log offsets, the
    textfile).
  - Log files of other users usually need C(become).
seealso:
  - module: opsrun.ops.system_info
  - module: opsrun.ops.log_scan
  - module: opsrun.ops.probe
author:
  - opsrun maintainers (@opsrun)
"""

EXAMPLES = r"""
- name: Check disks, memory and cron with the default levels, recording only
  opsrun.ops.health_findings:
    disk: {}
    memory: {}
    services:
      names: [cron]
    fail_on: never
  register: health

- name: Show what is not ok
  ansible.builtin.debug:
    msg: "{{ health.findings | rejectattr('status', 'eq', 'ok') | map(attribute='message') | list }}"

- name: Check a database server, its logs and what it depends on
  become: true
  opsrun.ops.health_findings:
    disk:
      used_percent: {warn: 80, crit: 90}
      mounts:
        /var/lib/postgresql: {warn: 70, crit: 85}
    services:
      names: [postgresql]
    ports:
      expected:
        - port: 5432
    logs:
      paths: [/var/log/postgresql/*.log]
      patterns:
        - name: fatal
          pattern: "FATAL:"
          warn: 1
          crit: 10
    probes:
      targets:
        - name: backup server
          type: tcp
          host: backup01.example.com
          port: 22
          severity: warn
    fail_on: crit
  register: health
"""

RETURN = r"""
findings:
  description: The findings, C(reachable) first, then per check in the order of the options above.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The inventory name of the host.
      type: str
      sample: web01
    check:
      description:
        - The check, C(reachable), C(disk), C(inodes), C(memory), C(swap), C(load), C(failed_units),
          C(services), C(reboot), C(time), C(ports), C(sensors), C(logs), C(probes), C(tls) or C(prometheus).
      type: str
      sample: disk
    item:
      description:
        - What was checked, for example a mount point, a unit or service name, C(tcp/22), a sensor, a log
          pattern's name, a probe target's name; C(connection) for C(reachable), C(available) for C(memory),
          C(used) for C(swap), C(per_cpu_5m) for C(load), C(required) for C(reboot), C(offset) for C(time).
        - For an C(unknown) finding because a module or a section failed, the module's or section's name.
      type: str
      sample: /var
    status:
      description: C(ok), C(warn), C(crit) or C(unknown).
      type: str
      sample: warn
    value:
      description:
        - The measurement (percent, load, seconds, days, count of lines, a sensor's reading), a state
          (C(active), C(failed), a probe's C(ok) or C(fail)), a boolean, or null when nothing could be
          measured.
      type: raw
      sample: 83.4
    threshold:
      description:
        - What the value was measured against, C({warn, crit}) levels, a sensor rule's C(warn_above),
          C(crit_above), C(warn_below) and C(crit_below), the expected state, or null.
      type: raw
      sample: {warn: 80.0, crit: 90.0}
    message:
      description: One line for people.
      type: str
      sample: "space of /var used: 83.4% (warn at 80%, crit at 90%)"
worst:
  description: The most severe status of the findings.
  returned: always
  type: str
  sample: warn
counts:
  description: Number of findings per status.
  returned: always
  type: dict
  sample: {ok: 14, warn: 1, unknown: 0, crit: 0}
fail_on:
  description: The O(fail_on) used.
  returned: always
  type: str
  sample: crit
fail_on_reached:
  description:
    - Whether a finding reaches O(fail_on), or a module failed while O(fail_on=crit); the task then fails.
  returned: always
  type: bool
  sample: false
fail_reasons:
  description:
    - Why RV(fail_on_reached) is true, most severe first; empty when it is false. Also the task's C(msg).
  returned: always
  type: list
  elements: str
  sample: ["crit disk /var: space of /var used: 93.1% (warn at 80%, crit at 90%)"]
errors:
  description: Modules that failed and textfile writes that failed, with their messages.
  returned: always
  type: list
  elements: str
  sample: []
"""
