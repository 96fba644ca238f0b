"""Incidents: opened from health findings, worked through their states, escalated, approved, resolved.

States: open → acknowledged → mitigated (暫定対処) → fix_proposed (恒久対処) → approved → resolved.
Every change is an event on the incident's timeline (who, when in UTC, what, a note).

Who someone is: an actor is a contact of ops.yml; the tiers they belong to are the escalation tiers
that list that contact. The permanent fix must be approved by a contact of a tier whose
`may_approve` holds `permanent_fix`, who is not the one who proposed it, and an approval is good
for a limited time (72 hours unless told otherwise). opsrun itself acts as `opsrun` for what it
does on its own: opening incidents, the automatic first response (mitigate) and escalation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsrun.errors import ExitCode, OpsrunError
from opsrun.findings import FINDINGS_KEY
from opsrun.results import RunRecord
from opsrun.store import (
    Store,
    StoredFinding,
    open_store,
    parse_time,
    record_run,
    stored_finding,
    time_text,
)

# Only for types: the schema's libraries are loaded by the caller that loads ops.yml.
if TYPE_CHECKING:
    from opsrun.design.schema import OpsDesign, Runbook, Tier

SYSTEM_ACTOR = "opsrun"
PERMANENT_FIX = "permanent_fix"
DEFAULT_APPROVAL_HOURS = 72.0
DEFAULT_APPROVAL_VALIDITY = timedelta(hours=DEFAULT_APPROVAL_HOURS)


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    FIX_PROPOSED = "fix_proposed"
    APPROVED = "approved"
    RESOLVED = "resolved"


class Action(StrEnum):
    ACK = "ack"
    ESCALATE = "escalate"
    MITIGATE = "mitigate"
    PROPOSE_FIX = "propose-fix"
    APPROVE = "approve"
    RESOLVE = "resolve"


# Timeline entries that are not actions of a person.
OPENED = "opened"
SEEN_AGAIN = "seen_again"
# The finding came back ok; the incident stays until someone (or the first response) closes it.
CLEARED = "cleared"

# The allowed edges: for each action, the state it leaves from and the state it leads to.
# Escalation hands the incident to the next tier; one not yet mitigated waits for that tier's ack.
TRANSITIONS: dict[Action, dict[State, State]] = {
    Action.ACK: {State.OPEN: State.ACKNOWLEDGED},
    Action.ESCALATE: {
        State.OPEN: State.OPEN,
        State.ACKNOWLEDGED: State.OPEN,
        State.MITIGATED: State.MITIGATED,
        State.FIX_PROPOSED: State.FIX_PROPOSED,
        State.APPROVED: State.APPROVED,
    },
    Action.MITIGATE: {State.OPEN: State.MITIGATED, State.ACKNOWLEDGED: State.MITIGATED},
    # A new proposal replaces the one before it, and any approval of that one.
    Action.PROPOSE_FIX: {
        State.ACKNOWLEDGED: State.FIX_PROPOSED,
        State.MITIGATED: State.FIX_PROPOSED,
        State.FIX_PROPOSED: State.FIX_PROPOSED,
        State.APPROVED: State.FIX_PROPOSED,
    },
    Action.APPROVE: {State.FIX_PROPOSED: State.APPROVED},
    # From acknowledged or mitigated: closed without a permanent fix (the note says why).
    Action.RESOLVE: {
        State.ACKNOWLEDGED: State.RESOLVED,
        State.MITIGATED: State.RESOLVED,
        State.APPROVED: State.RESOLVED,
    },
}
# What opsrun does by itself; everything else needs a person named in ops.yml.
SYSTEM_ACTIONS = frozenset({Action.ESCALATE, Action.MITIGATE})
NOTE_REQUIRED = frozenset({Action.MITIGATE, Action.PROPOSE_FIX, Action.RESOLVE})


def allowed_actions(state: State) -> list[Action]:
    """The actions that may be taken on an incident in `state`, in lifecycle order."""
    return [action for action, edges in TRANSITIONS.items() if state in edges]


@dataclass(frozen=True)
class Incident:
    id: int
    host: str
    check: str
    item: str
    finding_status: str
    message: str
    runbook: str | None
    state: State
    tier: str | None
    tier_since: datetime
    opened: datetime
    updated: datetime
    last_seen: datetime
    seen_count: int
    run_id: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Incident:
        return cls(
            id=row["id"],
            host=row["host"],
            check=row["check_name"],
            item=row["item"],
            finding_status=row["finding_status"],
            message=row["message"],
            runbook=row["runbook"],
            state=State(row["state"]),
            tier=row["tier"],
            tier_since=parse_time(row["tier_since"]),
            opened=parse_time(row["opened"]),
            updated=parse_time(row["updated"]),
            last_seen=parse_time(row["last_seen"]),
            seen_count=row["seen_count"],
            run_id=row["run_id"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "check": self.check,
            "item": self.item,
            "finding_status": self.finding_status,
            "message": self.message,
            "runbook": self.runbook,
            "state": self.state.value,
            "tier": self.tier,
            "tier_since": self.tier_since.isoformat(),
            "opened": self.opened.isoformat(),
            "updated": self.updated.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "seen_count": self.seen_count,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class Event:
    """One entry of an incident's timeline."""

    id: int
    incident_id: int
    at: datetime
    actor: str
    kind: str
    note: str
    from_state: State | None
    to_state: State
    tier: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            at=parse_time(row["at"]),
            actor=row["actor"],
            kind=row["kind"],
            note=row["note"],
            from_state=State(row["from_state"]) if row["from_state"] is not None else None,
            to_state=State(row["to_state"]),
            tier=row["tier"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "note": self.note,
            "from_state": self.from_state.value if self.from_state is not None else None,
            "to_state": self.to_state.value,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class Approval:
    id: int
    incident_id: int
    proposal_event_id: int
    proposed_by: str
    approved_by: str
    approver_tier: str
    approved_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Approval:
        return cls(
            id=row["id"],
            incident_id=row["incident_id"],
            proposal_event_id=row["proposal_event_id"],
            proposed_by=row["proposed_by"],
            approved_by=row["approved_by"],
            approver_tier=row["approver_tier"],
            approved_at=parse_time(row["approved_at"]),
            expires_at=parse_time(row["expires_at"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "proposed_by": self.proposed_by,
            "approved_by": self.approved_by,
            "approver_tier": self.approver_tier,
            "approved_at": self.approved_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class MatchedIncident:
    """An incident a finding opened (new) or was seen again on, with the runbook that matched it."""

    incident: Incident
    runbook: Runbook
    new: bool


@dataclass(frozen=True)
class EscalationDue:
    """An open incident whose tier let its ack deadline pass, and the tier to escalate it to."""

    incident: Incident
    tier: Tier
    due: datetime
    next_tier: Tier


def _not_found(incident_id: int) -> OpsrunError:
    return OpsrunError(
        f"there is no incident {incident_id}",
        hint="see the incidents with 'opsrun incident list --all'",
        exit_code=ExitCode.USAGE,
    )


def _incident(connection: sqlite3.Connection, incident_id: int) -> Incident:
    row = connection.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    if row is None:
        raise _not_found(incident_id)
    return Incident.from_row(row)


def _add_event(
    connection: sqlite3.Connection,
    incident_id: int,
    *,
    at: datetime,
    actor: str,
    kind: str,
    note: str,
    from_state: State | None,
    to_state: State,
    tier: str | None,
) -> int:
    cursor = connection.execute(
        """
        INSERT INTO incident_events (incident_id, at, actor, kind, note, from_state, to_state, tier)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
        (incident_id, time_text(at), actor, kind, note, from_state, to_state, tier),
    )
    return int(cursor.lastrowid or 0)


def get_incident(store: Store, incident_id: int) -> Incident:
    with store.read() as connection:
        return _incident(connection, incident_id)


def list_incidents(
    store: Store, *, include_resolved: bool = False, state: State | None = None
) -> list[Incident]:
    """Incidents, newest first: those not resolved, or all of them, or those in `state`."""
    query = "SELECT * FROM incidents"
    parameters: tuple[str, ...] = ()
    if state is not None:
        query += " WHERE state = ?"
        parameters = (state.value,)
    elif not include_resolved:
        query += " WHERE state != 'resolved'"
    with store.read() as connection:
        rows = connection.execute(query + " ORDER BY id DESC", parameters).fetchall()
    return [Incident.from_row(row) for row in rows]


def timeline(store: Store, incident_id: int) -> tuple[Incident, list[Event], list[Approval]]:
    """An incident with its events in order and its approvals."""
    with store.read() as connection:
        incident = _incident(connection, incident_id)
        events = connection.execute(
            "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
        approvals = connection.execute(
            "SELECT * FROM approvals WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
    return incident, [Event.from_row(row) for row in events], [Approval.from_row(row) for row in approvals]


HostsOf = Callable[[str], set[str]]


def matching_runbook(
    design: OpsDesign,
    *,
    check: str,
    status: str,
    item: str,
    host: str | None = None,
    hosts_of: HostsOf | None = None,
) -> Runbook | None:
    """The first runbook of the design that handles a finding, in the order ops.yml lists them.

    With `hosts_of` (a host pattern -> the inventory's hosts it matches), a runbook's `match.hosts`
    must also take the finding's host; without it, host patterns are not applied.
    """
    for runbook in design.incidents.runbooks:
        if not runbook.matches(check=check, status=status, item=item):
            continue
        pattern = runbook.match.hosts
        if hosts_of is not None and host is not None and pattern != "all" and host not in hosts_of(pattern):
            continue
        return runbook
    return None


def open_incidents_from_findings(
    store: Store,
    design: OpsDesign,
    findings: Iterable[Mapping[str, Any]],
    run_id: str,
    now: datetime,
    *,
    hosts_of: HostsOf | None = None,
) -> list[MatchedIncident]:
    """Open an incident for each finding a runbook handles, unless one is already unresolved.

    A finding on the host, check and item of an incident that is not resolved adds a `seen_again`
    event to it instead. The run `run_id` must already be recorded (store.record_run). New incidents
    start at the first escalation tier. Returns each incident opened or seen again, once, with its runbook.
    """
    first_tier = design.first_tier.name if design.first_tier else None
    matched: dict[int, MatchedIncident] = {}
    with store.write() as connection:
        for published in findings:
            finding = stored_finding(published)
            if finding is None:
                continue
            runbook = matching_runbook(
                design,
                check=finding.check,
                status=finding.status,
                item=finding.item,
                host=finding.host,
                hosts_of=hosts_of,
            )
            row = connection.execute(
                """
                SELECT * FROM incidents
                WHERE host = ? AND check_name = ? AND item = ? AND state != 'resolved'
                """,
                (finding.host, finding.check, finding.item),
            ).fetchone()
            if runbook is None:
                if row is not None and finding.status == "ok" and row["finding_status"] != "ok":
                    _clear(connection, Incident.from_row(row), finding, run_id, now)
                continue
            note = f"{finding.status}: {finding.message}" if finding.message else finding.status
            if row is None:
                cursor = connection.execute(
                    """
                    INSERT INTO incidents (
                        host, check_name, item, finding_status, message, runbook, state, tier,
                        tier_since, opened, updated, last_seen, run_id
                    ) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        finding.host,
                        finding.check,
                        finding.item,
                        finding.status,
                        finding.message,
                        runbook.name,
                        first_tier,
                        *([time_text(now)] * 4),
                        run_id,
                    ),
                )
                incident_id = int(cursor.lastrowid or 0)
                kind, from_state, new = OPENED, None, True
                note = f"{note} (run {run_id}, runbook {runbook.name})"
            else:
                incident_id = int(row["id"])
                connection.execute(
                    """
                    UPDATE incidents SET finding_status = ?, message = ?, last_seen = ?,
                        seen_count = seen_count + 1, updated = ?
                    WHERE id = ?
                    """,
                    (finding.status, finding.message, time_text(now), time_text(now), incident_id),
                )
                kind, from_state, new = SEEN_AGAIN, State(row["state"]), False
                note = f"{note} (run {run_id})"
            incident = _incident(connection, incident_id)
            _add_event(
                connection,
                incident_id,
                at=now,
                actor=SYSTEM_ACTOR,
                kind=kind,
                note=note,
                from_state=from_state,
                to_state=incident.state,
                tier=incident.tier,
            )
            earlier = matched.get(incident_id)
            matched[incident_id] = MatchedIncident(
                incident, runbook, new=new or (earlier is not None and earlier.new)
            )
    return list(matched.values())


def _clear(
    connection: sqlite3.Connection, incident: Incident, finding: StoredFinding, run_id: str, now: datetime
) -> None:
    connection.execute(
        "UPDATE incidents SET finding_status = 'ok', message = ?, last_seen = ?, updated = ? WHERE id = ?",
        (finding.message, time_text(now), time_text(now), incident.id),
    )
    _add_event(
        connection,
        incident.id,
        at=now,
        actor=SYSTEM_ACTOR,
        kind=CLEARED,
        note=f"ok: {finding.message} (run {run_id})" if finding.message else f"ok (run {run_id})",
        from_state=incident.state,
        to_state=incident.state,
        tier=incident.tier,
    )


def record_run_and_open_incidents(
    state_dir: Path,
    record: RunRecord,
    design: OpsDesign | None,
    *,
    routine: str | None = None,
    step: str | None = None,
    routine_run_id: str | None = None,
    hosts_of: HostsOf | None = None,
) -> list[MatchedIncident]:
    """What a run calls once it has finished: store it with its findings, then open their incidents.

    Without an operations design the run and its findings are only stored. Returns the incidents
    opened or seen again, each with its runbook, whose first response the caller runs.
    """
    with open_store(state_dir) as store:
        record_run(store, record, routine=routine, step=step, routine_run_id=routine_run_id)
        findings = record.published.get(FINDINGS_KEY)
        if design is None or not isinstance(findings, list):
            return []
        return open_incidents_from_findings(
            store, design, findings, record.run_id, record.finished, hosts_of=hosts_of
        )


def next_tier(design: OpsDesign, incident: Incident) -> Tier | None:
    """The tier after the incident's current one: along its runbook's escalate_to, else ops.yml's order."""
    order = [tier.name for tier in design.escalation]
    runbook = next((r for r in design.incidents.runbooks if r.name == incident.runbook), None)
    chain = runbook.escalate_to if runbook is not None and runbook.escalate_to else order
    position = order.index(incident.tier) if incident.tier in order else -1
    name = next((name for name in chain if order.index(name) > position), None)
    return design.tier(name) if name is not None else None


def escalation_due(store: Store, design: OpsDesign, now: datetime) -> list[EscalationDue]:
    """Open incidents whose tier has not acknowledged them within its ack_minutes, earliest first.

    Only incidents with a tier to escalate to are listed; the caller escalates and notifies.
    """
    due: list[EscalationDue] = []
    for incident in list_incidents(store, state=State.OPEN):
        tier = design.tier(incident.tier) if incident.tier is not None else None
        if tier is None:
            continue
        deadline = incident.tier_since + timedelta(minutes=tier.ack_minutes)
        following = next_tier(design, incident)
        if deadline <= now and following is not None:
            due.append(EscalationDue(incident, tier, deadline, following))
    return sorted(due, key=lambda entry: (entry.due, entry.incident.id))


def actor_tiers(design: OpsDesign, actor: str) -> list[Tier]:
    """The escalation tiers that list the contact `actor`."""
    return [tier for tier in design.escalation if actor in tier.contacts]


def _check_actor(design: OpsDesign, actor: str, action: Action) -> None:
    if actor in design.contacts or (actor == SYSTEM_ACTOR and action in SYSTEM_ACTIONS):
        return
    contacts = ", ".join(design.contacts) or "none defined"
    raise OpsrunError(
        f"{actor!r} is not a contact of the operations design, so cannot {action.value} an incident",
        hint=f"name yourself with --as CONTACT, one of: {contacts}",
        exit_code=ExitCode.USAGE,
    )


def _check_edge(incident: Incident, action: Action) -> State:
    edges = TRANSITIONS[action]
    if incident.state in edges:
        return edges[incident.state]
    allowed = ", ".join(other.value for other in allowed_actions(incident.state)) or "nothing more"
    raise OpsrunError(
        f"incident {incident.id} is {incident.state.value}: it cannot take {action.value}; "
        f"from {incident.state.value} it can take: {allowed}",
        hint=f"see its timeline with 'opsrun incident show {incident.id}'",
        exit_code=ExitCode.USAGE,
    )


def _latest_proposal(connection: sqlite3.Connection, incident_id: int) -> Event:
    row = connection.execute(
        "SELECT * FROM incident_events WHERE incident_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (incident_id, Action.PROPOSE_FIX.value),
    ).fetchone()
    if row is None:  # the states allow no approval before a proposal
        raise OpsrunError(f"incident {incident_id} has no proposed fix", exit_code=ExitCode.INTERNAL)
    return Event.from_row(row)


def _approver_tier(design: OpsDesign, incident: Incident, actor: str, proposal: Event) -> Tier:
    if actor == proposal.actor:
        raise OpsrunError(
            f"{actor} proposed the fix of incident {incident.id} and so cannot approve it",
            hint="someone else of a tier that may approve the permanent fix must approve it",
            exit_code=ExitCode.USAGE,
        )
    tiers = actor_tiers(design, actor)
    approving = next((tier for tier in tiers if PERMANENT_FIX in tier.may_approve), None)
    if approving is None:
        allowed = [
            f"{tier.name} ({', '.join(tier.contacts)})"
            for tier in design.escalation
            if PERMANENT_FIX in tier.may_approve
        ]
        mine = ", ".join(tier.name for tier in tiers) or "no tier"
        raise OpsrunError(
            f"{actor} ({mine}) may not approve the permanent fix of incident {incident.id}",
            hint=(
                f"ask a contact of {', '.join(allowed)}"
                if allowed
                else "no tier of ops.yml has permanent_fix under may_approve; add it to one"
            ),
            exit_code=ExitCode.USAGE,
        )
    return approving


def _valid_approval(connection: sqlite3.Connection, incident: Incident, now: datetime) -> Approval:
    proposal = _latest_proposal(connection, incident.id)
    row = connection.execute(
        "SELECT * FROM approvals WHERE incident_id = ? AND proposal_event_id = ? ORDER BY id DESC LIMIT 1",
        (incident.id, proposal.id),
    ).fetchone()
    if row is None:  # the state is approved only after an approval of the latest proposal
        raise OpsrunError(f"incident {incident.id} has no approval", exit_code=ExitCode.INTERNAL)
    approval = Approval.from_row(row)
    if approval.expires_at <= now:
        raise OpsrunError(
            f"the approval of the permanent fix of incident {incident.id} by {approval.approved_by} "
            f"expired at {approval.expires_at.isoformat(timespec='seconds')}",
            hint=f"propose the fix again ('opsrun incident propose-fix {incident.id}') and have it approved",
            exit_code=ExitCode.USAGE,
        )
    return approval


def take_action(
    store: Store,
    design: OpsDesign,
    incident_id: int,
    action: Action,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    approval_validity: timedelta = DEFAULT_APPROVAL_VALIDITY,
) -> Incident:
    """Apply `action` by `actor` at `now` to an incident, with its event; returns the incident after it.

    Refuses (OpsrunError) an action the incident's state does not allow, an actor who is not a
    contact, a missing note, an escalation past the last tier, an approval by the proposer or by
    someone whose tiers may not approve the permanent fix, and resolving on an expired approval.
    """
    _check_actor(design, actor, action)
    note = note.strip()
    if action in NOTE_REQUIRED and not note:
        raise OpsrunError(
            f"{action.value} needs a note on what was done or is proposed",
            hint="say it with --note TEXT",
            exit_code=ExitCode.USAGE,
        )
    if action is Action.APPROVE and approval_validity <= timedelta(0):
        raise OpsrunError(
            "an approval must stay valid for some time",
            hint="give a positive number of hours",
            exit_code=ExitCode.USAGE,
        )
    with store.write() as connection:
        incident = _incident(connection, incident_id)
        to_state = _check_edge(incident, action)
        tier, tier_since = incident.tier, incident.tier_since
        if action is Action.ESCALATE:
            following = next_tier(design, incident)
            if following is None:
                raise OpsrunError(
                    f"incident {incident.id} is already with {incident.tier or 'no tier'}, "
                    "the last tier it can be escalated to",
                    hint="add tiers under escalation in ops.yml (or to the runbook's escalate_to)",
                    exit_code=ExitCode.USAGE,
                )
            note = f"to {following.name}" + (f": {note}" if note else "")
            tier, tier_since = following.name, now
        elif action is Action.APPROVE:
            proposal = _latest_proposal(connection, incident.id)
            approving = _approver_tier(design, incident, actor, proposal)
            expires = now + approval_validity
            connection.execute(
                """
                INSERT INTO approvals (
                    incident_id, kind, proposal_event_id, proposed_by, approved_by, approver_tier,
                    approved_at, expires_at
                ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    incident.id,
                    PERMANENT_FIX,
                    proposal.id,
                    proposal.actor,
                    actor,
                    approving.name,
                    time_text(now),
                    time_text(expires),
                ),
            )
            note = f"as {approving.name}, valid until {expires.isoformat(timespec='seconds')}" + (
                f": {note}" if note else ""
            )
        elif action is Action.RESOLVE and incident.state is State.APPROVED:
            _valid_approval(connection, incident, now)
        connection.execute(
            "UPDATE incidents SET state = ?, tier = ?, tier_since = ?, updated = ? WHERE id = ?",
            (to_state.value, tier, time_text(tier_since), time_text(now), incident.id),
        )
        _add_event(
            connection,
            incident.id,
            at=now,
            actor=actor,
            kind=action.value,
            note=note,
            from_state=incident.state,
            to_state=to_state,
            tier=tier,
        )
        return _incident(connection, incident.id)
