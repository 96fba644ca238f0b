#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

# Ansible modules keep DOCUMENTATION, EXAMPLES and RETURN above the imports.

__metaclass__ = type

DOCUMENTATION = r"""
---
module: package_updates_info
short_description: List pending package updates without installing anything
version_added: 0.1.0
description:
  - Lists the package updates a host would get from its configured repositories, with installed and
    candidate version, origin, whether each one is a security update, and whether applying them implies
    a reboot.
  - On apt hosts the apt cache is read with python3-apt (C(apt_pkg)) when the module's Python can import it,
    or when C(/usr/bin/python3) can, in which case the module re-runs itself under that interpreter.
    Without python3-apt the module parses C(apt-get -s dist-upgrade) instead; that lists what a full
    upgrade would install, so an update that cannot be installed because of a conflict is left out.
  - An apt update is a security update when one of the repositories offering the candidate version has a
    label ending in C(-Security) (Debian's C(Debian-Security)) or a suite or codename ending in C(-security)
    (Debian, Ubuntu and mirrors of them, such as C(bookworm-security)).
  - On dnf and yum hosts C(check-update) lists the updates, C(updateinfo list security) marks the security
    updates and C(rpm -q) gives the installed versions. These run cache-only (C(-C)), so without
    O(update_cache) the metadata already on the host is used and no repository is contacted.
  - Nothing is installed or removed and the module always reports C(changed=false).
author:
  - opsrun maintainers (@opsrun)
options:
  manager:
    description:
      - The package manager to query.
      - V(auto) uses apt when C(apt-get) is in C(PATH), otherwise dnf, otherwise yum.
    type: str
    choices: [auto, apt, dnf, yum]
    default: auto
  update_cache:
    description:
      - Refresh the package metadata first, with C(apt-get update), C(dnf makecache --refresh) or
        C(yum makecache).
      - That changes only the metadata cache, so the module still reports C(changed=false);
        RV(cache_updated) says whether it ran.
      - Not done in check mode.
      - When another process holds the lock the refresh needs (C(/var/lib/apt/lists/lock), dnf's
        C(/var/cache/dnf/*_lock.pid), C(/var/run/yum.pid)), the module fails and names the lock file
        and the holding process.
    type: bool
    default: false
  security_only:
    description:
      - Report only security updates, in RV(updates) as well as in RV(held).
    type: bool
    default: false
  names:
    description:
      - Report only packages whose name matches one of these shell-style patterns (case-sensitive),
        for example V(openssl*).
      - All packages when omitted.
    type: list
    elements: str
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: In check mode O(update_cache) is not carried out; everything else runs as usual.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [debian, rhel]
notes:
  - RV(reboot_required_after_update) is derived from the reported updates, after O(names) and
    O(security_only) are applied. A kernel (C(linux-image-*), C(kernel), C(kernel-core)), C library
    (C(libc6), C(glibc)), C(systemd), D-Bus or CPU microcode update needs a reboot to take full effect.
  - Packages on hold (C(apt-mark hold)) are reported in RV(held), not in RV(updates). dnf and yum leave
    version-locked packages out of C(check-update), so RV(held) is always empty there.
  - The dnf commands used are those of dnf 4 (Enterprise Linux 8 to 10) and yum 3 (Enterprise Linux 7).
requirements:
  - apt hosts - python3-apt for the preferred path, otherwise C(apt-get) and C(apt-mark).
  - dnf/yum hosts - C(dnf) or C(yum), and C(rpm).
seealso:
  - module: ansible.builtin.package_facts
"""

EXAMPLES = r"""
- name: List pending updates
  opsrun.ops.package_updates_info:
  register: pending

- name: Refresh the metadata, then list pending security updates of the OpenSSL and kernel packages
  become: true
  opsrun.ops.package_updates_info:
    update_cache: true
    security_only: true
    names:
      - openssl*
      - libssl*
      - linux-image-*
      - kernel*
  register: security_pending

- name: Warn when applying the pending updates will need a reboot
  ansible.builtin.debug:
    msg: "{{ pending.count }} updates, reboot needed afterwards: {{ pending.reboot_reasons | join(', ') }}"
  when: pending.reboot_required_after_update
"""

