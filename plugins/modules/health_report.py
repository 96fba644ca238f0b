# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/health_report.py);
# this file documents it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_report
short_description: Report the health findings of every host of a play
version_added: 0.1.0
description:
  - Gathers the results that M(opsrun.ops.health_findings) registered on each host into one report and writes
    it on the controller as JSON (and as JUnit XML), from the controller process itself.
  - A host without such a result (it failed or could not be reached before the check ran on it) gets the
    finding C(reachable) / C(connection) with status C(crit); a host whose check failed before it had findings
    (bad options, say) gets the finding C(health_check) / C(run) with status C(unknown). No host is silently
    left out.
  - Run it once per play (C(run_once)), after the check, in an C(always) section so that it also runs when
    checks failed.
options:
  result:
    description: The name of the variable the results of M(opsrun.ops.health_findings) were registered in.
    type: str
    required: true
  hosts:
    description: The hosts to report on, in order; by default every host the play started with
      (C(ansible_play_hosts_all)).
    type: list
    elements: str
  dir:
    description:
      - Directory on the controller for the report files C(health_check_<time>.json) (and C(.xml)), created
        with mode C(0750); files are written with mode C(0640), atomically. Relative to the working directory
        of ansible-playbook. No files when omitted.
    type: path
  keep:
    description: How many reports of each kind to keep in O(dir); older ones are removed. C(0) keeps all.
    type: int
    default: 30
  junit:
    description:
      - Also write the report as JUnit XML, a test suite per host and a test case per finding; C(warn) and
        C(crit) findings are failures, C(unknown) ones errors.
    type: bool
    default: false
attributes:
  action:
    description: Runs on the controller only, as an action plugin.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  check_mode:
    description: Builds the report but writes no file.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  platform:
    description: Runs on the controller; the hosts are not contacted.
    platforms: posix
    support: full
notes:
  - C(changed) is always C(false); a report is the run's output, not a change to a host.
seealso:
  - module: opsrun.ops.health_findings
author:
  - opsrun maintainers (@opsrun)
"""

EXAMPLES = r"""
- name: Check the hosts and report on all of them
  block:
    - name: Check the host
      opsrun.ops.health_findings:
        disk: {}
        memory: {}
      register: health
  always:
    - name: Report the findings of every host
      opsrun.ops.health_report:
        result: health
        dir: /var/lib/opsrun/health
        junit: true
      register: report
      run_once: true

    - name: Publish them for AWX
      ansible.builtin.set_stats:
        data:
          health_check_findings: "{{ report.report.findings }}"
      run_once: true
"""

RETURN = r"""
report:
  description: The report, also the content of RV(json_file).
  returned: always
  type: dict
  contains:
    hosts:
      description: The most severe status per host, in the order of O(hosts).
      type: dict
      sample: {web01: ok, web02: crit}
    summary:
      description: Number of findings per status.
      type: dict
      sample: {ok: 30, warn: 1, unknown: 0, crit: 2}
    worst:
      description: The most severe status of all findings.
      type: str
      sample: crit
    findings:
      description: The findings of all hosts, host by host, with the keys of the findings of
        M(opsrun.ops.health_findings).
      type: list
      elements: dict
    generated:
      description: When the report was made, ISO 8601 in UTC.
      type: str
      sample: "2026-01-08T09:12:40Z"
    id:
      description: The same time to the microsecond, as in the file names.
      type: str
      sample: 20260108T091240123456Z
json_file:
  description: The JSON report written; null without O(dir) and in check mode.
  returned: always
  type: str
  sample: /var/lib/opsrun/health/health_check_20260108T091240123456Z.json
junit_file:
  description: The JUnit XML report written, or null.
  returned: always
  type: str
  sample: null
removed:
  description: Older reports removed to keep O(keep).
  returned: always
  type: list
  elements: str
  sample: []
"""
