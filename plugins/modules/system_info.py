#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: system_info
short_description: Gather the state a health check needs from a Linux host in one fast call
version_added: 0.1.0
description:
  - Reads identity, CPU load, memory, filesystems, services, reboot need, time synchronisation,
    listening sockets, top processes and environment sensors from C(/proc), C(/sys) and a few
    commands, and returns them as plain keys, one per section.
  - Sections run concurrently, each within O(section_timeout). A section that fails or hangs (a
    dead NFS server, an unreadable file, a BMC that does not answer) is returned as a dict with
    the single key C(error) and listed in RV(section_errors); the call itself still succeeds.
  - Optional tools (C(systemctl), C(chronyc), C(ntpq), C(timedatectl), C(needs-restarting),
    C(ipmitool), C(service)) are used only when they are installed and the section needs them,
    always with a C locale.
author:
  - opsrun maintainers (@opsrun)
options:
  gather:
    description:
      - Sections to gather; V(all) means every section.
      - The default is every section that costs only file reads and at most a few short commands.
        V(processes) waits O(process_sample_interval) to measure CPU use and V(ipmi) asks the
        baseboard management controller, which can take seconds; add them when you need them.
    type: list
    elements: str
    choices: [all, identity, cpu, memory, filesystems, services, reboot, time_sync, sockets, processes,
              sensors, ipmi]
    default: [identity, cpu, memory, filesystems, services, reboot, time_sync, sockets, sensors]
  skip:
    description:
      - Sections not to gather, removed from O(gather).
    type: list
    elements: str
    choices: [identity, cpu, memory, filesystems, services, reboot, time_sync, sockets, processes, sensors,
              ipmi]
    default: []
  services:
    description:
      - Services whose state to report in RV(services.named).
      - Where systemd runs the host they are looked up with C(systemctl show) (a name without a
        suffix means C(NAME.service)); elsewhere with the exit code of C(service NAME status).
      - Names consist of letters, digits, C(_), C(@), C(.), C(:), C(+), C(-) and backslashes (systemd
        escapes), and must not start with C(-).
    type: list
    elements: str
    default: []
  top_processes:
    description:
      - How many processes to list in RV(processes.top_cpu) and RV(processes.top_memory).
    type: int
    default: 5
  process_sample_interval:
    description:
      - Seconds between the two samples of C(/proc/PID/stat) that CPU use is computed from.
      - Only the V(processes) section waits for it. It must be shorter than O(section_timeout).
    type: float
    default: 0.2
  include_pseudo_filesystems:
    description:
      - Also list memory-backed filesystems (C(tmpfs), C(devtmpfs), C(ramfs)), as C(df) does.
      - Kernel interfaces (C(proc), C(sysfs), C(cgroup), ...), C(squashfs) images, automount
        points, container image layers, mounts inside container runtime directories and anything
        mounted under C(/proc) or C(/sys) are never listed.
    type: bool
    default: false
  section_timeout:
    description:
      - Seconds each section may take. Sections run at the same time, so this also bounds the
        whole call.
      - A mount whose C(statvfs) does not answer within 90% of this time is listed with an error
        while the other mounts still report.
    type: float
    default: 10.0
attributes:
  check_mode:
    support: full
    description: Can run in check mode; it never changes anything.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: linux
    description: Reads Linux C(/proc) and C(/sys).
notes:
  - Failed units are reported only where systemd is PID 1. Elsewhere RV(services.failed_units) is
    V(null) and RV(services.note) says why, rather than guessing.
  - Listening sockets are those of the network namespace the module runs in. The kernel lists them
    over netlink (sock_diag, as C(ss) asks), so the cost does not grow with the host's connections;
    C(/proc/net) is read where that is not allowed. Without root, the owning process of another
    user's socket is not visible and RV(sockets.processes_complete) is V(false).
  - Process commands are reported as C(argv[0]) only; arguments can carry secrets.
"""

EXAMPLES = r"""
- name: Gather the default sections
  opsrun.ops.system_info:
  register: system

- name: Warn about full filesystems
  ansible.builtin.debug:
    msg: "{{ item.mount }} is {{ item.used_percent }}% full"
  loop: "{{ system.filesystems.mounts | default([]) }}"
  when: item.used_percent is not none and item.used_percent > 90

