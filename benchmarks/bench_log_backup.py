#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of opsrun.ops.log_archive's archiving against `tar czf` (gzip -6), on a fleet host.

The module's core (what state=archive does once its options are parsed: select the files, take the
lock, stream tar into zstd while hashing every member, write the manifest, rename) runs on a fleet
host with the host's own Python and zstd command, on generated syslog-like logs in the page cache.
`tar czf` of the same files runs on the same host in the same process, interleaved with it.

Goal (from the log_backup role's design): archive throughput >= 3x that of `tar czf`, at a
compression ratio >= 0.95x gzip's.

Usage: python benchmarks/bench_log_backup.py [--size-mb 300] [--repeat 5] [--level N]
Starts its own fleet (blb, 10.213.63) and always takes it down. Exits 1 when a goal is missed.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fleet"))

from handle import Fleet  # noqa: E402 - the fleet handle lives with the tests

FLEET_NAME = "blb"
FLEET_SUBNET = "10.213.63"
HOST = "h1"
REMOTE = "/root/bench_log_backup"
THROUGHPUT_GOAL = 3.0
RATIO_GOAL = 0.95
ANSIBLE = Path(sys.executable).parent / "ansible"

# Runs on the fleet host: `generate DIR MEGABYTES` writes the logs, `measure DIR REPEAT LEVEL` times
# tar czf and the module's core in turn and prints the runs as JSON.
ON_HOST = r'''
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_build import resolve_compression
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_host import archive

CHUNK = 1 << 20
DISTINCT_CHUNKS = 16
# file name: (share of the total size, line templates)
LOGS = {
    "syslog": (0.35, [
        "{host} systemd[1]: Started Session {pid} of User deploy.",
        "{host} CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        "{host} dhclient[{pid}]: DHCPACK of 10.0.{a}.{b} from 10.0.0.1 (xid=0x{hex8})",
        "{host} rsyslogd: action 'action-1-builtin:omfwd' resumed (module 'builtin:omfwd') [v8.2302.0]",
        "{host} systemd[1]: logrotate.service: Deactivated successfully.",
        "{host} snmpd[{pid}]: Connection from UDP: [10.0.{a}.{b}]:{port}->[10.0.0.5]:161",
    ]),
    "auth.log": (0.15, [
        "{host} sshd[{pid}]: Accepted publickey for deploy from 10.0.{a}.{b} port {port} ssh2: "
        "ED25519 SHA256:{b64}",
        "{host} sshd[{pid}]: Failed password for invalid user admin from 203.0.113.{a} port {port} ssh2",
        "{host} sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)",
        "{host} sudo:   deploy : TTY=pts/{b} ; PWD=/home/deploy ; USER=root ; "
        "COMMAND=/usr/bin/systemctl restart app",
    ]),
    "kern.log": (0.15, [
        "{host} kernel: [{uptime}] [UFW BLOCK] IN=eth0 OUT= MAC={mac} SRC=198.51.100.{a} DST=10.0.0.{b} "
        "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={port} DF PROTO=TCP SPT={port} DPT=22 WINDOW=64240 RES=0x00 "
        "SYN URGP=0",
        "{host} kernel: [{uptime}] EXT4-fs (dm-{b}): mounted filesystem with ordered data mode. "
        "Quota mode: none.",
        "{host} kernel: [{uptime}] e1000e 0000:00:1f.6 eth0: NIC Link is Up 1000 Mbps Full Duplex",
    ]),
    "nginx/access.log": (0.25, [
        '10.0.{a}.{b} - - [28/Nov/2025:{clock} +0900] "GET /api/v1/items/{port}?page={b} HTTP/1.1" 200 '
        '{pid} "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 '
        'Safari/537.36"',
        '10.0.{a}.{b} - - [28/Nov/2025:{clock} +0900] "POST /api/v1/orders HTTP/1.1" 201 {port} "-" '
        '"okhttp/4.12.0"',
        '203.0.113.{a} - - [28/Nov/2025:{clock} +0900] "GET /wp-login.php HTTP/1.1" 404 {b} "-" "curl/8.4.0"',
    ]),
    "app/app.log": (0.10, [
        '{{"time":"2025-11-28T{clock}+09:00","level":"info","msg":"request done","request_id":"{hex16}",'
        '"path":"/api/v1/items/{port}","status":200,"duration_ms":{b}}}',
        '{{"time":"2025-11-28T{clock}+09:00","level":"warn","msg":"slow query","request_id":"{hex16}",'
        '"table":"orders","rows":{pid},"duration_ms":{port}}}',
    ]),
}
HOSTS = ["web01", "web02", "db01", "app03"]


def chunk(rnd, templates):
    """About 1 MiB of lines in time order, timestamped like syslog."""
    lines = []
    size = 0
    second = rnd.randint(0, 86399)
    while size < CHUNK:
        second += rnd.randint(0, 2)
        clock = "%02d:%02d:%02d" % (second // 3600 % 24, second // 60 % 60, second % 60)
        text = rnd.choice(templates).format(
            host=rnd.choice(HOSTS), pid=rnd.randint(100, 99999), a=rnd.randint(1, 254),
            b=rnd.randint(1, 254), port=rnd.randint(1024, 65535), hex8="%08x" % rnd.getrandbits(32),
            hex16="%016x" % rnd.getrandbits(64), b64="%043x" % rnd.getrandbits(172),
            mac="52:54:00:%02x:%02x:%02x" % tuple(rnd.randint(0, 255) for _unused in range(3)),
            uptime="%d.%06d" % (second, rnd.randint(0, 999999)), clock=clock)
        line = text if text.startswith(("10.", "203.", "{")) else "Nov 28 %s %s" % (clock, text)
        lines.append(line + "\n")
        size += len(line) + 1
    return "".join(lines).encode()


def generate(directory, megabytes):
    rnd = random.Random(20251128)
    for name, (share, templates) in LOGS.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        chunks = [chunk(rnd, templates) for _unused in range(DISTINCT_CHUNKS)]
        # distinct chunks reused in a shuffled order: further apart than either compressor's window
        with open(path, "wb") as stream:
            written = 0
            while written < share * megabytes * CHUNK:
                data = chunks[rnd.randrange(DISTINCT_CHUNKS)]
                stream.write(data)
                written += len(data)


def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_tar(directory, names, out):
    before = cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["tar", "czf", out, "-C", directory] + names, check=True)
    wall = time.perf_counter() - start
    return {"wall": wall, "cpu": cpu(resource.RUSAGE_CHILDREN) - before, "size": os.path.getsize(out)}


def time_module(directory, staging, level, run):
    zstd = shutil.which("zstd")
    compression, level = resolve_compression("auto", zstd, level)
    options = dict(host="bench", period="daily", period_key="run%d" % run, paths=[directory + "/**"],
                   exclude=[], min_age=None, max_age=None, staging_dir=staging, owner=None,
                   compression=compression, level=level, threads=0, keep_manifests=30, lock_timeout=60)
    before = cpu(resource.RUSAGE_SELF) + cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = archive(options, time.time(), zstd, False)
    wall = time.perf_counter() - start
    used = cpu(resource.RUSAGE_SELF) + cpu(resource.RUSAGE_CHILDREN) - before
    return {"wall": wall, "cpu": used, "size": result["size"], "input": result["input_bytes"],
            "members": result["members"], "compression": compression, "level": level}


def measure(directory, repeat, level):
    names = sorted(os.path.relpath(os.path.join(root, name), directory)
                   for root, _dirs, files in os.walk(directory) for name in files)
    total = 0
    for name in names:
        with open(os.path.join(directory, name), "rb") as stream:
            while stream.read(16 << 20):
                pass
        total += os.path.getsize(os.path.join(directory, name))
    work = directory + ".out"
    runs = []
    for run in range(repeat):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        tar_out, staging = os.path.join(work, "logs.tgz"), os.path.join(work, "staging")
        if run % 2 == 0:
            tar = time_tar(directory, names, tar_out)
            module = time_module(directory, staging, level, run)
        else:
            module = time_module(directory, staging, level, run)
            tar = time_tar(directory, names, tar_out)
        runs.append({"tar": tar, "module": module})
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"input": total, "files": len(names), "runs": runs}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if sys.argv[4] != "default" else None)
'''


def ship(fleet, payload):
    """Copy the module's archiving code and the on-host script to the fleet host."""
    target = payload / "ansible_collections" / "opsrun" / "ops" / "plugins" / "module_utils"
    target.mkdir(parents=True)
    for source in (REPO / "plugins" / "module_utils").glob("_logarchive*.py"):
        shutil.copyfile(source, target / source.name)
    (payload / "on_host.py").write_text(ON_HOST)
    done = fleet.run(str(ANSIBLE), HOST, "-m", "ansible.builtin.copy", "-a",
                     json.dumps({"src": f"{payload}/", "dest": f"{REMOTE}/", "mode": "preserve"}))
    if done.returncode != 0:
        raise SystemExit(f"copying the benchmark to {HOST} failed:\n{done.stdout}{done.stderr}")


def on_host(fleet, *argv):
    done = fleet.sh(HOST, " ".join(["python3", f"{REMOTE}/on_host.py", *argv]), check=False)
    if done.returncode != 0:
        raise SystemExit(f"on {HOST}: on_host.py {' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def report(result):
    """Print both sides and the ratios; return the list of goals missed."""
    size = result["input"]
    runs = result["runs"]
    module = runs[0]["module"]
    print(f"input: {size / 1e6:.0f} MB in {result['files']} files; module: {module['compression']} "
          f"level {module['level']}, {module['members']} members")
    for name in ("tar", "module"):
        label = "tar czf (gzip -6)" if name == "tar" else "log_archive core"
        wall = statistics.median(run[name]["wall"] for run in runs)
        used = statistics.median(run[name]["cpu"] for run in runs)
        out = statistics.median(run[name]["size"] for run in runs)
        print(f"{label:18}: {wall:7.2f} s wall  {used:7.2f} s cpu  {size / wall / 1e6:7.1f} MB/s  "
              f"ratio {size / out:5.2f}  (medians of {len(runs)})")
    # Each pair ran back to back under the same load; the median pair decides.
    speedups = sorted(run["tar"]["wall"] / run["module"]["wall"] for run in runs)
    speedup = statistics.median(speedups)
    ratios = sorted(run["tar"]["size"] / run["module"]["size"] for run in runs)
    ratio = statistics.median(ratios)
    print(f"throughput log_archive / tar czf: {speedup:.2f}x (goal >= {THROUGHPUT_GOAL:.2f}x; "
          f"pairs: {', '.join(f'{value:.2f}' for value in speedups)})")
    print(f"compression ratio log_archive / gzip: {ratio:.3f}x (goal >= {RATIO_GOAL:.2f}x)")
    cpu = statistics.median(run["tar"]["cpu"] / run["module"]["cpu"] for run in runs)
    print(f"for information, CPU time tar czf / log_archive: {cpu:.2f}x (wall time also counts zstd's "
          f"threads running on other cores)")
    missed = []
    if speedup < THROUGHPUT_GOAL:
        missed.append(f"throughput {speedup:.2f}x < {THROUGHPUT_GOAL:.2f}x")
    if ratio < RATIO_GOAL:
        missed.append(f"compression ratio {ratio:.3f}x < {RATIO_GOAL:.2f}x")
    return missed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="size of the generated logs (default 300)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed pairs of runs (tar czf and the module, alternating which goes first)")
    parser.add_argument("--level", type=int, default=None, help="zstd level (default: the module's default)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the benchmark starts a fleet of SSH hosts, which needs root")
        return 1

    fleet = Fleet.up(1, name=FLEET_NAME, subnet=FLEET_SUBNET)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_log_backup.") as payload:
            ship(fleet, Path(payload))
        on_host(fleet, "generate", f"{REMOTE}/logs", str(args.size_mb))
        result = json.loads(on_host(fleet, "measure", f"{REMOTE}/logs", str(args.repeat),
                                    str(args.level) if args.level is not None else "default"))
    finally:
        fleet.sh(HOST, f"rm -rf {REMOTE}", check=False)
        fleet.down()
    missed = report(result)
    print("FAILED: " + "; ".join(missed) if missed else "OK: both goals met")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
