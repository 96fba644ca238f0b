"""`opsrun run ROUTINE`: the steps of a routine of ops.yml, one playbook run each."""

import logging
import os
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsrun.collection import collection_dir, resolve_playbook
from opsrun.commands.run import (
    Execution,
    check_retention,
    execute,
    execution_result,
    outcome_message,
    print_summary,
    warn_not_stored,
)
from opsrun.design.load import load_design
from opsrun.design.schema import OpsDesign, Step
from opsrun.errors import ExitCode, OpsrunError
from opsrun.incidents import record_run_and_open_incidents
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.routines import (
    RoutineRecord,
    ScopeResolver,
    StepOutcome,
    change_gate,
    first_tier,
    notify_tier,
    scope_gate,
)
from opsrun.state import PRIVATE_DIR_MODE, write_private_json

COMMAND = "run"
ROUTINES_DIR_NAME = "routines"
STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "refused": "bold red", "skipped": "dim"}

log = logging.getLogger(__name__)


def _inventory_sources(ops_file: Path, entries: list[str]) -> list[str]:
    for entry in entries:
        if "," not in entry and not os.path.exists(entry):
            raise OpsrunError(
                f"{ops_file}: the inventory {entry} of scope.inventory does not exist",
                hint="fix scope.inventory (relative paths start at the directory of ops.yml); "
                "'opsrun check' lists every problem",
                exit_code=ExitCode.CONFIG,
            )
    return entries


def _print_steps(console: Console, record: RoutineRecord) -> None:
    table = Table(title=Text(f"routine {record.routine} · {record.routine_id}"), title_justify="left")
    for column in ("#", "step", "playbook", "hosts", "status", "run", "note"):
        table.add_column(column, overflow="fold")
    for step in record.steps:
        note = step.reason
        if step.forced:
            note = f"forced ({step.forced}): {step.reason}"
        if step.escalated_to:
            note = f"{note}; escalated to {step.escalated_to}".lstrip("; ")
        table.add_row(
            str(step.index),
            Text(step.title),
            Text(step.playbook),
            Text(step.limit or ""),
            Text(step.status, style=STATUS_STYLE[step.status]),
            Text(step.run_id or ""),
            Text(note),
        )
    console.print(table)


def _escalate(design: OpsDesign, record: RoutineRecord, step_title: str, why: str) -> str | None:
    """Notify the first tier that a step failed; returns the tier's name (None without tiers)."""
    tier = first_tier(design)
    if tier is None:
        return None
    title = f"opsrun: routine {record.routine}: step {step_title!r} failed"
    body = f"{why}\nroutine run {record.routine_id}, started {record.started.isoformat(timespec='seconds')}"
    for failure in notify_tier(design, tier, title, body):
        log.warning("could not notify %s of tier %s", failure, tier.name)
    return tier.name