- name: Check disks and two services only, with a short time limit
  opsrun.ops.system_info:
    gather: [filesystems, services]
    services: [nginx, postgresql]
    section_timeout: 3
  register: web

- name: Gather everything, including top processes and BMC temperatures
  opsrun.ops.system_info:
    gather: [all]
    top_processes: 10
    process_sample_interval: 0.5
    include_pseudo_filesystems: true

- name: Everything cheap except sockets
  opsrun.ops.system_info:
    skip: [sockets]
"""

RETURN = r"""
gathered:
  description: Sections gathered in this call, in the order the keys below are documented.
  returned: always
  type: list
  elements: str
  sample: [identity, cpu, memory, filesystems, services, reboot, time_sync, sockets, sensors]
section_errors:
  description:
    - Sections that failed or did not finish in time, with the reason. Each of them is also
      returned under its own key as a dict with the single key C(error) instead of its usual content.
  returned: always
  type: dict
  sample: {"filesystems": "did not finish within 10.0 s; raise section_timeout or skip this section"}
identity:
  description: Who and what the host is.
  returned: when C(identity) is gathered
  type: dict
  contains:
    hostname:
      description: Node name from uname.
      type: str
      sample: web01
    fqdn:
      description: Fully qualified name from the resolver; V(null) if it does not answer within 2 seconds.
      type: str
      sample: web01.example.com
    os:
      description: Fields of C(/etc/os-release); V(null) when the file does not set them.
      type: dict
      contains:
        id:
          description: C(ID).
          type: str
          sample: debian
        id_like:
          description: C(ID_LIKE), split into words.
          type: list
          elements: str
          sample: []
        name:
          description: C(NAME).
          type: str
          sample: Debian GNU/Linux
        version_id:
          description: C(VERSION_ID).
          type: str
          sample: "12"
        version:
          description: C(VERSION).
          type: str
          sample: 12 (bookworm)
        version_codename:
          description: C(VERSION_CODENAME).
          type: str
          sample: bookworm
        pretty_name:
          description: C(PRETTY_NAME).
          type: str
          sample: Debian GNU/Linux 12 (bookworm)
    kernel:
      description: Kernel release.
      type: str
      sample: 6.1.0-18-amd64
    kernel_version:
      description: Kernel build version string.
      type: str
      sample: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
    architecture:
      description: Machine hardware name.
      type: str
      sample: x86_64
    boot_id:
      description: Random ID of this boot; it changes with every reboot.
      type: str
      sample: 8de13499-ada7-4883-89c7-3eda56e33ea9
    boot_time:
      description: Boot time, ISO 8601 in UTC.
      type: str
      sample: "2026-01-08T09:12:40Z"
    boot_time_epoch:
      description: Boot time in seconds since the epoch.
      type: int
      sample: 1767863560
    uptime_seconds:
      description: Seconds since boot.
      type: float
      sample: 86400.52
cpu:
  description: CPU count and load.
  returned: when C(cpu) is gathered
  type: dict
  contains:
    count:
      description: Online CPUs.
      type: int
      sample: 4
    load_1:
      description: Load average over 1 minute.
      type: float
      sample: 0.46
    load_5:
      description: Load average over 5 minutes.
      type: float
      sample: 0.57
    load_15:
      description: Load average over 15 minutes.
      type: float
      sample: 0.27
    load_per_cpu_1:
      description: RV(cpu.load_1) divided by RV(cpu.count), two decimals.
      type: float
      sample: 0.12
    load_per_cpu_5:
      description: RV(cpu.load_5) divided by RV(cpu.count), two decimals.
      type: float
      sample: 0.14
    load_per_cpu_15:
      description: RV(cpu.load_15) divided by RV(cpu.count), two decimals.
      type: float
      sample: 0.07
    tasks_runnable:
      description: Runnable scheduling entities (threads) at the time of reading.
      type: int
      sample: 1
    tasks_total:
      description: All scheduling entities (threads).
      type: int
      sample: 291
