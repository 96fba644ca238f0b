"""The state directory: private files, the log file, run directories and their rotation."""

import errno
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from opsrun.errors import ExitCode, OpsrunError

LOG_FILE_NAME = "opsrun.log"
RUNS_DIR_NAME = "runs"
RESULT_FILE_NAME = "result.json"

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

_RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"
# 20260128T231700.123456Z-1a2b3c: UTC time to the microsecond, then random hex against collisions.
_RUN_ID_PATTERN = re.compile(r"^(?P<time>\d{8}T\d{6}\.\d{6})Z-[0-9a-f]{6}$")

log = logging.getLogger(__name__)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents, private to the user (0700).

    Directories that already exist keep their mode: the user may point the state dir anywhere.
    """
    missing = [directory for directory in (path, *path.parents) if not directory.exists()]
    try:
        for directory in reversed(missing):
            directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            directory.chmod(PRIVATE_DIR_MODE)
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    except OSError as exc:
        raise OpsrunError(
            f"cannot create the directory {path}: {exc.strerror}",
            hint="choose a writable state directory with --state-dir or OPSRUN_STATE_DIR",
            exit_code=ExitCode.CONFIG,
        ) from exc
    return path


def write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as JSON to `path`, readable by the owner only, replacing it atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
        stream.write("\n")
    temporary.replace(path)


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose files, including those opened after a rollover, are 0600."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8")


def open_log(state_dir: Path) -> logging.Handler:
    """A handler writing to <state-dir>/opsrun.log (0600, rotated at 1 MiB, 3 old files kept)."""
    ensure_private_dir(state_dir)
    handler = _PrivateRotatingFileHandler(
        state_dir / LOG_FILE_NAME, maxBytes=1024 * 1024, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def new_run_id(now: datetime) -> str:
    """A run id that sorts by its UTC start time, e.g. 20260128T231700.123456Z-1a2b3c."""
    return f"{now.astimezone(UTC).strftime(_RUN_ID_TIME_FORMAT)}Z-{secrets.token_hex(3)}"


def run_id_time(run_id: str) -> datetime | None:
    """The UTC start time encoded in a run id, or None when `run_id` is not one."""
    match = _RUN_ID_PATTERN.match(run_id)
    if match is None:
        return None
    return datetime.strptime(match["time"], _RUN_ID_TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunDir:
    run_id: str
    path: Path

    @property
    def result_file(self) -> Path:
        return self.path / RESULT_FILE_NAME


def create_run_dir(state_dir: Path, now: datetime) -> RunDir:
    """Create a new private run directory under <state-dir>/runs/."""
    runs_dir = ensure_private_dir(state_dir / RUNS_DIR_NAME)
    run_id = new_run_id(now)
    path = runs_dir / run_id
    path.mkdir(mode=PRIVATE_DIR_MODE)
    return RunDir(run_id=run_id, path=path)


def rotate_runs(runs_dir: Path, *, keep: int, max_age_days: float, current: str, now: datetime) -> list[Path]:
    """Remove run directories beyond the newest `keep` and those older than `max_age_days`.

    The run `current` is never removed, and neither is anything whose name is not a run id.
    Returns the directories removed; one that cannot be removed is logged and left in place.
    """
    runs: list[tuple[datetime, Path]] = []
    for entry in runs_dir.iterdir():
        started = run_id_time(entry.name)
        if started is not None and entry.is_dir() and not entry.is_symlink() and entry.name != current:
            runs.append((started, entry))
    runs.sort(reverse=True)
    oldest_kept = now - timedelta(days=max_age_days)
    # The current run takes one of the `keep` places.
    doomed = [
        path for index, (started, path) in enumerate(runs) if index >= keep - 1 or started < oldest_kept
    ]
    removed: list[Path] = []
    for path in doomed:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.warning("could not remove the old run directory %s: %s", path, exc)
        else:
            removed.append(path)
    return removed
