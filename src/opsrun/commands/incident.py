"""`opsrun incident`: list incidents, show one with its timeline, and move them through their states."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsrun.design.load import load_design
from opsrun.design.schema import OpsDesign, Tier
from opsrun.incidents import (
    DEFAULT_APPROVAL_HOURS,
    SYSTEM_ACTOR,
    Action,
    Approval,
    Event,
    Incident,
    State,
    escalation_due,
    list_incidents,
    take_action,
    timeline,
)
from opsrun.notify import incident_notice, tell_tier
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.store import Store, open_store

COMMAND = "incident"

STATE_STYLE = {
    State.OPEN: "bold red",
    State.ACKNOWLEDGED: "yellow",
    State.MITIGATED: "cyan",
    State.FIX_PROPOSED: "magenta",
    State.APPROVED: "blue",
    State.RESOLVED: "green",
}

log = logging.getLogger(__name__)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _subject(incident: Incident) -> str:
    item = f" {incident.item}" if incident.item else ""
    return f"{incident.host} {incident.check}{item}"


def incidents_table(incidents: list[Incident]) -> Table:
    table = Table(title="Incidents", title_justify="left")
    for column in (
        "id",
        "state",
        "tier",
        "host",
        "check",
        "item",
        "status",
        "runbook",
        "opened",
        "last seen",
    ):
        table.add_column(column, justify="right" if column == "id" else "left", overflow="fold")
    for incident in incidents:
        seen = _when(incident.last_seen) + (
            f" ({incident.seen_count} times)" if incident.seen_count > 1 else ""
        )
        table.add_row(
            str(incident.id),
            Text(incident.state.value, style=STATE_STYLE[incident.state]),
            Text(incident.tier or ""),
            Text(incident.host),
            Text(incident.check),
            Text(incident.item),
            Text(incident.finding_status),
            Text(incident.runbook or ""),
            _when(incident.opened),
            seen,
        )
    return table


def timeline_table(events: list[Event]) -> Table:
    table = Table(title="Timeline (UTC)", title_justify="left")
    for column in ("at", "actor", "what", "state", "tier", "note"):
        table.add_column(column, overflow="fold")
    for event in events:
        change = (
            event.to_state.value
            if event.from_state in (None, event.to_state)
            else f"{event.from_state.value} → {event.to_state.value}"
        )
        table.add_row(
            _when(event.at),
            Text(event.actor),
            Text(event.kind),
            Text(change, style=STATE_STYLE[event.to_state]),
            Text(event.tier or ""),
            Text(event.note),
        )
    return table


def list_command(
    options: GlobalOptions,
    *,
    include_resolved: bool = False,
    state: State | None = None,
    console: Console | None = None,
) -> int:
    """Print the incidents that are not resolved (all with `include_resolved`, or those in `state`)."""
    with open_store(options.state_dir) as store:
        incidents = list_incidents(store, include_resolved=include_resolved, state=state)
    if options.output is OutputFormat.JSON:
        result = {"action": "list", "incidents": [incident.to_dict() for incident in incidents]}
        print_envelope(envelope(COMMAND, 0, result))
        return 0
    console = console or Console()
    if incidents:
        console.print(incidents_table(incidents))
    else:
        which = f"in state {state.value}" if state is not None else ("at all" if include_resolved else "open")
        console.print(Text(f"No incidents {which}."))
    return 0


def _approval_line(approval: Approval) -> str:
    return (
        f"Approved by {approval.approved_by} ({approval.approver_tier}) at {_when(approval.approved_at)}, "
        f"valid until {_when(approval.expires_at)}; proposed by {approval.proposed_by}"
    )


def show(options: GlobalOptions, *, incident_id: int, console: Console | None = None) -> int:
    """Print an incident, its timeline and its approvals."""
    with open_store(options.state_dir) as store:
        incident, events, approvals = timeline(store, incident_id)
    if options.output is OutputFormat.JSON:
        result = {
            "action": "show",
            "incident": incident.to_dict(),
            "timeline": [event.to_dict() for event in events],
            "approvals": [approval.to_dict() for approval in approvals],
        }
        print_envelope(envelope(COMMAND, 0, result))
        return 0
    console = console or Console()
    heading = Text(f"Incident {incident.id}: {_subject(incident)} ")
    heading.append(incident.state.value, style=STATE_STYLE[incident.state])
    console.print(heading, soft_wrap=True)
    details = [
        f"  finding: {incident.finding_status}" + (f": {incident.message}" if incident.message else ""),
        f"  runbook: {incident.runbook or 'none'}; tier: {incident.tier or 'none'} "
        f"since {_when(incident.tier_since)}",
        f"  opened {_when(incident.opened)}"
        + (f" by run {incident.run_id}" if incident.run_id else "")
        + f"; seen {incident.seen_count} time(s), last {_when(incident.last_seen)}",
    ]
    for line in details:
        console.print(Text(line), soft_wrap=True)
    console.print(timeline_table(events))
    for approval in approvals:
        console.print(Text(_approval_line(approval)), soft_wrap=True)
    return 0


def act(
    options: GlobalOptions,
    *,
    action: Action,
    incident_id: int,
    actor: str,
    ops_file: Path,
    note: str = "",
    approval_hours: float = DEFAULT_APPROVAL_HOURS,
    now: datetime | None = None,
    console: Console | None = None,
) -> int:
    """Take `action` on an incident as `actor`, with the tiers and approval rules of `ops_file`."""
    design = load_design(ops_file).design
    moment = now or datetime.now(UTC)
    with open_store(options.state_dir) as store:
        incident = take_action(
            store,
            design,
            incident_id,
            action,
            actor=actor,
            now=moment,
            note=note,
            approval_validity=timedelta(hours=approval_hours),
        )
        tier = design.tier(incident.tier) if incident.tier else None
        if action is Action.ESCALATE and tier is not None:
            _tell(
                store,
                design,
                tier,
                incident,
                what=f"escalated to {tier.name} by {actor}",
                why=note,
                now=moment,
            )
    log.info("incident %d: %s by %s, now %s", incident.id, action.value, actor, incident.state.value)
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(COMMAND, 0, {"action": action.value, "incident": incident.to_dict()}))
        return 0
    console = console or Console()
    line = Text(f"Incident {incident.id} ({_subject(incident)}): {action.value} by {actor}; now ")
    line.append(incident.state.value, style=STATE_STYLE[incident.state])
    line.append(f", tier {incident.tier or 'none'}")
    console.print(line, soft_wrap=True)
    return 0


def _tell(
    store: Store, design: OpsDesign, tier: Tier, incident: Incident, *, what: str, why: str, now: datetime
) -> None:
    title, body = incident_notice(incident, what, why)
    for delivery in tell_tier(store, design, tier, title, body, at=now, incident_id=incident.id):
        if not delivery.delivered:
            log.warning("incident %d: could not notify %s", incident.id, delivery)


def escalate_due(
    options: GlobalOptions, *, ops_file: Path, now: datetime | None = None, console: Console | None = None
) -> int:
    """Escalate every open incident whose tier's ack deadline passed, and notify the next tier."""
    design = load_design(ops_file).design
    moment = now or datetime.now(UTC)
    escalated = []
    with open_store(options.state_dir) as store:
        for due in escalation_due(store, design, moment):
            why = (
                f"{due.tier.name} did not acknowledge it within {due.tier.ack_minutes} minutes "
                f"(due {due.due.isoformat(timespec='minutes')})"
            )
            incident = take_action(
                store, design, due.incident.id, Action.ESCALATE, actor=SYSTEM_ACTOR, now=moment, note=why
            )
            _tell(
                store,
                design,
                due.next_tier,
                incident,
                what=f"escalated to {due.next_tier.name}",
                why=why,
                now=moment,
            )
            log.info("incident %d escalated to %s: %s", incident.id, due.next_tier.name, why)
            escalated.append(incident)
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(COMMAND, 0, {"escalated": [incident.to_dict() for incident in escalated]}))
        return 0
    console = console or Console()
    for incident in escalated:
        console.print(
            Text(f"Incident {incident.id} ({_subject(incident)}) escalated to {incident.tier}"),
            soft_wrap=True,
        )
    if not escalated:
        console.print("No incident is past its acknowledge deadline.")
    return 0
