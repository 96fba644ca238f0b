"""The two gates in front of every routine step: the contract scope and the change calendar."""

from datetime import UTC, datetime

import pytest

from opsrun.design.schema import Calendar, Routine, Scope, Step
from opsrun.routines import change_gate, schedule_gate, scope_gate

HOSTS = {
    "all": {"web1", "web2", "db1", "lab1"},
    "production": {"web1", "web2", "db1"},
    "production:!db1": {"web1", "web2"},
    "web": {"web1", "web2"},
    "lab": {"lab1"},
    "web:lab": {"web1", "web2", "lab1"},
    "nowhere": set(),
}


def hosts(pattern: str) -> set[str]:
    return HOSTS[pattern]


def step(**fields: object) -> Step:
    return Step.model_validate({"playbook": "ping", **fields})


SCOPE = Scope.model_validate({"inventory": "inventory.ini", "hosts": ["production"], "layers": ["os"]})


def test_a_step_without_limit_runs_on_the_scope() -> None:
    gate, limit = scope_gate(SCOPE, step(), hosts)
    assert gate.allowed and limit == "production"


def test_a_limit_inside_the_scope_is_kept() -> None:
    gate, limit = scope_gate(SCOPE, step(limit="web"), hosts)
    assert gate.allowed and limit == "web"


def test_hosts_outside_the_scope_refuse_the_step_and_are_named() -> None:
    gate, _limit = scope_gate(SCOPE, step(limit="web:lab"), hosts)
    assert not gate.allowed
    assert gate.reason == "1 host(s) of the limit 'web:lab' are outside the contract scope (production): lab1"


def test_excluded_hosts_are_outside() -> None:
    scope = SCOPE.model_copy(update={"exclude": ["db1"]})
    gate, limit = scope_gate(scope, step(), hosts)
    assert gate.allowed and limit == "production:!db1"


@pytest.mark.parametrize(("limit", "reason"), [("nowhere", "matches no host")])
def test_a_limit_that_matches_nothing_is_refused(limit: str, reason: str) -> None:
    gate, _limit = scope_gate(SCOPE, step(limit=limit), hosts)
    assert not gate.allowed and reason in gate.reason


CALENDAR = Calendar.model_validate(
    {
        "timezone": "Asia/Tokyo",
        "freezes": [{"from": "2026-12-26", "until": "2027-01-04", "reason": "year-end"}],
        "maintenance_windows": [
            {"name": "sunday night", "weekly": {"days": ["sun"], "start": "02:00", "end": "05:00"}}
        ],
    }
)
SUNDAY_3AM_JST = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # Sun 2026-11-29 03:00 in Tokyo
MONDAY_NOON_JST = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
IN_FREEZE_SUNDAY_3AM_JST = datetime(2026, 12, 26, 18, 0, tzinfo=UTC)  # Sun 2026-12-27 03:00


def test_steps_that_change_nothing_pass_the_calendar_at_any_time() -> None:
    assert change_gate(CALENDAR, step(), MONDAY_NOON_JST, check=False, force=None).allowed


def test_a_change_runs_inside_a_window() -> None:
    assert change_gate(CALENDAR, step(change=True), SUNDAY_3AM_JST, check=False, force=None).allowed


def test_a_change_outside_every_window_is_refused_with_the_local_time() -> None:
    gate = change_gate(CALENDAR, step(change=True), MONDAY_NOON_JST, check=False, force=None)
    assert not gate.allowed
    assert gate.reason == "2026-11-30 12:00 JST is outside every maintenance window"


def test_a_freeze_wins_over_a_window() -> None:
    gate = change_gate(CALENDAR, step(change=True), IN_FREEZE_SUNDAY_3AM_JST, check=False, force=None)
    assert not gate.allowed and gate.reason == "a change freeze is in force until 2027-01-04 (year-end)"


def test_a_forced_change_runs_and_keeps_the_reason_and_why_it_was_needed() -> None:
    gate = change_gate(CALENDAR, step(change=True), MONDAY_NOON_JST, check=False, force="INC-42 disk full")
    assert (
        gate.allowed
        and gate.forced == "INC-42 disk full"
        and "outside every maintenance window" in gate.reason
    )


@pytest.mark.parametrize("where", ["run", "step"])
def test_check_mode_changes_nothing_so_it_may_run_any_time(where: str) -> None:
    change = step(change=True, check_mode=where == "step")
    assert change_gate(CALENDAR, change, MONDAY_NOON_JST, check=where == "run", force=None).allowed


def routine(*, business_days_only: bool = False, change: bool = False) -> Routine:
    return Routine.model_validate(
        {
            "schedule": "0 7 * * *",
            "business_days_only": business_days_only,
            "steps": [{"playbook": "ping", "change": change}],
        }
    )


# Japanese public holidays apply in Asia/Tokyo: 2026-11-23 is Labour Thanksgiving Day (a Monday).
HOLIDAY_MONDAY_8AM_JST = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
SATURDAY_8AM_JST = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("definition", "moment", "reason"),
    [
        (routine(), HOLIDAY_MONDAY_8AM_JST, ""),
        (routine(business_days_only=True), MONDAY_NOON_JST, ""),
        (routine(business_days_only=True), HOLIDAY_MONDAY_8AM_JST, "2026-11-23 is a holiday"),
        (routine(business_days_only=True), SATURDAY_8AM_JST, "2026-11-28 (sat) is not a business day"),
        (routine(change=True), SUNDAY_3AM_JST, ""),
        (routine(change=True), MONDAY_NOON_JST, "2026-11-30 12:00 JST is outside every maintenance window"),
        (
            routine(change=True),
            IN_FREEZE_SUNDAY_3AM_JST,
            "a change freeze is in force until 2027-01-04 (year-end)",
        ),
    ],
)
def test_a_scheduled_run_follows_the_calendar(definition: Routine, moment: datetime, reason: str) -> None:
    gate = schedule_gate(CALENDAR, definition, moment)
    assert (gate.allowed, gate.reason) == (not reason, reason)
