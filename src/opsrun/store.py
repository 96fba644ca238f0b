"""The run store: an SQLite database in the state directory holding runs, findings and incidents.

One file, <state-dir>/opsrun.db, private to the user (0600). WAL lets readers go on while one
process writes; every write takes the write lock up front (BEGIN IMMEDIATE) and waits up to
BUSY_TIMEOUT_SECONDS for another process to finish, so two opsrun processes never interleave
half-done changes. The schema is versioned; opening the store applies the migrations it lacks.
"""

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsrun.errors import ExitCode, OpsrunError
from opsrun.findings import FINDINGS_KEY
from opsrun.owner import current_owner, owner_alive
from opsrun.results import RunRecord
from opsrun.state import PRIVATE_FILE_MODE, ensure_private_dir

DB_FILE_NAME = "opsrun.db"
BUSY_TIMEOUT_SECONDS = 30.0
FINDING_STATUSES = ("ok", "warn", "crit", "unknown")

log = logging.getLogger(__name__)

# Migration N (counting from 1) brings the schema from version N-1 to N. Only ever append:
# a store written by an older opsrun is brought forward by the ones it has not seen yet.
Migration = tuple[str, ...]
MIGRATIONS: tuple[Migration, ...] = (
    (
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            playbook TEXT NOT NULL,
            routine TEXT,
            step TEXT,
            started TEXT NOT NULL,
            finished TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            hosts TEXT NOT NULL DEFAULT '{}',
            check_mode INTEGER NOT NULL DEFAULT 0 CHECK (check_mode IN (0, 1))
        )
        """,
        "CREATE INDEX runs_started ON runs (started)",
        """
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            host TEXT NOT NULL,
            check_name TEXT NOT NULL,
            item TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('ok', 'warn', 'crit', 'unknown')),
            value TEXT,
            threshold TEXT,
            message TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX findings_run ON findings (run_id)",
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            host TEXT NOT NULL,
            check_name TEXT NOT NULL,
            item TEXT NOT NULL DEFAULT '',
            finding_status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            runbook TEXT,
            state TEXT NOT NULL CHECK (
                state IN ('open', 'acknowledged', 'mitigated', 'fix_proposed', 'approved', 'resolved')
            ),
            tier TEXT,
            tier_since TEXT NOT NULL,
            opened TEXT NOT NULL,
            updated TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            seen_count INTEGER NOT NULL DEFAULT 1,
            run_id TEXT REFERENCES runs (id) ON DELETE SET NULL
        )
        """,
        # At most one incident that is not resolved per host, check and item: the store itself
        # refuses a duplicate, whichever process tries to open it.
        """
        CREATE UNIQUE INDEX incidents_one_unresolved ON incidents (host, check_name, item)
        WHERE state != 'resolved'
        """,
        "CREATE INDEX incidents_state ON incidents (state)",
        """
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            from_state TEXT,
            to_state TEXT NOT NULL,
            tier TEXT
        )
        """,
        "CREATE INDEX incident_events_incident ON incident_events (incident_id, id)",
        """
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            proposal_event_id INTEGER NOT NULL REFERENCES incident_events (id),
            proposed_by TEXT NOT NULL,
            approved_by TEXT NOT NULL CHECK (approved_by != proposed_by),
            approver_tier TEXT NOT NULL,
            approved_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX approvals_incident ON approvals (incident_id, id)",
    ),
    (
        # What the playbook published with set_stats, for the monthly report; the routine run a step
        # belongs to; and the process running it, so that a run whose process died is found.
        "ALTER TABLE runs ADD COLUMN published TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE runs ADD COLUMN routine_run_id TEXT",
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "CREATE INDEX runs_routine_run ON runs (routine_run_id)",
        """
        CREATE TABLE routine_runs (
            id TEXT PRIMARY KEY,
            routine TEXT NOT NULL,
            ops_file TEXT NOT NULL,
            started TEXT NOT NULL,
            finished TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            check_mode INTEGER NOT NULL DEFAULT 0 CHECK (check_mode IN (0, 1)),
            started_by TEXT NOT NULL,
            owner TEXT,
            record TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX routine_runs_started ON routine_runs (started)",
        # One change at a time per host: a lease names the run holding the host and its process.
        """
        CREATE TABLE leases (
            host TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            acquired TEXT NOT NULL,
            expires TEXT NOT NULL
        )
        """,
        # Approval gates of routine runs: a run pauses before a step that needs approval.
        """
        CREATE TABLE gates (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            routine_run_id TEXT NOT NULL REFERENCES routine_runs (id) ON DELETE CASCADE,
            step_index INTEGER NOT NULL,
            step TEXT NOT NULL,
            requested TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            expires TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
            approved_by TEXT CHECK (approved_by IS NULL OR approved_by != requested_by),
            approver_tier TEXT,
            approved_at TEXT,
            UNIQUE (routine_run_id, step_index)
        )
        """,
        # Every notification opsrun sent or tried to send; the channel is the URL's scheme only.
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            incident_id INTEGER REFERENCES incidents (id) ON DELETE CASCADE,
            routine_run_id TEXT,
            tier TEXT NOT NULL,
            contact TEXT NOT NULL,
            channel TEXT NOT NULL,
            delivered INTEGER NOT NULL CHECK (delivered IN (0, 1)),
            title TEXT NOT NULL
        )
        """,
        "CREATE INDEX notifications_incident ON notifications (incident_id)",
    ),
)


