#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of `opsrun run --playbook X` against `ansible-playbook X` on the same fleet and playbook.

Goal (issue: opsrun's engine): what opsrun adds around a playbook (ansible-runner, its events, the
live progress, the run directory, the run store and the summary) costs at most 10 % of the wall
time: `opsrun run --playbook X -i INV` takes <= 1.10x `ansible-playbook -i INV X`.

The script starts its own fleet (name bor, subnet 10.213.82 unless told otherwise; 10 hosts, the
last 2 with systemd) and measures two playbooks of the collection: ping (the least a run costs,
where a fixed overhead weighs most) and health_check (a realistic daily run). For each, it warms
the SSH control connections with one call of both commands, then times REPEAT rounds of both with
the order alternating, so that changes in the machine's load hit both alike. It prints the median
wall times, the controller's CPU time, the ratio per playbook and the goal. opsrun keeps its runs
and its store in a temporary state directory; health_check writes its reports to a temporary
directory, with load levels raised (the fleet's hosts share this machine's load), which changes no
work: every check still runs.

Usage (as root): python benchmarks/bench_run_overhead.py [--hosts 10] [--systemd 2] [--repeat 5]
Exits 1 when the goal is missed for either playbook. The fleet is always taken down, also on Ctrl-C.
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

GOAL = 1.10
BIN = Path(sys.executable).parent
PLAYBOOKS = ("ping", "health_check")


# ansible-runner on its own, as opsrun drives it but with nothing of opsrun around it: what the
# runner costs by itself, so the report can tell it from what opsrun adds.
RUNNER_ALONE = """
import os, shutil, sys, tempfile
import ansible_runner
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
private = tempfile.mkdtemp(prefix="bench-runner-")
try:
    run = ansible_runner.run(private_data_dir=private, project_dir=sys.argv[1], playbook=sys.argv[2],
                             inventory=sys.argv[3], extravars=None, cmdline=sys.argv[4], quiet=True,
                             event_handler=lambda event: True)
finally:
    shutil.rmtree(private)
sys.exit(run.rc)
"""


def commands(fleet, work_dir):
    """For each playbook: the opsrun, ansible-runner and ansible-playbook command lines, same inventory
    and vars."""
    vars_file = work_dir / "vars.json"
    vars_file.write_text(json.dumps({
        "health_check_report_dir": str(work_dir / "reports"),
        "health_check_load_per_cpu": {"warn": 1000, "crit": 1000},
    }))
    state_dir = work_dir / "state"
    argvs = {}
    for playbook in PLAYBOOKS:
        common = ["-i", str(fleet.inventory), "-e", f"@{vars_file}"]
        argvs[playbook] = {
            "opsrun": [str(BIN / "opsrun"), "--state-dir", str(state_dir), "run", "--playbook", playbook,
                       *common],
            "ansible-runner": [sys.executable, "-c", RUNNER_ALONE, str(work_dir),
                               str(REPO / "playbooks" / f"{playbook}.yml"), str(fleet.inventory),
                               f"-e @{vars_file}"],
            "ansible-playbook": [str(BIN / "ansible-playbook"), *common,
                                 str(REPO / "playbooks" / f"{playbook}.yml")],
        }
    return argvs


def children_cpu():
    """CPU seconds of this script's finished children: the command, its workers and ssh clients."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fleet, argv, cwd):
    """(wall seconds, controller CPU seconds) of one run; a failed run stops the benchmark."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = fleet.run(*argv, cwd=cwd)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{output}")
    return wall, children_cpu() - cpu


def measure(fleet, playbook, argvs, repeat, cwd):
    """The medians (wall, CPU) of both commands for one playbook; returns the wall ratio."""
    names = list(argvs)
    for name in names:  # warm the SSH control connections and the page cache
        timed(fleet, argvs[name], cwd)
    samples = {name: [] for name in names}
    for round_index in range(repeat):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(timed(fleet, argvs[name], cwd))
        print(f"{playbook} round {round_index + 1}/{repeat}: "
              + "  ".join(f"{name} {samples[name][-1][0]:.2f} s" for name in names), flush=True)
    medians = {name: [statistics.median(column) for column in zip(*values, strict=True)]
               for name, values in samples.items()}
    per_round = sorted(ours[0] / theirs[0] for ours, theirs in zip(samples["opsrun"],
                                                                    samples["ansible-playbook"], strict=True))
    print(f"\n{playbook}: medians of {repeat} rounds on {len(fleet.hosts)} hosts (seconds):")
    print(f"  {'':18} {'wall':>7} {'CPU controller':>15}")
    for name in names:
        print(f"  {name:18} {medians[name][0]:7.2f} {medians[name][1]:15.2f}")
    print(f"  wall opsrun/ansible-playbook per round: {', '.join(f'{value:.2f}' for value in per_round)}")
    print(f"  CPU controller opsrun/ansible-playbook: "
          f"{medians['opsrun'][1] / medians['ansible-playbook'][1]:.2f}")
    print(f"  wall ansible-runner alone/ansible-playbook: "
          f"{medians['ansible-runner'][0] / medians['ansible-playbook'][0]:.2f}; "
          f"opsrun/ansible-runner alone: {medians['opsrun'][0] / medians['ansible-runner'][0]:.2f}\n",
          flush=True)
    return medians["opsrun"][0] / medians["ansible-playbook"][0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_options(parser, hosts=10, name="bor", subnet="10.213.82")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of both commands (default 5)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-run-overhead-") as work,
        benchmark_fleet(args) as fleet,
    ):
        work_dir = Path(work)
        argvs = commands(fleet, work_dir)
        ratios = {playbook: measure(fleet, playbook, argvs[playbook], args.repeat, work_dir)
                  for playbook in PLAYBOOKS}
        print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        missed = []
        for playbook, ratio in ratios.items():
            met = ratio <= GOAL
            print(f"wall opsrun / ansible-playbook, {playbook}: {ratio:.2f} (goal <= {GOAL:.2f}): "
                  f"{'met' if met else 'MISSED'}")
            if not met:
                missed.append(playbook)
        return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
