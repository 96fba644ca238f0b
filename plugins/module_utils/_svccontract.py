# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A service's health contract, evaluated on the managed host.

A contract is a list of checks (process, port, http, log), each with a timeout. Evaluated once, it
tells whether the service is healthy now; evaluated with ``wait``, each positive check (process,
port, http) is polled until it passes or its time is up, and each log check watches the log for
lines matching its pattern until its time is up and every other check has settled.
The module validates its input into *checks* (plain dicts, see plugins/modules/service_contract.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import os
import time

from ansible_collections.opsrun.ops.plugins.module_utils._probe import Prober
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_net import (
    listening_from_kernel,
    listening_from_proc,
)

CHECK_TYPES = ('process', 'port', 'http', 'log')
# A log check reads at most this much new log per look, so a log flood cannot stall the check.
LOG_READ_LIMIT = 8 * 1024 * 1024
# How far back from a log's end evidence is looked for.
EVIDENCE_READ_LIMIT = 256 * 1024
# Linux truncates a process name (/proc/PID/comm) to 15 bytes.
COMM_LENGTH = 15
WILDCARD_ADDRESSES = ('0.0.0.0', '::')  # noqa: S104 - compared with, never bound


# --- process ------------------------------------------------------------------------------------

def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def process_names(proc_root, pid):
    """The names a process goes by: its comm, and the base names of its executable and argv[0].

    None when the process has gone or is a zombie (a zombie no longer serves anything).
    """
    base = os.path.join(proc_root, str(pid))
    try:
        stat = _read(os.path.join(base, 'stat')).decode('utf-8', 'replace')
        cmdline = _read(os.path.join(base, 'cmdline')).decode('utf-8', 'replace')
    except OSError:
        return None
    # The state follows the parenthesised comm, which may itself hold spaces and parentheses.
    close = stat.rfind(')')
    state = stat[close + 2:close + 3]
    if state in ('Z', 'X'):
        return None
    names = set([stat[stat.find('(') + 1:close]])
    argv0 = cmdline.split('\0', 1)[0]
    if argv0:
        names.add(os.path.basename(argv0.split(' ', 1)[0].rstrip(':')))
    # Kernel threads and other users' processes (without root) hide their executable.
    with contextlib.suppress(OSError):
        names.add(os.path.basename(os.readlink(os.path.join(base, 'exe'))))
    return names


def find_processes(name, proc_root='/proc'):
    """PIDs of the live processes called NAME (comm, executable or argv[0]), in ascending order."""
    pids = []
    for entry in os.listdir(proc_root):
        if entry.isdigit() and goes_by(process_names(proc_root, int(entry)), name):
            pids.append(int(entry))
    return sorted(pids)


def goes_by(names, name):
    """Whether a process with NAMES (None: gone) is called NAME, allowing for the truncated comm."""
    return bool(names) and (name in names or name[:COMM_LENGTH] in names)


def check_pidfile(check, proc_root):
    """(error or None, pids) for a process check with a pid file."""
    try:
        text = _read(check['pidfile']).decode('ascii', 'replace').strip()
    except OSError as exc:
        return 'cannot read the pid file %s: %s' % (check['pidfile'], exc.strerror or exc), []
    if not text.isdigit():
        return 'the pid file %s does not hold a process id: %r' % (check['pidfile'], text[:40]), []
    pid = int(text)
    names = process_names(proc_root, pid)
    if names is None:
        return 'the pid file %s names process %d, which is not running' % (check['pidfile'], pid), []
    if check.get('process') and not goes_by(names, check['process']):
        return 'process %d of the pid file %s is %s, not %s' % (
            pid, check['pidfile'], ', '.join(sorted(names)), check['process']), []
    return None, [pid]


def check_process(check, proc_root='/proc'):
    """(error or None, pids) for a process check."""
    if check.get('pidfile'):
        return check_pidfile(check, proc_root)
    pids = find_processes(check['process'], proc_root)
    if not pids:
        return 'no process named %s is running' % check['process'], []
    return None, pids


# --- port ---------------------------------------------------------------------------------------

def listening_sockets():
    """Listening sockets, from the kernel's socket diagnostics where allowed, else /proc/net."""
    try:
        return listening_from_kernel()
    except (OSError, ValueError):
        return listening_from_proc()


def port_matches(check, entry):
    if entry['protocol'] != check['protocol'] or entry['port'] != check['port']:
        return False
    address = check.get('address')
    return not address or entry['address'] == address or entry['address'] in WILDCARD_ADDRESSES


def check_port(check, sockets):
    """Error or None for a port check against the listening sockets."""
    if any(port_matches(check, entry) for entry in sockets):
        return None
    where = ' on %s' % check['address'] if check.get('address') else ''
    return 'nothing listens on %s/%d%s' % (check['protocol'], check['port'], where)


# --- log ----------------------------------------------------------------------------------------

def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def read_new_lines(path, offset):
    """(lines written after OFFSET, the new offset). A file shorter than OFFSET was rotated: read it all.

    A missing file has no new lines. The last line is kept only once it is complete.
    """
    try:
        with open(path, 'rb') as handle:
            size = os.fstat(handle.fileno()).st_size
            if offset is None or offset > size:
                offset = 0
            handle.seek(offset)
            data = handle.read(LOG_READ_LIMIT)
    except OSError:
        return [], offset
    end = data.rfind(b'\n') + 1
    lines = data[:end].decode('utf-8', 'replace').splitlines()
    return lines, offset + end


def tail(path, count):
    """The last COUNT lines of a file (an empty list when it cannot be read)."""
    if count <= 0:
        return []
    try:
        with open(path, 'rb') as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - EVIDENCE_READ_LIMIT))
            data = handle.read()
    except OSError:
        return []
    return data.decode('utf-8', 'replace').splitlines()[-count:]


