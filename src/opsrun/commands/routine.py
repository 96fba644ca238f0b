"""`opsrun run ROUTINE` and `opsrun approve`: the steps of a routine of ops.yml, one playbook run each,
and the first response to the incidents their findings open."""

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsrun import leases
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
from opsrun.design.check import inventory_sources
from opsrun.design.load import LoadedDesign, load_design
from opsrun.design.problems import DesignError
from opsrun.design.schema import OpsDesign, Routine, Runbook, Step, Tier
from opsrun.errors import ExitCode, OpsrunError
from opsrun.incidents import (
    SYSTEM_ACTOR,
    Action,
    Incident,
    MatchedIncident,
    actor_tiers,
    get_incident,
    record_run_and_open_incidents,
    take_action,
)
from opsrun.notify import incident_notice, tell_tier
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.owner import current_owner
from opsrun.routines import (
    Gate,
    RoutineRecord,
    ScopeResolver,
    StepOutcome,
    change_gate,
    schedule_gate,
    scope_gate,
)
from opsrun.state import PRIVATE_DIR_MODE, write_private_json
from opsrun.store import Store, open_store, parse_time, time_text

COMMAND = "run"
APPROVE_COMMAND = "approve"
ROUTINES_DIR_NAME = "routines"
# How long a paused routine waits for its approval before it must be run again.
GATE_VALIDITY = timedelta(hours=72)
STATUS_STYLE = {
    "succeeded": "green",
    "failed": "bold red",
    "refused": "bold red",
    "busy": "bold red",
    "paused": "bold yellow",
    "skipped": "dim",
}
FAILED = ("failed", "refused", "busy")

log = logging.getLogger(__name__)


def _inventory_sources(loaded: LoadedDesign) -> list[str]:
    sources, problems = inventory_sources(loaded)
    if problems:
        raise DesignError(str(loaded.source), problems)
    return sources


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


def _save(store: Store, record: RoutineRecord, *, owner: str | None) -> None:
    """Keep the routine run in the store: its status and its whole record (steps, incidents)."""
    with store.write() as connection:
        connection.execute(
            """
            INSERT INTO routine_runs (
                id, routine, ops_file, started, finished, status, exit_code, check_mode, started_by,
                owner, record
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET finished = excluded.finished, status = excluded.status,
                exit_code = excluded.exit_code, owner = excluded.owner, record = excluded.record
            """,
            (
                record.routine_id,
                record.routine,
                record.ops_file,
                time_text(record.started),
                time_text(record.finished) if record.finished else None,
                record.status,
                record.exit_code,
                int(record.check),
                record.started_by,
                owner,
                json.dumps(record.to_dict(), sort_keys=True, default=str),
            ),
        )


