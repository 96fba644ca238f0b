# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plumbing shared by the system_info sections: bounded concurrency, commands with a time limit."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import threading
import time

# Tools are parsed in their C/English output; TZ=UTC makes systemd print timestamps in UTC.
C_LOCALE = {'LANG': 'C', 'LC_ALL': 'C', 'LC_MESSAGES': 'C'}

OK = 'ok'
FAILED = 'failed'
TIMED_OUT = 'timed_out'


class SectionError(Exception):
    """A section could not gather its data; the message says what failed and what to check."""


def read_text(path):
    """Return the whole text of a (small) file; undecodable bytes become U+FFFD."""
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def read_first_line(path):
    """Return the first line of a file without its line ending."""
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.readline().rstrip('\n')


def describe_exception(exc):
    """One line for an exception: OS errors and section errors speak for themselves."""
    if isinstance(exc, (SectionError, OSError)):
        return str(exc)
    return '%s: %s' % (type(exc).__name__, exc)


def run_with_deadline(tasks, timeout, workers=None):
    """Run callables on daemon threads and wait for them at most ``timeout`` seconds in all.

    ``tasks`` is a list of ``(key, callable)``. Returns ``{key: (status, value)}`` where status is
    OK (value is the result), FAILED (value is the exception) or TIMED_OUT (value is None; the
    task hung or never got a free worker). Daemon threads are used on purpose: a call stuck in the
    kernel (statvfs on a dead NFS server) must not keep the process alive once the answer is sent.
    """
    pending = list(tasks)
    outcomes = {}
    lock = threading.Lock()
    finished = threading.Event()
    if not pending:
        return outcomes
    remaining = [len(pending)]

    def record(key, outcome):
        with lock:
            outcomes[key] = outcome
            remaining[0] -= 1
            if remaining[0] == 0:
                finished.set()

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                key, func = pending.pop(0)
            try:
                record(key, (OK, func()))
            except Exception as exc:
                record(key, (FAILED, exc))

    count = len(pending) if workers is None else max(1, min(workers, len(pending)))
    keys = [key for key, _func in pending]
    for _index in range(count):
        thread = threading.Thread(target=worker)
        thread.daemon = True
        thread.start()
    finished.wait(timeout)
    with lock:
        pending[:] = []
        result = dict(outcomes)
    for key in keys:
        result.setdefault(key, (TIMED_OUT, None))
    return result


def collect_sections(order, outcomes, timeout):
    """Section results in ``order`` plus ``{section: message}`` for those that failed or hung.

    A failed or hung section is reported as ``{'error': message}`` so the others still count.
    """
    results = {}
    errors = {}
    for name in order:
        status, value = outcomes[name]
        if status == OK:
            results[name] = value
            continue
        if status == FAILED:
            message = describe_exception(value)
        else:
            message = 'did not finish within %.1f s; raise section_timeout or skip this section' % timeout
        results[name] = {'error': message}
        errors[name] = message
    return results, errors


class CommandRunner:
    """Runs commands through AnsibleModule.run_command with a C locale and a time limit."""

    def __init__(self, module):
        self._module = module
        self._lock = threading.Lock()
        # Running process -> the event that marks it as killed for taking too long.
        self._running = {}

    def which(self, name):
        """Full path of an optional tool, or None when it is not installed."""
        return self._module.get_bin_path(name)

    def run(self, args, timeout, environ_update=None):
        """Run ``args`` (a list, never a shell string); return ``(rc, stdout, stderr)``.

        Raises SectionError when the command does not finish within ``timeout`` seconds (it is
        killed) or cannot be started.
        """
        environ = dict(C_LOCALE)
        environ.update(environ_update or {})
        timers = []
        expired = threading.Event()

        def watch(process):
            with self._lock:
                self._running[process] = expired
            timer = threading.Timer(max(timeout, 0.0), self._expire, (process, expired))
            timer.daemon = True
            timers.append((timer, process))
            timer.start()

        started = time.monotonic()
        try:
            rc, out, err = self._module.run_command(
                args, environ_update=environ, before_communicate_callback=watch,
                expand_user_and_vars=False, handle_exceptions=False)
        except OSError as exc:
            raise SectionError('could not run %s: %s' % (' '.join(args), exc)) from exc
        finally:
            for timer, process in timers:
                timer.cancel()
                with self._lock:
                    self._running.pop(process, None)
        if expired.is_set():
            raise SectionError('%s did not finish within %.1f s (killed after %.1f s); raise'
                               ' section_timeout or skip this section'
                               % (' '.join(args), timeout, time.monotonic() - started))
        return rc, out, err

    @staticmethod
    def _expire(process, expired):
        expired.set()
        # It may have exited between the deadline and the signal; then nothing is left to stop.
        with contextlib.suppress(OSError):
            process.kill()

    def kill_running(self):
        """Stop commands still running for sections that were given up on."""
        with self._lock:
            running = list(self._running.items())
        for process, expired in running:
            self._expire(process, expired)


class Deadline:
    """The moment a section has to be finished by."""

    def __init__(self, seconds):
        self._end = time.monotonic() + seconds

    def remaining(self):
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())
