"""The SQLite run store: its file, its schema and migrations, recording runs, two writers at once."""

import json
import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsrun.errors import ExitCode, OpsrunError
from opsrun.results import HostStats, RunRecord
from opsrun.store import (
    DB_FILE_NAME,
    MIGRATIONS,
    open_store,
    open_store_file,
    record_run,
    time_text,
)

STARTED = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_record(run_id: str = "20261102T070000.000000Z-aaaaaa", **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "playbook": "health_check",
        "playbook_path": "/c/playbooks/health_check.yml",
        "inventory": ["inventories/example"],
        "limit": None,
        "check": False,
        "diff": False,
        "started": STARTED,
        "finished": STARTED + timedelta(seconds=42),
        "rc": 0,
        "status": "successful",
        "exit_code": 0,
        "hosts": {"web1": HostStats(ok=5, changed=1), "db1": HostStats(ok=4, failed=1)},
        "published": {
            "health_check_findings": [
                {
                    "host": "web1",
                    "check": "disk_used",
                    "item": "/var",
                    "status": "crit",
                    "value": 93.1,
                    "threshold": {"warn": 80.0, "crit": 90.0},
                    "message": "space of /var used: 93.1%",
                },
                {"host": "db1", "check": "reachable", "item": None, "status": "ok", "value": None},
            ]
        },
    }
    fields.update(changes)
    return RunRecord(**fields)


def test_the_store_is_created_private_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with open_store(state_dir) as store:
        record_run(store, run_record())
        assert store.path == state_dir / DB_FILE_NAME
        assert mode_of(store.path) == 0o600
        assert mode_of(state_dir) == 0o700
        # While the store is open, the write-ahead log and its index exist beside it, private too.
        for suffix in ("-wal", "-shm"):
            assert mode_of(state_dir / f"{DB_FILE_NAME}{suffix}") == 0o600
        with store.read() as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_store_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    open_store_file(path).close()
    path.chmod(0o644)
    open_store_file(path).close()
    assert mode_of(path) == 0o600


def test_a_missing_or_empty_file_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch(mode=0o600)
    for path in (tmp_path / "missing.db", empty):
        with open_store_file(path) as store:
            assert store.schema_version() == len(MIGRATIONS)
            with store.read() as connection:
                tables = {
                    row[0]
                    for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
        assert {"runs", "findings", "incidents", "incident_events", "approvals", "schema_version"} <= tables


def test_migrations_run_forward_once_and_keep_the_data(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    with open_store_file(path) as store:
        record_run(store, run_record())
    later = (*MIGRATIONS, ("ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT 'none'",))
    with open_store_file(path, migrations=later) as store:
        assert store.schema_version() == len(later)
        with store.read() as connection:
            assert [tuple(row) for row in connection.execute("SELECT id, note FROM runs")] == [
                ("20261102T070000.000000Z-aaaaaa", "none")
            ]
    # Opening again applies nothing twice (ALTER TABLE ADD COLUMN would fail the second time).
    with open_store_file(path, migrations=later) as store:
        assert store.schema_version() == len(later)


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    open_store_file(path).close()
    broken = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "CREATE TABLE runs (x INTEGER)"))
    with pytest.raises(OpsrunError, match="cannot be used"):
        open_store_file(path, migrations=broken)
    with open_store_file(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        with store.read() as connection:
            assert (
                connection.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None
            )


def test_a_store_from_a_newer_opsrun_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    later = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)",))
    open_store_file(path, migrations=later).close()
    with pytest.raises(OpsrunError, match="newer than this opsrun knows") as raised:
        open_store_file(path)
    assert raised.value.exit_code == ExitCode.CONFIG
    assert "upgrade opsrun" in raised.value.hint


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE_NAME
    path.write_bytes(b"this is not an SQLite database, it is plain text of some length" * 20)
    with pytest.raises(OpsrunError, match=f"the run store {path} cannot be used") as raised:
        open_store_file(path)
    assert raised.value.exit_code == ExitCode.CONFIG


def test_record_run_stores_the_run_and_its_findings(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        assert record_run(store, run_record(check=True), routine="daily-health", step="health check") == 2
        with store.read() as connection:
            run = connection.execute("SELECT * FROM runs").fetchone()
            findings = connection.execute("SELECT * FROM findings ORDER BY id").fetchall()
    assert run["playbook"] == "health_check"
    assert (run["routine"], run["step"]) == ("daily-health", "health check")
    assert run["started"] == "2026-11-02T07:00:00.000000+00:00"
    assert run["finished"] == "2026-11-02T07:00:42.000000+00:00"
    assert (run["status"], run["exit_code"], run["check_mode"]) == ("successful", 0, 1)
    assert json.loads(run["hosts"])["db1"]["failed"] == 1
    first, second = findings
    assert (first["host"], first["check_name"], first["item"], first["status"]) == (
        "web1",
        "disk_used",
        "/var",
        "crit",
    )
    assert json.loads(first["value"]) == 93.1
    assert json.loads(first["threshold"]) == {"warn": 80.0, "crit": 90.0}
    assert first["message"] == "space of /var used: 93.1%"
    assert (second["item"], second["value"], second["threshold"], second["message"]) == ("", None, None, "")


def test_recording_a_run_again_replaces_it_and_its_findings(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        record_run(store, run_record(status="running", published={}))
        record_run(store, run_record())
        with store.read() as connection:
            assert [tuple(row) for row in connection.execute("SELECT status FROM runs")] == [("successful",)]
            assert connection.execute("SELECT count(*) FROM findings").fetchone()[0] == 2


@pytest.mark.parametrize(
    "entry",
    [
        "not a mapping",
        {"check": "disk_used", "status": "crit"},
        {"host": "web1", "status": "crit"},
        {"host": "web1", "check": "disk_used", "status": "bad"},
        {"host": "web1", "check": "disk_used"},
    ],
)
def test_entries_that_are_not_findings_are_left_out(tmp_path: Path, entry: object) -> None:
    published = {"health_check_findings": [entry, {"host": "a", "check": "b", "status": "warn"}]}
    with open_store(tmp_path) as store:
        assert record_run(store, run_record(published=published)) == 1


def test_a_write_that_fails_is_rolled_back(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        with pytest.raises(sqlite3.IntegrityError), store.write() as connection:
            connection.execute(
                "INSERT INTO runs (id, playbook, started, status) VALUES ('r', 'p', ?, 'running')",
                (time_text(STARTED),),
            )
            # A finding of a run that does not exist: refused by the foreign key.
            connection.execute(
                "INSERT INTO findings (run_id, host, check_name, status) VALUES ('x', 'h', 'c', 'ok')"
            )
        with store.read() as connection:
            assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        time_text(datetime(2026, 1, 1))


def test_two_connections_write_at_once(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    per_writer = 25
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            # Each writer has its own connection, as two opsrun processes would.
            with open_store(tmp_path) as store:
                start.wait()
                for index in range(per_writer):
                    record_run(store, run_record(f"{name}-{index}"))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(tmp_path) as store, store.read() as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 2 * per_writer
        assert connection.execute("SELECT count(*) FROM findings").fetchone()[0] == 4 * per_writer


def test_processes_creating_the_store_at_once_all_open_it(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    for attempt in range(25):
        state_dir = tmp_path / str(attempt)
        start = threading.Barrier(4)

        def opener(state_dir: Path = state_dir, start: threading.Barrier = start) -> None:
            try:
                start.wait()
                with open_store(state_dir) as store:
                    assert store.schema_version() == len(MIGRATIONS)
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=opener) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
