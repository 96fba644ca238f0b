# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identity, CPU and memory parsing of the system_info module."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_host import (
    gather_cpu,
    gather_identity,
    gather_memory,
    iso_utc,
    memory_summary,
    os_summary,
    parse_boot_time,
    parse_loadavg,
    parse_meminfo,
    parse_os_release,
    parse_uptime,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'modules', 'fixtures', 'system_info')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.mark.parametrize('name, expected', [
    ('os-release.debian12', {
        'id': 'debian', 'id_like': [], 'name': 'Debian GNU/Linux', 'version_id': '12',
        'version': '12 (bookworm)', 'version_codename': 'bookworm',
        'pretty_name': 'Debian GNU/Linux 12 (bookworm)',
    }),
    ('os-release.rocky9', {
        'id': 'rocky', 'id_like': ['rhel', 'centos', 'fedora'], 'name': 'Rocky Linux', 'version_id': '9.3',
        'version': '9.3 (Blue Onyx)', 'version_codename': None, 'pretty_name': 'Rocky Linux 9.3 (Blue Onyx)',
    }),
    ('os-release.quoting', {
        'id': 'example', 'id_like': [], 'name': 'Example OS', 'version_id': '2026.1', 'version': None,
        'version_codename': 'spaced', 'pretty_name': 'Example "Edge" OS $release \\ `tick`',
    }),
])
def test_os_release(name, expected):
    assert os_summary(parse_os_release(fixture(name))) == expected


@pytest.mark.parametrize('text, expected', [
    ('0.46 0.57 0.27 1/91 15509\n',
     {'load_1': 0.46, 'load_5': 0.57, 'load_15': 0.27, 'tasks_runnable': 1, 'tasks_total': 91}),
    ('12.00 8.50 4.25 17/1024 1\n',
     {'load_1': 12.0, 'load_5': 8.5, 'load_15': 4.25, 'tasks_runnable': 17, 'tasks_total': 1024}),
])
def test_parse_loadavg(text, expected):
    assert parse_loadavg(text) == expected


def test_parse_loadavg_rejects_other_text():
    with pytest.raises(SectionError, match='unexpected /proc/loadavg'):
        parse_loadavg('0.1 0.2\n')


def test_parse_meminfo_scales_kilobytes_only():
    meminfo = parse_meminfo(fixture('meminfo.modern'))
    assert meminfo['MemTotal'] == 8009000 * 1024
    assert meminfo['HugePages_Total'] == 0
    assert meminfo['Hugepagesize'] == 2048 * 1024


@pytest.mark.parametrize('name, expected', [
    ('meminfo.modern', {
        'total_bytes': 8009000 * 1024,
        'available_bytes': 5870000 * 1024,
        'used_bytes': (8009000 - 5870000) * 1024,
        'used_percent': 26.7,
        'swap_total_bytes': 1999996 * 1024,
        'swap_free_bytes': 1499997 * 1024,
        'swap_used_bytes': 499999 * 1024,
        'swap_used_percent': 25.0,
    }),
    # No MemAvailable (kernel < 3.14): free + buffers + cache; no swap gives 0 %.
    ('meminfo.legacy', {
        'total_bytes': 2048000 * 1024,
        'available_bytes': 1000000 * 1024,
        'used_bytes': 1048000 * 1024,
        'used_percent': 51.2,
        'swap_total_bytes': 0,
        'swap_free_bytes': 0,
        'swap_used_bytes': 0,
        'swap_used_percent': 0.0,
    }),
])
def test_memory_summary(name, expected):
    assert memory_summary(parse_meminfo(fixture(name))) == expected


def test_memory_summary_needs_total():
    with pytest.raises(SectionError, match='MemTotal'):
        memory_summary({'MemFree': 1})


def test_boot_time_and_uptime():
    assert parse_boot_time('cpu  1 2 3\nbtime 1767863560\nprocesses 42\n') == 1767863560
    assert iso_utc(1767863560) == '2026-01-08T09:12:40Z'
    assert parse_uptime('86400.52 170000.10\n') == 86400.52
    with pytest.raises(SectionError, match='btime'):
        parse_boot_time('cpu  1 2 3\n')


@pytest.fixture
def proc_tree(tmp_path):
    (tmp_path / 'sys' / 'kernel' / 'random').mkdir(parents=True)
    (tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id').write_text('0f6d2e1c-5b7a-4c1e-9d3f-1a2b3c4d5e6f\n')
    (tmp_path / 'stat').write_text('cpu  1 2 3 4\nbtime 1767863560\n')
    (tmp_path / 'uptime').write_text('3600.25 7000.00\n')
    (tmp_path / 'loadavg').write_text('3.00 2.00 1.00 2/300 4242\n')
    (tmp_path / 'meminfo').write_text(fixture('meminfo.modern'))
    return tmp_path


def test_gather_identity(proc_tree):
    os_release = proc_tree / 'os-release'
    os_release.write_text(fixture('os-release.rocky9'))
    paths = (str(proc_tree / 'missing'), str(os_release))
    identity = gather_identity(str(proc_tree), paths, fqdn_timeout=2.0)
    assert identity['hostname'] == os.uname().nodename
    assert identity['boot_id'] == '0f6d2e1c-5b7a-4c1e-9d3f-1a2b3c4d5e6f'
    assert identity['boot_time'] == '2026-01-08T09:12:40Z'
    assert identity['boot_time_epoch'] == 1767863560
    assert identity['uptime_seconds'] == 3600.25
    assert identity['os']['id'] == 'rocky'
    assert identity['kernel'] == os.uname().release


def test_gather_identity_without_os_release(proc_tree):
    identity = gather_identity(str(proc_tree), (str(proc_tree / 'missing'),), fqdn_timeout=2.0)
    assert identity['os']['id'] is None
    assert identity['os']['id_like'] == []


def test_gather_cpu_divides_load_by_count(proc_tree):
    cpu = gather_cpu(str(proc_tree), cpu_count=4)
    assert cpu['count'] == 4
    assert cpu['load_1'] == 3.0
    assert (cpu['load_per_cpu_1'], cpu['load_per_cpu_5'], cpu['load_per_cpu_15']) == (0.75, 0.5, 0.25)


def test_gather_memory(proc_tree):
    assert gather_memory(str(proc_tree))['used_percent'] == 26.7
