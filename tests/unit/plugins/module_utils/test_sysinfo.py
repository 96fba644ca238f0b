# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section plumbing of the system_info module: deadlines, error isolation, commands with a time limit."""

import sys
import threading
import time

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import (
    FAILED,
    OK,
    TIMED_OUT,
    CommandRunner,
    Deadline,
    SectionError,
    collect_sections,
    run_with_deadline,
)


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    # Let hung test threads finish instead of lingering until the interpreter exits.
    event.set()


def test_run_with_deadline_isolates_failures_and_hangs(release):
    def boom():
        raise KeyError('missing')

    started = time.monotonic()
    tasks = [('fast', lambda: 42), ('boom', boom), ('hung', lambda: release.wait(30))]
    outcomes = run_with_deadline(tasks, 0.3)
    assert time.monotonic() - started < 3
    assert outcomes['fast'] == (OK, 42)
    assert outcomes['boom'][0] == FAILED
    assert isinstance(outcomes['boom'][1], KeyError)
    assert outcomes['hung'] == (TIMED_OUT, None)


def test_run_with_deadline_gives_up_on_tasks_that_never_started(release):
    ran = []

    def hang():
        release.wait(30)

    outcomes = run_with_deadline([('first', hang), ('second', lambda: ran.append('second'))], 0.2, workers=1)
    assert outcomes == {'first': (TIMED_OUT, None), 'second': (TIMED_OUT, None)}
    release.set()
    time.sleep(0.1)
    # The worker must not pick up queued work once the caller has moved on.
    assert ran == []


def test_run_with_deadline_without_tasks():
    assert run_with_deadline([], 1.0) == {}


def test_collect_sections():
    outcomes = {
        'cpu': (OK, {'count': 2}),
        'memory': (FAILED, OSError(2, 'No such file or directory', '/proc/meminfo')),
        'sensors': (FAILED, ValueError('bad value')),
        'filesystems': (TIMED_OUT, None),
    }
    results, errors = collect_sections(['cpu', 'memory', 'sensors', 'filesystems'], outcomes, 2.5)
    assert results['cpu'] == {'count': 2}
    assert errors == {
        'memory': "[Errno 2] No such file or directory: '/proc/meminfo'",
        'sensors': 'ValueError: bad value',
        'filesystems': 'did not finish within 2.5 s; raise section_timeout or skip this section',
    }
    assert results['filesystems'] == {'error': errors['filesystems']}
    assert list(results) == ['cpu', 'memory', 'sensors', 'filesystems']


def test_deadline_counts_down():
    deadline = Deadline(0.05)
    assert 0 < deadline.remaining() <= 0.05
    time.sleep(0.06)
    assert deadline.remaining() == 0.0


@pytest.fixture
def commands():
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    return CommandRunner(module)


def test_command_runs_in_c_locale(commands):
    script = 'import os; print(os.environ["LC_ALL"], os.environ["TZ"])'
    rc, out, err = commands.run([sys.executable, '-c', script], 10, environ_update={'TZ': 'UTC'})
    assert (rc, out, err) == (0, 'C UTC\n', '')


def test_command_is_killed_at_its_time_limit(commands):
    started = time.monotonic()
    with pytest.raises(SectionError, match=r'did not finish within 0\.3 s'):
        commands.run([sys.executable, '-c', 'import time; time.sleep(30)'], 0.3)
    assert time.monotonic() - started < 5


def test_command_that_cannot_start(commands, tmp_path):
    with pytest.raises(SectionError, match='could not run'):
        commands.run([str(tmp_path / 'no-such-tool')], 5)


def test_kill_running_stops_abandoned_commands(commands, release):
    outcome = {}

    def run_long():
        try:
            commands.run([sys.executable, '-c', 'import time; time.sleep(30)'], 60)
        except SectionError as exc:
            outcome['error'] = str(exc)

    thread = threading.Thread(target=run_long)
    thread.start()
    time.sleep(0.5)
    commands.kill_running()
    thread.join(10)
    assert not thread.is_alive()
    assert 'did not finish' in outcome['error']


def test_which_finds_only_installed_tools(commands):
    assert commands.which('sh')
    assert commands.which('no-such-tool-anywhere') is None
