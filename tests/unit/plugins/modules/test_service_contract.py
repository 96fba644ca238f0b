# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""opsrun.ops.service_contract: input checks, and whole runs against this test process and a
socket on loopback."""

import contextlib
import json
import os
import socket

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.modules import service_contract


def run_main(args, capsys, check_mode=False):
    """Run the module's main() as Ansible would; return its exit code and JSON result."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        service_contract.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def listening_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as unused:
        unused.bind(('127.0.0.1', 0))
        return unused.getsockname()[1]


# --- input --------------------------------------------------------------------------------------

@pytest.mark.parametrize(('specs', 'message'), [
    ([{}], "checks[0].type must be one of process, port, http, log, got None"),
    ([{'type': 'tcp', 'port': 80}], "checks[0].type must be one of process, port, http, log, got 'tcp'"),
    ([{'type': 'port'}], 'checks[0].port must be a port number from 1 to 65535, got None'),
    ([{'type': 'port', 'port': 70000}], 'checks[0].port must be a port number from 1 to 65535, got 70000'),
    ([{'type': 'port', 'port': 80, 'url': 'http://127.0.0.1/'}],
     'checks[0].url does not apply to a port check'),
    ([{'type': 'process'}], 'checks[0] needs process or pidfile (or both)'),
    ([{'type': 'http'}], 'checks[0].url is required for an http check'),
    ([{'type': 'http', 'url': 'ftp://host/'}],
     "checks[0].url must be an http:// or https:// URL with a host, got 'ftp://host/'"),
    ([{'type': 'http', 'url': 'http://h/', 'expect_status': [700]}],
     'checks[0].expect_status must list HTTP status codes (100-599), got [700]'),
    ([{'type': 'http', 'url': 'http://h/', 'body_match': '('}],
     'checks[0].body_match is not a valid regular expression'),
    ([{'type': 'log', 'path': '/var/log/x.log'}], 'checks[0].pattern is required for a log check'),
    ([{'type': 'log', 'path': '/var/log/x.log', 'pattern': '[a'}],
     'checks[0].pattern is not a valid regular expression'),
    ([{'type': 'port', 'port': 80, 'timeout': -1}], 'checks[0].timeout must be 0 or more, got -1'),
    ([{'type': 'port', 'port': 80}, {'type': 'port', 'port': 80}],
     "more than one check is named 'port tcp/80'; give each a unique name"),
])
def test_bad_checks_are_refused_naming_the_index_and_key(specs, message):
    full = [dict(dict.fromkeys(service_contract.CHECK_SPEC), **spec) for spec in specs]
    with pytest.raises(service_contract.CheckError) as error:
        service_contract.build_checks(full, 30.0)
    assert message in str(error.value)


def test_every_bad_check_is_reported_at_once():
    specs = [{'type': 'port'}, {'type': 'process', 'port': 22}]
    with pytest.raises(service_contract.CheckError) as error:
        service_contract.build_checks(specs, 30.0)
    assert str(error.value) == ('checks[0].port must be a port number from 1 to 65535, got None; '
                                'checks[1].port does not apply to a process check; '
                                'checks[1] needs process or pidfile (or both)')


def test_checks_get_names_defaults_and_the_default_timeout():
    checks = service_contract.build_checks([
        {'type': 'port', 'port': 443},
        {'name': 'home', 'type': 'http', 'url': ' http://127.0.0.1:8080/ ', 'timeout': 3},
        {'type': 'process', 'pidfile': '/run/nginx.pid'},
    ], 12.0)
    assert [(check['name'], check['timeout']) for check in checks] == [
        ('port tcp/443', 12.0), ('home', 3), ('process /run/nginx.pid', 12.0)]
    assert checks[0]['protocol'] == 'tcp'
    plan = checks[1]['plan']
    assert (plan['url'], plan['expect_status'], plan['follow_redirects'], plan['validate_certs']) == (
        'http://127.0.0.1:8080/', [200], False, True)


# --- whole runs ---------------------------------------------------------------------------------

def test_a_healthy_contract_passes_in_check_mode_too(capsys, tmp_path, listening_port):
    pidfile = tmp_path / 'me.pid'
    pidfile.write_text('%d\n' % os.getpid())
    log = tmp_path / 'service.log'
    log.write_text('started\n')
    args = {'service': 'opsrun-test', 'checks': [
        {'type': 'process', 'pidfile': str(pidfile)},
        {'type': 'port', 'port': listening_port, 'address': '127.0.0.1'},
        {'type': 'log', 'path': str(log), 'pattern': 'ERROR'},
    ]}
    code, result = run_main(args, capsys, check_mode=True)
    assert code == 0, result
    assert (result['changed'], result['passed'], result['message'], result['failed_checks']) == (
        False, True, None, [])
    assert [check['status'] for check in result['checks']] == ['ok', 'ok', 'skipped']
    assert result['pids'] == [os.getpid()]
    assert result['log_offsets'] == {str(log): len('started\n')}
    assert result['evidence'] == []
    assert result['service_manager'] in ('systemd', 'sysvinit', 'other')


def test_a_failed_contract_is_a_result_with_evidence(capsys, tmp_path, closed_port):
    log = tmp_path / 'service.log'
    log.write_text('started\n')
    offset = log.stat().st_size
    log.write_text('started\nERROR cannot bind\nshutting down\n')
    args = {'service': 'opsrun-test', 'wait': True, 'timeout': 0.2, 'interval': 0.05, 'journal': False,
            'evidence_lines': 2, 'log_offsets': {str(log): str(offset)},
            'checks': [{'type': 'port', 'port': closed_port, 'address': '127.0.0.1'},
                       {'name': 'errors', 'type': 'log', 'path': str(log), 'pattern': 'ERROR'}]}
    code, result = run_main(args, capsys)
    assert code == 0, result
    assert (result['passed'], result['failed_checks']) == (False, ['port tcp/%d' % closed_port, 'errors'])
    assert result['message'] == (
        'port tcp/%d: nothing listens on tcp/%d on 127.0.0.1; log errors: 1 line(s) of %s match '
        "'ERROR', the last: ERROR cannot bind" % (closed_port, closed_port, log))
    assert result['evidence'] == [{'source': str(log), 'lines': ['ERROR cannot bind', 'shutting down']}]
    assert result['checks'][0]['attempts'] > 1


@pytest.mark.parametrize(('args', 'message'), [
    ({'service': '-nginx'}, "service '-nginx' is not a valid service name"),
    ({'service': 'nginx', 'interval': -1}, 'interval must be 0 or more, got -1.0'),
    ({'service': 'nginx', 'log_offsets': {'/var/log/x.log': 'end'}},
     "log_offsets['/var/log/x.log'] must be a byte offset, got 'end'"),
    ({'service': 'nginx', 'checks': [{'type': 'port'}]}, 'checks[0].port must be a port number'),
])
def test_bad_arguments_fail_the_module(capsys, args, message):
    code, result = run_main(args, capsys)
    assert code == 1
    assert result['failed'] is True
    assert message in result['msg']