memory:
  description: RAM and swap. Used RAM is total minus available (C(MemAvailable)).
  returned: when C(memory) is gathered
  type: dict
  contains:
    total_bytes:
      description: Usable RAM.
      type: int
      sample: 8201154560
    available_bytes:
      description: RAM available for new work without swapping.
      type: int
      sample: 6010953728
    used_bytes:
      description: RV(memory.total_bytes) minus RV(memory.available_bytes).
      type: int
      sample: 2190200832
    used_percent:
      description: Used RAM in percent, one decimal.
      type: float
      sample: 26.7
    swap_total_bytes:
      description: Swap space.
      type: int
      sample: 1023406080
    swap_free_bytes:
      description: Unused swap space.
      type: int
      sample: 1023406080
    swap_used_bytes:
      description: Used swap space.
      type: int
      sample: 0
    swap_used_percent:
      description: Used swap in percent, one decimal; 0.0 without swap.
      type: float
      sample: 0.0
filesystems:
  description: Mounted filesystems, one per device (bind mounts are folded into the shortest mount point).
  returned: when C(filesystems) is gathered
  type: dict
  contains:
    mounts:
      description: Mounts in mount order.
      type: list
      elements: dict
      contains:
        mount:
          description: Mount point.
          type: str
          sample: /var
        device:
          description: Mount source, a device or a network path.
          type: str
          sample: /dev/mapper/vg0-var
        fstype:
          description: Filesystem type.
          type: str
          sample: ext4
        options:
          description: Per-mount options.
          type: list
          elements: str
          sample: [rw, relatime]
        read_only:
          description: Whether the mount or the filesystem is read-only.
          type: bool
          sample: false
        size_bytes:
          description: Size; V(null) when C(error) is set.
          type: int
          sample: 21474836480
        used_bytes:
          description: Space in use; V(null) when C(error) is set.
          type: int
          sample: 9663676416
        available_bytes:
          description: Space available to unprivileged users; V(null) when C(error) is set.
          type: int
          sample: 10737418240
        used_percent:
          description: Used of used plus available, in percent with one decimal, as C(df) shows it.
          type: float
          sample: 47.4
        inodes_total:
          description: Inodes; V(null) for filesystems without a fixed inode count (btrfs, most network
            filesystems).
          type: int
          sample: 1310720
        inodes_used:
          description: Inodes in use, or V(null).
          type: int
          sample: 143211
        inodes_free:
          description: Free inodes, or V(null).
          type: int
          sample: 1167509
        inodes_used_percent:
          description: Inodes in use in percent with one decimal, or V(null).
          type: float
          sample: 10.9
        error:
          description: Why the usage is missing (statvfs failed or did not answer in time), else V(null).
          type: str
          sample: null
services:
  description: Service manager, failed units and named services.
  returned: when C(services) is gathered
  type: dict
  contains:
    service_manager:
      description: V(systemd) where systemd runs the host, V(sysvinit) for a classic init, else V(other).
      type: str
      sample: systemd
    pid1:
      description: Command name of PID 1, or V(null) when C(/proc/1) is hidden.
      type: str
      sample: systemd
    failed_units:
      description: Units in the failed state; V(null) when systemd is not PID 1.
      type: list
      elements: dict
      contains:
        name:
          description: Unit name.
          type: str
          sample: backup.service
        load:
          description: Load state.
          type: str
          sample: loaded
        active:
          description: Active state.
          type: str
          sample: failed
        sub:
          description: Sub state.
          type: str
          sample: failed
        description:
          description: Unit description.
          type: str
          sample: Nightly backup
        since:
          description: When the unit entered its state, ISO 8601 in UTC, or V(null).
          type: str
          sample: "2026-01-08T03:00:12Z"
    failed_count:
      description: Number of failed units; V(null) when systemd is not PID 1.
      type: int
      sample: 1
    named:
      description: States of the services named in O(services), in the order given.
      type: list
      elements: dict
      contains:
        name:
          description: Name as given.
          type: str
          sample: nginx
        unit:
          description: Full systemd unit name, or V(null) without systemd.
          type: str
          sample: nginx.service
        state:
          description:
            - V(active), V(inactive), V(failed), V(activating), V(deactivating), V(reloading),
              V(not-found) or V(unknown).
            - Without systemd, from the LSB status code (0 active, 1 and 2 failed, 3 inactive).
          type: str
          sample: active
        sub_state:
          description: systemd sub state, or V(null).
          type: str
          sample: running
        enabled:
          description: systemd unit file state (V(enabled), V(disabled), ...), or V(null).
          type: str
          sample: enabled
        since:
          description: When the unit entered its state, ISO 8601 in UTC, or V(null).
          type: str
          sample: "2026-01-08T09:13:02Z"
        rc:
          description: Exit code of C(service NAME status) without systemd, else V(null).
          type: int
          sample: null
    note:
      description: Why data is missing (systemd is not PID 1, no C(service) command), else V(null).
      type: str
      sample: null
