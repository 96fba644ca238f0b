"""A state-machine test of the incident lifecycle: random actions by random people at random times.

A small model of the rules, written independently of opsrun.incidents, predicts whether each action
is taken or refused and what follows; the store must agree after every step.
"""

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from runrecords import health_check_run

from opsrun.design.schema import OpsDesign
from opsrun.errors import OpsrunError
from opsrun.incidents import (
    Action,
    State,
    list_incidents,
    open_incidents_from_findings,
    take_action,
    timeline,
)
from opsrun.store import open_store, record_run

RUN_ID = "20261102T070000.000000Z-aaaaaa"
START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
TIERS = ["l1", "l2", "client"]
APPROVERS = {"client-admin", "client-cto"}
PEOPLE = ["oncall", "lead", "client-admin", "client-cto"]
ACTORS = [*PEOPLE, "opsrun", "mallory"]
# The usual next action in each state, and who would usually take each action: drawn about half
# of the time, so that long lifecycles happen as well as all the refusals.
USUAL_NEXT = {
    State.OPEN: [Action.ACK, Action.MITIGATE],
    State.ACKNOWLEDGED: [Action.MITIGATE, Action.PROPOSE_FIX],
    State.MITIGATED: [Action.PROPOSE_FIX],
    State.FIX_PROPOSED: [Action.APPROVE],
    State.APPROVED: [Action.RESOLVE],
    State.RESOLVED: [Action.ACK],
}
USUAL_ACTORS = {
    Action.ACK: ["oncall", "lead"],
    Action.ESCALATE: ["opsrun", "oncall"],
    Action.MITIGATE: ["oncall", "opsrun"],
    Action.PROPOSE_FIX: ["lead", "client-admin"],
    Action.APPROVE: ["client-admin", "client-cto"],
    Action.RESOLVE: ["lead"],
}

DESIGN = OpsDesign.model_validate(
    {
        "version": 1,
        "scope": {"inventory": "hosts.yml", "layers": ["os"]},
        "contacts": {name: {"email": f"{name}@example.com"} for name in PEOPLE},
        "escalation": [
            {"name": "l1", "contacts": ["oncall"], "ack_minutes": 15},
            {"name": "l2", "contacts": ["lead"], "ack_minutes": 30},
            {
                "name": "client",
                "contacts": sorted(APPROVERS),
                "ack_minutes": 240,
                "may_approve": ["permanent_fix"],
            },
        ],
        "incidents": {"runbooks": [{"name": "service-down", "match": {"check": "service"}}]},
    }
)


class ModelIncident:
    def __init__(self) -> None:
        self.state = State.OPEN
        self.tier = 0
        self.proposer: str | None = None
        self.approval_expires: datetime | None = None
        self.events = 1


class IncidentLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.store = open_store(Path(self.directory.name))
        self.now = START
        record_run(
            self.store,
            health_check_run(RUN_ID, START),
        )
        self.incidents: dict[int, ModelIncident] = {}
        self.hosts: dict[int, str] = {}

    def teardown(self) -> None:
        self.store.close()
        self.directory.cleanup()

    @rule(host=st.sampled_from(["web1", "web2", "db1"]))
    def finding_arrives(self, host: str) -> None:
        finding = {"host": host, "check": "service", "item": "nginx", "status": "crit"}
        [matched] = open_incidents_from_findings(self.store, DESIGN, [finding], RUN_ID, self.now)
        unresolved = [
            number
            for number, model in self.incidents.items()
            if self.hosts[number] == host and model.state is not State.RESOLVED
        ]
        assert matched.new == (not unresolved)
        if matched.new:
            self.incidents[matched.incident.id] = ModelIncident()
            self.hosts[matched.incident.id] = host
        else:
            assert [matched.incident.id] == unresolved
            self.incidents[matched.incident.id].events += 1

    def expected(self, model: ModelIncident, action: Action, actor: str, note: str) -> State | None:
        """The state after the action, or None when the rules refuse it."""
        system_may = actor == "opsrun" and action in (Action.ESCALATE, Action.MITIGATE)
        noted = bool(note) or action not in (Action.MITIGATE, Action.PROPOSE_FIX, Action.RESOLVE)
        if not ((actor in PEOPLE or system_may) and noted):
            return None
        state = model.state
        approved = model.approval_expires is not None and self.now < model.approval_expires
        outcomes = {
            Action.ACK: (state is State.OPEN, State.ACKNOWLEDGED),
            Action.MITIGATE: (state in (State.OPEN, State.ACKNOWLEDGED), State.MITIGATED),
            Action.PROPOSE_FIX: (state not in (State.OPEN, State.RESOLVED), State.FIX_PROPOSED),
            Action.APPROVE: (
                state is State.FIX_PROPOSED and actor in APPROVERS and actor != model.proposer,
                State.APPROVED,
            ),
            Action.ESCALATE: (
                state is not State.RESOLVED and model.tier < len(TIERS) - 1,
                State.OPEN if state is State.ACKNOWLEDGED else state,
            ),
            Action.RESOLVE: (
                state in (State.ACKNOWLEDGED, State.MITIGATED) or (state is State.APPROVED and approved),
                State.RESOLVED,
            ),
        }
        allowed, after = outcomes[action]
        return after if allowed else None

    @precondition(lambda self: bool(self.incidents))
    @rule(data=st.data(), turns=st.integers(min_value=1, max_value=6))
    def people_work_an_incident(self, data: st.DataObject, turns: int) -> None:
        number = data.draw(st.sampled_from(sorted(self.incidents)))
        for _ in range(turns):
            self.now += timedelta(minutes=data.draw(st.sampled_from([0, 10, 60 * 24, 60 * 73])))
            self.someone_acts(data, number)

    def someone_acts(self, data: st.DataObject, number: int) -> None:
        model = self.incidents[number]
        action = data.draw(st.one_of(st.sampled_from(USUAL_NEXT[model.state]), st.sampled_from(list(Action))))
        actor = data.draw(st.one_of(st.sampled_from(USUAL_ACTORS[action]), st.sampled_from(ACTORS)))
        note = data.draw(st.sampled_from(["done", "done", "done", ""]))
        expected = self.expected(model, action, actor, note)
        try:
            incident = take_action(self.store, DESIGN, number, action, actor=actor, now=self.now, note=note)
        except OpsrunError:
            assert expected is None, f"{action} by {actor} refused in {model.state}"
            return
        assert expected is not None, f"{action} by {actor} allowed in {model.state}"
        assert incident.state is expected
        model.state = expected
        model.events += 1
        if action is Action.ESCALATE:
            model.tier += 1
        elif action is Action.PROPOSE_FIX:
            model.proposer, model.approval_expires = actor, None
        elif action is Action.APPROVE:
            model.approval_expires = self.now + timedelta(hours=72)

    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        stored = {incident.id: incident for incident in list_incidents(self.store, include_resolved=True)}
        assert sorted(stored) == sorted(self.incidents)
        for number, model in self.incidents.items():
            assert stored[number].state is model.state
            assert stored[number].tier == TIERS[model.tier]
            _, events, _ = timeline(self.store, number)
            assert len(events) == model.events
            assert [event.at for event in events] == sorted(event.at for event in events)

    @invariant()
    def at_most_one_unresolved_incident_per_host(self) -> None:
        hosts = [incident.host for incident in list_incidents(self.store)]
        assert len(hosts) == len(set(hosts))


IncidentLifecycle.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_incident_lifecycle = IncidentLifecycle.TestCase
