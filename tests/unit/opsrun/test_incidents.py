"""Incidents: opening from findings with dedup, every transition and refusal, approvals, escalation."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runrecords import health_check_run

from opsrun.design.schema import Incidents, OpsDesign
from opsrun.errors import ExitCode, OpsrunError
from opsrun.incidents import (
    OPENED,
    SEEN_AGAIN,
    SYSTEM_ACTOR,
    TRANSITIONS,
    Action,
    Incident,
    State,
    allowed_actions,
    escalation_due,
    get_incident,
    list_incidents,
    open_incidents_from_findings,
    record_run_and_open_incidents,
    take_action,
    timeline,
)
from opsrun.results import RunRecord
from opsrun.store import Store, open_store, record_run

T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
RUN_ID = "20261102T070000.000000Z-aaaaaa"

DESIGN = OpsDesign.model_validate(
    {
        "version": 1,
        "scope": {"inventory": "hosts.yml", "layers": ["os"]},
        "contacts": {
            "oncall": {"email": "oncall@example.com"},
            "lead": {"email": "lead@example.com"},
            "client-admin": {"email": "admin@client.example.jp"},
            "client-cto": {"email": "cto@client.example.jp"},
        },
        "escalation": [
            {"name": "l1", "contacts": ["oncall"], "ack_minutes": 15},
            {"name": "l2", "contacts": ["lead"], "ack_minutes": 30, "may_approve": ["change"]},
            {
                "name": "client",
                "contacts": ["client-admin", "client-cto"],
                "ack_minutes": 240,
                "may_approve": ["change", "permanent_fix"],
            },
        ],
        "incidents": {
            "runbooks": [
                {"name": "service-down", "match": {"check": "service"}, "escalate_to": ["l2", "client"]},
                {
                    "name": "disk-full",
                    "match": {"check": "disk*", "status": ["warn", "crit"]},
                    "escalate_to": ["client"],
                },
            ]
        },
    }
)

# Who takes each action in these tests, and the note they give.
ACTORS = {
    Action.ACK: "oncall",
    Action.ESCALATE: "oncall",
    Action.MITIGATE: "oncall",
    Action.PROPOSE_FIX: "lead",
    Action.APPROVE: "client-admin",
    Action.RESOLVE: "lead",
}
# A path from open to each state.
PATHS = {
    State.OPEN: [],
    State.ACKNOWLEDGED: [Action.ACK],
    State.MITIGATED: [Action.ACK, Action.MITIGATE],
    State.FIX_PROPOSED: [Action.ACK, Action.MITIGATE, Action.PROPOSE_FIX],
    State.APPROVED: [Action.ACK, Action.MITIGATE, Action.PROPOSE_FIX, Action.APPROVE],
    State.RESOLVED: [Action.ACK, Action.MITIGATE, Action.PROPOSE_FIX, Action.APPROVE, Action.RESOLVE],
}


def finding(
    host: str = "web1", check: str = "service", item: str | None = "nginx", **extra: Any
) -> dict[str, Any]:
    return {
        "host": host,
        "check": check,
        "item": item,
        "status": "crit",
        "message": f"{item} is down",
    } | extra


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path)
    record_run(
        opened,
        health_check_run(RUN_ID, T0),
    )
    yield opened
    opened.close()


def open_one(store: Store, at: datetime = T0, **finding_fields: Any) -> Incident:
    matched = open_incidents_from_findings(store, DESIGN, [finding(**finding_fields)], RUN_ID, at)
    assert len(matched) == 1
    return matched[0].incident


def act(store: Store, incident: Incident, action: Action, at: datetime = T0, **kwargs: Any) -> Incident:
    kwargs.setdefault("actor", ACTORS[action])
    kwargs.setdefault("note", f"{action.value} note")
    return take_action(store, DESIGN, incident.id, action, now=at, **kwargs)


def incident_in(store: Store, state: State) -> Incident:
    incident = open_one(store)
    for action in PATHS[state]:
        incident = act(store, incident, action)
    assert incident.state is state
    return incident


# Opening from findings


def test_a_matching_finding_opens_an_incident_at_the_first_tier(store: Store) -> None:
    [matched] = open_incidents_from_findings(store, DESIGN, [finding()], RUN_ID, T0)
    assert matched.new
    assert matched.runbook.name == "service-down"
    incident = matched.incident
    assert (incident.host, incident.check, incident.item) == ("web1", "service", "nginx")
    assert (incident.state, incident.tier, incident.tier_since) == (State.OPEN, "l1", T0)
    assert (incident.run_id, incident.seen_count, incident.message) == (RUN_ID, 1, "nginx is down")
    _, events, _ = timeline(store, incident.id)
    assert [(event.kind, event.actor, event.at, event.to_state) for event in events] == [
        (OPENED, SYSTEM_ACTOR, T0, State.OPEN)
    ]
    assert "run " + RUN_ID in events[0].note
    assert "service-down" in events[0].note


@pytest.mark.parametrize(
    "unmatched",
    [
        finding(status="ok"),
        finding(status="warn"),  # service-down matches crit only
        finding(check="memory"),
        {"host": "web1", "status": "crit"},
        "not a finding",
    ],
)
def test_findings_no_runbook_handles_open_nothing(store: Store, unmatched: Any) -> None:
    assert open_incidents_from_findings(store, DESIGN, [unmatched], RUN_ID, T0) == []
    assert list_incidents(store, include_resolved=True) == []


def test_the_first_matching_runbook_wins(store: Store) -> None:
    [matched] = open_incidents_from_findings(
        store, DESIGN, [finding(check="disk_used", item="/var", status="warn")], RUN_ID, T0
    )
    assert matched.runbook.name == "disk-full"
    assert matched.incident.runbook == "disk-full"


def test_the_same_finding_again_is_seen_again_not_a_second_incident(store: Store) -> None:
    first = open_one(store)
    later = T0 + timedelta(hours=1)
    [matched] = open_incidents_from_findings(store, DESIGN, [finding(message="still down")], RUN_ID, later)
    assert not matched.new
    assert matched.incident.id == first.id
    assert (matched.incident.seen_count, matched.incident.last_seen) == (2, later)
    assert matched.incident.message == "still down"
    assert len(list_incidents(store)) == 1
    _, events, _ = timeline(store, first.id)
    assert [event.kind for event in events] == [OPENED, SEEN_AGAIN]
    assert "still down" in events[1].note


def test_one_batch_with_a_finding_twice_opens_one_incident(store: Store) -> None:
    matched = open_incidents_from_findings(store, DESIGN, [finding(), finding()], RUN_ID, T0)
    assert len(matched) == 1
    assert matched[0].new
    assert matched[0].incident.seen_count == 2


def test_dedup_is_per_host_check_and_item(store: Store) -> None:
    findings = [finding(), finding(host="web2"), finding(item="postgresql"), finding(item=None)]
    matched = open_incidents_from_findings(store, DESIGN, findings, RUN_ID, T0)
    assert [entry.new for entry in matched] == [True] * 4
    assert len({entry.incident.id for entry in matched}) == 4


def test_a_finding_seen_on_a_mitigated_incident_keeps_its_state(store: Store) -> None:
    incident = incident_in(store, State.MITIGATED)
    [matched] = open_incidents_from_findings(store, DESIGN, [finding()], RUN_ID, T0)
    assert (matched.incident.id, matched.incident.state, matched.new) == (incident.id, State.MITIGATED, False)


def test_after_resolution_the_same_finding_opens_a_new_incident(store: Store) -> None:
    resolved = incident_in(store, State.RESOLVED)
    [matched] = open_incidents_from_findings(store, DESIGN, [finding()], RUN_ID, T0)
    assert matched.new
    assert matched.incident.id != resolved.id
    assert [incident.id for incident in list_incidents(store, include_resolved=True)] == [
        matched.incident.id,
        resolved.id,
    ]
    assert [incident.id for incident in list_incidents(store)] == [matched.incident.id]
    assert [incident.id for incident in list_incidents(store, state=State.RESOLVED)] == [resolved.id]


def test_two_processes_opening_the_same_finding_make_one_incident(tmp_path: Path, store: Store) -> None:
    rounds = 15
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    opened: list[bool] = []

    def opener() -> None:
        try:
            with open_store(tmp_path) as own:
                start.wait()
                for _ in range(rounds):
                    opened.extend(
                        entry.new
                        for entry in open_incidents_from_findings(own, DESIGN, [finding()], RUN_ID, T0)
                    )
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=opener) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert opened.count(True) == 1
    [incident] = list_incidents(store)
    assert incident.seen_count == 2 * rounds


def test_a_finished_run_is_recorded_and_opens_its_incidents(tmp_path: Path) -> None:
    record = RunRecord(
        run_id="20261102T080000.000000Z-bbbbbb",
        playbook="health_check",
        playbook_path="health_check.yml",
        inventory=[],
        limit=None,
        check=False,
        diff=False,
        started=T0,
        finished=T0 + timedelta(minutes=1),
        rc=0,
        status="successful",
        exit_code=0,
        published={"health_check_findings": [finding(), finding(host="web2", status="ok")]},
    )
    assert record_run_and_open_incidents(tmp_path, record, None, routine="daily-health") == []
    [matched] = record_run_and_open_incidents(tmp_path, record, DESIGN, routine="daily-health")
    assert (matched.incident.host, matched.incident.run_id, matched.runbook.name) == (
        "web1",
        record.run_id,
        "service-down",
    )
    assert matched.incident.opened == record.finished
    with open_store(tmp_path) as store, store.read() as connection:
        assert connection.execute("SELECT routine FROM runs").fetchone()[0] == "daily-health"
        assert connection.execute("SELECT count(*) FROM findings").fetchone()[0] == 2


# Transitions


def test_every_state_lists_the_actions_it_allows() -> None:
    assert allowed_actions(State.OPEN) == [Action.ACK, Action.ESCALATE, Action.MITIGATE]
    assert allowed_actions(State.APPROVED) == [Action.ESCALATE, Action.PROPOSE_FIX, Action.RESOLVE]
    assert allowed_actions(State.RESOLVED) == []


ALL_PAIRS = [(state, action) for state in State for action in Action]


@pytest.mark.parametrize(
    ("state", "action"),
    [pair for pair in ALL_PAIRS if pair[1] in TRANSITIONS and pair[0] in TRANSITIONS[pair[1]]],
)
def test_each_allowed_edge_moves_the_incident_and_records_the_event(
    store: Store, state: State, action: Action
) -> None:
    incident = incident_in(store, state)
    later = T0 + timedelta(minutes=5)
    after = act(store, incident, action, at=later)
    assert after.state is TRANSITIONS[action][state]
    assert after.updated == later
    _, events, _ = timeline(store, incident.id)
    last = events[-1]
    assert (last.kind, last.actor, last.at, last.from_state, last.to_state) == (
        action.value,
        ACTORS[action],
        later,
        state,
        after.state,
    )
    assert f"{action.value} note" in last.note
    assert last.at.tzinfo is not None
    assert last.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("state", "action"), [pair for pair in ALL_PAIRS if pair[0] not in TRANSITIONS[pair[1]]]
)
def test_each_other_edge_is_refused_naming_the_state_and_what_is_allowed(
    store: Store, state: State, action: Action
) -> None:
    incident = incident_in(store, state)
    with pytest.raises(OpsrunError) as raised:
        act(store, incident, action)
    message = raised.value.message
    assert f"incident {incident.id} is {state.value}: it cannot take {action.value}" in message
    allowed = ", ".join(allowed.value for allowed in allowed_actions(state)) or "nothing more"
    assert message.endswith(f"it can take: {allowed}")
    assert raised.value.hint == f"see its timeline with 'opsrun incident show {incident.id}'"
    assert raised.value.exit_code == ExitCode.USAGE
    assert get_incident(store, incident.id).state is state
    _, events, _ = timeline(store, incident.id)
    assert len(events) == 1 + len(PATHS[state])


@pytest.mark.parametrize("action", [Action.MITIGATE, Action.PROPOSE_FIX, Action.RESOLVE])
def test_actions_that_need_a_note_refuse_without_one(store: Store, action: Action) -> None:
    incident = incident_in(store, State.ACKNOWLEDGED)
    with pytest.raises(OpsrunError, match=f"{action.value} needs a note"):
        act(store, incident, action, note="  ")


def test_an_actor_must_be_a_contact_of_the_design(store: Store) -> None:
    incident = open_one(store)
    with pytest.raises(OpsrunError, match="'mallory' is not a contact") as raised:
        act(store, incident, Action.ACK, actor="mallory")
    assert "oncall, lead, client-admin, client-cto" in raised.value.hint


def test_opsrun_itself_may_mitigate_and_escalate_but_not_acknowledge(store: Store) -> None:
    incident = open_one(store)
    with pytest.raises(OpsrunError, match="'opsrun' is not a contact"):
        act(store, incident, Action.ACK, actor=SYSTEM_ACTOR)
    assert act(store, incident, Action.ESCALATE, actor=SYSTEM_ACTOR).tier == "l2"
    assert act(store, incident, Action.MITIGATE, actor=SYSTEM_ACTOR).state is State.MITIGATED


def test_an_unknown_incident_is_a_clear_error(store: Store) -> None:
    with pytest.raises(OpsrunError, match="there is no incident 99") as raised:
        take_action(store, DESIGN, 99, Action.ACK, actor="oncall", now=T0)
    assert "opsrun incident list --all" in raised.value.hint


# Approvals


def test_nobody_approves_their_own_proposal(store: Store) -> None:
    incident = incident_in(store, State.MITIGATED)
    act(store, incident, Action.PROPOSE_FIX, actor="client-admin")
    with pytest.raises(
        OpsrunError, match=r"client-admin proposed the fix of incident \d+ and so cannot approve it"
    ):
        act(store, incident, Action.APPROVE, actor="client-admin")
    approved = act(store, incident, Action.APPROVE, actor="client-cto")
    assert approved.state is State.APPROVED
    _, _, [approval] = timeline(store, incident.id)
    assert (approval.proposed_by, approval.approved_by, approval.approver_tier) == (
        "client-admin",
        "client-cto",
        "client",
    )


@pytest.mark.parametrize(("actor", "tiers"), [("lead", "l2"), ("oncall", "l1")])
def test_a_tier_that_may_not_approve_the_permanent_fix_is_refused(
    store: Store, actor: str, tiers: str
) -> None:
    incident = incident_in(store, State.MITIGATED)
    act(store, incident, Action.PROPOSE_FIX, actor="client-admin")
    with pytest.raises(OpsrunError) as raised:
        act(store, incident, Action.APPROVE, actor=actor)
    assert (
        raised.value.message
        == f"{actor} ({tiers}) may not approve the permanent fix of incident {incident.id}"
    )
    assert raised.value.hint == "ask a contact of client (client-admin, client-cto)"
    assert get_incident(store, incident.id).state is State.FIX_PROPOSED


def test_without_any_tier_that_may_approve_the_hint_says_what_to_add(store: Store) -> None:
    design = DESIGN.model_copy(deep=True)
    design.escalation[2].may_approve = ["change"]
    incident = incident_in(store, State.FIX_PROPOSED)
    with pytest.raises(OpsrunError, match="may not approve") as raised:
        take_action(store, design, incident.id, Action.APPROVE, actor="client-admin", now=T0)
    assert "add it to one" in raised.value.hint


def test_an_approval_is_good_for_72_hours_by_default(store: Store) -> None:
    incident = incident_in(store, State.APPROVED)
    _, events, [approval] = timeline(store, incident.id)
    assert approval.expires_at == T0 + timedelta(hours=72)
    assert events[-1].note == "as client, valid until 2026-11-05T07:00:00+00:00: approve note"
    resolved = act(store, incident, Action.RESOLVE, at=T0 + timedelta(hours=72) - timedelta(seconds=1))
    assert resolved.state is State.RESOLVED


def test_an_expired_approval_cannot_resolve(store: Store) -> None:
    incident = incident_in(store, State.APPROVED)
    with pytest.raises(
        OpsrunError,
        match=r"approval of the permanent fix of incident \d+ by client-admin expired at 2026-11-05T07:00:00",
    ) as raised:
        act(store, incident, Action.RESOLVE, at=T0 + timedelta(hours=72))
    assert "propose the fix again" in raised.value.hint
    assert get_incident(store, incident.id).state is State.APPROVED
    # The way on: a new proposal and a new approval.
    later = T0 + timedelta(hours=80)
    act(store, incident, Action.PROPOSE_FIX, at=later)
    act(store, incident, Action.APPROVE, at=later, actor="client-cto")
    assert act(store, incident, Action.RESOLVE, at=later).state is State.RESOLVED


def test_the_validity_of_an_approval_can_be_set(store: Store) -> None:
    incident = incident_in(store, State.FIX_PROPOSED)
    act(store, incident, Action.APPROVE, approval_validity=timedelta(hours=1))
    with pytest.raises(OpsrunError, match="expired"):
        act(store, incident, Action.RESOLVE, at=T0 + timedelta(hours=1))
    with pytest.raises(OpsrunError, match="must stay valid"):
        act(store, incident, Action.APPROVE, approval_validity=timedelta(0))


def test_a_new_proposal_needs_a_new_approval(store: Store) -> None:
    incident = incident_in(store, State.APPROVED)
    revised = act(store, incident, Action.PROPOSE_FIX, note="a different fix")
    assert revised.state is State.FIX_PROPOSED
    with pytest.raises(OpsrunError, match="cannot take resolve"):
        act(store, incident, Action.RESOLVE)


# Escalation


def test_escalation_is_due_when_the_ack_deadline_passes(store: Store) -> None:
    incident = open_one(store)
    assert escalation_due(store, DESIGN, T0 + timedelta(minutes=14, seconds=59)) == []
    [due] = escalation_due(store, DESIGN, T0 + timedelta(minutes=15))
    assert (due.incident.id, due.tier.name, due.next_tier.name, due.due) == (
        incident.id,
        "l1",
        "l2",
        T0 + timedelta(minutes=15),
    )


def test_escalation_moves_to_the_next_tier_of_the_runbook_and_restarts_the_clock(store: Store) -> None:
    incident = open_one(store)
    escalated_at = T0 + timedelta(minutes=20)
    escalated = act(store, incident, Action.ESCALATE, at=escalated_at, actor=SYSTEM_ACTOR, note="no ack")
    assert (escalated.state, escalated.tier, escalated.tier_since) == (State.OPEN, "l2", escalated_at)
    _, events, _ = timeline(store, incident.id)
    assert events[-1].note == "to l2: no ack"
    assert events[-1].tier == "l2"
    assert escalation_due(store, DESIGN, escalated_at + timedelta(minutes=29)) == []
    [due] = escalation_due(store, DESIGN, escalated_at + timedelta(minutes=30))
    assert (due.tier.name, due.next_tier.name) == ("l2", "client")


def test_an_acknowledged_incident_is_not_due(store: Store) -> None:
    incident = open_one(store)
    act(store, incident, Action.ACK, at=T0 + timedelta(minutes=10))
    assert escalation_due(store, DESIGN, T0 + timedelta(hours=5)) == []


def test_escalating_an_acknowledged_incident_waits_for_the_next_tiers_ack(store: Store) -> None:
    incident = incident_in(store, State.ACKNOWLEDGED)
    escalated = act(store, incident, Action.ESCALATE, at=T0 + timedelta(minutes=1))
    assert (escalated.state, escalated.tier) == (State.OPEN, "l2")
    assert act(store, incident, Action.ACK, actor="lead").state is State.ACKNOWLEDGED


def test_a_runbook_may_skip_tiers(store: Store) -> None:
    incident = open_one(store, check="disk_used", item="/var")
    [due] = escalation_due(store, DESIGN, T0 + timedelta(minutes=15))
    assert due.next_tier.name == "client"
    assert act(store, incident, Action.ESCALATE).tier == "client"


def test_escalating_past_the_last_tier_is_refused_and_not_due(store: Store) -> None:
    incident = open_one(store, check="disk_used", item="/var")
    act(store, incident, Action.ESCALATE)
    assert escalation_due(store, DESIGN, T0 + timedelta(days=2)) == []
    with pytest.raises(OpsrunError, match="already with client, the last tier") as raised:
        act(store, incident, Action.ESCALATE)
    assert "escalate_to" in raised.value.hint


def test_escalation_due_lists_the_earliest_first(store: Store) -> None:
    later = open_one(store, at=T0 + timedelta(minutes=5), host="web2")
    earlier = open_one(store, at=T0)
    due = escalation_due(store, DESIGN, T0 + timedelta(hours=1))
    assert [entry.incident.id for entry in due] == [earlier.id, later.id]


def test_a_runbook_for_some_hosts_leaves_the_others_to_the_next_runbook(store: Store) -> None:
    runbooks = [
        {"name": "web-service", "match": {"check": "service", "hosts": "web"}},
        {"name": "any-service", "match": {"check": "service"}},
    ]
    design = DESIGN.model_copy(update={"incidents": Incidents.model_validate({"runbooks": runbooks})})
    groups = {"web": {"web1", "web2"}}
    found = open_incidents_from_findings(
        store, design, [finding(host="web1"), finding(host="db1")], RUN_ID, T0, hosts_of=groups.__getitem__
    )
    assert [(matched.incident.host, matched.runbook.name) for matched in found] == [
        ("web1", "web-service"),
        ("db1", "any-service"),
    ]