def time_text(moment: datetime) -> str:
    """A moment as stored: ISO 8601 in UTC, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime cannot be stored: {moment!r}; give it a time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Store:
    """An open run store: one SQLite connection, transactions for reads and writes."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the write lock is taken at the start, all is undone on error."""
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            # SQLite may have rolled back already, on some errors (a full disk, say).
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot of the store."""
        connection = self._connection
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    def schema_version(self) -> int:
        with self.read() as connection:
            return _schema_version(connection)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _schema_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row is not None else 0


def _migrate(store: Store, migrations: Sequence[Migration]) -> None:
    with store.write() as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        # Read under the write lock: another process may have migrated the store meanwhile.
        current = _schema_version(connection)
        if current > len(migrations):
            raise OpsrunError(
                f"the run store {store.path} has schema version {current}, newer than this opsrun "
                f"knows ({len(migrations)})",
                hint="upgrade opsrun, or point --state-dir at another directory",
                exit_code=ExitCode.CONFIG,
            )
        for version in range(current + 1, len(migrations) + 1):
            for statement in migrations[version - 1]:
                connection.execute(statement)
            log.info("run store %s: migrated to schema version %d", store.path, version)
        if current == 0:
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (len(migrations),))
        elif current < len(migrations):
            connection.execute("UPDATE schema_version SET version = ?", (len(migrations),))


def _use_wal(connection: sqlite3.Connection) -> None:
    # Switching a new database to WAL needs it to itself for a moment, and SQLite does not wait for
    # that: a process creating the store at the same time as another one tries again.
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
        else:
            return


def open_store_file(path: Path, *, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
    """Open (creating it 0600 when missing) the store at `path` and bring its schema up to date."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            # Also a store that exists already: it holds who approved what, for the owner only.
            os.fchmod(fd, PRIVATE_FILE_MODE)
        finally:
            os.close(fd)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except (OSError, sqlite3.Error) as error:
        raise OpsrunError(
            f"cannot open the run store {path}: {error}",
            hint="choose a writable state directory with --state-dir or OPSRUN_STATE_DIR",
            exit_code=ExitCode.CONFIG,
        ) from error
    connection.row_factory = sqlite3.Row
    store = Store(path, connection)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        _use_wal(connection)
        _migrate(store, migrations)
    except sqlite3.DatabaseError as error:
        store.close()
        raise OpsrunError(
            f"the run store {path} cannot be used: {error}",
            hint="move the damaged file aside; opsrun starts a new store in its place",
            exit_code=ExitCode.CONFIG,
        ) from error
    except BaseException:
        store.close()
        raise
    return store


def open_store(state_dir: Path) -> Store:
    """Open the store of the state directory, <state-dir>/opsrun.db.

    Runs left "running" by a process that is gone are marked interrupted first.
    """
    ensure_private_dir(state_dir)
    store = open_store_file(state_dir / DB_FILE_NAME)
    try:
        recover_interrupted(store, datetime.now(UTC))
    except BaseException:
        store.close()
        raise
    return store


def _json_or_none(value: object) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class StoredFinding:
    """A health finding as the store keeps it: no item is "", value and threshold are JSON text."""

    host: str
    check: str
    item: str
    status: str
    value: str | None
    threshold: str | None
    message: str


def stored_finding(finding: object) -> StoredFinding | None:
    """A published finding as stored, or None (logged) when it has no host or check or a known status."""
    if not (
        isinstance(finding, Mapping)
        and finding.get("host")
        and finding.get("check")
        and finding.get("status") in FINDING_STATUSES
    ):
        log.warning("a published finding without host, check or a known status is left out: %r", finding)
        return None
    item = finding.get("item")
    return StoredFinding(
        host=str(finding["host"]),
        check=str(finding["check"]),
        item="" if item is None else str(item),
        status=str(finding["status"]),
        value=_json_or_none(finding.get("value")),
        threshold=_json_or_none(finding.get("threshold")),
        message=str(finding.get("message") or ""),
    )


def published_findings(published: Mapping[str, Any]) -> list[StoredFinding]:
    """The findings a playbook published with set_stats (health_check_findings)."""
    findings = published.get(FINDINGS_KEY)
    if not isinstance(findings, list):
        return []
    return [stored for stored in map(stored_finding, findings) if stored is not None]


