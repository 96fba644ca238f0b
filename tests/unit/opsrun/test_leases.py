"""Change leases: one run per host at a time, all hosts or none; leases of dead processes are taken over."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsrun import leases
from opsrun.errors import ExitCode
from opsrun.owner import current_owner, owner_alive
from opsrun.store import Store, open_store, recover_interrupted, time_text


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with open_store(tmp_path) as opened:
        yield opened  # type: ignore[misc]


def dead_owner() -> str:
    """The owner token of a process that has ended."""
    code = "from opsrun.owner import current_owner; print(current_owner())"
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=None
    ).stdout.strip()


def holders(store: Store) -> dict[str, str]:
    with store.read() as connection:
        return {row["host"]: row["run_id"] for row in connection.execute("SELECT * FROM leases")}


def hold(store: Store, host: str, run_id: str, owner: str) -> None:
    now = time_text(datetime.now(UTC))
    with store.write() as connection:
        connection.execute(
            "INSERT INTO leases (host, run_id, owner, acquired, expires) VALUES (?, ?, ?, ?, ?)",
            (host, run_id, owner, now, "2999-01-01T00:00:00+00:00"),
        )


def test_this_process_is_alive_and_an_ended_one_is_not() -> None:
    assert owner_alive(current_owner())
    assert not owner_alive(dead_owner())
    assert not owner_alive("another-boot:1:1")


def test_leases_are_taken_and_given_back(store: Store) -> None:
    with leases.leased(store, {"web1", "web2"}, "run-a"):
        assert holders(store) == {"web1": "run-a", "web2": "run-a"}
    assert holders(store) == {}


def test_a_host_held_by_a_live_run_refuses_all_hosts_and_names_the_holder(store: Store) -> None:
    hold(store, "web2", "run-a", current_owner())
    with pytest.raises(leases.LeaseBusy) as refused:
        leases.acquire(store, {"web1", "web2"}, "run-b")
    assert refused.value.exit_code == ExitCode.BUSY
    assert "run run-a (pid " in refused.value.message and "holds web2" in refused.value.message
    # All or none: web1 was not taken either.
    assert holders(store) == {"web2": "run-a"}


def test_a_lease_of_a_dead_process_is_taken_over(store: Store) -> None:
    hold(store, "web1", "run-a", dead_owner())
    leases.acquire(store, {"web1"}, "run-b")
    assert holders(store) == {"web1": "run-b"}


def test_recovery_frees_the_leases_of_dead_processes(store: Store) -> None:
    hold(store, "web1", "run-a", dead_owner())
    hold(store, "web2", "run-b", current_owner())
    recovered = recover_interrupted(store, datetime.now(UTC))
    assert recovered.leases == ["web1"]
    assert holders(store) == {"web2": "run-b"}
