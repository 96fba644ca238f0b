# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bounded, concurrent task runner behind the probe module."""

import threading
import time

from ansible_collections.opsrun.ops.plugins.module_utils._probe import TaskFailure, run_concurrently


def sleeper(seconds, value):
    def task():
        time.sleep(seconds)
        return value
    return task


def test_results_keep_task_order_whatever_finishes_first():
    tasks = [(sleeper(0.3, 'slow'), 5), (sleeper(0.0, 'fast'), 5), (sleeper(0.1, 'middle'), 5)]
    assert run_concurrently(tasks, concurrency=3, grace=1) == ['slow', 'fast', 'middle']


def test_no_more_than_concurrency_tasks_run_at_once():
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def task():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return True

    assert run_concurrently([(task, 5)] * 9, concurrency=3, grace=1) == [True] * 9
    assert peak[0] == 3


def test_tasks_run_in_parallel():
    start = time.monotonic()
    run_concurrently([(sleeper(0.3, None), 5)] * 8, concurrency=8, grace=1)
    # Run one after another they would take 2.4 s.
    assert time.monotonic() - start < 1.2


def test_a_task_past_its_budget_is_abandoned_and_its_slot_reused():
    release = threading.Event()

    def stuck():
        release.wait(10)
        return 'too late'

    outcome = {}

    def run():
        # With one slot, the second task can only run if the stuck one's slot is handed on.
        tasks = [(stuck, 0.2), (sleeper(0.0, 'after'), 5)]
        outcome['results'] = run_concurrently(tasks, concurrency=1, grace=0.1)

    start = time.monotonic()
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(5)
    elapsed = time.monotonic() - start
    release.set()

    assert not runner.is_alive(), 'the runner waited for the stuck task'
    results = outcome['results']
    assert isinstance(results[0], TaskFailure)
    assert results[0].message == 'no result within 0.2 s; the probe was abandoned'
    assert results[1] == 'after'
    assert elapsed < 2


def test_a_task_that_raises_costs_only_its_own_result():
    def broken():
        raise KeyError('port')

    results = run_concurrently([(broken, 5), (sleeper(0.0, 'fine'), 5)], concurrency=2, grace=1)
    assert isinstance(results[0], TaskFailure)
    assert results[0].message == "the probe raised KeyError: 'port'"
    assert results[1] == 'fine'


def test_no_tasks():
    assert run_concurrently([], concurrency=4, grace=1) == []
