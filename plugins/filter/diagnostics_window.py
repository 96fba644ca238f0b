# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: diagnostics_window
short_description: The time window and identifier of an incident
version_added: 0.1.0
description:
  - Turns an incident's time and the lengths of the window before and after it into the window's start and
    end, in UTC, and an identifier for the incident's directory.
  - Computed once on the controller (with C(run_once)), it gives every host the same window.
positional: _input
options:
  _input:
    description:
      - When the incident happened, in ISO 8601 (C(2026-01-08T09:12:40+09:00), C(2026-01-08 09:12)); a time
        without an offset is the controller's local time.
      - Empty or C(now) for the current time.
    type: str
    required: true
  before:
    description:
      - How long before the incident the window starts, a number and a unit C(s), C(m), C(h), C(d) or C(w)
        (C(30m), C(2h), C(90s)).
    type: str
    default: 30m
  after:
    description:
      - How long after the incident the window ends, in the form of O(before).
    type: str
    default: 30m
author:
  - opsrun maintainers (@opsrun)
"""

EXAMPLES = r"""
- name: Work out the window of the half hour around an incident
  ansible.builtin.set_fact:
    incident: "{{ '2026-01-08T18:12:40+09:00' | opsrun.ops.diagnostics_window(before='30m', after='10m') }}"
  run_once: true
  # incident.since: 2026-01-08T08:42:40Z, incident.until: 2026-01-08T09:22:40Z, incident.id: 20260108T091240Z
"""

RETURN = r"""
_value:
  description: The incident's time and window, whole seconds in UTC.
  type: dict
  contains:
    incident:
      description: The incident's time, ISO 8601 in UTC.
      type: str
      sample: "2026-01-08T09:12:40Z"
    since:
      description: Start of the window, ISO 8601 in UTC.
      type: str
      sample: "2026-01-08T08:42:40Z"
    until:
      description: End of the window, ISO 8601 in UTC.
      type: str
      sample: "2026-01-08T09:22:40Z"
    id:
      description: The incident's time in compact form, usable as a directory name.
      type: str
      sample: 20260108T091240Z
"""

import math
import re
import time

from ansible.errors import AnsibleFilterError
from ansible_collections.opsrun.ops.plugins.module_utils._logscan_time import parse_time_spec

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(name, text):
    match = _DURATION.match(str(text))
    if not match:
        raise AnsibleFilterError(
            "diagnostics_window: %s=%r is not a length of time; use a number and a unit s, m, h, d or w, "
            "such as '30m', '2h' or '90s'" % (name, text))
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _utc(epoch, form="%Y-%m-%dT%H:%M:%SZ"):
    return time.strftime(form, time.gmtime(epoch))


def incident_window(incident_time, before, after, now):
    """{incident, since, until, id} of an incident at incident_time (empty or 'now': now)."""
    text = "" if incident_time is None else str(incident_time).strip()
    try:
        incident = parse_time_spec(text or "now", now)
    except ValueError as exc:
        raise AnsibleFilterError("diagnostics_window: the incident time %s" % exc) from None
    incident = math.floor(incident)
    return {
        "incident": _utc(incident),
        "since": _utc(incident - _duration("before", before)),
        "until": _utc(incident + _duration("after", after)),
        "id": _utc(incident, "%Y%m%dT%H%M%SZ"),
    }


def diagnostics_window(incident_time, before="30m", after="30m"):
    return incident_window(incident_time, before, after, time.time())


class FilterModule(object):
    """The filters of diagnostics."""

    def filters(self):
        return {"diagnostics_window": diagnostics_window}
