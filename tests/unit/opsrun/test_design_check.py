"""`opsrun check`: inventories, playbook resolution, the syntax check, and what the command prints."""

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from opsrun import cli
from opsrun.collection import collection_dir
from opsrun.design.check import SyntaxResult, check_design, syntax_failure_reason
from opsrun.design.load import load_design
from opsrun.design.problems import DesignError
from opsrun.engine import ansible_playbook_executable
from opsrun.errors import ExitCode

REPOSITORY = Path(__file__).resolve().parents[3]
EXAMPLE = REPOSITORY / "examples" / "ops.yml"

DESIGN = """\
version: 1
scope:
  inventory: inventory/hosts.yml
  layers: [os]
routines:
  nightly:
    schedule: "0 1 * * *"
    steps:
      - playbook: ping
      - playbook: site/local.yml
      - playbook: opsrun.ops.ping
incidents:
  runbooks:
    - name: down
      match: {check: service}
      first_response:
        - playbook: site/local.yml
"""


class FakeAnsible:
    """Stands in for ansible-playbook --syntax-check: fails for the playbooks named in `broken`."""

    def __init__(self, broken: Sequence[str] = ()) -> None:
        self.broken = set(broken)
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, argv: Sequence[str], cwd: Path) -> SyntaxResult:
        self.calls.append((list(argv), cwd))
        failing = [name for name in argv if Path(name).name in self.broken]
        if failing:
            return SyntaxResult(
                4, f"[WARNING]: noise\n[ERROR]: bad task in {failing[0]}\nOrigin: {failing[0]}:3:7\n"
            )
        return SyntaxResult(0, "")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text("all:\n  hosts:\n    web01:\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "local.yml").write_text("- hosts: all\n  tasks: []\n")
    (tmp_path / "ops.yml").write_text(DESIGN)
    return tmp_path


def test_playbooks_resolve_and_are_syntax_checked_together(project: Path) -> None:
    fake = FakeAnsible()
    result = check_design(
        load_design(project / "ops.yml"), collection=collection_dir(), ansible_playbook="/bin/ap", run=fake
    )
    ping = collection_dir() / "playbooks" / "ping.yml"
    local = project / "site" / "local.yml"
    assert result.playbooks == {"ping": ping, "site/local.yml": local, "opsrun.ops.ping": ping}
    assert result.inventories == [str(project / "inventory" / "hosts.yml")]
    assert result.syntax_checked
    assert fake.calls == [
        (
            [
                "/bin/ap",
                "--syntax-check",
                "-i",
                str(project / "inventory" / "hosts.yml"),
                *sorted([str(ping), str(local)]),
            ],
            project,
        )
    ]


def test_a_broken_playbook_is_found_and_reported_once_at_its_first_use(project: Path) -> None:
    fake = FakeAnsible(broken=["local.yml"])
    with pytest.raises(DesignError) as caught:
        check_design(
            load_design(project / "ops.yml"), collection=collection_dir(), ansible_playbook="ap", run=fake
        )
    [problem] = caught.value.problems
    local = project / "site" / "local.yml"
    assert (problem.line, problem.path) == (10, "routines.nightly.steps[1].playbook")
    assert problem.message == (
        f"ansible-playbook --syntax-check failed for {local}: "
        f"[ERROR]: bad task in {local} (Origin: {local}:3:7)"
    )
    # All together first, then each one on its own to find the broken one.
    assert [len(argv) for argv, _ in fake.calls] == [6, 5, 5]


def test_without_the_syntax_check_nothing_runs(project: Path) -> None:
    fake = FakeAnsible(broken=["local.yml"])
    result = check_design(
        load_design(project / "ops.yml"), collection=collection_dir(), ansible_playbook=None, run=fake
    )
    assert not result.syntax_checked
    assert fake.calls == []


def test_missing_inventory_and_unknown_playbooks_are_listed_together(project: Path) -> None:
    (project / "inventory" / "hosts.yml").unlink()
    (project / "ops.yml").write_text(
        DESIGN.replace("- playbook: ping", "- playbook: pong").replace("site/local.yml", "site/gone.yml")
    )
    with pytest.raises(DesignError) as caught:
        check_design(
            load_design(project / "ops.yml"),
            collection=collection_dir(),
            ansible_playbook="ap",
            run=FakeAnsible(),
        )
    lines = [problem.one_line() for problem in caught.value.problems]
    assert len(lines) == 3
    assert lines[0].startswith(f"{project / 'ops.yml'}:3: scope.inventory: the inventory ")
    assert "does not exist" in lines[0]
    assert lines[1].startswith(
        f"{project / 'ops.yml'}:9: routines.nightly.steps[0].playbook: no playbook named 'pong'"
    )
    assert "use one of:" in lines[1]
    assert lines[2].startswith(
        f"{project / 'ops.yml'}:10: routines.nightly.steps[1].playbook: playbook file "
    )


def test_inline_host_lists_need_no_file(project: Path) -> None:
    (project / "ops.yml").write_text(
        DESIGN.replace("inventory: inventory/hosts.yml", "inventory: 'web01,web02'")
    )
    result = check_design(
        load_design(project / "ops.yml"),
        collection=collection_dir(),
        ansible_playbook=None,
        run=FakeAnsible(),
    )
    assert result.inventories == ["web01,web02"]


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "[WARNING]: x\n[ERROR]: it broke\nOrigin: /p.yml:3:7\n\n1 - hosts\n",
            "[ERROR]: it broke (Origin: /p.yml:3:7)",
        ),
        ("ERROR! old style\n", "ERROR! old style"),
        ("something odd\nlast words\n", "last words"),
        ("", "exit code 5"),
    ],
)
def test_syntax_failure_reason(stderr: str, expected: str) -> None:
    assert syntax_failure_reason(stderr, 5) == expected


