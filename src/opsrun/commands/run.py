"""`opsrun run`: run one playbook of the collection (or a playbook file) and report per host."""

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsrun import engine
from opsrun.collection import collection_dir, default_inventory, resolve_playbook
from opsrun.errors import ExitCode, OpsrunError
from opsrun.extravars import parse_extra_vars
from opsrun.findings import findings_summary, findings_table
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.progress import LineDisplay, LiveDisplay, ProgressDisplay, RunTracker, SilentDisplay
from opsrun.results import RunRecord, exit_code_for, host_stats
from opsrun.state import RUNS_DIR_NAME, create_run_dir, rotate_runs, write_private_json
from opsrun.store import begin_run, open_store, record_run

COMMAND = "run"
DEFAULT_KEEP_RUNS = 50
DEFAULT_KEEP_DAYS = 30.0

log = logging.getLogger(__name__)


def _progress_display(options: GlobalOptions, tracker: RunTracker, console: Console) -> ProgressDisplay:
    if options.output is OutputFormat.JSON:
        return SilentDisplay()
    if console.is_terminal:
        return LiveDisplay(tracker, console)
    return LineDisplay(tracker, console)


def outcome_message(record: RunRecord) -> str:
    """One sentence on why a run did not succeed (empty when it did)."""
    if record.exit_code == ExitCode.OK:
        return ""
    if record.exit_code == ExitCode.INTERRUPTED:
        return f"the run of {record.playbook} was interrupted"
    failed = sorted({failure.host for failure in record.failures if not failure.unreachable})
    unreachable = sorted({failure.host for failure in record.failures if failure.unreachable})
    parts = []
    if failed:
        parts.append(f"failed on {len(failed)} host(s): {', '.join(failed)}")
    if unreachable:
        parts.append(f"could not reach {len(unreachable)} host(s): {', '.join(unreachable)}")
    if parts:
        return f"{record.playbook} {' and '.join(parts)}"
    stage = "" if record.hosts else " before any host reported"
    return f"ansible-playbook exited with return code {record.rc}{stage} for {record.playbook}"


def _print_summary(console: Console, record: RunRecord, artifact_dir: Path) -> None:
    if record.hosts:
        table = Table(title=Text(f"{record.playbook} · run {record.run_id}"), title_justify="left")
        table.add_column("host")
        for column in ("ok", "changed", "failed", "unreachable", "skipped"):
            table.add_column(column, justify="right")
        for host, counts in record.hosts.items():
            table.add_row(
                Text(host),
                str(counts.ok),
                Text(str(counts.changed), style="yellow" if counts.changed else ""),
                Text(str(counts.failed), style="bold red" if counts.failed else ""),
                Text(str(counts.unreachable), style="bold red" if counts.unreachable else ""),
                str(counts.skipped),
            )
        console.print(table)
    for failure in record.failures:
        kind = "unreachable" if failure.unreachable else "failed"
        failure_line = Text(f"{failure.host} {kind} at task {failure.task!r}: {failure.message}")
        failure_line.stylize("bold red", 0, len(failure.host))
        console.print(failure_line, soft_wrap=True)
    for output_line in record.ansible_output:
        console.print(Text(f"  {output_line}", style="dim"), soft_wrap=True)
    findings = findings_table(record.published)
    if findings is not None:
        console.print(findings)
    summary = findings_summary(record.published)
    if summary is not None:
        console.print(Text(summary), soft_wrap=True)
    if record.exit_code == ExitCode.OK:
        outcome = "succeeded"
    else:
        outcome = f"failed with exit code {record.exit_code}: {outcome_message(record)}"
    console.print(
        Text(f"Run {record.run_id} {outcome} ({record.duration_seconds:.1f}s); artifacts: {artifact_dir}"),
        soft_wrap=True,
    )


@dataclass(frozen=True)
class Execution:
    """One playbook run, finished and recorded in its run directory."""

    record: RunRecord
    run_dir: Path
    artifact_dir: Path


def check_retention(keep_runs: int, keep_days: float) -> None:
    if keep_runs < 1 or keep_days <= 0:
        raise OpsrunError(
            f"cannot keep {keep_runs} runs for {keep_days} days",
            hint="keep at least 1 run (--keep-runs) for more than 0 days (--keep-days)",
        )


