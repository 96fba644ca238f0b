#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: package_upgrade
short_description: Upgrade exactly the planned apt updates and report what changed
version_added: 0.1.0
description:
  - Takes the C(updates) of M(opsrun.ops.package_updates_info), leaves out the packages matched by
    O(exclude) (and, when O(allow) is given, those it does not match), and upgrades the rest with
    one C(apt-get install --only-upgrade), each package pinned to the planned candidate version. A
    package that is not installed is never installed by this module.
  - Before apt-get runs, the module waits up to O(lock_timeout) seconds for apt's and dpkg's locks
    and then fails naming the holding process.
  - The result lists each package whose installed version really changed (from C(dpkg-query)
    before and after), and how long apt-get ran, so the time apt took can be told apart from the
    time spent around it.
  - When apt-get fails (for example a maintainer script exits non-zero) the module fails with
    apt's output and still reports the packages that changed before the failure.
author: opsrun maintainers (@opsrun)
options:
  updates:
    description:
      - The updates to apply, as returned by M(opsrun.ops.package_updates_info) in C(updates).
        Each needs C(name), C(installed_version), C(candidate_version) and C(security); C(origin) is
        reported when present.
    type: list
    elements: dict
    required: true
  exclude:
    description:
      - Shell-style patterns (case-sensitive) of package names never to upgrade, for example
        C(linux-image-*).
    type: list
    elements: str
    default: []
  allow:
    description:
      - When not empty, only packages matching one of these shell-style patterns are upgraded.
    type: list
    elements: str
    default: []
  lock_timeout:
    description:
      - Seconds to wait for apt's and dpkg's locks before failing; apt-get itself waits as long.
    type: int
    default: 60
attributes:
  check_mode:
    description: Reports the packages that would be upgraded, from the planned versions; nothing runs.
    support: full
  diff_mode:
    description: Not supported; the changed packages are in the result.
    support: none
  platform:
    description: Debian and Ubuntu hosts (apt and dpkg).
    platforms: debian
    support: full
seealso:
  - module: opsrun.ops.package_updates_info
  - module: opsrun.ops.patch_precheck
'''

EXAMPLES = r'''
- name: List the pending security updates
  opsrun.ops.package_updates_info:
    update_cache: true
    security_only: true
  register: pending

- name: Upgrade them, except the kernel
  opsrun.ops.package_upgrade:
    updates: "{{ pending.updates }}"
    exclude: [linux-image-*]
  register: upgraded
'''

RETURN = r'''
packages:
  description:
    - Packages whose installed version changed (in check mode, would change), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Package name.
      type: str
      sample: libssl3
    from:
      description: Version before.
      type: str
      sample: 3.0.15-1~deb12u1
    to:
      description: Version after.
      type: str
      sample: 3.0.17-1~deb12u2
    security:
      description: Whether the update is a security update.
      type: bool
      sample: true
    origin:
      description: Where the new version comes from, as package_updates_info reported it.
      type: str
      sample: Debian-Security:12/stable-security
selected:
  description: Names of the updates chosen for the upgrade.
  returned: always
  type: list
  elements: str
  sample: [libssl3, openssl]
skipped:
  description: Updates left out, each with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{name: linux-image-amd64, reason: excluded by linux-image-*}]
apt_seconds:
  description: Seconds apt-get ran (0 in check mode or when nothing was selected).
  returned: always
  type: float
  sample: 4.21
lock_waited:
  description: Seconds spent waiting for apt's and dpkg's locks.
  returned: always
  type: float
  sample: 0.0
stdout:
  description: Output of apt-get.
  returned: when apt-get ran
  type: str
stderr:
  description: Error output of apt-get.
  returned: when apt-get ran
  type: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._patch import (
    describe_held,
    package_changes,
    parse_dpkg_versions,
    planned_changes,
    select_updates,
    upgrade_arguments,
    wait_for_locks,
)

C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C', 'LANGUAGE': 'C'}
APT_ENVIRONMENT = dict(C_LOCALE, DEBIAN_FRONTEND='noninteractive', APT_LISTCHANGES_FRONTEND='none')
REQUIRED_KEYS = ('name', 'installed_version', 'candidate_version', 'security')


def installed_versions(module, names):
    dpkg_query = module.get_bin_path('dpkg-query', required=True)
    argv = [dpkg_query, '-W', '-f', '${Package}\\t${Version}\\t${Status}\\n', *names]
    rc, out, err = module.run_command(argv, environ_update=C_LOCALE)
    # rc 1 only means that some name is unknown to dpkg; those are simply not installed
    if rc not in (0, 1):
        module.fail_json(msg='dpkg-query exited %d while reading installed versions; see stderr' % rc,
                         rc=rc, stdout=out, stderr=err)
    return parse_dpkg_versions(out)


def validate_updates(module, updates):
    for index, update in enumerate(updates):
        missing = [key for key in REQUIRED_KEYS if key not in update]
        if missing:
            module.fail_json(msg='updates[%d] lacks %s; pass the updates list of '
                                 'opsrun.ops.package_updates_info' % (index, ', '.join(missing)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            updates=dict(type='list', elements='dict', required=True),
            exclude=dict(type='list', elements='str', default=[]),
            allow=dict(type='list', elements='str', default=[]),
            lock_timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    validate_updates(module, params['updates'])
    selected, skipped = select_updates(params['updates'], params['exclude'], params['allow'])
    result = dict(changed=False, packages=[], selected=sorted(update['name'] for update in selected),
                  skipped=skipped, apt_seconds=0.0, lock_waited=0.0)
    if not selected:
        module.exit_json(**result)
    if module.check_mode:
        result.update(changed=True, packages=planned_changes(sorted(selected, key=lambda u: u['name'])))
        module.exit_json(**result)

    held, waited = wait_for_locks(params['lock_timeout'])
    result['lock_waited'] = waited
    if held:
        module.fail_json(msg='Cannot upgrade packages: %s, still after %s s of waiting; wait for it to '
                             'finish or stop it, then run again' % (describe_held(held), waited),
                         locks=held, **result)

    names = [update['name'] for update in selected]
    before = installed_versions(module, names)
    apt_get = module.get_bin_path('apt-get', required=True)
    argv = [apt_get, 'install', '-y', '-q', '--only-upgrade', '--no-install-recommends',
            '-o', 'DPkg::Lock::Timeout=%d' % params['lock_timeout'],
            '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold']
    started = time.monotonic()
    rc, out, err = module.run_command(argv + upgrade_arguments(selected), environ_update=APT_ENVIRONMENT)
    result['apt_seconds'] = round(time.monotonic() - started, 3)
    after = installed_versions(module, names)
    changes = package_changes(sorted(selected, key=lambda u: u['name']), before, after)
    result.update(changed=bool(changes), packages=changes, stdout=out, stderr=err)
    if rc != 0:
        last = [line for line in err.strip().splitlines() if line][-3:]
        module.fail_json(msg='apt-get install of %s exited %d: %s. Fix the package or exclude it, then run '
                             '"dpkg --configure -a" on the host' % (', '.join(names), rc, ' '.join(last)),
                         rc=rc, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
