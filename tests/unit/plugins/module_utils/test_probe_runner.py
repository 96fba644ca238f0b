# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bounded, concurrent task runner behind the probe module."""

import threading
import time

from ansible_collections.opsrun.ops.plugins.module_utils._probe import TaskFailure, run_concurrently

# Liveness bound for waits on other threads: generous, so a loaded machine never trips it, and
# reached only when the runner is broken. The tests assert what ran together, never how fast.
WAIT = 10


class Gauge:
    """Counts the tasks running right now and remembers the most that ever ran together."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = 0
        self.peak = 0

    def __enter__(self):
        with self._lock:
            self._running += 1
            self.peak = max(self.peak, self._running)

    def __exit__(self, *_exc_info):
        with self._lock:
            self._running -= 1


def sleeper(seconds, value):
    def task():
        time.sleep(seconds)
        return value
    return task


def test_results_keep_task_order_whatever_finishes_first():
    tasks = [(sleeper(0.3, 'slow'), 5), (sleeper(0.0, 'fast'), 5), (sleeper(0.1, 'middle'), 5)]
    assert run_concurrently(tasks, concurrency=3, grace=1) == ['slow', 'fast', 'middle']


def test_no_more_than_concurrency_tasks_run_at_once():
    gauge = Gauge()
    # Each task waits for two others, so three run together in every round; a fourth at once
    # would push the peak above 3.
    rounds = threading.Barrier(3)

    def task():
        with gauge:
            rounds.wait(WAIT)
        return True

    assert run_concurrently([(task, 60)] * 9, concurrency=3, grace=1) == [True] * 9
    assert gauge.peak == 3


def test_tasks_run_in_parallel():
    # Every task waits until all eight are running: they can only all pass if they run at once.
    everyone = threading.Barrier(8)

    def task():
        everyone.wait(WAIT)
        return True

    assert run_concurrently([(task, 60)] * 8, concurrency=8, grace=1) == [True] * 8


def test_a_task_past_its_budget_is_abandoned_and_its_slot_reused():
    stuck_started = threading.Event()
    stuck_returned = threading.Event()
    release = threading.Event()

    def stuck():
        stuck_started.set()
        release.wait(60)
        stuck_returned.set()
        return 'too late'

    outcome = {}

    def run():
        # With one slot, the second task can only run if the stuck one's slot is handed on.
        tasks = [(stuck, 0.2), (sleeper(0.0, 'after'), 60)]
        outcome['results'] = run_concurrently(tasks, concurrency=1, grace=0.1)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        runner.join(WAIT)
        assert not runner.is_alive(), 'the runner waited for the stuck task'
        # On a busy machine the stuck task may start only after it was given up on; either way it
        # is released only below, so the runner finished while the task was still blocked.
        assert stuck_started.wait(WAIT)
        assert not stuck_returned.is_set()
    finally:
        release.set()
    results = outcome['results']
    assert isinstance(results[0], TaskFailure)
    assert results[0].message == 'no result within 0.2 s; the probe was abandoned'
    assert results[1] == 'after'


def test_a_task_that_raises_costs_only_its_own_result():
    def broken():
        raise KeyError('port')

    results = run_concurrently([(broken, 5), (sleeper(0.0, 'fine'), 5)], concurrency=2, grace=1)
    assert isinstance(results[0], TaskFailure)
    assert results[0].message == "the probe raised KeyError: 'port'"
    assert results[1] == 'fine'


def test_no_tasks():
    assert run_concurrently([], concurrency=4, grace=1) == []
