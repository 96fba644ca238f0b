"""Running a playbook through ansible-runner. The only module of opsrun that imports ansible_runner."""

import contextlib
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import ansible_runner

from opsrun.errors import ExitCode, OpsrunError
from opsrun.state import PRIVATE_DIR_MODE, write_private_json

EventHandler = Callable[[Mapping[str, Any]], None]
Stats = dict[str, dict[str, int]]

# ansible-runner sets this to False unless the environment already holds it, which would
# override the user's ansible.cfg; opsrun leaves host key checking to the user's configuration.
_HOST_KEY_CHECKING = "ANSIBLE_HOST_KEY_CHECKING"


@dataclass(frozen=True)
class PlaybookRequest:
    run_dir: Path
    ident: str
    playbook: Path
    inventory: Sequence[str]
    limit: str | None = None
    extra_vars: Mapping[str, Any] | None = None
    check: bool = False
    diff: bool = False
    # ansible-playbook runs here, so ./ansible.cfg and relative paths mean what they mean to the user.
    working_dir: Path | None = None
    # Exported to the playbook as OPSRUN_STATE_DIR / OPSRUN_RUN_ID: roles keep their reports there.
    state_dir: Path | None = None


@dataclass(frozen=True)
class PlaybookOutcome:
    status: str
    rc: int
    stats: Stats | None
    artifact_dir: Path


def ansible_playbook_executable() -> str:
    """ansible-playbook of the Python environment opsrun runs in, else the first one on PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("ansible-playbook")
    if found is None:
        raise OpsrunError(
            "ansible-playbook was not found beside the Python running opsrun nor on PATH",
            hint="install opsrun with its dependencies (pip install opsrun) or add ansible-core to PATH",
            exit_code=ExitCode.CONFIG,
        )
    return found


@contextlib.contextmanager
def _cancel_on_signals() -> Iterator[Callable[[], bool]]:
    """SIGINT/SIGTERM ask ansible-runner to stop the playbook; the previous handlers come back after."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def request_cancel(signum: int, frame: FrameType | None) -> None:
        requested.set()

    previous = {signum: signal.signal(signum, request_cancel) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested.is_set
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Everything ansible-runner and ansible-playbook write during the run is private to the user."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def run_playbook(request: PlaybookRequest, on_event: EventHandler) -> PlaybookOutcome:
    """Run the playbook with request.run_dir as ansible-runner's private data dir.

    `on_event` receives every runner event as it happens. Extra vars go to env/extravars (0600)
    for the duration of the run only, so they are neither on a command line nor left on disk.
    """
    executable = ansible_playbook_executable()
    run_dir = request.run_dir
    extravars_file = run_dir / "env" / "extravars"
    if request.extra_vars:
        extravars_file.parent.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        write_private_json(extravars_file, request.extra_vars)
    cmdline = [flag for flag, wanted in (("--check", request.check), ("--diff", request.diff)) if wanted]

    def handle_event(event: Mapping[str, Any]) -> bool:
        on_event(event)
        return True  # keep the event on disk: Runner.stats reads it back

    try:
        with _private_umask(), _cancel_on_signals() as cancel_requested:
            config = ansible_runner.RunnerConfig(
                private_data_dir=str(run_dir),
                project_dir=str(request.working_dir or Path.cwd()),
                ident=request.ident,
                playbook=str(request.playbook),
                inventory=list(request.inventory),
                limit=request.limit,
                cmdline=shlex.join(cmdline) if cmdline else None,
                quiet=True,
                # One private data dir per run: this bounds ansible-runner's artifacts/ to this run.
                rotate_artifacts=1,
            )
            config.prepare()
            # ansible-runner looks ansible-playbook up on PATH, which may lack opsrun's environment.
            config.command[0] = executable
            if _HOST_KEY_CHECKING not in os.environ:
                config.env.pop(_HOST_KEY_CHECKING, None)
            if request.state_dir is not None:
                config.env["OPSRUN_STATE_DIR"] = str(request.state_dir)
                config.env["OPSRUN_RUN_ID"] = request.ident
            runner = ansible_runner.Runner(
                config, event_handler=handle_event, cancel_callback=cancel_requested
            )
            status, rc = runner.run()
            stats = runner.stats
    except ansible_runner.ConfigurationError as exc:
        raise OpsrunError(
            f"ansible-runner rejected the run configuration in {run_dir}: {exc}",
            hint="check the playbook and inventory arguments",
            exit_code=ExitCode.CONFIG,
        ) from exc
    finally:
        extravars_file.unlink(missing_ok=True)
    return PlaybookOutcome(
        status=str(status),
        rc=int(rc),
        stats=stats,
        artifact_dir=Path(config.artifact_dir),
    )