RETURN = r"""
updates:
  description: Pending updates, sorted by name and architecture, without held packages.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Package name.
      type: str
      sample: libssl3
    arch:
      description: Package architecture.
      type: str
      sample: amd64
    installed_version:
      description:
        - The installed version; null when the package is not installed yet (a dnf package that
          obsoletes another one).
      type: str
      sample: 3.0.15-1~deb12u1
    candidate_version:
      description: The version the update installs (with C(epoch:) when the epoch is not 0).
      type: str
      sample: 3.0.17-1~deb12u2
    origin:
      description:
        - Where the candidate comes from. For apt in apt's own notation, C(label:version/suite), or
          C(label:suite) when the repository's Release file has no version;
          for dnf and yum the repository id.
        - For an apt security update the security repository is shown even when another one offers the
          same version.
      type: str
      sample: Debian-Security:12/stable-security
    security:
      description: Whether this is a security update.
      type: bool
      sample: true
    obsoletes:
      description: C(name.arch) of installed packages this dnf/yum package replaces; empty for apt.
      type: list
      elements: str
      sample: []
count:
  description: Number of entries in RV(updates).
  returned: success
  type: int
  sample: 12
security_count:
  description: Number of entries in RV(updates) that are security updates.
  returned: success
  type: int
  sample: 3
held:
  description: Updates of packages on hold, same fields as RV(updates); they are not applied by an upgrade.
  returned: success
  type: list
  elements: dict
  sample: []
manager:
  description: The package manager that was queried.
  returned: success
  type: str
  sample: apt
backend:
  description:
    - How the updates were read. V(python-apt) (the apt cache through python3-apt), V(apt-get) (an
      C(apt-get -s dist-upgrade) simulation), V(dnf) or V(yum).
  returned: success
  type: str
  sample: python-apt
reboot_required_after_update:
  description: Whether applying the reported updates implies a reboot.
  returned: success
  type: bool
  sample: true
reboot_reasons:
  description:
    - One line per reported update that implies a reboot, as C(category) colon C(name candidate_version);
      categories are kernel, libc, systemd, dbus and microcode.
  returned: success
  type: list
  elements: str
  sample: ["kernel: linux-image-amd64 6.1.129-1", "libc: libc6 2.36-9+deb12u10"]
cache_updated:
  description: Whether the package metadata was refreshed (O(update_cache) outside check mode).
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates import summarize
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_apt import (
    apt_records_to_updates,
    parse_apt_simulation,
    parse_showhold,
    python_apt_available,
    read_python_apt_records,
)
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_dnf import (
    CHECK_UPDATE_PENDING,
    RPM_QUERY_FORMAT,
    dnf_updates,
    parse_check_update,
    parse_rpm_query,
    parse_security_advisories,
)
from ansible_collections.opsrun.ops.plugins.module_utils._pkgupdates_lock import (
    APT_CACHE_LOCKS,
    DNF_CACHE_LOCKS,
    YUM_LOCKS,
    describe_lock,
    lock_status,
)

MANAGER_BINARIES = {'apt': 'apt-get', 'dnf': 'dnf', 'yum': 'yum'}
AUTO_ORDER = ('apt', 'dnf', 'yum')
CACHE_LOCKS = {'apt': APT_CACHE_LOCKS, 'dnf': DNF_CACHE_LOCKS, 'yum': YUM_LOCKS}
CACHE_REFRESH_ARGS = {
    'apt': ['-q', 'update'],
    'dnf': ['-q', 'makecache', '--refresh'],
    'yum': ['-q', 'makecache'],
}
# Where python3-apt lives when the module runs under another interpreter (a virtualenv, a pinned Python).
SYSTEM_PYTHONS = ['/usr/bin/python3']
APT_SIMULATE_ARGS = ['-s', '-q', '-o', 'Debug::NoLocking=1', '-o', 'APT::Ignore-Hold=true', 'dist-upgrade']


def detect_manager(module):
    requested = module.params['manager']
    if requested != 'auto':
        binary = MANAGER_BINARIES[requested]
        if module.get_bin_path(binary) is None:
            module.fail_json(msg="manager=%s was requested but '%s' is not in PATH on this host; use "
                                 "manager=auto or the host's own package manager" % (requested, binary))
        return requested
    for manager in AUTO_ORDER:
        if module.get_bin_path(MANAGER_BINARIES[manager]) is not None:
            return manager
    return module.fail_json(msg='No supported package manager found: none of apt-get, dnf, yum is in PATH. '
                                'This module supports apt (Debian, Ubuntu) and dnf/yum (Red Hat family).')


def run_checked(module, argv, purpose):
    rc, stdout, stderr = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg='%s failed: %s exited with rc %d; see stderr' % (purpose, ' '.join(argv), rc),
                         rc=rc, stdout=stdout, stderr=stderr)
    return stdout


def refresh_cache(module, manager, binary):
    """Refresh the metadata when asked (never in check mode); returns whether it ran."""
    if not module.params['update_cache'] or module.check_mode:
        return False
    for path in CACHE_LOCKS[manager]:
        status = lock_status(path)
        if status['held']:
            module.fail_json(msg='Cannot refresh the %s metadata: %s. Wait for that process to finish, '
                                 'or stop it, and run again.' % (manager, describe_lock(status)), lock=status)
    run_checked(module, [binary, *CACHE_REFRESH_ARGS[manager]],
                'Refreshing the package metadata (check the repository configuration and network access)')
    return True


def choose_apt_backend():
    """'python-apt' when apt_pkg imports here or in a system Python (the module then re-runs under it)."""
    if python_apt_available():
        return 'python-apt'
    if not has_respawned():
        interpreter = probe_interpreters_for_module(SYSTEM_PYTHONS, 'apt_pkg')
        if interpreter:
            respawn_module(interpreter)
    return 'apt-get'


def apt_records(module, backend, apt_get):
    if backend == 'python-apt':
        try:
            return read_python_apt_records()
        except SystemError as error:
            # apt_pkg.Error derives from SystemError: unreadable lists, broken sources.list entries.
            module.fail_json(msg='python3-apt could not read the apt cache: %s. Repair the apt sources '
                                 '(see apt-get update) and run again.' % error)
    apt_mark = module.get_bin_path('apt-mark', required=True)
    held_names = parse_showhold(run_checked(module, [apt_mark, 'showhold'], 'Listing held packages'))
    simulation = run_checked(module, [apt_get, *APT_SIMULATE_ARGS], 'Simulating the upgrade')
    return parse_apt_simulation(simulation, held_names)


def dnf_collect(module, manager, binary):
    """Updates from check-update, marked by updateinfo and completed with installed versions from rpm."""
    argv = [binary, '-q', '-C', 'check-update']
    rc, stdout, stderr = module.run_command(argv)
    if rc == 0:
        return []
    if rc != CHECK_UPDATE_PENDING:
        module.fail_json(msg='%s failed with rc %d. It reads only cached metadata: when the cache is empty, '
                             'run with update_cache=true; otherwise see stderr.' % (' '.join(argv), rc),
                         rc=rc, stdout=stdout, stderr=stderr)
    available, obsoleted = parse_check_update(stdout)
    if not available:
        return []
    advisories = run_checked(module, [binary, '-q', '-C', 'updateinfo', 'list', 'security'],
                             'Listing %s security advisories' % manager)
    rpm = module.get_bin_path('rpm', required=True)
    query = [rpm, '-q', '--qf', RPM_QUERY_FORMAT, *sorted(set(row['name'] for row in available))]
    rc, stdout, stderr = module.run_command(query)
    installed = parse_rpm_query(stdout)
    # rpm exits non-zero when some names are not installed (new packages that obsolete others).
    if rc != 0 and not installed:
        module.fail_json(msg='Reading installed versions failed: rpm -q exited with rc %d; '
                             'check the rpm database.' % rc, rc=rc, stdout=stdout, stderr=stderr)
    return dnf_updates(available, obsoleted, parse_security_advisories(advisories), installed)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manager=dict(type='str', default='auto', choices=['auto', 'apt', 'dnf', 'yum']),
            update_cache=dict(type='bool', default=False),
            security_only=dict(type='bool', default=False),
            names=dict(type='list', elements='str'),
        ),
        supports_check_mode=True,
    )
    module.run_command_environ_update = dict(LANG='C', LC_ALL='C', LC_MESSAGES='C')

    manager = detect_manager(module)
    binary = module.get_bin_path(MANAGER_BINARIES[manager], required=True)
    if manager == 'apt':
        # Choose before touching anything: choosing may re-run the module under another interpreter.
        backend = choose_apt_backend()
        cache_updated = refresh_cache(module, manager, binary)
        updates, held = apt_records_to_updates(apt_records(module, backend, binary))
    else:
        backend = manager
        cache_updated = refresh_cache(module, manager, binary)
        updates, held = dnf_collect(module, manager, binary), []

    result = summarize(updates, held, manager=manager, backend=backend, cache_updated=cache_updated,
                       name_patterns=module.params['names'], security_only=module.params['security_only'])
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