@dataclass
class _RoutineRun:
    """The state of one routine run while its steps go by."""

    options: GlobalOptions
    design: OpsDesign
    base_dir: Path
    sources: list[str]
    resolver: ScopeResolver
    record: RoutineRecord
    console: Console
    check: bool
    diff: bool
    force: str | None
    keep_runs: int
    keep_days: float
    now: datetime | None
    executions: list[Execution] = field(default_factory=list)

    @property
    def human(self) -> bool:
        return self.options.output is not OutputFormat.JSON

    def step(self, index: int, total: int, step: Step, playbook_path: Path) -> StepOutcome:
        """Gate STEP and run it when both gates let it through."""
        scope, limit = scope_gate(self.design.scope, step, self.resolver.hosts)
        moment = self.now or datetime.now(UTC)
        gate = (
            scope
            if not scope.allowed
            else change_gate(self.design.calendar, step, moment, check=self.check, force=self.force)
        )
        if not gate.allowed:
            log.warning("routine %s step %d refused: %s", self.record.routine, index, gate.reason)
            if self.human:
                self.console.print(
                    Text(f"Step {index} {step.title!r} refused: {gate.reason}", style="bold red")
                )
            return StepOutcome(
                index, step.title, step.playbook, "refused", int(ExitCode.REFUSED), limit, reason=gate.reason
            )
        if self.human:
            self.console.rule(Text(f"Step {index}/{total}: {step.title} ({step.playbook}) on {limit}"))
        if gate.forced:
            log.warning(
                "routine %s step %d forced (%s): %s", self.record.routine, index, gate.forced, gate.reason
            )
            if self.human:
                self.console.print(Text(f"forced ({gate.forced}): {gate.reason}", style="bold yellow"))
        execution = execute(
            self.options,
            playbook=step.playbook,
            playbook_path=playbook_path,
            inventories=self.sources,
            limit=limit,
            variables=step.vars,
            check=self.check or step.check_mode,
            diff=self.diff,
            keep_runs=self.keep_runs,
            keep_days=self.keep_days,
            console=self.console,
            working_dir=self.base_dir,
        )
        self.executions.append(execution)
        if self.human:
            print_summary(self.console, execution)
        self.keep(execution, step)
        code = execution.record.exit_code
        return StepOutcome(
            index,
            step.title,
            step.playbook,
            "succeeded" if code == ExitCode.OK else "failed",
            code,
            limit,
            run_id=execution.record.run_id,
            reason=outcome_message(execution.record),
            forced=gate.forced,
        )

    def keep(self, execution: Execution, step: Step) -> None:
        """Store the step's run; its findings open incidents of the runbooks they match."""
        try:
            matched = record_run_and_open_incidents(
                self.options.state_dir,
                execution.record,
                self.design,
                routine=self.record.routine,
                step=step.title,
            )
        except (OpsrunError, sqlite3.Error) as error:
            warn_not_stored(Console(stderr=True), execution.record, error)
            return
        for found in matched:
            incident = found.incident
            entry = {
                "id": incident.id,
                "host": incident.host,
                "check": incident.check,
                "item": incident.item,
                "runbook": found.runbook.name,
                "new": found.new,
            }
            self.record.incidents.append(entry)
            if self.human:
                what = "opened" if found.new else "seen again"
                self.console.print(
                    Text(
                        f"Incident {incident.id} {what}: {incident.host} {incident.check} {incident.item} "
                        f"(runbook {found.runbook.name})",
                        style="bold yellow" if found.new else "",
                    ),
                    soft_wrap=True,
                )

    def report(self) -> None:
        record = self.record
        routines_dir = self.options.state_dir / ROUTINES_DIR_NAME
        routines_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        record_file = routines_dir / f"{record.routine_id}.json"
        write_private_json(record_file, record.to_dict())
        failed = [step for step in record.steps if step.status in ("failed", "refused")]
        if self.human:
            _print_steps(self.console, record)
            done = "succeeded" if not failed else f"failed with exit code {record.exit_code}"
            self.console.print(
                Text(f"Routine {record.routine} {done}; record: {record_file}"), soft_wrap=True
            )
            return
        message = "; ".join(
            f"step {step.index} {step.title!r} {step.status}: {step.reason}" for step in failed
        )
        result = record.to_dict() | {"runs": [execution_result(execution) for execution in self.executions]}
        print_envelope(
            envelope(
                COMMAND,
                record.exit_code,
                result,
                message=f"routine {record.routine}: {message}" if failed else "",
                hint="see each step's run in the result" if failed else "",
            )
        )


def run_routine(
    options: GlobalOptions,
    *,
    routine: str,
    ops_file: Path,
    check: bool = False,
    diff: bool = False,
    force: str | None = None,
    keep_runs: int,
    keep_days: float,
    console: Console | None = None,
    now: datetime | None = None,
) -> int:
    """Run every step of ROUTINE; returns 0, or the exit code of the first step that failed or was
    refused (77 for a refusal by the contract scope or the change calendar)."""
    check_retention(keep_runs, keep_days)
    if force is not None and not force.strip():
        raise OpsrunError("--force needs a reason", hint="say why the change cannot wait: --force 'INC-42 …'")
    loaded = load_design(ops_file)
    design = loaded.design
    if routine not in design.routines:
        known = ", ".join(sorted(design.routines)) or "none"
        raise OpsrunError(
            f"{ops_file}: there is no routine {routine!r}",
            hint=f"the routines of this design: {known}",
            exit_code=ExitCode.USAGE,
        )
    steps = design.routines[routine].steps
    sources = _inventory_sources(ops_file, design.scope.inventory_sources(loaded.base_dir))
    collection = collection_dir()
    playbooks = [resolve_playbook(step.playbook, collection, loaded.base_dir) for step in steps]
    started = now or datetime.now(UTC)
    state = _RoutineRun(
        options=options,
        design=design,
        base_dir=loaded.base_dir,
        sources=sources,
        resolver=ScopeResolver(sources),
        record=RoutineRecord(
            routine_id=f"{started.strftime('%Y%m%dT%H%M%S.%fZ')}-{routine}",
            routine=routine,
            ops_file=str(ops_file.absolute()),
            started=started,
            check=check,
        ),
        console=console or Console(),
        check=check,
        diff=diff,
        force=force,
        keep_runs=keep_runs,
        keep_days=keep_days,
        now=now,
    )
    record = state.record
    stopped = False
    for index, (step, playbook_path) in enumerate(zip(steps, playbooks, strict=True), 1):
        if stopped:
            record.steps.append(StepOutcome(index, step.title, step.playbook, "skipped", 0))
            continue
        outcome = state.step(index, len(steps), step, playbook_path)
        if outcome.status in ("failed", "refused"):
            record.exit_code = record.exit_code or outcome.exit_code
            stopped = step.on_failure == "stop" or outcome.exit_code == ExitCode.INTERRUPTED
            if step.on_failure == "escalate":
                outcome = replace(outcome, escalated_to=_escalate(design, record, step.title, outcome.reason))
        record.steps.append(outcome)
    record.finished = datetime.now(UTC)
    state.report()
    return record.exit_code