def begin_run(
    store: Store,
    *,
    run_id: str,
    playbook: str,
    started: datetime,
    check: bool,
    routine: str | None = None,
    step: str | None = None,
    routine_run_id: str | None = None,
) -> None:
    """Record a run as running, owned by this process, before its playbook starts.

    A run whose process dies without finishing it (SIGKILL, a power cut) stays "running" until the
    next opsrun that opens the store marks it interrupted (recover_interrupted).
    """
    with store.write() as connection:
        connection.execute(
            """
            INSERT INTO runs (
                id, playbook, routine, step, started, status, check_mode, routine_run_id, owner
            ) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)
            """,
            (
                run_id,
                playbook,
                routine,
                step,
                time_text(started),
                int(check),
                routine_run_id,
                current_owner(),
            ),
        )


def record_run(
    store: Store,
    record: RunRecord,
    *,
    routine: str | None = None,
    step: str | None = None,
    routine_run_id: str | None = None,
) -> int:
    """Store a finished run and the findings it published; returns the number of findings stored.

    Recording the same run again replaces what was stored of it, findings included. The findings
    go to their own table; everything else the playbook published is kept with the run.
    """
    hosts = json.dumps({host: asdict(counts) for host, counts in record.hosts.items()}, sort_keys=True)
    findings = published_findings(record.published)
    published = json.dumps(
        {key: value for key, value in record.published.items() if key != FINDINGS_KEY},
        sort_keys=True,
        default=str,
    )
    with store.write() as connection:
        connection.execute(
            """
            INSERT INTO runs (
                id, playbook, routine, step, started, finished, status, exit_code, hosts, check_mode,
                published, routine_run_id, owner
            )
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT (id) DO UPDATE SET
                playbook = excluded.playbook, routine = excluded.routine, step = excluded.step,
                started = excluded.started, finished = excluded.finished, status = excluded.status,
                exit_code = excluded.exit_code, hosts = excluded.hosts, check_mode = excluded.check_mode,
                published = excluded.published, routine_run_id = excluded.routine_run_id, owner = NULL
            """,
            (
                record.run_id,
                record.playbook,
                routine,
                step,
                time_text(record.started),
                time_text(record.finished),
                record.status,
                record.exit_code,
                hosts,
                int(record.check),
                published,
                routine_run_id,
            ),
        )
        connection.execute("DELETE FROM findings WHERE run_id = ?", (record.run_id,))
        connection.executemany(
            """
            INSERT INTO findings (run_id, host, check_name, item, status, value, threshold, message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                (record.run_id, f.host, f.check, f.item, f.status, f.value, f.threshold, f.message)
                for f in findings
            ],
        )
    return len(findings)


@dataclass(frozen=True)
class Recovered:
    """What recover_interrupted found left behind by processes that died."""

    runs: list[str]
    routine_runs: list[str]
    leases: list[str]


_OWNED_TABLES = ("runs", "routine_runs")


def _dead_owners(connection: sqlite3.Connection) -> set[str]:
    owners = {
        row[0]
        for table in _OWNED_TABLES
        for row in connection.execute(f"SELECT DISTINCT owner FROM {table} WHERE status = 'running'")  # noqa: S608
        if row[0] is not None
    }
    owners |= {row[0] for row in connection.execute("SELECT DISTINCT owner FROM leases")}
    return {owner for owner in owners if not owner_alive(owner)}


def recover_interrupted(store: Store, now: datetime) -> Recovered:
    """Mark the runs of processes that died while running them as interrupted; free their leases."""
    with store.read() as connection:
        if not _dead_owners(connection):
            return Recovered([], [], [])
    found: dict[str, list[str]] = {}
    with store.write() as connection:
        dead = sorted(_dead_owners(connection))
        marks = ",".join("?" * len(dead))
        for table in _OWNED_TABLES:
            rows = connection.execute(
                f"SELECT id FROM {table} WHERE status = 'running' AND owner IN ({marks})",  # noqa: S608
                dead,
            ).fetchall()
            found[table] = [row[0] for row in rows]
            connection.execute(
                f"""
                UPDATE {table} SET status = 'interrupted', exit_code = ?, finished = ?, owner = NULL
                WHERE status = 'running' AND owner IN ({marks})
                """,  # noqa: S608
                (int(ExitCode.INTERRUPTED), time_text(now), *dead),
            )
        leases = connection.execute(
            f"SELECT host FROM leases WHERE owner IN ({marks})",  # noqa: S608
            dead,
        ).fetchall()
        connection.execute(f"DELETE FROM leases WHERE owner IN ({marks})", dead)  # noqa: S608
    recovered = Recovered(found["runs"], found["routine_runs"], sorted(row[0] for row in leases))
    for run_id in recovered.runs + recovered.routine_runs:
        log.warning("run %s was interrupted: the process running it is gone", run_id)
    if recovered.leases:
        log.warning("freed the change leases of dead runs on %s", ", ".join(recovered.leases))
    return recovered
