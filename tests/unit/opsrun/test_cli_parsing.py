"""Argument parsing of the opsrun command line and the defaults it takes from the environment."""

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from opsrun import __version__, cli
from opsrun.commands import run as run_command
from opsrun.errors import ExitCode
from opsrun.output import GlobalOptions, OutputFormat


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def test_run_defaults() -> None:
    args = parse("run", "--playbook", "ping")
    assert args.command == "run"
    assert args.playbook == "ping"
    assert args.output == "human"
    assert args.state_dir is None
    assert args.verbose is False
    assert args.inventory == []
    assert args.extra_vars == []
    assert args.limit is None
    assert (args.check, args.diff) == (False, False)
    assert (args.keep_runs, args.keep_days) == (None, None)


def test_run_options_repeat_and_combine() -> None:
    args = parse(
        "run", "--playbook", "ping", "-i", "a.yml", "-i", "b,", "-l", "web*",
        "-e", "x=1", "-e", "@vars.yml", "--check", "--diff", "--keep-runs", "3", "--keep-days", "0.5",
    )  # fmt: skip
    assert args.inventory == ["a.yml", "b,"]
    assert args.extra_vars == ["x=1", "@vars.yml"]
    assert args.limit == "web*"
    assert (args.check, args.diff) == (True, True)
    assert (args.keep_runs, args.keep_days) == (3, 0.5)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--output", "json", "run", "--playbook", "p"], "json"),
        (["run", "--playbook", "p", "--output", "json"], "json"),
        (["run", "--output=json", "--playbook", "p"], "json"),
        (["--output", "json", "run", "--playbook", "p", "--output", "human"], "human"),
        (["run", "--playbook", "p"], "human"),
    ],
)
def test_output_is_accepted_before_and_after_the_subcommand(argv: list[str], expected: str) -> None:
    assert parse(*argv).output == expected


def test_global_options_after_the_subcommand(tmp_path: Path) -> None:
    args = parse("run", "--playbook", "p", "--state-dir", str(tmp_path), "-v")
    assert args.state_dir == tmp_path
    assert args.verbose is True


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == f"opsrun {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],  # --playbook missing
        ["frobnicate"],
        [],
        ["run", "--playbook", "p", "--keep-runs", "0"],
        ["run", "--playbook", "p", "--keep-days", "-1"],
        ["run", "--playbook", "p", "--output", "yaml"],
    ],
)
def test_bad_usage_is_one_line_and_exit_code_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("opsrun: ")
    assert "--help" in lines[0]


def test_bad_usage_with_json_output_prints_the_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--output", "json", "run"]) == ExitCode.USAGE
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["exit_code"] == ExitCode.USAGE
    assert "--playbook" in document["error"]["message"]
    assert document["result"] is None


def test_state_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSRUN_STATE_DIR", raising=False)
    assert cli.state_dir_from(None) == tmp_path / ".opsrun"
    monkeypatch.setenv("OPSRUN_STATE_DIR", "from-env")
    assert cli.state_dir_from(None) == tmp_path / "from-env"
    assert cli.state_dir_from(Path("given")) == tmp_path / "given"


class RecordingRun:
    """Stands in for the run command to see what main() passes to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[GlobalOptions, dict[str, Any]]] = []

    def __call__(self, options: GlobalOptions, **kwargs: Any) -> int:
        self.calls.append((options, kwargs))
        return 0


@pytest.fixture
def recorded_run(monkeypatch: pytest.MonkeyPatch) -> RecordingRun:
    recorder = RecordingRun()
    monkeypatch.setattr(run_command, "run", recorder)
    for name in ("OPSRUN_KEEP_RUNS", "OPSRUN_KEEP_DAYS", "OPSRUN_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return recorder


def test_main_passes_options_to_the_run_command(recorded_run: RecordingRun, tmp_path: Path) -> None:
    code = cli.main(
        [
            "--state-dir",
            str(tmp_path),
            "run",
            "--playbook",
            "ping",
            "-e",
            "a=1",
            "--check",
            "--output",
            "json",
        ]
    )
    assert code == 0
    [(options, kwargs)] = recorded_run.calls
    assert options == GlobalOptions(state_dir=tmp_path, output=OutputFormat.JSON, verbose=False)
    assert kwargs["playbook"] == "ping"
    assert kwargs["extra_vars"] == ["a=1"]
    assert kwargs["check"] is True
    assert kwargs["keep_runs"] == run_command.DEFAULT_KEEP_RUNS
    assert kwargs["keep_days"] == run_command.DEFAULT_KEEP_DAYS


def test_keep_limits_come_from_the_environment_unless_given(
    recorded_run: RecordingRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSRUN_KEEP_RUNS", "7")
    monkeypatch.setenv("OPSRUN_KEEP_DAYS", "2.5")
    cli.main(["--state-dir", str(tmp_path), "run", "--playbook", "ping"])
    cli.main(["--state-dir", str(tmp_path), "run", "--playbook", "ping", "--keep-runs", "9"])
    assert [(kwargs["keep_runs"], kwargs["keep_days"]) for _, kwargs in recorded_run.calls] == [
        (7, 2.5),
        (9, 2.5),
    ]


@pytest.mark.parametrize("setting", [("OPSRUN_KEEP_RUNS", "many"), ("OPSRUN_KEEP_DAYS", "0")])
def test_bad_keep_limit_in_the_environment_names_the_variable(
    recorded_run: RecordingRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: tuple[str, str],
) -> None:
    name, value = setting
    monkeypatch.setenv(name, value)
    assert cli.main(["--state-dir", str(tmp_path), "run", "--playbook", "ping"]) == ExitCode.CONFIG
    assert name in capsys.readouterr().err
    assert recorded_run.calls == []