@dataclass
class _RoutineRun:
    """The state of one routine run while its steps go by."""

    options: GlobalOptions
    loaded: LoadedDesign
    sources: list[str]
    resolver: ScopeResolver
    record: RoutineRecord
    console: Console
    diff: bool
    force: str | None
    keep_runs: int
    keep_days: float
    wait_seconds: float
    now: datetime | None
    executions: list[Execution] = field(default_factory=list)

    @property
    def design(self) -> OpsDesign:
        return self.loaded.design

    @property
    def human(self) -> bool:
        return self.options.output is not OutputFormat.JSON

    @property
    def check(self) -> bool:
        return self.record.check

    def moment(self) -> datetime:
        return self.now or datetime.now(UTC)

    def say(self, text: str, style: str = "") -> None:
        if self.human:
            self.console.print(Text(text, style=style), soft_wrap=True)

    @contextmanager
    def store(self) -> Iterator[Store]:
        with open_store(self.options.state_dir) as store:
            yield store

    def save(self, *, running: bool) -> None:
        try:
            with self.store() as store:
                _save(store, self.record, owner=current_owner() if running else None)
        except (OpsrunError, sqlite3.Error) as error:
            log.warning("routine run %s is not in the run store: %s", self.record.routine_id, error)

    def notify(self, tier: Tier, title: str, body: str, *, incident_id: int | None = None) -> None:
        try:
            with self.store() as store:
                tell_tier(
                    store,
                    self.design,
                    tier,
                    title,
                    body,
                    at=self.moment(),
                    incident_id=incident_id,
                    routine_run_id=self.record.routine_id,
                )
        except (OpsrunError, sqlite3.Error) as error:
            log.warning("the notifications of %s are not in the run store: %s", self.record.routine_id, error)

    def playbook_path(self, step: Step) -> Path:
        return resolve_playbook(step.playbook, collection_dir(), self.loaded.base_dir)

    def run_playbook(
        self,
        step: Step,
        *,
        index: int,
        title: str,
        limit: str | None,
        calendar: bool,
        variables: dict[str, Any] | None = None,
    ) -> tuple[StepOutcome, Execution | None]:
        """Gate one playbook run (scope, calendar, change lease) and run it."""
        scope, limit = scope_gate(
            self.design.scope, step.model_copy(update={"limit": limit or step.limit}), self.resolver.hosts
        )
        gate = scope
        if scope.allowed and calendar:
            gate = change_gate(self.design.calendar, step, self.moment(), check=self.check, force=self.force)
        if not gate.allowed:
            log.warning("routine %s: %s refused: %s", self.record.routine, title, gate.reason)
            self.say(f"{title} refused: {gate.reason}", "bold red")
            outcome = StepOutcome(
                index, title, step.playbook, "refused", int(ExitCode.REFUSED), limit, reason=gate.reason
            )
            return outcome, None
        if self.human:
            self.console.rule(Text(f"{title} ({step.playbook}) on {limit}"))
        if gate.forced:
            log.warning(
                "routine %s: %s forced (%s): %s", self.record.routine, title, gate.forced, gate.reason
            )
            self.say(f"forced ({gate.forced}): {gate.reason}", "bold yellow")
        changes = step.change and not (self.check or step.check_mode)
        lease_id = f"{self.record.routine_id}#{title}"
        try:
            with (
                self.store() as store,
                leases.leased(
                    store,
                    self.resolver.hosts(limit) if changes else set(),
                    lease_id,
                    wait_seconds=self.wait_seconds,
                ),
            ):
                execution = self.execute(step, title, limit, variables)
        except leases.LeaseBusy as busy:
            self.say(f"{title} not run: {busy.message}", "bold red")
            return StepOutcome(
                index, title, step.playbook, "busy", busy.exit_code, limit, reason=busy.message
            ), None
        code = execution.record.exit_code
        outcome = StepOutcome(
            index,
            title,
            step.playbook,
            "succeeded" if code == ExitCode.OK else "failed",
            code,
            limit,
            run_id=execution.record.run_id,
            reason=outcome_message(execution.record),
            forced=gate.forced,
        )
        return outcome, execution

    def execute(self, step: Step, title: str, limit: str, variables: dict[str, Any] | None) -> Execution:
        execution = execute(
            self.options,
            playbook=step.playbook,
            playbook_path=self.playbook_path(step),
            inventories=self.sources,
            limit=limit,
            variables={**step.vars, **(variables or {})},
            check=self.check or step.check_mode,
            diff=self.diff,
            keep_runs=self.keep_runs,
            keep_days=self.keep_days,
            console=self.console,
            working_dir=self.loaded.base_dir,
            routine=self.record.routine,
            step=title,
            routine_run_id=self.record.routine_id,
        )
        self.executions.append(execution)
        if self.human:
            print_summary(self.console, execution)
        return execution

    def keep(self, execution: Execution, title: str, *, incidents: bool = True) -> list[MatchedIncident]:
        """Store a run; with `incidents`, its findings open incidents of the runbooks they match (or
        clear them)."""
        try:
            return record_run_and_open_incidents(
                self.options.state_dir,
                execution.record,
                self.design if incidents else None,
                routine=self.record.routine,
                step=title,
                routine_run_id=self.record.routine_id,
                hosts_of=self.resolver.hosts,
            )
        except (OpsrunError, sqlite3.Error) as error:
            warn_not_stored(Console(stderr=True), execution.record, error)
            return []

    def step(self, index: int, step: Step) -> StepOutcome:
        total = len(self.record_steps())
        outcome, execution = self.run_playbook(
            step, index=index, title=f"Step {index}/{total}: {step.title}", limit=None, calendar=True
        )
        outcome = replace(outcome, title=step.title)
        if execution is None:
            return outcome
        for found in self.keep(execution, step.title):
            self.note_incident(found)
            if found.new and not self.check:
                self.respond(found, step)
        return outcome

    def record_steps(self) -> list[Step]:
        return self.design.routines[self.record.routine].steps

    def note_incident(self, found: MatchedIncident) -> None:
        incident = found.incident
        self.record.incidents.append(
            {
                "id": incident.id,
                "host": incident.host,
                "check": incident.check,
                "item": incident.item,
                "runbook": found.runbook.name,
                "new": found.new,
            }
        )
        what = "opened" if found.new else "seen again"
        self.say(
            f"Incident {incident.id} {what}: {incident.host} {incident.check} {incident.item} "
            f"(runbook {found.runbook.name})",
            "bold yellow" if found.new else "",
        )

    # The first response (一次対応) to a new incident: diagnose, respond, verify, then mitigated or escalated.

    def respond(self, found: MatchedIncident, finding_step: Step) -> None:
        incident, runbook = found.incident, found.runbook
        variables = {"opsrun_incident": _incident_vars(incident)}
        for phase, steps in (("diagnose", runbook.diagnose), ("first_response", runbook.first_response)):
            for number, step in enumerate(steps, 1):
                title = f"Incident {incident.id} {phase.replace('_', ' ')} {number}: {step.title}"
                outcome, execution = self.run_playbook(
                    step, index=number, title=title, limit=incident.host, calendar=False, variables=variables
                )
                if execution is not None:
                    self.keep(execution, title, incidents=False)
                self.note_response(incident, runbook, phase, outcome)
                if phase == "first_response" and outcome.status != "succeeded":
                    self.escalate(
                        incident, runbook, f"the first response {step.title!r} failed: {outcome.reason}"
                    )
                    return
        if not runbook.first_response:
            self.alert(incident, runbook)
            return
        if runbook.verify:
            title = f"Incident {incident.id} verify: {finding_step.title}"
            outcome, execution = self.run_playbook(
                finding_step, index=1, title=title, limit=incident.host, calendar=False
            )
            self.note_response(incident, runbook, "verify", outcome)
            if execution is not None:
                self.keep(execution, title)
            still = self.current(incident)
            if still.finding_status in runbook.match.status or execution is None:
                why = (
                    f"the check is still {still.finding_status} after the first response"
                    if execution is not None
                    else f"the check could not be run again: {outcome.reason}"
                )
                self.escalate(incident, runbook, why)
                return
        done = ", ".join(step.title for step in runbook.first_response)
        verified = "; the check passes again" if runbook.verify else ""
        self.system_action(
            incident, Action.MITIGATE, f"first response by runbook {runbook.name}: {done}{verified}"
        )
        self.say(f"Incident {incident.id} mitigated by its first response{verified}", "bold cyan")

    def note_response(self, incident: Incident, runbook: Runbook, phase: str, outcome: StepOutcome) -> None:
        self.record.responses.append(
            {
                "incident": incident.id,
                "runbook": runbook.name,
                "phase": phase,
                "step": outcome.title,
                "status": outcome.status,
                "run_id": outcome.run_id,
                "reason": outcome.reason,
            }
        )

    def current(self, incident: Incident) -> Incident:
        with self.store() as store:
            return get_incident(store, incident.id)

    def system_action(self, incident: Incident, action: Action, note: str) -> Incident:
        with self.store() as store:
            return take_action(
                store, self.design, incident.id, action, actor=SYSTEM_ACTOR, now=self.moment(), note=note
            )

    def escalate(self, incident: Incident, runbook: Runbook, why: str) -> None:
        """Hand the incident to the next tier and tell that tier's contacts."""
        try:
            after = self.system_action(incident, Action.ESCALATE, why)
        except OpsrunError as error:  # already at the last tier: tell that tier again
            log.warning("incident %d: %s", incident.id, error.message)
            after = self.current(incident)
        self.say(f"Incident {incident.id} escalated to {after.tier}: {why}", "bold red")
        tier = self.design.tier(after.tier) if after.tier else None
        if tier is not None:
            self.notify(
                tier, *incident_notice(after, f"escalated to {tier.name}", why), incident_id=incident.id
            )

    def alert(self, incident: Incident, runbook: Runbook) -> None:
        """A runbook without a first response: tell the incident's tier that it is open."""
        tier = self.design.tier(incident.tier) if incident.tier else None
        if tier is not None:
            why = f"runbook {runbook.name} has no first response"
            self.notify(
                tier,
                *incident_notice(incident, f"is {incident.finding_status}", why),
                incident_id=incident.id,
            )

    def report(self) -> None:
        record = self.record
        routines_dir = self.options.state_dir / ROUTINES_DIR_NAME
        routines_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        record_file = routines_dir / f"{record.routine_id}.json"
        write_private_json(record_file, record.to_dict())
        failed = [step for step in record.steps if step.status in FAILED]
        paused = next((step for step in record.steps if step.status == "paused"), None)
        if self.human:
            if record.steps:
                _print_steps(self.console, record)
            if record.status == "skipped":
                done = f"skipped: {record.skipped}"
            elif paused is not None:
                done = f"paused before step {paused.index}: {paused.reason}"
            else:
                done = "succeeded" if not failed else f"failed with exit code {record.exit_code}"
            self.console.print(
                Text(f"Routine {record.routine} {done}; record: {record_file}"), soft_wrap=True
            )
            return
        message = "; ".join(
            f"step {step.index} {step.title!r} {step.status}: {step.reason}" for step in failed
        )
        if paused is not None:
            message = f"paused before step {paused.index} {paused.title!r}: {paused.reason}"
        result = record.to_dict() | {"runs": [execution_result(execution) for execution in self.executions]}
        print_envelope(
            envelope(
                COMMAND,
                record.exit_code,
                result,
                message=f"routine {record.routine}: {message}" if message else "",
                hint="see each step's run in the result" if failed else "",
            )
        )

    # The steps, from `first` on; a paused run resumes here after its approval.

    def run_steps(self, first: int, approved: int | None = None) -> None:
        record = self.record
        stopped = False
        for index, step in enumerate(self.record_steps(), 1):
            if index < first:
                continue
            if stopped:
                record.steps.append(StepOutcome(index, step.title, step.playbook, "skipped", 0))
                continue
            if step.approval and not self.check and index != approved:
                record.steps.append(self.pause(index, step))
                record.exit_code = int(ExitCode.BUSY)
                record.status = "paused"
                return
            outcome = self.step(index, step)
            if outcome.status in FAILED:
                record.exit_code = record.exit_code or outcome.exit_code
                stopped = step.on_failure == "stop" or outcome.exit_code == ExitCode.INTERRUPTED
                if step.on_failure == "escalate":
                    outcome = replace(outcome, escalated_to=self.escalate_step(step.title, outcome.reason))
            record.steps.append(outcome)
            self.save(running=True)
        record.status = "failed" if record.exit_code else "succeeded"

    def escalate_step(self, title: str, why: str) -> str | None:
        """Tell the first tier that a step failed; returns the tier's name (None without tiers)."""
        tier = self.design.first_tier
        if tier is None:
            return None
        record = self.record
        subject = f"opsrun: routine {record.routine}: step {title!r} failed"
        body = (
            f"{why}\nroutine run {record.routine_id}, started {record.started.isoformat(timespec='seconds')}"
        )
        self.notify(tier, subject, body)
        return tier.name

    def pause(self, index: int, step: Step) -> StepOutcome:
        """Stop before a step that needs approval: the gate waits in the store, its approvers are told."""
        tiers = self.design.approving_tiers(self.record.routine, step)
        now = self.moment()
        with self.store() as store, store.write() as connection:
            connection.execute(
                """
                INSERT INTO gates (routine_run_id, step_index, step, requested, requested_by, expires, state)
                VALUES (?, ?, ?, ?, ?, ?, 'pending')
                """,
                (
                    self.record.routine_id,
                    index,
                    step.title,
                    time_text(now),
                    self.record.started_by,
                    time_text(now + GATE_VALIDITY),
                ),
            )
        who = ", ".join(f"{tier.name} ({', '.join(tier.contacts)})" for tier in tiers)
        reason = f"waiting for approval by {who}"
        command = f"opsrun approve {self.record.routine_id} --as CONTACT"
        self.say(
            f"Step {index} {step.title!r} needs approval: {reason}; approve with: {command}", "bold yellow"
        )
        for tier in tiers:
            self.notify(
                tier,
                f"opsrun: routine {self.record.routine} waits for approval of step {step.title!r}",
                f"{reason}\n{command} (valid until {(now + GATE_VALIDITY).isoformat(timespec='minutes')})",
            )
        return StepOutcome(
            index, step.title, step.playbook, "paused", int(ExitCode.BUSY), step.limit, reason=reason
        )


