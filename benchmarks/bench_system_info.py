#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of opsrun.ops.system_info against ansible.builtin.ping and setup on a fleet of SSH hosts.

Goals (from the design of system_info), for one ad-hoc call on every host of the fleet:
  * `ansible all -m opsrun.ops.system_info` (default sections) takes <= 1.1x `ansible all -m ping`;
  * and less time than `ansible all -m ansible.builtin.setup -a gather_subset=min`.

The script starts its own fleet (name bsys, subnet 10.213.21 unless told otherwise), warms the SSH
control connections with one call of each command, then times REPEAT rounds of the three commands,
interleaved and in a rotating order so that load changes hit all three alike. It prints the median
wall times and their ratios (the goals), the CPU time the controller and the hosts spent (a ratio less
sensitive to other load on a shared machine), and the time each module's payload takes on one plain
and one systemd host (the AnsiballZ file run by the host's Python, without SSH or the controller).

Usage (as root): python benchmarks/bench_system_info.py [--hosts 10] [--systemd 2] [--repeat 7]
Exits 1 when a goal is missed. The fleet is always taken down, also on Ctrl-C.
"""

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fleetbench import add_fleet_options, benchmark_fleet

PING_GOAL = 1.1
SETUP_GOAL = 1.0
ANSIBLE = Path(sys.executable).parent / "ansible"
COMMANDS = {
    "ping": ["-m", "ansible.builtin.ping"],
    "system_info": ["-m", "opsrun.ops.system_info"],
    "setup-min": ["-m", "ansible.builtin.setup", "-a", "gather_subset=min"],
}
PAYLOAD_NAMES = {"ping": "ping", "system_info": "system_info", "setup-min": "setup"}
# Runs inside a host: times each kept AnsiballZ file (argv: repeat, then name=path pairs),
# interleaved, and prints the median milliseconds per module as JSON.
PAYLOAD_TIMER = """
import json, statistics, subprocess, sys, time
repeat = int(sys.argv[1])
payloads = dict(arg.split('=', 1) for arg in sys.argv[2:])
times = {name: [] for name in payloads}
for _ in range(repeat):
    for name, path in payloads.items():
        start = time.perf_counter()
        subprocess.run([sys.executable, path], stdout=subprocess.DEVNULL, check=True)
        times[name].append(time.perf_counter() - start)
print(json.dumps({name: statistics.median(values) * 1000 for name, values in times.items()}))
"""


def controller_cpu():
    """CPU seconds of this script's finished children: ansible, its workers and their ssh clients."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hosts_cpu(netns_inodes):
    """CPU seconds used so far by the processes of the fleet's hosts, with the children they reaped.

    A host's processes are those in its network namespace; they are visible in this machine's
    /proc, so no command has to run inside the hosts.
    """
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino not in netns_inodes:
                continue
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the process exited meanwhile
            continue
        # utime, stime, cutime, cstime (proc(5) fields 14 to 17)
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def timed_call(fleet, name, netns_inodes):
    """(wall s, controller CPU s, hosts CPU s) of one ad-hoc call of NAME on every host.

    The call must succeed on every host.
    """
    cpu_before = controller_cpu(), hosts_cpu(netns_inodes)
    start = time.perf_counter()
    done = fleet.run(str(ANSIBLE), "all", *COMMANDS[name])
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"`ansible all {' '.join(COMMANDS[name])}` failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return elapsed, controller_cpu() - cpu_before[0], hosts_cpu(netns_inodes) - cpu_before[1]


def payload_times(fleet, host, repeat):
    """Median milliseconds of each module's AnsiballZ payload run by HOST's own Python.

    One call per module with pipelining off and remote files kept leaves the payloads on the host.
    """
    fleet.sh(host, "rm -rf /root/.ansible/tmp")
    env = {**fleet.controller_env(), "ANSIBLE_PIPELINING": "0", "ANSIBLE_KEEP_REMOTE_FILES": "1"}
    for module_args in COMMANDS.values():
        subprocess.run([str(ANSIBLE), host, *module_args], env=env, capture_output=True, check=True)
    pairs = []
    for name, payload in PAYLOAD_NAMES.items():
        found = fleet.sh(host, f"ls /root/.ansible/tmp/*/AnsiballZ_{payload}.py").stdout.split()
        pairs.append(f"{name}={found[0]}")
    try:
        out = fleet.sh(host, shlex.join(["python3", "-c", PAYLOAD_TIMER, str(repeat), *pairs])).stdout
    finally:
        fleet.sh(host, "rm -rf /root/.ansible/tmp")
    return json.loads(out)


def ratio_line(label, numerator, denominator, goal, relation):
    ratio = numerator / denominator
    met = ratio <= goal if relation == "<=" else ratio < goal
    print(f"{label}: {ratio:.3f} (goal {relation} {goal}) {'ok' if met else 'MISSED'}")
    return ratio, met


def run(fleet, repeat, payload_repeat):
    names = list(COMMANDS)
    netns_inodes = {os.stat(f"/run/netns/{host['netns']}").st_ino for host in fleet.hosts}
    for name in names:  # warm-up: SSH control connections, the hosts' page cache
        timed_call(fleet, name, netns_inodes)
    samples = {name: [] for name in names}
    for round_index in range(repeat):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            samples[name].append(timed_call(fleet, name, netns_inodes))
        print(f"round {round_index + 1}/{repeat}: "
              + "  ".join(f"{name} {samples[name][-1][0]:.2f} s" for name in names), flush=True)

    # medians[name] = (wall, controller CPU, hosts CPU), each the median over the rounds
    medians = {name: tuple(statistics.median(column) for column in zip(*values, strict=True))
               for name, values in samples.items()}
    print(f"\nmedians of {repeat} rounds, one call on all {len(fleet.hosts)} hosts (seconds):")
    print(f"  {'':12} {'wall':>7} {'CPU controller':>15} {'CPU hosts':>10}")
    for name in names:
        wall, controller, hosts = medians[name]
        print(f"  {name:12} {wall:7.2f} {controller:15.2f} {hosts:10.2f}")
    pairs = zip(samples["system_info"], samples["ping"], strict=True)
    per_round = sorted(info[0] / ping[0] for info, ping in pairs)
    print(f"  wall system_info/ping per round: {', '.join(f'{value:.2f}' for value in per_round)}")
    cpu = {name: medians[name][1] + medians[name][2] for name in names}
    print("  CPU (controller + hosts; less sensitive to other load on the machine): "
          f"system_info/ping {cpu['system_info'] / cpu['ping']:.2f}, "
          f"system_info/setup-min {cpu['system_info'] / cpu['setup-min']:.2f}")

    if payload_repeat:
        print(f"\nmodule payload on a host (its AnsiballZ file run by python3, median of {payload_repeat}):")
        for host in fleet.names("sshd")[:1] + fleet.names("systemd")[:1]:
            times = payload_times(fleet, host, payload_repeat)
            init = next(entry["init"] for entry in fleet.hosts if entry["name"] == host)
            each = "  ".join(f"{name} {value:.0f} ms" for name, value in times.items())
            print(f"  {host} ({init}): {each}  system_info/ping {times['system_info'] / times['ping']:.2f}")

    print(f"\nload average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    _ratio, ping_met = ratio_line("wall system_info / ping     ", medians["system_info"][0],
                                  medians["ping"][0], PING_GOAL, "<=")
    _ratio, setup_met = ratio_line("wall system_info / setup-min", medians["system_info"][0],
                                   medians["setup-min"][0], SETUP_GOAL, "<")
    return 0 if ping_met and setup_met else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fleet_options(parser, hosts=10, name="bsys", subnet="10.213.21")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed rounds of the three commands (default 7)")
    parser.add_argument("--payload-repeat", type=int, default=9,
                        help="runs of each module payload inside a host; 0 skips that part (default 9)")
    args = parser.parse_args(argv)
    with benchmark_fleet(args) as fleet:
        return run(fleet, args.repeat, args.payload_repeat)

if __name__ == "__main__":
    raise SystemExit(main())