def test_the_real_syntax_check_reports_a_broken_playbook(project: Path) -> None:
    (project / "site" / "local.yml").write_text("- hosts: all\n  tasks:\n    - no.such.module: {}\n")
    only_local = textwrap.dedent("""\
        version: 1
        scope: {inventory: inventory/hosts.yml, layers: [os]}
        routines:
          nightly:
            schedule: "@daily"
            steps: [{playbook: site/local.yml}]
    """)
    (project / "ops.yml").write_text(only_local)
    with pytest.raises(DesignError) as caught:
        check_design(
            load_design(project / "ops.yml"),
            collection=collection_dir(),
            ansible_playbook=ansible_playbook_executable(),
        )
    [problem] = caught.value.problems
    assert problem.line == 6
    assert "no.such.module" in problem.message


def test_cli_check_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--state-dir", str(tmp_path / "state"), "check", str(EXAMPLE), "--skip-syntax"])
    assert code == ExitCode.OK
    out = capsys.readouterr().out
    assert f"{EXAMPLE}: the operations design is valid" in out
    assert "escalation: l1 (15 min) → l2 (30 min) → maintainer (60 min) → client (240 min)" in out
    assert "calendar: Asia/Tokyo, JP holidays, 1 freeze(s), 2 maintenance window(s)" in out
    assert "syntax check skipped" in out


def test_cli_check_json_redacts_notification_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["--state-dir", str(tmp_path / "state"), "check", str(EXAMPLE), "--skip-syntax", "--output", "json"]
    )
    assert code == ExitCode.OK
    out = capsys.readouterr().out
    document = json.loads(out)
    assert (document["ok"], document["command"], document["error"]) == (True, "check", None)
    result = document["result"]
    assert result["contacts"]["ops-oncall"]["notify"] == ["slack://***"]
    assert result["routines"]["monthly-patching"] == {
        "schedule": "Sun *-*-1..7 02:00:00",
        "steps": 3,
        "changes_hosts": True,
    }
    assert result["calendar"]["holiday_country"] == "JP"
    assert "XXXXXXXX" not in out
    assert "app-password" not in out


def test_cli_check_lists_every_error_and_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = tmp_path / "ops.yml"
    ops.write_text("version: 1\nscope:\n  inventory: hosts\n  layers: [os, cloud]\nroutines: []\n")
    code = cli.main(["--state-dir", str(tmp_path / "state"), "check", str(ops)])
    assert code == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{ops}:4: scope.layers[1]: expected 'os', 'middleware', 'app' or 'network'",
        f"{ops}:5: routines: expected a mapping (key: value) (found a list)",
        f"opsrun: {ops}: 2 errors in the operations design; "
        "fix each one listed above and run 'opsrun check' again",
    ]


def test_cli_check_errors_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = tmp_path / "ops.yml"
    ops.write_text("version: 1\nscope: {inventory: hosts, layers: [os], hostz: [web]}\n")
    code = cli.main(["--output", "json", "--state-dir", str(tmp_path / "state"), "check", str(ops)])
    assert code == ExitCode.CONFIG
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == ExitCode.CONFIG
    [error] = document["result"]["errors"]
    assert error["file"] == str(ops)
    assert (error["line"], error["path"]) == (2, "scope.hostz")
    assert error["message"].startswith("unknown key; did you mean 'hosts'?")


def test_cli_check_defaults_to_ops_yml_here() -> None:
    args = cli.build_parser().parse_args(["check"])
    assert args.ops_file == Path("ops.yml")
    assert args.skip_syntax is False


def test_other_commands_do_not_load_the_schema_libraries() -> None:
    """pydantic and holidays load only with check and design, so `opsrun run` starts as fast as before."""
    probe = "import sys, opsrun.cli; print(sorted({'pydantic', 'holidays'} & set(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_relative_ops_file_gives_absolute_paths(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-playbook runs in the directory of ops.yml, so every path it gets must be absolute."""
    monkeypatch.chdir(project.parent)
    fake = FakeAnsible()
    loaded = load_design(Path(project.name) / "ops.yml")
    result = check_design(loaded, collection=collection_dir(), ansible_playbook="ap", run=fake)
    [(argv, cwd)] = fake.calls
    assert cwd == project
    assert argv[2:4] == ["-i", str(project / "inventory" / "hosts.yml")]
    assert all(Path(argument).is_absolute() for argument in argv[4:])
    assert result.inventories == [str(project / "inventory" / "hosts.yml")]