def _incident_vars(incident: Incident) -> dict[str, Any]:
    """What a diagnose or first-response playbook is told about its incident (opsrun_incident)."""
    shown = ("id", "host", "check", "item", "finding_status", "message", "runbook", "opened")
    return {key: value for key, value in incident.to_dict().items() if key in shown}


def _load(ops_file: Path, routine: str) -> tuple[LoadedDesign, Routine]:
    loaded = load_design(ops_file)
    if routine not in loaded.design.routines:
        known = ", ".join(sorted(loaded.design.routines)) or "none"
        raise OpsrunError(
            f"{ops_file}: there is no routine {routine!r}",
            hint=f"the routines of this design: {known}",
            exit_code=ExitCode.USAGE,
        )
    return loaded, loaded.design.routines[routine]


def _check_actor(design: OpsDesign, actor: str | None) -> str:
    if actor is None:
        return SYSTEM_ACTOR
    if actor not in design.contacts:
        contacts = ", ".join(design.contacts) or "none defined"
        raise OpsrunError(
            f"{actor!r} is not a contact of the operations design",
            hint=f"name yourself with --as CONTACT, one of: {contacts}",
            exit_code=ExitCode.USAGE,
        )
    return actor


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
    scheduled: bool = False,
    actor: str | None = None,
    wait_seconds: float = 0.0,
    console: Console | None = None,
    now: datetime | None = None,
) -> int:
    """Run every step of ROUTINE; returns 0, or the exit code of the first step that failed or was
    refused (77 for a refusal by the contract scope or the change calendar, 75 when another run
    holds the hosts or the routine waits for an approval)."""
    check_retention(keep_runs, keep_days)
    if force is not None and not force.strip():
        raise OpsrunError("--force needs a reason", hint="say why the change cannot wait: --force 'INC-42 …'")
    loaded, definition = _load(ops_file, routine)
    started_by = _check_actor(loaded.design, actor)
    sources = _inventory_sources(loaded)
    collection = collection_dir()
    for step in definition.steps:  # a playbook that is not there stops the routine before its first step
        resolve_playbook(step.playbook, collection, loaded.base_dir)
    started = now or datetime.now(UTC)
    state = _RoutineRun(
        options=options,
        loaded=loaded,
        sources=sources,
        resolver=ScopeResolver(sources),
        record=RoutineRecord(
            routine_id=f"{started.strftime('%Y%m%dT%H%M%S.%fZ')}-{routine}",
            routine=routine,
            ops_file=str(ops_file.absolute()),
            started=started,
            check=check,
            started_by=started_by,
        ),
        console=console or Console(),
        diff=diff,
        force=force,
        keep_runs=keep_runs,
        keep_days=keep_days,
        wait_seconds=wait_seconds,
        now=now,
    )
    record = state.record
    gate = (
        schedule_gate(loaded.design.calendar, definition, started) if scheduled and not force else Gate(True)
    )
    if not gate.allowed:
        log.info("scheduled run of routine %s skipped: %s", routine, gate.reason)
        record.status, record.skipped = "skipped", gate.reason
    else:
        state.save(running=True)
        state.run_steps(1)
    record.finished = datetime.now(UTC)
    state.save(running=False)
    state.report()
    return record.exit_code


