# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The busiest processes by CPU (two samples of /proc/PID/stat) and by resident memory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError, read_text
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_host import parse_meminfo
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_net import user_name


def parse_pid_stat(text):
    """Parse /proc/PID/stat (proc(5)). The name is between the first '(' and the last ')' since it
    may itself contain spaces and parentheses."""
    open_paren = text.index('(')
    close_paren = text.rindex(')')
    rest = text[close_paren + 2:].split()
    if len(rest) < 22:
        raise ValueError('truncated /proc/PID/stat line: %r' % text[:120])
    return {
        'pid': int(text[:open_paren]),
        'name': text[open_paren + 1:close_paren],
        'state': rest[0],
        'cpu_ticks': int(rest[11]) + int(rest[12]),
        'start_ticks': int(rest[19]),
        'rss_pages': int(rest[21]),
    }


def sample_processes(proc_root='/proc'):
    """``{pid: parsed stat}`` for every process that is still there when its file is read."""
    sample = {}
    for name in os.listdir(proc_root):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc_root, name, 'stat'), encoding='utf-8', errors='replace') as handle:
                sample[int(name)] = parse_pid_stat(handle.read())
        except OSError:
            # Exited between listing and reading.
            continue
    return sample


def rank_processes(before, after, elapsed, count, *, clock_ticks, page_size, mem_total):
    """Top ``count`` processes by CPU and by memory from two samples taken ``elapsed`` s apart.

    CPU percent is of one CPU, like top(1): a process keeping two cores busy shows 200. A PID seen
    in both samples with a different start time is a new process and is measured from zero.
    """
    rows = []
    for pid, now in after.items():
        then = before.get(pid)
        same_process = then is not None and then['start_ticks'] == now['start_ticks']
        used = now['cpu_ticks'] - then['cpu_ticks'] if same_process else 0
        rss = now['rss_pages'] * page_size
        rows.append({
            'pid': pid,
            'name': now['name'],
            'state': now['state'],
            'cpu_percent': round(100.0 * used / clock_ticks / elapsed, 1) if elapsed > 0 else 0.0,
            'rss_bytes': rss,
            'memory_percent': round(100.0 * rss / mem_total, 1) if mem_total else 0.0,
        })
    by_cpu = sorted(rows, key=lambda row: (-row['cpu_percent'], -row['rss_bytes'], row['pid']))[:count]
    by_memory = sorted(rows, key=lambda row: (-row['rss_bytes'], -row['cpu_percent'], row['pid']))[:count]
    return by_cpu, by_memory


def describe_process(row, proc_root, users):
    """Add owner and program (argv[0] only: arguments may carry secrets) to a ranked row."""
    base = os.path.join(proc_root, str(row['pid']))
    described = dict(row)
    try:
        described['user'] = user_name(os.stat(base).st_uid, users)
    except OSError:
        described['user'] = None
    try:
        with open(os.path.join(base, 'cmdline'), 'rb') as handle:
            argv0 = handle.read(4096).split(b'\0', 1)[0]
        described['command'] = argv0.decode('utf-8', 'replace') or None
    except OSError:
        described['command'] = None
    return described


def gather_processes(count, interval, proc_root='/proc', sleep=time.sleep):
    """The processes section: two samples ``interval`` seconds apart, ranked."""
    mem_total = parse_meminfo(read_text(os.path.join(proc_root, 'meminfo'))).get('MemTotal')
    if not mem_total:
        raise SectionError('%s/meminfo has no MemTotal line' % proc_root)
    before = sample_processes(proc_root)
    started = time.monotonic()
    sleep(interval)
    after = sample_processes(proc_root)
    elapsed = time.monotonic() - started
    by_cpu, by_memory = rank_processes(before, after, elapsed, count, clock_ticks=os.sysconf('SC_CLK_TCK'),
                                       page_size=os.sysconf('SC_PAGE_SIZE'), mem_total=mem_total)
    users = {}
    return {
        'count': len(after),
        'sample_interval_seconds': round(elapsed, 3),
        'top_cpu': [describe_process(row, proc_root, users) for row in by_cpu],
        'top_memory': [describe_process(row, proc_root, users) for row in by_memory],
    }
