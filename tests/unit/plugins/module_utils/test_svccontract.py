# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health contract behind opsrun.ops.service_contract: processes from a fake /proc, sockets,
logs written while a check watches them, and polling on a fake clock."""

import http.server
import os
import re
import threading

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils import _svccontract
from ansible_collections.opsrun.ops.plugins.module_utils._svccontract import (
    Contract,
    check_port,
    check_process,
    find_processes,
    read_new_lines,
    summarize,
    tail,
)

# --- helpers ------------------------------------------------------------------------------------


def fake_process(proc_root, pid, comm, argv, *, state='S', exe=None):
    base = proc_root / str(pid)
    base.mkdir(parents=True)
    (base / 'stat').write_text('%d (%s) %s 1 %d %d 0 -1' % (pid, comm, state, pid, pid))
    (base / 'cmdline').write_bytes(b'\0'.join(arg.encode() for arg in argv) + b'\0')
    if exe:
        os.symlink(exe, str(base / 'exe'))


class FakeClock:
    """A monotonic clock that moves only when the code under test sleeps; runs a hook at each sleep."""

    def __init__(self, on_sleep=None):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = on_sleep

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def socket_entry(port, address='0.0.0.0', protocol='tcp'):  # noqa: S104 - a record, nothing binds
    return {'protocol': protocol, 'port': port, 'address': address}


def port_check(port, timeout=2.0, **keys):
    check = {'name': 'port tcp/%d' % port, 'type': 'port', 'timeout': timeout, 'port': port,
             'protocol': 'tcp', 'address': None}
    check.update(keys)
    return check


def log_check(path, pattern, timeout=0.0):
    return {'name': 'log %s' % path, 'type': 'log', 'timeout': timeout, 'path': str(path),
            'pattern': re.compile(pattern)}


# --- process ------------------------------------------------------------------------------------

@pytest.fixture
def proc(tmp_path):
    root = tmp_path / 'proc'
    fake_process(root, 1, 'tini', ['/usr/bin/tini', '-s'])
    fake_process(root, 50, 'nginx', ['nginx: master process /usr/sbin/nginx'], exe='/usr/sbin/nginx')
    fake_process(root, 51, 'nginx', ['nginx: worker process'])
    fake_process(root, 60, 'nginx', ['nginx: worker process'], state='Z')
    # A name longer than the kernel's 15 characters, and parentheses inside a comm.
    fake_process(root, 70, 'opsrun-longname', ['/usr/local/sbin/opsrun-longname-daemon'])
    fake_process(root, 80, 'odd) (name', ['/usr/bin/python3', '/usr/local/sbin/odd'])
    (root / 'self').mkdir()
    return root


def test_processes_are_found_by_comm_executable_or_first_word_but_not_as_zombies(proc):
    assert find_processes('nginx', str(proc)) == [50, 51]
    assert find_processes('opsrun-longname-daemon', str(proc)) == [70]
    assert find_processes('python3', str(proc)) == [80]
    assert find_processes('odd) (name', str(proc)) == [80]
    assert find_processes('apache2', str(proc)) == []


@pytest.mark.parametrize(('pidfile_text', 'process', 'expected'), [
    ('50\n', None, (None, [50])),
    ('50\n', 'nginx', (None, [50])),
    ('50\n', 'apache2', ('process 50 of the pid file {pidfile} is nginx, not apache2', [])),
    ('60\n', None, ('the pid file {pidfile} names process 60, which is not running', [])),
    ('999\n', None, ('the pid file {pidfile} names process 999, which is not running', [])),
    ('nginx\n', None, ("the pid file {pidfile} does not hold a process id: 'nginx'", [])),
    (None, None, ('cannot read the pid file {pidfile}: No such file or directory', [])),
])
def test_a_pid_file_must_name_a_live_process_of_the_right_name(proc, tmp_path, pidfile_text, process,
                                                               expected):
    pidfile = tmp_path / 'service.pid'
    if pidfile_text is not None:
        pidfile.write_text(pidfile_text)
    error, pids = check_process({'pidfile': str(pidfile), 'process': process}, str(proc))
    assert (error, pids) == (expected[0] and expected[0].format(pidfile=pidfile), expected[1])


def test_a_process_name_with_no_process_is_an_error(proc):
    assert check_process({'pidfile': None, 'process': 'apache2'}, str(proc)) == (
        'no process named apache2 is running', [])


# --- port ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(('check', 'error'), [
    ({'port': 80}, None),
    ({'port': 80, 'address': '127.0.0.1'}, None),
    ({'port': 8443, 'address': '192.0.2.10'}, None),
    ({'port': 8443, 'address': '127.0.0.1'}, 'nothing listens on tcp/8443 on 127.0.0.1'),
    ({'port': 53, 'protocol': 'udp'}, None),
    ({'port': 53}, 'nothing listens on tcp/53'),
    ({'port': 81}, 'nothing listens on tcp/81'),
])
def test_a_port_listens_on_its_address_or_the_wildcard(check, error):
    sockets = [socket_entry(80), socket_entry(8443, '192.0.2.10'), socket_entry(53, '::', 'udp')]
    assert check_port(port_check(**check), sockets) == error


# --- logs ---------------------------------------------------------------------------------------

def test_only_complete_new_lines_are_read_and_a_rotated_log_is_read_from_its_start(tmp_path):
    log = tmp_path / 'app.log'
    log.write_text('old line\n')
    offset = log.stat().st_size
    with log.open('a') as handle:
        handle.write('new line\nhalf a li')
    lines, offset = read_new_lines(str(log), offset)
    assert lines == ['new line']
    with log.open('a') as handle:
        handle.write('ne\n')
    lines, offset = read_new_lines(str(log), offset)
    assert lines == ['half a line']
    log.write_text('after rotation\n')
    assert read_new_lines(str(log), offset) == (['after rotation'], len('after rotation\n'))
    assert read_new_lines(str(tmp_path / 'missing.log'), 12) == ([], 12)


def test_tail_returns_the_last_lines_oldest_first(tmp_path):
    log = tmp_path / 'app.log'
    log.write_text(''.join('line %d\n' % number for number in range(1, 101)))
    assert tail(str(log), 3) == ['line 98', 'line 99', 'line 100']
    assert tail(str(log), 0) == []
    assert tail(str(tmp_path / 'missing.log'), 3) == []


# --- the contract, evaluated once ---------------------------------------------------------------

def test_evaluated_once_a_log_without_a_starting_point_only_records_where_it_ends(tmp_path):
    log = tmp_path / 'error.log'
    log.write_text('[emerg] from an earlier start\n')
    checks = [port_check(80), log_check(log, r'\[emerg\]')]
    contract = Contract(checks, sockets=lambda: [socket_entry(80)])
    results = contract.run_once()
    assert [(result['status'], result['error']) for result in results] == [('ok', None), ('skipped', None)]
    assert contract.offsets == {str(log): log.stat().st_size}

    with log.open('a') as handle:
        handle.write('[notice] started\n[emerg] bind() to 0.0.0.0:80 failed\n')
    later = Contract(checks, contract.offsets, sockets=lambda: []).run_once()
    assert [(result['status'], result['error']) for result in later] == [
        ('fail', 'nothing listens on tcp/80'),
        ('fail', "1 line(s) of %s match '\\\\[emerg\\\\]', the last: [emerg] bind() to 0.0.0.0:80 failed"
         % log)]
    assert later[1]['matches'] == ['[emerg] bind() to 0.0.0.0:80 failed']
    assert summarize(later) == '; '.join('%s: %s' % (result['name'], result['error']) for result in later)


def test_summarize_names_checks_with_their_type():
    results = [{'name': 'home page', 'type': 'http', 'status': 'fail', 'error': 'status 502, expected 200'},
               {'name': 'port tcp/80', 'type': 'port', 'status': 'ok', 'error': None}]
    assert summarize(results) == 'http home page: status 502, expected 200'
    assert summarize(results[1:]) is None


# --- the contract, waited for -------------------------------------------------------------------

def test_waiting_polls_a_check_until_it_passes():
    listening = []
    clock = FakeClock(on_sleep=lambda count: listening.append(socket_entry(80)) if count == 3 else None)
    contract = Contract([port_check(80, timeout=5)], interval=0.5, clock=clock.clock, sleep=clock.sleep,
                        sockets=lambda: listening)
    [result] = contract.run_waiting()
    assert (result['status'], result['attempts'], result['elapsed_s']) == ('ok', 4, 1.5)
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_waiting_gives_up_on_a_check_at_its_own_timeout():
    clock = FakeClock()
    checks = [port_check(80, timeout=1.2), port_check(81, timeout=0.0)]
    results = Contract(checks, interval=0.5, clock=clock.clock, sleep=clock.sleep,
                       sockets=list).run_waiting()
    assert [(result['status'], result['attempts'], result['elapsed_s']) for result in results] == [
        ('fail', 4, 1.2), ('fail', 1, 0.0)]
    # The last sleep is cut short so the check is looked at once more exactly at its deadline.
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.2])


def test_a_log_check_watches_until_the_other_checks_settle_and_fails_on_a_new_match(tmp_path):
    log = tmp_path / 'error.log'
    log.write_text('')
    listening = []

    def service_starts(count):
        if count == 2:
            with log.open('a') as handle:
                handle.write('[emerg] unknown directive "lisen"\n')
        if count == 4:
            listening.append(socket_entry(80))

    clock = FakeClock(on_sleep=service_starts)
    checks = [port_check(80, timeout=10), log_check(log, r'\[emerg\]', timeout=0)]
    results = Contract(checks, {str(log): 0}, interval=0.5, clock=clock.clock, sleep=clock.sleep,
                       sockets=lambda: listening).run_waiting()
    assert [(result['status'], result['elapsed_s']) for result in results] == [('ok', 2.0), ('fail', 1.0)]
    assert results[1]['matches'] == ['[emerg] unknown directive "lisen"']


def test_a_quiet_log_passes_once_its_time_is_up_and_the_service_is_up(tmp_path):
    log = tmp_path / 'error.log'
    log.write_text('[emerg] before the restart\n')
    clock = FakeClock()
    checks = [port_check(80, timeout=10), log_check(log, r'\[emerg\]', timeout=2)]
    contract = Contract(checks, {str(log): log.stat().st_size}, interval=0.5, clock=clock.clock,
                        sleep=clock.sleep, sockets=lambda: [socket_entry(80)])
    results = contract.run_waiting()
    assert [(result['status'], result['elapsed_s']) for result in results] == [('ok', 0.0), ('ok', 2.0)]
    assert contract.offsets == {str(log): log.stat().st_size}


# --- http, against a server on loopback ---------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = (200, b'ok\n') if self.path == '/health' else (404, b'no such page\n')
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        """Keep the test output clean."""


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def http_check(name, url, body_match=None):
    plan = {'name': name, 'type': 'http', 'target': url, 'url': url, 'method': 'GET', 'expect_status': [200],
            'body_match': re.compile(body_match) if body_match else None, 'follow_redirects': False,
            'validate_certs': True, 'ca_path': None, 'headers': {}, 'secret_headers': {}, 'timeout': 5.0}
    return {'name': name, 'type': 'http', 'timeout': 5.0, 'plan': plan}


def test_http_checks_use_the_probe_request_code(server):
    checks = [http_check('up', server + '/health', '^ok'), http_check('missing', server + '/missing'),
              http_check('wrong body', server + '/health', 'degraded')]
    results = Contract(checks).run_once()
    assert [(result['status'], result['status_code'], result['error']) for result in results] == [
        ('ok', 200, None), ('fail', 404, 'status 404, expected 200'),
        ('fail', 200, "the body does not match 'degraded'")]


def test_listening_sockets_fall_back_to_proc_net(monkeypatch):
    def no_netlink():
        raise OSError(13, 'denied')
    monkeypatch.setattr(_svccontract, 'listening_from_kernel', no_netlink)
    monkeypatch.setattr(_svccontract, 'listening_from_proc', lambda: [socket_entry(22)])
    assert _svccontract.listening_sockets() == [socket_entry(22)]
