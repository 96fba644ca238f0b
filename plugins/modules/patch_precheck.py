#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: patch_precheck
short_description: Check that an apt host can be patched before anything on it is touched
version_added: 0.1.0
description:
  - Runs the checks that must pass before packages are upgraded, and fails naming every one that
    did not. Nothing is changed, so the checks also run in check mode.
  - C(free_space) - each path of O(min_free_mb) has at least that many MiB available.
  - C(lock) - no process holds apt's or dpkg's locks (C(/var/lib/dpkg/lock-frontend),
    C(/var/lib/dpkg/lock), C(/var/cache/apt/archives/lock), C(/var/lib/apt/lists/lock)). The module
    waits up to O(lock_timeout) seconds for them to be released, then names the holding process
    (PID and command), found from C(/proc/locks), so no C(fuser) or C(lsof) is needed.
  - C(packages) - C(dpkg --audit) reports no half-installed or unconfigured package and
    C(apt-get check) finds no broken dependency (when O(audit) is true).
  - C(reboot) - no reboot from an earlier change is pending (O(reboot_pending), for example the
    C(reboot.required) of M(opsrun.ops.system_info)).
author: opsrun maintainers (@opsrun)
options:
  min_free_mb:
    description:
      - Minimum free space in MiB, by path; the filesystem holding each path is checked.
    type: dict
    default: {}
  lock_timeout:
    description:
      - Seconds to wait for apt's and dpkg's locks to be released before failing.
    type: int
    default: 60
  audit:
    description:
      - Run C(dpkg --audit) and C(apt-get check).
    type: bool
    default: true
  reboot_pending:
    description:
      - Whether a reboot from an earlier change is pending; the C(reboot) check fails when it is.
    type: bool
    default: false
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Debian and Ubuntu hosts (apt and dpkg).
    platforms: debian
    support: full
seealso:
  - module: opsrun.ops.package_upgrade
  - module: opsrun.ops.package_updates_info
'''

EXAMPLES = r'''
- name: Check the host before patching, waiting up to two minutes for a running apt
  opsrun.ops.patch_precheck:
    min_free_mb:
      /: 500
      /var: 1000
    lock_timeout: 120
    reboot_pending: "{{ before.reboot.required | default(false) }}"
  register: precheck
'''

RETURN = r'''
checks:
  description: Every check made, in the order made; also returned when the module fails.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(free_space), C(lock), C(packages) or C(reboot).
      type: str
      sample: lock
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    detail:
      description: What was found, in one sentence.
      type: str
      sample: no process holds apt's or dpkg's locks
failed_checks:
  description: Names of the checks that did not pass.
  returned: always
  type: list
  elements: str
  sample: [lock]
locks:
  description: The locks still held when the module gave up waiting, each with its holders.
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/lib/dpkg/lock-frontend, held: true, holders: [{pid: 812, command: apt-get}]}]
lock_waited:
  description: Seconds spent waiting for the locks.
  returned: always
  type: float
  sample: 0.0
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._patch import (
    describe_held,
    free_space_checks,
    wait_for_locks,
)

C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C', 'LANGUAGE': 'C'}


def lock_check(module):
    held, waited = wait_for_locks(module.params['lock_timeout'])
    if held:
        detail = '%s, still after %s s of waiting; wait for it to finish or stop it, then run again' % (
            describe_held(held), waited)
    else:
        detail = "no process holds apt's or dpkg's locks (waited %s s)" % waited
    return {'name': 'lock', 'ok': not held, 'detail': detail}, held, waited


def package_check(module):
    dpkg = module.get_bin_path('dpkg', required=True)
    apt_get = module.get_bin_path('apt-get', required=True)
    problems = []
    rc, out, err = module.run_command([dpkg, '--audit'], environ_update=C_LOCALE)
    if rc != 0 or out.strip():
        first = (out.strip() or err.strip()).splitlines()[:3]
        problems.append('dpkg --audit reports unfinished packages (%s); repair them with dpkg --configure -a'
                        % ' '.join(first))
    rc, out, err = module.run_command([apt_get, '-q', 'check'], environ_update=C_LOCALE)
    if rc != 0:
        lines = [line for line in (err or out).strip().splitlines() if line][-2:]
        problems.append('apt-get check exited %d (%s); repair with apt-get -f install'
                        % (rc, ' '.join(lines)))
    if problems:
        return {'name': 'packages', 'ok': False, 'detail': '; '.join(problems)}
    return {'name': 'packages', 'ok': True, 'detail': 'dpkg --audit and apt-get check find no broken package'}


def reboot_check(pending):
    if pending:
        return {'name': 'reboot', 'ok': False,
                'detail': 'a reboot from an earlier change is pending; reboot the host first'}
    return {'name': 'reboot', 'ok': True, 'detail': 'no reboot is pending'}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            min_free_mb=dict(type='dict', default={}),
            lock_timeout=dict(type='int', default=60),
            audit=dict(type='bool', default=True),
            reboot_pending=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    minimums = module.params['min_free_mb']
    for path, value in minimums.items():
        if not str(path).startswith('/') or not str(value).isdigit():
            module.fail_json(msg='min_free_mb must map absolute paths to whole MiB, not %r: %r'
                                 % (path, value))
    if module.params['lock_timeout'] < 0:
        module.fail_json(msg='lock_timeout must be 0 or more seconds, not %d' % module.params['lock_timeout'])

    checks = []
    for check in free_space_checks(dict((path, int(value)) for path, value in minimums.items())):
        checks.append({'name': check['name'], 'ok': check['ok'], 'detail': check['detail']})
    checks.append(reboot_check(module.params['reboot_pending']))
    lock, held, waited = lock_check(module)
    checks.append(lock)
    if module.params['audit'] and not held:
        checks.append(package_check(module))

    failed = [check['name'] for check in checks if not check['ok']]
    result = dict(changed=False, checks=checks, failed_checks=failed, locks=held, lock_waited=waited)
    if failed:
        details = '; '.join(check['detail'] for check in checks if not check['ok'])
        module.fail_json(msg='The host cannot be patched: %s' % details, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
