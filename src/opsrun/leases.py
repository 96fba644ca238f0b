"""Change leases: one run at a time changes a host.

A run that changes hosts takes a lease on each of them in the run store before its playbook
starts and gives them back when it ends. A second run that wants one of those hosts is refused,
naming the run that holds it, or waits for it when told to. A lease whose process is gone (killed,
or the machine rebooted) or that outlived its time is taken over. Runs that only read (health
checks, check mode) take no lease.
"""

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opsrun.errors import ExitCode, OpsrunError
from opsrun.owner import current_owner, owner_alive, owner_pid
from opsrun.store import Store, parse_time, time_text

# A backstop: a lease normally ends with its run, or with its process.
LEASE_DURATION = timedelta(hours=12)
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    host: str
    run_id: str
    owner: str
    acquired: datetime


class LeaseBusy(OpsrunError):
    """Hosts another run holds."""

    def __init__(self, holders: list[Holder]) -> None:
        described = []
        for run_id in sorted({holder.run_id for holder in holders}):
            held = [holder for holder in holders if holder.run_id == run_id]
            described.append(
                f"run {run_id} (pid {owner_pid(held[0].owner) or '?'}, since "
                f"{held[0].acquired.isoformat(timespec='seconds')}) holds "
                + ", ".join(holder.host for holder in held)
            )
        super().__init__(
            f"another run is changing the same hosts: {'; '.join(described)}",
            hint="wait for it to finish (see 'opsrun history'), or give --wait SECONDS to wait for it",
            exit_code=ExitCode.BUSY,
        )
        self.holders = holders


def _try_acquire(store: Store, hosts: Collection[str], run_id: str, now: datetime) -> list[Holder]:
    """Take every host or none; returns the holders that kept us from it."""
    owner = current_owner()
    with store.write() as connection:
        holders = []
        for host in sorted(hosts):
            row = connection.execute("SELECT * FROM leases WHERE host = ?", (host,)).fetchone()
            if row is None or row["run_id"] == run_id:
                continue
            if parse_time(row["expires"]) > now and owner_alive(row["owner"]):
                holders.append(Holder(host, row["run_id"], row["owner"], parse_time(row["acquired"])))
        if holders:
            return holders
        connection.executemany(
            """
            INSERT INTO leases (host, run_id, owner, acquired, expires) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (host) DO UPDATE SET run_id = excluded.run_id, owner = excluded.owner,
                acquired = excluded.acquired, expires = excluded.expires
            """,
            [
                (host, run_id, owner, time_text(now), time_text(now + LEASE_DURATION))
                for host in sorted(hosts)
            ],
        )
    return []


def acquire(
    store: Store,
    hosts: Collection[str],
    run_id: str,
    *,
    wait_seconds: float = 0.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Lease `hosts` to `run_id`, all or none, waiting up to `wait_seconds` for other runs.

    Raises LeaseBusy naming the runs that hold any of them when the wait is over.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        holders = _try_acquire(store, hosts, run_id, clock())
        if not holders:
            return
        if time.monotonic() >= deadline:
            raise LeaseBusy(holders)
        time.sleep(POLL_SECONDS)


def release(store: Store, run_id: str) -> None:
    with store.write() as connection:
        connection.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))


@contextmanager
def leased(store: Store, hosts: Collection[str], run_id: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold leases on `hosts` for the duration of the block."""
    acquire(store, hosts, run_id, wait_seconds=wait_seconds)
    try:
        yield
    finally:
        release(store, run_id)
