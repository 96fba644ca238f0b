"""The top-level error handler: one line on stderr, the traceback in the private log file."""

import argparse
import json
import stat
from pathlib import Path

import pytest

from opsrun import cli
from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat
from opsrun.state import LOG_FILE_NAME


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raising(error: BaseException) -> cli.Handler:
    def handler(options: GlobalOptions, args: argparse.Namespace) -> int:
        raise error

    return handler


def run_main_with(monkeypatch: pytest.MonkeyPatch, error: BaseException, state_dir: Path, *extra: str) -> int:
    """main() with the run subcommand replaced by one that raises `error`."""
    monkeypatch.setitem(cli.COMMANDS, "run", raising(error))
    return cli.main(["--state-dir", str(state_dir), *extra, "run", "--playbook", "ping"])


def test_user_error_is_one_line_and_its_traceback_is_in_the_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = OpsrunError("inventory /x/hosts is missing", hint="pass -i PATH", exit_code=ExitCode.CONFIG)
    assert run_main_with(monkeypatch, error, tmp_path) == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert captured.err == "opsrun: inventory /x/hosts is missing; pass -i PATH\n"
    assert captured.out == ""
    log_file = tmp_path / LOG_FILE_NAME
    assert mode_of(log_file) == 0o600
    assert mode_of(tmp_path) == 0o700
    log_text = log_file.read_text()
    assert "Traceback" in log_text
    assert "inventory /x/hosts is missing" in log_text


def test_unexpected_error_points_to_the_log_and_hides_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main_with(monkeypatch, RuntimeError("boom"), tmp_path) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error: RuntimeError: boom" in err
    assert str(tmp_path / LOG_FILE_NAME) in err
    assert "Traceback" not in err
    assert "RuntimeError: boom" in (tmp_path / LOG_FILE_NAME).read_text()


def test_verbose_shows_the_traceback_on_the_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main_with(monkeypatch, RuntimeError("boom"), tmp_path, "-v") == ExitCode.INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_error_with_json_output_prints_the_envelope(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = OpsrunError("no playbook named 'x'", hint="use one of: ping")
    assert run_main_with(monkeypatch, error, tmp_path, "--output", "json") == ExitCode.USAGE
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document == {
        "schema": "opsrun/v1",
        "command": "run",
        "ok": False,
        "exit_code": ExitCode.USAGE,
        "result": None,
        "error": {"message": "no playbook named 'x'", "hint": "use one of: ping"},
    }
    assert captured.err.startswith("opsrun: no playbook named 'x'")


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert run_main_with(monkeypatch, KeyboardInterrupt(), tmp_path) == ExitCode.INTERRUPTED


def test_unwritable_state_dir_is_reported_without_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    options = GlobalOptions(state_dir=blocker / "state", output=OutputFormat.HUMAN)
    code = cli.main(["--state-dir", str(options.state_dir), "run", "--playbook", "ping"])
    assert code == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert str(options.state_dir) in err
    assert "--state-dir" in err


def test_one_line_joins_message_and_hint() -> None:
    assert OpsrunError("a failed", hint="do b").one_line() == "a failed; do b"
    assert OpsrunError("a failed").one_line() == "a failed"