reboot:
  description: Whether the host needs a reboot to use updated packages.
  returned: when C(reboot) is gathered
  type: dict
  contains:
    required:
      description: V(true) or V(false); V(null) when this system records nothing either way.
      type: bool
      sample: true
    reasons:
      description: Messages of the distribution's tool.
      type: list
      elements: str
      sample: [System restart required]
    packages:
      description: Packages that asked for the reboot.
      type: list
      elements: str
      sample: [linux-image-6.1.0-18-amd64, libc6]
    method:
      description: The flag file read or C(needs-restarting -r); V(null) when neither applies.
      type: str
      sample: /run/reboot-required
time_sync:
  description:
    - Clock synchronisation from chrony or ntpd when one answers (they know offset and source), else
      from the kernel's clock state (adjtimex), which is what systemd-timesyncd and C(timedatectl)
      report too; where systemd-timesyncd has synchronised the clock, it names the server.
  returned: when C(time_sync) is gathered
  type: dict
  contains:
    status:
      description: V(synchronized), V(unsynchronized) or V(unknown) when nothing answered.
      type: str
      sample: synchronized
    synchronized:
      description: Whether the clock is synchronised, or V(null) when unknown.
      type: bool
      sample: true
    offset_seconds:
      description: Offset of the local clock from its source, positive when the local clock is ahead;
        V(null) if not reported.
      type: float
      sample: -0.000105
    source:
      description: Server the clock follows; V(null) when it is not synchronised or the tool does not say.
      type: str
      sample: 192.0.2.10
    stratum:
      description: Stratum of this host as the tool reports it (chrony) or of the source (ntpd), or V(null).
      type: int
      sample: 3
    tool:
      description: V(chronyc), V(ntpq) or V(adjtimex) (the kernel), or V(null) when none answered.
      type: str
      sample: chronyc
    notes:
      description: Tools that are installed but did not answer, or that none was found.
      type: list
      elements: str
      sample: ["chronyc tracking (rc=1): 506 Cannot talk to daemon"]
sockets:
  description: Listening sockets of this network namespace.
  returned: when C(sockets) is gathered
  type: dict
  contains:
    listening:
      description: TCP sockets in LISTEN and unconnected bound UDP sockets, by protocol, port and address.
      type: list
      elements: dict
      contains:
        protocol:
          description: V(tcp) or V(udp).
          type: str
          sample: tcp
        family:
          description: V(ipv4) or V(ipv6).
          type: str
          sample: ipv4
        address:
          description: Local address.
          type: str
          sample: 0.0.0.0
        port:
          description: Local port.
          type: int
          sample: 22
        user:
          description: Owner's login name, or V(null) if unknown.
          type: str
          sample: root
        uid:
          description: Owner's uid.
          type: int
          sample: 0
        pid:
          description: PID of the owning process (the lowest when shared), or V(null) if not visible.
          type: int
          sample: 812
        process:
          description: Command name of that process, or V(null).
          type: str
          sample: sshd
    count:
      description: Number of listening sockets.
      type: int
      sample: 4
    processes_complete:
      description: V(false) when some processes' descriptors could not be read, so some owners may be missing.
      type: bool
      sample: true