@dataclass(frozen=True)
class _Gate:
    id: int
    step_index: int
    step: str
    requested_by: str
    expires: datetime


def _pending_gate(store: Store, routine_run_id: str) -> tuple[RoutineRecord, _Gate]:
    with store.read() as connection:
        row = connection.execute("SELECT * FROM routine_runs WHERE id = ?", (routine_run_id,)).fetchone()
        gate = connection.execute(
            "SELECT * FROM gates WHERE routine_run_id = ? AND state = 'pending'", (routine_run_id,)
        ).fetchone()
    if row is None:
        raise OpsrunError(
            f"there is no routine run {routine_run_id}",
            hint="the paused runs are listed by 'opsrun history --status paused'",
            exit_code=ExitCode.USAGE,
        )
    if row["status"] != "paused" or gate is None:
        raise OpsrunError(
            f"the routine run {routine_run_id} is {row['status']}, not waiting for an approval",
            hint=f"see it with 'opsrun show {routine_run_id}'",
            exit_code=ExitCode.USAGE,
        )
    record = RoutineRecord.from_dict(json.loads(row["record"]))
    return record, _Gate(
        gate["id"], gate["step_index"], gate["step"], gate["requested_by"], parse_time(gate["expires"])
    )


def _claim_gate(
    store: Store, gate: _Gate, routine_run_id: str, *, actor: str, tier: Tier, now: datetime
) -> None:
    """Approve the gate and take the paused run over, both or neither: one approval resumes it once."""
    with store.write() as connection:
        claimed = connection.execute(
            "UPDATE routine_runs SET status = 'running', owner = ? WHERE id = ? AND status = 'paused'",
            (current_owner(), routine_run_id),
        ).rowcount
        if claimed != 1:
            raise OpsrunError(
                f"the routine run {routine_run_id} was resumed by someone else meanwhile",
                hint=f"see it with 'opsrun show {routine_run_id}'",
                exit_code=ExitCode.USAGE,
            )
        connection.execute(
            """
            UPDATE gates SET state = 'approved', approved_by = ?, approver_tier = ?, approved_at = ?
            WHERE id = ?
            """,
            (actor, tier.name, time_text(now), gate.id),
        )


