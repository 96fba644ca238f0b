"""opsrun schedule against the real tools: user units in a temporary home, checked by systemd-analyze,
and the real crontab command pointed at a temporary spool (in a private mount namespace)."""

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from opsrun.commands import schedule
from opsrun.output import GlobalOptions, OutputFormat

REPO = Path(__file__).resolve().parents[2]
OPS_FILE = REPO / "examples" / "ops.yml"
ROUTINES = ["daily-health", "daily-log-backup", "monthly-patching"]


def _no_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    """opsrun's global options are tested with cli.py; here the state dir is given directly."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsrun")
    schedule.add_parser(parser.add_subparsers(dest="command", required=True), _no_global_options)
    return parser


def _schedule(state_dir: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    args = _parser().parse_args(["schedule", *argv])
    options = GlobalOptions(state_dir=state_dir, output=OutputFormat.JSON)
    assert schedule.handle(options, args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    result: dict[str, Any] = document["result"]
    return result


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own; an empty runtime dir means no user manager, so no systemctl call is made."""
    home = tmp_path / "home"
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(tmp_path)
    return home


def test_user_timers_install_list_remove(
    user_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    unit_dir = user_home / ".config" / "systemd" / "user"
    installed = _schedule(state_dir, capsys, "install", "--user", "--ops-file", str(OPS_FILE))
    assert installed["unit_dir"] == str(unit_dir)
    assert installed["started"] is False
    # Every routine, and the escalation of incidents past their acknowledge deadline.
    jobs = [*ROUTINES, "escalate-due"]
    assert [(entry["routine"], entry["change"]) for entry in installed["routines"]] == [
        (name, "created") for name in jobs
    ]
    files = sorted(path.name for path in unit_dir.iterdir())
    assert files == sorted(f"opsrun-{name}.{suffix}" for name in jobs for suffix in ("service", "timer"))
    for path in unit_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    service = (unit_dir / "opsrun-daily-health.service").read_text(encoding="utf-8")
    assert f" run daily-health --scheduled --ops-file {OPS_FILE} --state-dir {state_dir}\n" in service
    escalation = (unit_dir / "opsrun-escalate-due.service").read_text(encoding="utf-8")
    assert f" incident escalate-due --ops-file {OPS_FILE} --state-dir {state_dir}\n" in escalation
    assert f"\nWorkingDirectory={tmp_path}\n" in service
    # A routine paused at an approval gate, or kept from hosts another change holds, is no failed unit.
    assert "\nSuccessExitStatus=75\n" in service
    timer = (unit_dir / "opsrun-monthly-patching.timer").read_text(encoding="utf-8")
    assert "\nOnCalendar=Sun *-*-1..7 02:00:00 Asia/Tokyo\n" in timer

    again = _schedule(state_dir, capsys, "install", "--user", "--ops-file", str(OPS_FILE))
    assert {entry["change"] for entry in again["routines"]} == {"unchanged"}

    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        # Units in a directory of their own, with the services they name.
        verify = subprocess.run(
            [analyze, "verify", *(str(path) for path in sorted(unit_dir.glob("*.timer")))],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"},
        )
        assert verify.returncode == 0, verify.stderr

    # A unit that opsrun did not write is neither listed nor removed.
    foreign = unit_dir / "opsrun-foreign.timer"
    foreign.write_text("[Timer]\nOnCalendar=daily\n", encoding="utf-8")
    listed = _schedule(state_dir, capsys, "list", "--user")
    rows = [entry for entry in listed["schedules"] if entry["kind"] == "systemd"]
    assert [(row["routine"], row["schedule"]) for row in rows] == [
        ("daily-health", "0 7 * * *"),
        ("daily-log-backup", "30 1 * * *"),
        ("escalate-due", "*/5 * * * *"),
        ("monthly-patching", "Sun *-*-1..7 02:00:00"),
    ]
    if analyze is not None:
        # 07:00 in Tokyo, whatever the machine's zone.
        assert rows[0]["next_elapse"].endswith("07:00 JST")

    removed = _schedule(state_dir, capsys, "remove", "--user", "daily-health")
    assert removed["removed"] == [{"routine": "daily-health", "kind": "systemd"}]
    assert not (unit_dir / "opsrun-daily-health.timer").exists()
    assert not (unit_dir / "opsrun-daily-health.service").exists()
    _schedule(state_dir, capsys, "remove", "--user", "--all")
    assert sorted(path.name for path in unit_dir.iterdir()) == ["opsrun-foreign.timer"]


def _can_bind_mount() -> bool:
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "mount", "crontab")):
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "--bind", "/tmp", "/mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


# Run inside a private mount namespace where the crontab spool is a temporary directory: the
# real crontab command writes there, and the machine's crontabs are untouched.
_CRON_SCRIPT = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path
    from opsrun.commands import schedule
    from opsrun.output import GlobalOptions, OutputFormat

    parser = argparse.ArgumentParser()
    schedule.add_parser(parser.add_subparsers(dest="command"), lambda parser, in_subcommand: None)
    options = GlobalOptions(state_dir=Path(sys.argv[1]), output=OutputFormat.JSON)
    for line in sys.stdin:
        schedule.handle(options, parser.parse_args(json.loads(line)))
    """
)


@pytest.mark.skipif(not _can_bind_mount(), reason="needs root, unshare, mount and cron's crontab")
def test_crontab_install_list_remove(tmp_path: Path) -> None:
    spool = tmp_path / "crontabs"
    spool.mkdir(mode=0o1730)
    shutil.chown(spool, group="crontab")
    # The user's own entries stay as they are.
    (spool / "root").write_text("MAILTO=ops@example.com\n15 * * * * /usr/local/bin/tidy\n", encoding="utf-8")
    (spool / "root").chmod(0o600)
    calls = [
        ["schedule", "install", "--user", "--kind", "cron", "--ops-file", str(OPS_FILE), "daily-health"],
        ["schedule", "install", "--user", "--kind", "cron", "--ops-file", str(OPS_FILE), "daily-health"],
        ["schedule", "list", "--user"],
        ["schedule", "remove", "--user", "daily-health"],
    ]
    result = subprocess.run(
        [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /var/spool/cron/crontabs && exec "$@"',
            str(spool), sys.executable, "-c", _CRON_SCRIPT, str(tmp_path / "state"),
        ],
        input="".join(json.dumps(call) + "\n" for call in calls),
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr
    install, install_again, listed, removed = (
        json.loads(document)["result"] for document in result.stdout.replace("}\n{", "}\0{").split("\0")
    )
    assert install["routines"] == [
        {"routine": "daily-health", "change": "created", "schedule": "0 7 * * *", "cron": "0 7 * * *"}
    ]
    assert install_again["routines"][0]["change"] == "unchanged"
    cron_rows = [row for row in listed["schedules"] if row["kind"] == "cron"]
    assert [(row["routine"], row["state"]) for row in cron_rows] == [("daily-health", "in crontab")]
    assert removed["removed"] == [{"routine": "daily-health", "kind": "cron"}]
    assert (spool / "root").read_text(encoding="utf-8").endswith(
        "MAILTO=ops@example.com\n15 * * * * /usr/local/bin/tidy\n"
    )