processes:
  description: Busiest processes.
  returned: when C(processes) is gathered
  type: dict
  contains:
    count:
      description: Processes at the second sample.
      type: int
      sample: 187
    sample_interval_seconds:
      description: Measured time between the samples.
      type: float
      sample: 0.201
    top_cpu:
      description: Processes using the most CPU between the samples; same keys as RV(processes.top_memory).
      type: list
      elements: dict
      contains:
        pid:
          description: Process ID.
          type: int
          sample: 1234
        name:
          description: Command name (C(comm)).
          type: str
          sample: postgres
        command:
          description: C(argv[0]) without arguments, or V(null) for kernel threads.
          type: str
          sample: "postgres: checkpointer"
        user:
          description: Owner's login name, or V(null).
          type: str
          sample: postgres
        state:
          description: Process state letter (R, S, D, Z, ...).
          type: str
          sample: S
        cpu_percent:
          description: CPU use in percent of one CPU, like top.
          type: float
          sample: 12.5
        rss_bytes:
          description: Resident memory.
          type: int
          sample: 104857600
        memory_percent:
          description: Resident memory in percent of RAM.
          type: float
          sample: 1.3
    top_memory:
      description: Processes with the most resident memory; same keys as RV(processes.top_cpu).
      type: list
      elements: dict
      sample: []
sensors:
  description: Temperatures and humidity from hwmon chips and thermal zones.
  returned: when C(sensors) is gathered
  type: dict
  contains:
    readings:
      description: One entry per sensor; IPMI readings (section C(ipmi)) have the same keys.
      type: list
      elements: dict
      contains:
        source:
          description: V(hwmon), V(thermal) or V(ipmi).
          type: str
          sample: hwmon
        chip:
          description: hwmon chip name (its C(name) file), or V(null).
          type: str
          sample: coretemp
        device:
          description: hwmon or thermal zone directory name, or V(null) for IPMI.
          type: str
          sample: hwmon1
        sensor:
          description: Sensor within the device (C(temp1), C(humidity1)), or the IPMI sensor ID.
          type: str
          sample: temp1
        label:
          description: Label (hwmon C(*_label), thermal zone type, IPMI sensor name), or V(null).
          type: str
          sample: Package id 0
        kind:
          description: V(temperature) or V(humidity).
          type: str
          sample: temperature
        unit:
          description: "V(°C) or V(%RH)."
          type: str
          sample: "°C"
        value:
          description: Reading in the unit, or V(null) when the sensor gives none.
          type: float
          sample: 45.0
        max:
          description: High threshold (hwmon C(*_max), thermal C(hot) trip point), or V(null).
          type: float
          sample: 80.0
        crit:
          description: Critical threshold (hwmon C(*_crit), thermal C(critical) trip point), or V(null).
          type: float
          sample: 100.0
        status:
          description: IPMI sensor status (V(ok), V(ns), ...), V(null) for other sources.
          type: str
          sample: null
        error:
          description: Why the sensor could not be read, else V(null).
          type: str
          sample: null
    count:
      description: Number of readings.
      type: int
      sample: 3
ipmi:
  description: Temperatures from the baseboard management controller (C(ipmitool sdr type Temperature)).
  returned: when C(ipmi) is gathered
  type: dict
  contains:
    available:
      description: Whether ipmitool and an IPMI device are present and were asked.
      type: bool
      sample: true
    reason:
      description: Why there are no readings (no ipmitool, no IPMI device), else V(null).
      type: str
      sample: null
    readings:
      description: Readings with the keys of RV(sensors.readings); C(max) and C(crit) are V(null).
      type: list
      elements: dict
      sample: [{"source": "ipmi", "chip": null, "device": null, "sensor": "04h", "label": "Inlet Temp",
                "kind": "temperature", "unit": "°C", "value": 23.0, "max": null, "crit": null,
                "status": "ok", "error": null}]
    count:
      description: Number of readings.
      type: int
      sample: 2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import (
    TIMED_OUT,
    CommandRunner,
    Deadline,
    collect_sections,
    run_with_deadline,
)
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_fs import gather_filesystems
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_host import (
    FQDN_TIMEOUT,
    gather_cpu,
    gather_identity,
    gather_memory,
)
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_net import gather_sockets
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_procs import gather_processes
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_reboot import gather_reboot
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_sensors import gather_ipmi, gather_sensors
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_services import (
    detect_service_manager,
    gather_services,
    invalid_service_names,
)
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_time import gather_time_sync

ALL_SECTIONS = ('identity', 'cpu', 'memory', 'filesystems', 'services', 'reboot', 'time_sync', 'sockets',
                'processes', 'sensors', 'ipmi')