def approve_run(
    options: GlobalOptions,
    *,
    routine_run_id: str,
    actor: str,
    keep_runs: int,
    keep_days: float,
    wait_seconds: float = 0.0,
    console: Console | None = None,
    now: datetime | None = None,
) -> int:
    """Approve the step a routine run paused before and run the rest of the routine."""
    check_retention(keep_runs, keep_days)
    moment = now or datetime.now(UTC)
    with open_store(options.state_dir) as store:
        record, gate = _pending_gate(store, routine_run_id)
    loaded, definition = _load(Path(record.ops_file), record.routine)
    design = loaded.design
    steps = definition.steps
    if len(steps) < gate.step_index or steps[gate.step_index - 1].title != gate.step:
        raise OpsrunError(
            f"the routine {record.routine} of {record.ops_file} changed since run {routine_run_id} paused: "
            f"its step {gate.step_index} is no longer {gate.step!r}",
            hint=f"run the routine again: opsrun run {record.routine}",
            exit_code=ExitCode.USAGE,
        )
    step = steps[gate.step_index - 1]
    _check_actor(design, actor)
    if actor == gate.requested_by:
        raise OpsrunError(
            f"{actor} started routine run {routine_run_id} and so cannot approve it",
            hint="someone else of a tier that may approve it must approve",
            exit_code=ExitCode.USAGE,
        )
    allowed = design.approving_tiers(record.routine, step)
    tier = next((tier for tier in actor_tiers(design, actor) if tier in allowed), None)
    if tier is None:
        who = ", ".join(f"{tier.name} ({', '.join(tier.contacts)})" for tier in allowed) or "no tier"
        raise OpsrunError(
            f"{actor} may not approve step {gate.step!r} of routine {record.routine}",
            hint=f"ask a contact of {who}",
            exit_code=ExitCode.USAGE,
        )
    if gate.expires <= moment:
        raise OpsrunError(
            f"the approval request of routine run {routine_run_id} expired at "
            f"{gate.expires.isoformat(timespec='seconds')}",
            hint=f"run the routine again: opsrun run {record.routine}",
            exit_code=ExitCode.USAGE,
        )
    sources = _inventory_sources(loaded)
    with open_store(options.state_dir) as store:
        _claim_gate(store, gate, routine_run_id, actor=actor, tier=tier, now=moment)
    log.info("routine run %s: step %d approved by %s (%s)", routine_run_id, gate.step_index, actor, tier.name)
    record.steps = [outcome for outcome in record.steps if outcome.index < gate.step_index]
    record.exit_code, record.status, record.finished = 0, "running", None
    state = _RoutineRun(
        options=options,
        loaded=loaded,
        sources=sources,
        resolver=ScopeResolver(sources),
        record=record,
        console=console or Console(),
        diff=False,
        force=None,
        keep_runs=keep_runs,
        keep_days=keep_days,
        wait_seconds=wait_seconds,
        now=now,
    )
    state.say(
        f"Step {gate.step_index} {gate.step!r} approved by {actor} ({tier.name}); resuming", "bold green"
    )
    earlier = [outcome.exit_code for outcome in record.steps if outcome.status in FAILED]
    state.run_steps(gate.step_index, approved=gate.step_index)
    record.exit_code = (earlier[0] if earlier else 0) or record.exit_code
    if record.status != "paused":
        record.status = "failed" if record.exit_code else "succeeded"
    record.finished = datetime.now(UTC)
    state.save(running=False)
    state.report()
    return record.exit_code
