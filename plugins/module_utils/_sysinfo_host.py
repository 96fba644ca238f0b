# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identity, CPU load and memory of a Linux host, read from /proc and /etc."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket
import time

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import (
    OK,
    SectionError,
    read_first_line,
    read_text,
    run_with_deadline,
)

OS_RELEASE_PATHS = ('/etc/os-release', '/usr/lib/os-release')
OS_RELEASE_KEYS = ('id', 'id_like', 'name', 'version_id', 'version', 'version_codename', 'pretty_name')
FQDN_TIMEOUT = 2.0
# Inside double quotes, os-release(5) allows the shell escapes \\ \" \$ \`.
_SHELL_ESCAPE = re.compile(r'\\([\\"$`])')


def parse_os_release(text):
    """Parse os-release(5): ``KEY=value`` lines, values optionally quoted with shell escapes."""
    values = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            quote = value[0]
            value = value[1:-1]
            if quote == '"':
                value = _SHELL_ESCAPE.sub(r'\1', value)
        values[key.strip()] = value
    return values


def os_summary(release):
    """The os-release keys a health check reads, with ID_LIKE split into a list."""
    summary = dict((key, release.get(key.upper())) for key in OS_RELEASE_KEYS)
    summary['id_like'] = release.get('ID_LIKE', '').split()
    return summary


def parse_loadavg(text):
    """Parse /proc/loadavg: three load averages, then runnable/total scheduling entities."""
    fields = text.split()
    if len(fields) < 4 or '/' not in fields[3]:
        raise SectionError('unexpected /proc/loadavg content: %r' % text[:80])
    runnable, total = fields[3].split('/', 1)
    return {
        'load_1': float(fields[0]),
        'load_5': float(fields[1]),
        'load_15': float(fields[2]),
        'tasks_runnable': int(runnable),
        'tasks_total': int(total),
    }


def parse_meminfo(text):
    """Parse /proc/meminfo into ``{name: value}``; ``kB`` values become bytes."""
    values = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        fields = rest.split()
        if not sep or not fields:
            continue
        amount = int(fields[0])
        if len(fields) > 1 and fields[1] == 'kB':
            amount *= 1024
        values[name.strip()] = amount
    return values


def percent(part, whole):
    """``part`` as a percentage of ``whole`` with one decimal; 0.0 when there is no whole."""
    if not whole:
        return 0.0
    return round(100.0 * part / whole, 1)


def memory_summary(meminfo):
    """Totals and usage of RAM and swap from parsed /proc/meminfo."""
    if 'MemTotal' not in meminfo:
        raise SectionError('/proc/meminfo has no MemTotal line')
    total = meminfo['MemTotal']
    if 'MemAvailable' in meminfo:
        available = meminfo['MemAvailable']
    else:
        # Kernels before 3.14 do not estimate it; free + page cache is the classic approximation.
        available = sum(meminfo.get(name, 0) for name in ('MemFree', 'Buffers', 'Cached', 'SReclaimable'))
        available = min(available, total)
    swap_total = meminfo.get('SwapTotal', 0)
    swap_free = meminfo.get('SwapFree', 0)
    return {
        'total_bytes': total,
        'available_bytes': available,
        'used_bytes': total - available,
        'used_percent': percent(total - available, total),
        'swap_total_bytes': swap_total,
        'swap_free_bytes': swap_free,
        'swap_used_bytes': swap_total - swap_free,
        'swap_used_percent': percent(swap_total - swap_free, swap_total),
    }


def parse_boot_time(proc_stat_text):
    """The ``btime`` line of /proc/stat: boot time in seconds since the epoch."""
    for line in proc_stat_text.splitlines():
        if line.startswith('btime '):
            return int(line.split()[1])
    raise SectionError('/proc/stat has no btime line')


def parse_uptime(text):
    """First field of /proc/uptime: seconds since boot."""
    return float(text.split()[0])


def iso_utc(epoch):
    """Seconds since the epoch as ISO 8601 UTC text (``2026-01-31T23:59:59Z``)."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def read_os_release(paths=OS_RELEASE_PATHS):
    """Parsed os-release from the first file that exists; empty when none does."""
    for path in paths:
        try:
            return parse_os_release(read_text(path))
        except FileNotFoundError:
            continue
    return {}


def lookup_fqdn(hostname, timeout=FQDN_TIMEOUT):
    """The resolver's fully qualified name, or None when it does not answer in time."""
    status, value = run_with_deadline([('fqdn', lambda: socket.getfqdn(hostname))], timeout)['fqdn']
    return value if status == OK else None


def gather_identity(proc_root='/proc', os_release_paths=OS_RELEASE_PATHS, fqdn_timeout=FQDN_TIMEOUT):
    """Who and what this host is, and since when it runs."""
    uname = os.uname()
    boot_time = parse_boot_time(read_text(os.path.join(proc_root, 'stat')))
    return {
        'hostname': uname.nodename,
        'fqdn': lookup_fqdn(uname.nodename, fqdn_timeout),
        'os': os_summary(read_os_release(os_release_paths)),
        'kernel': uname.release,
        'kernel_version': uname.version,
        'architecture': uname.machine,
        'boot_id': read_first_line(os.path.join(proc_root, 'sys/kernel/random/boot_id')),
        'boot_time': iso_utc(boot_time),
        'boot_time_epoch': boot_time,
        'uptime_seconds': parse_uptime(read_text(os.path.join(proc_root, 'uptime'))),
    }


def gather_cpu(proc_root='/proc', cpu_count=None):
    """CPU count and load averages, also divided by the CPU count."""
    count = cpu_count or os.cpu_count() or 1
    load = parse_loadavg(read_text(os.path.join(proc_root, 'loadavg')))
    result = {'count': count}
    result.update(load)
    for window in ('1', '5', '15'):
        result['load_per_cpu_' + window] = round(load['load_' + window] / count, 2)
    return result


def gather_memory(proc_root='/proc'):
    """RAM and swap usage."""
    return memory_summary(parse_meminfo(read_text(os.path.join(proc_root, 'meminfo'))))
