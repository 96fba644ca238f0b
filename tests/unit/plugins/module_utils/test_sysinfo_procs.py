# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Top process ranking of the system_info module."""

import os

import pytest
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo import SectionError
from ansible_collections.opsrun.ops.plugins.module_utils._sysinfo_procs import (
    gather_processes,
    parse_pid_stat,
    rank_processes,
)


def stat_line(pid, name, state='S', *, utime=0, stime=0, start=100, rss=0):
    """A /proc/PID/stat line with the given fields and plausible values elsewhere."""
    fields = [state, '1', str(pid), str(pid), '0', '-1', '4194560', '0', '0', '0', '0', str(utime),
              str(stime), '0', '0', '20', '0', '1', '0', str(start), '12345678', str(rss)] + ['0'] * 30
    return f"{pid} ({name}) {' '.join(fields)}\n"


@pytest.mark.parametrize('text, expected', [
    (stat_line(42, 'nginx', 'R', utime=150, stime=50, start=900, rss=2560),
     {'pid': 42, 'name': 'nginx', 'state': 'R', 'cpu_ticks': 200, 'start_ticks': 900, 'rss_pages': 2560}),
    # A name with spaces and parentheses is cut at the last ')'.
    (stat_line(7, 'my (odd) name', 'S', utime=1, stime=2, start=5, rss=3),
     {'pid': 7, 'name': 'my (odd) name', 'state': 'S', 'cpu_ticks': 3, 'start_ticks': 5, 'rss_pages': 3}),
])
def test_parse_pid_stat(text, expected):
    assert parse_pid_stat(text) == expected


def test_parse_pid_stat_rejects_truncated_lines():
    with pytest.raises(ValueError, match='truncated'):
        parse_pid_stat('42 (nginx) S 1 42\n')


def sample(*rows):
    return dict((row[0], parse_pid_stat(stat_line(*row[:2], **row[2])))
                for row in rows)


def test_rank_processes():
    before = sample((1, 'init', {'utime': 10}),
                    (10, 'busy', {'utime': 1000, 'rss': 100}),
                    (11, 'big', {'utime': 5, 'rss': 50000}),
                    (12, 'reused', {'utime': 900, 'start': 100}))
    after = sample((1, 'init', {'utime': 10}),
                   (10, 'busy', {'utime': 1040, 'stime': 10, 'rss': 100}),
                   (11, 'big', {'utime': 15, 'rss': 50000}),
                   # Same PID, new process: its 950 ticks were not spent in the interval.
                   (12, 'reused', {'utime': 950, 'start': 5000, 'rss': 10}),
                   (13, 'new', {'utime': 2}))
    by_cpu, by_memory = rank_processes(before, after, 0.5, 2, clock_ticks=100, page_size=4096,
                                       mem_total=4096 * 100000)
    assert [(row['pid'], row['cpu_percent']) for row in by_cpu] == [(10, 100.0), (11, 20.0)]
    assert [(row['pid'], row['rss_bytes'], row['memory_percent']) for row in by_memory] == [
        (11, 50000 * 4096, 50.0), (10, 100 * 4096, 0.1)]


def test_rank_processes_with_no_elapsed_time():
    both = sample((1, 'init', {'utime': 10}))
    by_cpu, _by_memory = rank_processes(both, both, 0.0, 1, clock_ticks=100, page_size=4096, mem_total=1)
    assert by_cpu[0]['cpu_percent'] == 0.0


def test_gather_processes(tmp_path):
    (tmp_path / 'meminfo').write_text('MemTotal: 409600 kB\n')
    (tmp_path / 'self').mkdir()
    for pid, name, argv in ((1, 'init', b'/sbin/init\0splash\0'), (500, 'worker', b'worker\0--password=x\0'),
                            (600, 'kthreadd', b'')):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / 'stat').write_text(stat_line(pid, name, rss=10 * pid))
        (tmp_path / str(pid) / 'cmdline').write_bytes(argv)

    def busy_worker(seconds):
        assert seconds == 0.05
        (tmp_path / '500' / 'stat').write_text(stat_line(500, 'worker', 'R', utime=os.sysconf('SC_CLK_TCK'),
                                                         rss=5000))
        # Exits between the samples: it must simply drop out.
        (tmp_path / '1' / 'stat').unlink()

    result = gather_processes(1, 0.05, str(tmp_path), sleep=busy_worker)
    assert result['count'] == 2
    top = result['top_cpu'][0]
    assert (top['pid'], top['name'], top['state'], top['command']) == (500, 'worker', 'R', 'worker')
    assert top['cpu_percent'] > 100.0
    assert top['user'] is not None
    assert result['top_memory'][0]['pid'] == 600
    assert result['top_memory'][0]['command'] is None


def test_gather_processes_needs_meminfo(tmp_path):
    (tmp_path / 'meminfo').write_text('MemFree: 1 kB\n')
    with pytest.raises(SectionError, match='MemTotal'):
        gather_processes(1, 0.01, str(tmp_path))
