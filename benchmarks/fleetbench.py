# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fleet benchmarks share: their fleet options and a fleet that is always taken down."""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fleet"))

from handle import FLEET_COMMAND, Fleet  # noqa: E402 - found through the path set just above


class NotRoot(SystemExit):
    """The fleet needs root; the benchmark exits 2 with this message."""


def add_fleet_options(parser: argparse.ArgumentParser, *, hosts: int, name: str, subnet: str) -> None:
    parser.add_argument("--hosts", type=int, default=hosts, help=f"fleet size (default {hosts})")
    parser.add_argument("--systemd", type=int, default=2,
                        help="how many of them (the last ones) boot systemd (default 2)")
    parser.add_argument("--name", default=name, help=f"fleet name (default {name})")
    parser.add_argument("--subnet", default=subnet,
                        help=f"fleet subnet, its first three octets (default {subnet})")


@contextlib.contextmanager
def benchmark_fleet(args: argparse.Namespace) -> Iterator[Fleet]:
    """Start the fleet the options describe, for timing this checkout's collection; take it down
    again on every way out (also Ctrl-C and a plain kill)."""
    if os.geteuid() != 0:
        print("the SSH test fleet needs root (network namespaces, mounts); run this benchmark as root",
              file=sys.stderr)
        raise NotRoot(2)
    # Time the collection of this checkout, wherever else one is installed.
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".dev")
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))
    fleet_env = {"FLEET_NAME": args.name, "FLEET_SUBNET": args.subnet}
    try:
        started = time.perf_counter()
        fleet = Fleet.up(args.hosts, systemd=args.systemd, name=args.name, subnet=args.subnet)
        print(f"fleet {args.name}: {args.hosts} hosts ({args.systemd} with systemd) up in "
              f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
        yield fleet
    finally:
        subprocess.run([str(FLEET_COMMAND), "down"], env={**os.environ, **fleet_env}, check=False)
