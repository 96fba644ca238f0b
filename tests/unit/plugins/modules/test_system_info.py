# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The system_info module as Ansible runs it: parameters, section choice, error isolation."""

import json
import os
import threading
import time

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.modules import system_info


def run_module(args, capsys):
    """Run main() with ``args``; return (exit code, result dict)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        system_info.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('gather, skip, expected', [
    (system_info.DEFAULT_SECTIONS, [], system_info.DEFAULT_SECTIONS),
    (['all'], [], list(system_info.ALL_SECTIONS)),
    (['all', 'cpu'], ['ipmi', 'processes'], system_info.DEFAULT_SECTIONS),
    # Order follows the documentation, not the caller.
    (['sensors', 'cpu', 'identity'], [], ['identity', 'cpu', 'sensors']),
    (['cpu'], ['cpu'], []),
])
def test_choose_sections(gather, skip, expected):
    assert system_info.choose_sections(gather, skip) == expected


def test_default_leaves_out_the_waiting_sections():
    assert 'processes' not in system_info.DEFAULT_SECTIONS
    assert 'ipmi' not in system_info.DEFAULT_SECTIONS


def test_check_mode_gathers_without_changes(capsys):
    sections = ['identity', 'cpu', 'memory', 'filesystems']
    code, result = run_module({'_ansible_check_mode': True, 'gather': sections}, capsys)
    assert code == 0
    # A module without check mode support would have been skipped.
    assert 'skipped' not in result
    assert result['changed'] is False
    assert result['gathered'] == sections
    assert result['section_errors'] == {}
    assert result['identity']['hostname'] == os.uname().nodename
    assert result['cpu']['count'] >= 1
    assert result['memory']['total_bytes'] > 0
    assert 'services' not in result


@pytest.mark.parametrize('args, message', [
    ({'gather': ['cpu'], 'skip': ['cpu']}, 'nothing to gather'),
    ({'top_processes': 0}, 'top_processes must be at least 1, got 0'),
    ({'process_sample_interval': 0}, 'process_sample_interval must be above 0'),
    ({'section_timeout': -1}, 'section_timeout must be above 0 seconds, got -1'),
    ({'gather': ['processes'], 'process_sample_interval': 2, 'section_timeout': 2},
     'process_sample_interval (2.0 s) must be shorter than section_timeout (2.0 s)'),
    ({'services': ['nginx', '--root=/tmp']}, "services: '--root=/tmp' is not a valid service name"),
    ({'gather': ['disks']}, 'value of gather must be one or more of'),
])
def test_bad_parameters_fail_before_gathering(capsys, args, message):
    code, result = run_module(args, capsys)
    assert code == 1
    assert result['failed'] is True
    assert message in result['msg']


def test_a_failing_or_hung_section_does_not_fail_the_call(capsys, monkeypatch):
    release = threading.Event()

    def broken_cpu(proc_root='/proc'):
        raise OSError(5, 'Input/output error', os.path.join(proc_root, 'loadavg'))

    def hung_memory(proc_root='/proc'):
        release.wait(30)

    monkeypatch.setattr(system_info, 'gather_cpu', broken_cpu)
    monkeypatch.setattr(system_info, 'gather_memory', hung_memory)
    started = time.monotonic()
    try:
        code, result = run_module({'gather': ['identity', 'cpu', 'memory'], 'section_timeout': 0.5}, capsys)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert code == 0
    assert result['cpu'] == {'error': "[Errno 5] Input/output error: '/proc/loadavg'"}
    assert result['memory'] == {
        'error': 'did not finish within 0.5 s; raise section_timeout or skip this section'}
    assert result['section_errors'] == {'cpu': result['cpu']['error'], 'memory': result['memory']['error']}
    assert result['identity']['hostname'] == os.uname().nodename


def test_processes_section_uses_the_options(capsys):
    code, result = run_module({'gather': ['processes'], 'top_processes': 2, 'process_sample_interval': 0.05},
                              capsys)
    assert code == 0
    processes = result['processes']
    assert len(processes['top_cpu']) == 2
    assert len(processes['top_memory']) == 2
    assert processes['sample_interval_seconds'] >= 0.05
    assert processes['top_memory'][0]['rss_bytes'] >= processes['top_memory'][1]['rss_bytes']
