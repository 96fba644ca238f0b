"""The JSON result envelope, and what the run command prints and keeps, with the engine stubbed."""

import json
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from opsrun import engine
from opsrun.commands import run as run_command
from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import ENVELOPE_SCHEMA, GlobalOptions, OutputFormat, envelope

CANARY = "s3cr3t-value"


def test_envelope_on_success() -> None:
    assert envelope("run", 0, {"run_id": "x"}) == {
        "schema": ENVELOPE_SCHEMA,
        "command": "run",
        "ok": True,
        "exit_code": 0,
        "result": {"run_id": "x"},
        "error": None,
    }


def test_envelope_on_failure() -> None:
    document = envelope("run", ExitCode.HOSTS_FAILED, {"run_id": "x"}, message="m", hint="h")
    assert document["ok"] is False
    assert document["exit_code"] == 2
    assert type(document["exit_code"]) is int
    assert document["error"] == {"message": "m", "hint": "h"}
    assert document["result"] == {"run_id": "x"}
    json.dumps(document)


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": data}


class FakeEngine:
    """Replays events and returns the outcome a real ansible-runner run would have."""

    def __init__(
        self, events: list[dict[str, Any]], rc: int, stats: dict[str, dict[str, int]] | None
    ) -> None:
        self.events = events
        self.rc = rc
        self.stats = stats
        self.requests: list[engine.PlaybookRequest] = []

    def __call__(
        self, request: engine.PlaybookRequest, on_event: Callable[[Mapping[str, Any]], None]
    ) -> engine.PlaybookOutcome:
        self.requests.append(request)
        for item in self.events:
            on_event(item)
        artifact_dir = request.run_dir / "artifacts" / request.ident
        artifact_dir.mkdir(parents=True)
        return engine.PlaybookOutcome(
            status="successful" if self.rc == 0 else "failed",
            rc=self.rc,
            stats=self.stats,
            artifact_dir=artifact_dir,
        )


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    return tmp_path


def run_with(
    monkeypatch: pytest.MonkeyPatch, fake: FakeEngine, workspace: Path, output: OutputFormat, **kwargs: Any
) -> int:
    monkeypatch.setattr(engine, "run_playbook", fake)
    options = GlobalOptions(state_dir=workspace / "state", output=output)
    return run_command.run(options, playbook="site.yml", inventory=["hosts.ini"], **kwargs)


def only_run_dir(workspace: Path) -> Path:
    [run_dir] = (workspace / "state" / "runs").iterdir()
    return run_dir


def test_success_prints_the_envelope_and_keeps_result_json(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine(
        [event("runner_on_ok", host="web1", task="Ping", res={})],
        rc=0,
        stats={"ok": {"web1": 1}, "processed": {"web1": 1}},
    )
    code = run_with(
        monkeypatch, fake, workspace, OutputFormat.JSON, extra_vars=[f"token={CANARY}"], limit="web*"
    )
    assert code == 0
    out = capsys.readouterr().out
    assert CANARY not in out
    document = json.loads(out)
    run_dir = only_run_dir(workspace)
    assert document["schema"] == ENVELOPE_SCHEMA
    assert document["ok"] is True
    assert document["error"] is None
    result = document["result"]
    assert result["run_id"] == run_dir.name
    assert result["run_dir"] == str(run_dir)
    assert result["artifacts_dir"] == str(run_dir / "artifacts" / run_dir.name)
    assert result["playbook"] == "site.yml"
    assert result["playbook_path"] == str(workspace / "site.yml")
    assert result["inventory"] == ["hosts.ini"]
    assert result["limit"] == "web*"
    assert result["hosts"]["web1"]["ok"] == 1
    # The request handed to the engine: parsed extra vars, the user's directory to run in.
    [request] = fake.requests
    assert request.extra_vars == {"token": CANARY}
    assert request.working_dir == workspace
    assert request.ident == run_dir.name
    kept = json.loads((run_dir / "result.json").read_text())
    assert stat.S_IMODE((run_dir / "result.json").stat().st_mode) == 0o600
    assert kept == {key: value for key, value in result.items() if key not in ("run_dir", "artifacts_dir")}
    assert CANARY not in (run_dir / "result.json").read_text()


def test_failure_prints_the_envelope_with_the_failed_hosts(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine(
        [
            event("runner_on_ok", host="web1", task="Restart", res={"changed": True}),
            event("runner_on_failed", host="web2", task="Restart", res={"msg": "unit not found"}),
        ],
        rc=2,
        stats={"ok": {"web1": 1}, "changed": {"web1": 1}, "failures": {"web2": 1}},
    )
    assert run_with(monkeypatch, fake, workspace, OutputFormat.JSON) == ExitCode.HOSTS_FAILED
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["exit_code"] == 2
    assert document["error"]["message"] == "site.yml failed on 1 host(s): web2"
    assert "stdout" in document["error"]["hint"]
    assert document["result"]["failures"] == [
        {"host": "web2", "task": "Restart", "message": "unit not found", "unreachable": False}
    ]


def test_human_summary_names_failures_and_the_run(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine(
        [event("runner_on_unreachable", host="db1", task="Gather facts", res={"msg": "timed out"})],
        rc=4,
        stats={"dark": {"db1": 1}},
    )
    assert run_with(monkeypatch, fake, workspace, OutputFormat.HUMAN) == ExitCode.HOSTS_UNREACHABLE
    out = capsys.readouterr().out
    run_dir = only_run_dir(workspace)
    assert "db1 unreachable: Gather facts" in out  # the progress line
    assert "db1 unreachable at task 'Gather facts': timed out" in out
    assert f"Run {run_dir.name} failed with exit code 4" in out
    assert str(run_dir / "artifacts") in out


def test_ansible_messages_are_shown_when_no_host_reported(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine([{"event": "verbose", "stdout": "[ERROR]: the playbook is broken"}], rc=4, stats=None)
    assert run_with(monkeypatch, fake, workspace, OutputFormat.HUMAN) == 4
    out = capsys.readouterr().out
    assert "[ERROR]: the playbook is broken" in out
    assert "before any host reported" in out
    kept = json.loads((only_run_dir(workspace) / "result.json").read_text())
    assert kept["ansible_output"] == ["[ERROR]: the playbook is broken"]
    assert kept["hosts"] == {}


def test_runs_are_rotated_after_each_run(
    monkeypatch: pytest.MonkeyPatch, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeEngine([], rc=0, stats={"ok": {"web1": 1}})
    run_ids = []
    for _ in range(4):
        run_with(monkeypatch, fake, workspace, OutputFormat.JSON, keep_runs=2)
        run_ids.append(json.loads(capsys.readouterr().out)["result"]["run_id"])
    assert sorted(path.name for path in (workspace / "state" / "runs").iterdir()) == run_ids[-2:]


def test_bad_input_stops_before_any_run_dir_exists(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> None:
    fake = FakeEngine([], rc=0, stats=None)
    for kwargs in ({"extra_vars": ["oops"]}, {"keep_runs": 0}):
        with pytest.raises(OpsrunError):
            run_with(monkeypatch, fake, workspace, OutputFormat.JSON, **kwargs)
    monkeypatch.setattr(engine, "run_playbook", fake)
    with pytest.raises(OpsrunError) as caught:
        run_command.run(GlobalOptions(state_dir=workspace / "state"), playbook="no-such-playbook")
    assert "ping" in caught.value.hint  # the collection's playbooks are listed
    assert fake.requests == []
    assert not (workspace / "state").exists()