# Sections that wait on purpose (processes) or on slow hardware (ipmi) are opt-in.
DEFAULT_SECTIONS = [name for name in ALL_SECTIONS if name not in ('processes', 'ipmi')]
# Share of the section time limit that statvfs calls may use, so the section can still report.
STATVFS_SHARE = 0.9

ARGUMENT_SPEC = dict(
    gather=dict(type='list', elements='str', choices=['all', *ALL_SECTIONS], default=DEFAULT_SECTIONS),
    skip=dict(type='list', elements='str', choices=list(ALL_SECTIONS), default=[]),
    services=dict(type='list', elements='str', default=[]),
    top_processes=dict(type='int', default=5),
    process_sample_interval=dict(type='float', default=0.2),
    include_pseudo_filesystems=dict(type='bool', default=False),
    section_timeout=dict(type='float', default=10.0),
)


def choose_sections(gather, skip):
    """Sections to run, in the documented order: ``gather`` (``all`` = every one) minus ``skip``."""
    wanted = set(ALL_SECTIONS) if 'all' in gather else set(gather)
    return [name for name in ALL_SECTIONS if name in wanted and name not in skip]


def parameter_problems(params, sections):
    """Messages for parameter values the argument spec cannot reject by itself."""
    problems = []
    if not sections:
        problems.append('nothing to gather: gather=%s minus skip=%s leaves no section; gather at least one'
                        % (params['gather'], params['skip']))
    if params['top_processes'] < 1:
        problems.append('top_processes must be at least 1, got %d' % params['top_processes'])
    if not 0 < params['process_sample_interval'] <= 10:
        problems.append('process_sample_interval must be above 0 and at most 10 seconds, got %s'
                        % params['process_sample_interval'])
    if params['section_timeout'] <= 0:
        problems.append('section_timeout must be above 0 seconds, got %s' % params['section_timeout'])
    elif 'processes' in sections and params['process_sample_interval'] >= params['section_timeout']:
        problems.append('process_sample_interval (%s s) must be shorter than section_timeout (%s s), or the'
                        ' processes section cannot finish' % (params['process_sample_interval'],
                                                              params['section_timeout']))
    bad_names = invalid_service_names(params['services'])
    if bad_names:
        problems.append('services: %s %s not a valid service name; use letters, digits and _ @ . : + - \\'
                        ' and do not start with -' % (', '.join(repr(name) for name in bad_names),
                                                      'is' if len(bad_names) == 1 else 'are'))
    return problems


def section_tasks(sections, params, commands, deadline):
    """``(name, callable)`` for each section to run; each callable returns the section's dict."""
    manager, pid1_comm = (detect_service_manager() if {'services', 'time_sync'} & set(sections)
                          else (None, None))
    builders = {
        'identity': lambda: gather_identity(fqdn_timeout=min(FQDN_TIMEOUT, deadline.remaining())),
        'cpu': gather_cpu,
        'memory': gather_memory,
        'filesystems': lambda: gather_filesystems(deadline.remaining() * STATVFS_SHARE,
                                                  params['include_pseudo_filesystems']),
        'services': lambda: gather_services(commands, manager, params['services'], deadline,
                                            pid1_comm=pid1_comm),
        'reboot': lambda: gather_reboot(commands, deadline.remaining()),
        'time_sync': lambda: gather_time_sync(commands, manager, deadline),
        'sockets': gather_sockets,
        'processes': lambda: gather_processes(params['top_processes'], params['process_sample_interval']),
        'sensors': gather_sensors,
        'ipmi': lambda: gather_ipmi(commands, deadline.remaining()),
    }
    return [(name, builders[name]) for name in sections]


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    sections = choose_sections(params['gather'], params['skip'])
    problems = parameter_problems(params, sections)
    if problems:
        module.fail_json(msg='; '.join(problems))

    commands = CommandRunner(module)
    timeout = params['section_timeout']
    deadline = Deadline(timeout)
    outcomes = run_with_deadline(section_tasks(sections, params, commands, deadline), timeout)
    if any(status == TIMED_OUT for status, dummy in outcomes.values()):
        commands.kill_running()
    results, errors = collect_sections(sections, outcomes, timeout)
    module.exit_json(changed=False, gathered=sections, section_errors=errors, **results)


if __name__ == '__main__':
    main()