class LogWatch:
    """Lines matching a pattern in a log since an offset; keeps its place between looks."""

    def __init__(self, check, offset, evidence_lines):
        self.check = check
        self.offset = offset
        self.matches = collections.deque(maxlen=max(1, evidence_lines))
        self.count = 0

    def look(self):
        lines, self.offset = read_new_lines(self.check['path'], self.offset)
        for line in lines:
            if self.check['pattern'].search(line):
                self.count += 1
                self.matches.append(line)
        return self.error()

    def error(self):
        if not self.count:
            return None
        return '%d line(s) of %s match %r, the last: %s' % (
            self.count, self.check['path'], self.check['pattern'].pattern, self.matches[-1])


# --- the contract -------------------------------------------------------------------------------

def new_result(check):
    return {
        'name': check['name'],
        'type': check['type'],
        'status': 'fail',
        'error': None,
        'attempts': 0,
        'elapsed_s': None,
        'pids': [],
        'matches': [],
    }


class Contract:
    """Evaluates checks. clock() and sleep() are injectable so polling can be tested without waiting."""

    def __init__(self, checks, log_offsets=None, *, evidence_lines=20, interval=0.5,
                 clock=time.monotonic, sleep=time.sleep, proc_root='/proc', sockets=listening_sockets):
        self.checks = checks
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.proc_root = proc_root
        self.sockets = sockets
        self.prober = Prober(self._no_command, lambda name: None)
        self.results = [new_result(check) for check in checks]
        self.watches = {}
        self.offsets = dict(log_offsets or {})
        self.evidence_lines = evidence_lines
        for index, check in enumerate(checks):
            if check['type'] == 'log':
                given = check['path'] in self.offsets
                start = self.offsets.get(check['path']) if given else (file_size(check['path']) or 0)
                self.watches[index] = (LogWatch(check, start, evidence_lines), given)

    @staticmethod
    def _no_command(args):
        raise OSError('the contract runs no commands: %s' % args[0])

    def _evaluate(self, index, remaining):
        """Look once at check INDEX; return its error or None."""
        check = self.checks[index]
        result = self.results[index]
        result['attempts'] += 1
        if check['type'] == 'process':
            error, result['pids'] = check_process(check, self.proc_root)
            return error
        if check['type'] == 'port':
            return check_port(check, self.sockets())
        if check['type'] == 'http':
            plan = dict(check['plan'])
            plan['timeout'] = max(0.1, min(check['timeout'], remaining))
            probed = self.prober.probe(plan)
            result['status_code'] = probed['status_code']
            return probed['error']
        watch = self.watches[index][0]
        error = watch.look()
        result['matches'] = list(watch.matches)
        return error

    def _settle(self, index, error, start):
        result = self.results[index]
        result['error'] = error
        result['status'] = 'fail' if error else 'ok'
        result['elapsed_s'] = round(self.clock() - start, 3)

    def run_once(self):
        """Evaluate every check once. A log check given no offset only records where the log ends."""
        start = self.clock()
        for index, check in enumerate(self.checks):
            if check['type'] == 'log' and not self.watches[index][1]:
                self.results[index]['status'] = 'skipped'
                self.results[index]['error'] = None
                continue
            self._settle(index, self._evaluate(index, check['timeout']), start)
        return self.finish()

    def run_waiting(self):
        """Poll until every check has passed or run out of time; a matching log line fails at once."""
        start = self.clock()
        deadlines = [start + check['timeout'] for check in self.checks]
        positive = [index for index, check in enumerate(self.checks) if check['type'] != 'log']
        logs = [index for index, check in enumerate(self.checks) if check['type'] == 'log']
        pending = set(range(len(self.checks)))
        while pending:
            for index in sorted(pending):
                now = self.clock()
                error = self._evaluate(index, deadlines[index] - now)
                now = self.clock()
                if index in logs:
                    others_settled = not pending.intersection(positive)
                    if error or (now >= deadlines[index] and others_settled):
                        self._settle(index, error, start)
                        pending.discard(index)
                elif error is None or now >= deadlines[index]:
                    self._settle(index, error, start)
                    pending.discard(index)
            if pending:
                now = self.clock()
                upcoming = [deadlines[index] for index in pending if deadlines[index] > now]
                self.sleep(max(0.0, min([self.interval] + [when - now for when in upcoming])))
        return self.finish()

    def finish(self):
        for watch, _given in self.watches.values():
            self.offsets[watch.check['path']] = watch.offset
        return self.results


def summarize(results):
    """One line naming every failed check and why, or None when none failed."""
    failed = []
    for result in results:
        if result['status'] == 'fail':
            # Made-up names already start with the type ("port tcp/80").
            label = result['name']
            if not label.startswith(result['type'] + ' '):
                label = '%s %s' % (result['type'], label)
            failed.append('%s: %s' % (label, result['error']))
    return '; '.join(failed) if failed else None
