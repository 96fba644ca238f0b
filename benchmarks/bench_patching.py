#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the patching playbook: Ansible's share of the wall time beside apt's own work.

Goal (issue: roles patching and service_restart): patching the fleet (20 hosts, 2 packages each),
Ansible's share of the wall time, total minus the time apt and dpkg themselves run, is <= 10 %.

The script starts its own fleet (name bpt, subnet 10.213.74 unless told otherwise; 20 hosts, the
last 2 with systemd), installs two packages of the fleet's apt repository on every host, then
times REPEAT rounds, each of:
  - apt alone (the baseline): a new security version of both packages is published and every host
    runs `apt-get update` and `apt-get install --only-upgrade` of them, all hosts at once, entered
    directly (no SSH, no Ansible): the wall time of apt's own work on the fleet;
  - the playbook: a newer version is published and playbooks/patching.yml patches every host in
    one batch (the same apt work, plus the role's pre- and post-checks and report).
The order alternates between rounds so that changes in the machine's load hit both alike. Ansible's
share is (playbook - apt alone) / playbook, from the medians. For scale, each round also times
`ansible all -m ansible.builtin.ping`, the least any Ansible run on the fleet costs.

Usage (as root): python benchmarks/bench_patching.py [--hosts 20] [--systemd 2] [--repeat 3]
Exits 1 when the goal is missed. The fleet is always taken down, also on Ctrl-C.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fleetbench import REPO, add_fleet_options, benchmark_fleet

GOAL = 0.10
BIN = Path(sys.executable).parent
PLAYBOOK = REPO / "playbooks" / "patching.yml"
PACKAGES = ("opsrun-bench-a", "opsrun-bench-b")


def publish(fleet, version):
    for name in PACKAGES:
        fleet.fleet("repo", "add", "bookworm-security", name, version, check=True)


def on_every_host(fleet, command):
    with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
        list(pool.map(lambda host: fleet.sh(host, command), fleet.names()))


def apt_alone(fleet, version):
    publish(fleet, version)
    started = time.perf_counter()
    on_every_host(fleet, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                         "--only-upgrade " + " ".join(PACKAGES) + " >/dev/null")
    return time.perf_counter() - started


def playbook(fleet, version, workdir):
    publish(fleet, version)
    reports = Path(workdir) / f"reports-{version}"
    extra = {"patching_serial": "100%", "patching_report_dir": str(reports)}
    started = time.perf_counter()
    done = fleet.run(str(BIN / "ansible-playbook"), "-i", str(fleet.inventory), str(PLAYBOOK),
                     "-e", json.dumps(extra), cwd=Path(workdir))
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the patching playbook exited {done.returncode}:\n{done.stdout}{done.stderr}")
    report = json.loads(next(reports.glob("patching-*.json")).read_text())
    upgraded = [len([p for p in host["packages"] if p["to"] == version]) for host in report["hosts"]]
    if upgraded != [len(PACKAGES)] * len(fleet.hosts):
        raise SystemExit(f"the playbook did not upgrade both packages to {version} on every host: {upgraded}")
    return elapsed, sum(host["apt_seconds"] for host in report["hosts"]) / len(report["hosts"])


def ping_all(fleet):
    started = time.perf_counter()
    done = fleet.run(str(BIN / "ansible"), "all", "-i", str(fleet.inventory), "-m", "ansible.builtin.ping")
    if done.returncode != 0:
        raise SystemExit(f"ansible ping exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def measure(fleet, repeat):
    for name in PACKAGES:
        fleet.fleet("repo", "add", "bookworm", name, "1.0", check=True)
    on_every_host(fleet, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                         + " ".join(PACKAGES) + " >/dev/null")
    rows = {"apt alone": [], "playbook": [], "apt in playbook (mean per host)": [], "ansible ping": []}
    ping_all(fleet)  # opens the SSH control connections, as a run before the timed ones would
    version = 1
    with tempfile.TemporaryDirectory(prefix="bench-patching-") as workdir:
        for round_ in range(repeat):
            order = ("apt", "playbook") if round_ % 2 == 0 else ("playbook", "apt")
            for kind in order:
                version += 1
                if kind == "apt":
                    rows["apt alone"].append(apt_alone(fleet, f"{version}.0"))
                else:
                    elapsed, apt_inside = playbook(fleet, f"{version}.0", workdir)
                    rows["playbook"].append(elapsed)
                    rows["apt in playbook (mean per host)"].append(apt_inside)
            rows["ansible ping"].append(ping_all(fleet))
            print(f"round {round_ + 1}: apt alone {rows['apt alone'][-1]:.2f} s, "
                  f"playbook {rows['playbook'][-1]:.2f} s, ping {rows['ansible ping'][-1]:.2f} s", flush=True)
    return {name: statistics.median(values) for name, values in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fleet_options(parser, hosts=20, name="bpt", subnet="10.213.74")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both measurements (default 3)")
    args = parser.parse_args(argv)
    with benchmark_fleet(args) as fleet:
        medians = measure(fleet, args.repeat)
    print(f"\nmedians of {args.repeat} rounds on {args.hosts} hosts, "
          f"{len(PACKAGES)} packages each (seconds):")
    for name, value in medians.items():
        print(f"  {name:32} {value:7.2f}")
    share = (medians["playbook"] - medians["apt alone"]) / medians["playbook"]
    print(f"  ratio apt alone / playbook:      {medians['apt alone'] / medians['playbook']:.3f}")
    print(f"  Ansible's share of the wall time: {share:.1%} (goal <= {GOAL:.0%})")
    if share > GOAL:
        print("GOAL MISSED")
        return 1
    print("goal met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
