"""Which process owns a run or a lease, and whether that process still lives.

An owner is "BOOT_ID:PID:START": the kernel's boot id, the process id and the process's start
time in clock ticks since boot. A process id alone is reused; with its start time and the boot it
names one process only, so a run left behind by a process killed with SIGKILL, or by a reboot, is
told apart from a run that is still going.
"""

import os
from functools import cache
from pathlib import Path

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@cache
def _boot_id() -> str:
    try:
        return _BOOT_ID_FILE.read_text(encoding="ascii").strip()
    except OSError:
        return "unknown-boot"


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` (field 22 of /proc/PID/stat), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def current_owner() -> str:
    """The owner token of this process."""
    pid = os.getpid()
    return f"{_boot_id()}:{pid}:{_start_time(pid) or 0}"


def owner_alive(owner: str) -> bool:
    """Whether the process `owner` names is still running (on this boot of this machine)."""
    boot, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if boot != _boot_id() or not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) == start


def owner_pid(owner: str) -> int | None:
    """The process id in an owner token, for messages."""
    pid_text = owner.split(":")[1] if owner.count(":") == 2 else ""
    return int(pid_text) if pid_text.isdigit() else None
