#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the health_check playbook against `ansible all -m ansible.builtin.ping` on a fleet.

Goal (issue: the daily health check): the whole check of every host, playbooks/health_check.yml
with the role's defaults, takes <= 1.5x `ansible all -m ansible.builtin.ping` on the same fleet
with the same ansible.cfg.

The script starts its own fleet (name bhc, subnet 10.213.52 unless told otherwise; 50 hosts, the
last 2 with systemd), warms the SSH control connections with one call of each command, then times
REPEAT rounds of both, interleaved with the order alternating so that changes in the machine's load
hit both alike. It prints the median wall times, the controller's CPU time, the ratio and the goal.
The load levels are raised for the run (the fleet's hosts share this machine's load), which changes
no work: every check still runs; the reports go to a temporary directory.

Usage (as root): python benchmarks/bench_health_check.py [--hosts 50] [--systemd 2] [--repeat 5]
Exits 1 when the goal is missed. The fleet is always taken down, also on Ctrl-C.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fleetbench import REPO, add_fleet_options, benchmark_fleet

GOAL = 1.5
BIN = Path(sys.executable).parent
PLAYBOOK = REPO / "playbooks" / "health_check.yml"


def commands(report_dir):
    vars_file = Path(report_dir) / "vars.json"
    vars_file.write_text(json.dumps({
        "health_check_report_dir": str(Path(report_dir) / "reports"),
        "health_check_load_per_cpu": {"warn": 1000, "crit": 1000},
    }))
    return {
        "ping": [str(BIN / "ansible"), "all", "-m", "ansible.builtin.ping"],
        "health_check": [str(BIN / "ansible-playbook"), "-e", f"@{vars_file}", str(PLAYBOOK)],
    }


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fleet, argv):
    """(wall seconds, controller CPU seconds) of one run; a failed run stops the benchmark."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = fleet.run(*argv)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{output}")
    return wall, children_cpu() - cpu


def run(fleet, repeat, report_dir):
    argvs = commands(report_dir)
    names = list(argvs)
    for name in names:  # warm the SSH control connections and the page cache
        timed(fleet, argvs[name])
    samples = {name: [] for name in names}
    for round_index in range(repeat):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(timed(fleet, argvs[name]))
        print(f"round {round_index + 1}/{repeat}: "
              + "  ".join(f"{name} {samples[name][-1][0]:.2f} s" for name in names), flush=True)

    medians = {name: [statistics.median(column) for column in zip(*values, strict=True)]
               for name, values in samples.items()}
    per_round = sorted(check[0] / ping[0] for check, ping in zip(samples["health_check"], samples["ping"],
                                                                  strict=True))
    print(f"\nmedians of {repeat} rounds on {len(fleet.hosts)} hosts (seconds):")
    print(f"  {'':14} {'wall':>7} {'CPU controller':>15}")
    for name in names:
        print(f"  {name:14} {medians[name][0]:7.2f} {medians[name][1]:15.2f}")
    print(f"  wall health_check/ping per round: {', '.join(f'{value:.2f}' for value in per_round)}")
    print(f"  CPU controller health_check/ping: {medians['health_check'][1] / medians['ping'][1]:.2f}")
    print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    ratio = medians["health_check"][0] / medians["ping"][0]
    met = ratio <= GOAL
    print(f"\nwall health_check / ping: {ratio:.2f} (goal <= {GOAL}): {'met' if met else 'MISSED'}")
    return 0 if met else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_options(parser, hosts=50, name="bhc", subnet="10.213.52")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of both commands (default 5)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-health-check-") as report_dir,
        benchmark_fleet(args) as fleet,
    ):
        return run(fleet, args.repeat, report_dir)

if __name__ == "__main__":
    raise SystemExit(main())