def execute(
    options: GlobalOptions,
    *,
    playbook: str,
    playbook_path: Path,
    inventories: list[str],
    limit: str | None,
    variables: Mapping[str, Any],
    check: bool,
    diff: bool,
    keep_runs: int,
    keep_days: float,
    console: Console,
    working_dir: Path,
    routine: str | None = None,
    step: str | None = None,
    routine_run_id: str | None = None,
) -> Execution:
    """Run one playbook with live progress and record it as runs/<id>/result.json.

    The run is in the run store as running while the playbook runs, so that a run whose process
    is killed is found interrupted later; the caller stores the finished run.
    """
    started = datetime.now(UTC)
    run_dir = create_run_dir(options.state_dir, started)
    log.info("run %s: playbook %s, inventory %s, limit %s", run_dir.run_id, playbook_path, inventories, limit)
    try:
        with open_store(options.state_dir) as store:
            begin_run(
                store,
                run_id=run_dir.run_id,
                playbook=playbook,
                started=started,
                check=check,
                routine=routine,
                step=step,
                routine_run_id=routine_run_id,
            )
    except (OpsrunError, sqlite3.Error) as error:
        log.warning("run %s is not in the run store while it runs: %s", run_dir.run_id, error)
    tracker = RunTracker()
    display = _progress_display(options, tracker, console)

    def on_event(event: Mapping[str, Any]) -> None:
        display.update(event, tracker.handle(event))

    request = engine.PlaybookRequest(
        run_dir=run_dir.path,
        ident=run_dir.run_id,
        playbook=playbook_path,
        inventory=inventories,
        limit=limit,
        extra_vars=variables,
        check=check,
        diff=diff,
        working_dir=working_dir,
        state_dir=options.state_dir,
    )
    try:
        with display:
            outcome = engine.run_playbook(request, on_event)
        finished = datetime.now(UTC)
    finally:
        removed = rotate_runs(
            run_dir.path.parent,
            keep=keep_runs,
            max_age_days=keep_days,
            current=run_dir.run_id,
            now=started,
        )
        if removed:
            log.info("removed %d old run(s) from %s", len(removed), options.state_dir / RUNS_DIR_NAME)

    hosts = host_stats(outcome.stats)
    record = RunRecord(
        run_id=run_dir.run_id,
        playbook=playbook,
        playbook_path=str(playbook_path),
        inventory=inventories,
        limit=limit,
        check=check,
        diff=diff,
        started=started,
        finished=finished,
        rc=outcome.rc,
        status=outcome.status,
        exit_code=exit_code_for(outcome.rc, outcome.status, hosts),
        hosts=hosts,
        failures=tracker.failures,
        ansible_output=list(tracker.ansible_output) if outcome.rc != 0 and not hosts else [],
        published=tracker.published,
    )
    write_private_json(run_dir.result_file, record.to_dict())
    log.info("run %s finished: %s, exit code %d", record.run_id, record.status, record.exit_code)
    return Execution(record=record, run_dir=run_dir.path, artifact_dir=outcome.artifact_dir)


def warn_not_stored(console: Console, record: RunRecord, error: Exception) -> None:
    """A run that happened stays a success or failure of its own; the store's trouble is told apart."""
    log.warning("run %s is not in the run store: %s", record.run_id, error)
    console.print(
        Text(
            f"opsrun: run {record.run_id} is kept in its result.json but not in the run store: {error}",
            style="yellow",
        ),
        soft_wrap=True,
    )


def store_run(options: GlobalOptions, console: Console, record: RunRecord) -> None:
    """Keep the run and its findings in the state directory's run store (opsrun.db)."""
    try:
        with open_store(options.state_dir) as store:
            record_run(store, record)
    except (OpsrunError, sqlite3.Error) as error:
        warn_not_stored(console, record, error)


def execution_result(execution: Execution) -> dict[str, Any]:
    """What --output json gives for one playbook run."""
    return execution.record.to_dict() | {
        "run_dir": str(execution.run_dir),
        "artifacts_dir": str(execution.artifact_dir),
    }


def print_summary(console: Console, execution: Execution) -> None:
    _print_summary(console, execution.record, execution.artifact_dir)


def run(
    options: GlobalOptions,
    *,
    playbook: str,
    inventory: Sequence[str] = (),
    limit: str | None = None,
    extra_vars: Sequence[str] = (),
    check: bool = False,
    diff: bool = False,
    keep_runs: int = DEFAULT_KEEP_RUNS,
    keep_days: float = DEFAULT_KEEP_DAYS,
    console: Console | None = None,
) -> int:
    """Run `playbook` and report per host; returns the exit code (ansible-playbook's on failure)."""
    check_retention(keep_runs, keep_days)
    console = console or Console()
    cwd = Path.cwd()
    collection = collection_dir()
    playbook_path = resolve_playbook(playbook, collection, cwd)
    inventories = list(inventory) or [str(default_inventory(collection))]
    variables = parse_extra_vars(extra_vars, cwd)
    execution = execute(
        options,
        playbook=playbook,
        playbook_path=playbook_path,
        inventories=inventories,
        limit=limit,
        variables=variables,
        check=check,
        diff=diff,
        keep_runs=keep_runs,
        keep_days=keep_days,
        console=console,
        working_dir=cwd,
    )
    record = execution.record
    store_run(options, Console(stderr=True), record)
    if options.output is OutputFormat.JSON:
        hint = f"see the failures in the result and ansible's output in {execution.artifact_dir / 'stdout'}"
        print_envelope(
            envelope(
                COMMAND,
                record.exit_code,
                execution_result(execution),
                message=outcome_message(record),
                hint=hint,
            )
        )
    else:
        print_summary(console, execution)
    return record.exit_code
