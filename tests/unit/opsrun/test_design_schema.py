"""The models of ops.yml: schedules, the calendar (holidays, windows, freezes), references, matching."""

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from opsrun.design.schema import (
    Calendar,
    Contact,
    OpsDesign,
    Routine,
    Runbook,
    cron_problem,
    redact_url,
    schedule_kind,
)

TOKYO = timezone(timedelta(hours=9))


def design(**sections: Any) -> OpsDesign:
    document: dict[str, Any] = {"version": 1, "scope": {"inventory": "hosts.yml", "layers": ["os"]}}
    document.update(sections)
    return OpsDesign.model_validate(document)


@pytest.mark.parametrize(
    "expression",
    [
        "0 7 * * *",
        "*/15 * * * *",
        "0 2 * * sun",
        "30 1 1-7 * mon-fri",
        "0 0 1 jan,jul *",
        "5,35 */2 * * 0-6",
        "@daily",
    ],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert cron_problem(expression) is None
    assert schedule_kind(expression) == "cron"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("60 * * * *", "minute field '60'"),
        ("0 24 * * *", "hour field '24'"),
        ("0 0 0 * *", "day of month field '0'"),
        ("0 0 * 13 *", "month field '13'"),
        ("0 0 * * 8", "day of week field '8'"),
        ("0 0 * * fri-mon", "day of week field 'fri-mon'"),
        ("*/0 * * * *", "bad step '0'"),
        ("0 7 * *", None),
        ("@reboot", None),
    ],
)
def test_invalid_cron_expressions(expression: str, expected: str | None) -> None:
    problem = cron_problem(expression)
    assert problem is not None
    if expected is not None:
        assert expected in problem


@pytest.mark.parametrize("schedule", ["0 0 7 * * ?", "0 7 * * * 2026", "daily; rm -rf /", "Mon\n07:00"])
def test_schedules_that_are_neither_cron_nor_oncalendar(schedule: str) -> None:
    with pytest.raises(ValidationError, match="neither"):
        Routine.model_validate({"schedule": schedule, "steps": [{"playbook": "ping"}]})


def test_other_schedules_are_kept_as_oncalendar_strings() -> None:
    routine = Routine.model_validate({"schedule": "Mon..Fri *-*-* 07:00:00", "steps": [{"playbook": "ping"}]})
    assert schedule_kind(routine.schedule) == "oncalendar"
    assert routine.schedule == "Mon..Fri *-*-* 07:00:00"


def test_japanese_holidays_by_default_in_tokyo() -> None:
    calendar = Calendar(timezone="Asia/Tokyo")
    assert calendar.holidays.country == "JP"
    for holiday in (date(2026, 1, 1), date(2026, 5, 4), date(2026, 11, 23)):
        assert calendar.is_holiday(holiday)
    assert not calendar.is_holiday(date(2026, 11, 24))


def test_no_public_holidays_elsewhere_unless_asked() -> None:
    assert Calendar(timezone="Europe/Berlin").holidays.country is None
    assert not Calendar(timezone="UTC").is_holiday(date(2026, 1, 1))
    german = Calendar.model_validate({"timezone": "Europe/Berlin", "holidays": {"country": "DE"}})
    assert german.is_holiday(date(2026, 10, 3))
    off = Calendar.model_validate({"timezone": "Asia/Tokyo", "holidays": {"country": None}})
    assert not off.is_holiday(date(2026, 1, 1))


def test_extra_holidays() -> None:
    calendar = Calendar.model_validate(
        {"timezone": "Asia/Tokyo", "holidays": {"extra": [date(2026, 12, 29)]}}
    )
    assert calendar.is_holiday(date(2026, 12, 29))
    assert not calendar.is_holiday(date(2026, 12, 28))


def test_business_hours_skip_weekends_and_holidays() -> None:
    calendar = Calendar(timezone="Asia/Tokyo")
    assert calendar.in_business_hours(datetime(2026, 11, 24, 9, 0))  # Tuesday
    assert not calendar.in_business_hours(datetime(2026, 11, 24, 18, 0))
    assert not calendar.in_business_hours(datetime(2026, 11, 23, 10, 0))  # 勤労感謝の日, a Monday
    assert not calendar.in_business_hours(datetime(2026, 11, 28, 10, 0))  # Saturday
    # 00:30 UTC is 09:30 in Tokyo.
    assert calendar.in_business_hours(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))


@pytest.mark.parametrize("start", [9, 9.5, "9", "24:00", "09:60", True, None, [9]])
def test_times_of_day_are_hh_mm_only(start: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Calendar.model_validate({"business_hours": {"start": start}})
    [error] = caught.value.errors()
    assert error["loc"] == ("business_hours", "start")
    assert "HH:MM" in error["msg"]


def windows_calendar() -> Calendar:
    return Calendar.model_validate(
        {
            "timezone": "Asia/Tokyo",
            "maintenance_windows": [
                {"name": "weekend night", "weekly": {"days": ["sat"], "start": "23:00", "end": "03:00"}},
                {"weekly": {"days": ["wed"], "start": "02:00", "end": "04:00"}},
                {"dated": {"from": datetime(2026, 12, 1, 22, 0), "until": datetime(2026, 12, 2, 1, 0)}},
            ],
        }
    )


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 11, 28, 23, 0), True),  # Saturday 23:00: the window opens
        (datetime(2026, 11, 29, 2, 59), True),  # past midnight into Sunday
        (datetime(2026, 11, 29, 3, 0), False),  # the end is not inside
        (datetime(2026, 11, 28, 22, 59), False),
        (datetime(2026, 11, 29, 23, 30), False),  # Sunday night is not a window
        (datetime(2026, 11, 25, 3, 0), True),  # Wednesday
        (datetime(2026, 11, 26, 3, 0), False),  # Thursday
        (datetime(2026, 12, 1, 23, 0), True),  # the dated window
        (datetime(2026, 12, 2, 1, 0), False),
        (datetime(2026, 11, 28, 14, 30, tzinfo=UTC), True),  # 23:30 in Tokyo
        (datetime(2026, 11, 28, 23, 30, tzinfo=TOKYO), True),
        (datetime(2026, 11, 28, 23, 30, tzinfo=UTC), False),  # Sunday 08:30 in Tokyo
    ],
)
def test_in_window(moment: datetime, inside: bool) -> None:
    assert windows_calendar().in_window(moment) is inside


def test_dated_window_with_an_offset() -> None:
    calendar = Calendar.model_validate(
        {
            "timezone": "Asia/Tokyo",
            "maintenance_windows": [
                {"dated": {"from": "2026-12-01T13:00:00+00:00", "until": "2026-12-01T14:00:00+00:00"}}
            ],
        }
    )
    assert calendar.in_window(datetime(2026, 12, 1, 22, 30))  # Tokyo, naive
    assert not calendar.in_window(datetime(2026, 12, 1, 13, 30))


def test_freezes_cover_whole_days_in_the_calendar_time_zone() -> None:
    calendar = Calendar.model_validate(
        {
            "timezone": "Asia/Tokyo",
            "freezes": [{"from": date(2026, 12, 26), "until": date(2027, 1, 4), "reason": "year end"}],
        }
    )
    assert calendar.in_freeze(datetime(2026, 12, 26, 0, 0))
    assert calendar.in_freeze(datetime(2027, 1, 4, 23, 59))
    assert not calendar.in_freeze(datetime(2027, 1, 5, 0, 0))
    # 15:30 UTC on the 25th is already the 26th in Tokyo.
    freeze = calendar.freeze_at(datetime(2026, 12, 25, 15, 30, tzinfo=UTC))
    assert freeze is not None
    assert freeze.reason == "year end"
    assert calendar.freeze_at(datetime(2026, 12, 25, 14, 30, tzinfo=UTC)) is None


def test_notification_urls_are_redacted_and_kept_out_of_repr() -> None:
    contact = Contact(notify=["slack://T000/B000/secret-token", "json://127.0.0.1:8080/hook"])
    assert contact.redacted_notify() == ["slack://***", "json://***"]
    assert "secret-token" not in repr(contact)
    assert redact_url("not a url") == "***"


def test_a_bad_notification_url_is_rejected_without_showing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Contact(notify=["hooks.example.com/secret-token"])
    [error] = caught.value.errors()
    assert error["loc"] == ("notify", 0)
    assert "scheme://" in error["msg"]
    assert "secret-token" not in error["msg"]


def test_a_contact_needs_a_way_to_reach_it() -> None:
    with pytest.raises(ValidationError, match="at least one of notify, email or phone"):
        Contact()


def test_runbook_matching() -> None:
    runbook = Runbook.model_validate(
        {"name": "disk", "match": {"check": "disk*", "status": ["warn", "crit"], "item": "/var/*"}}
    )
    assert runbook.matches(check="disk_used", status="crit", item="/var/log")
    assert not runbook.matches(check="disk_used", status="ok", item="/var/log")
    assert not runbook.matches(check="disk_used", status="crit", item="/home")
    assert not runbook.matches(check="memory", status="crit", item="/var/log")
    any_item = Runbook.model_validate({"name": "svc", "match": {"check": "service"}})
    assert any_item.match.status == ["crit"]
    assert any_item.matches(check="service", status="crit", item=None)


def test_scope_host_pattern_and_inventory_sources(tmp_path: Any) -> None:
    scope = design(
        scope={
            "inventory": ["inv/hosts.yml", "a.example,b.example"],
            "hosts": ["web", "db"],
            "exclude": "db9",
            "layers": ["os"],
        }
    ).scope
    assert scope.host_pattern() == "web:db:!db9"
    assert scope.inventory_sources(tmp_path / "ops") == [
        str(tmp_path / "ops/inv/hosts.yml"),
        "a.example,b.example",
    ]


def test_reference_problems() -> None:
    problems = design(
        contacts={"oncall": {"email": "oncall@example.com"}},
        escalation=[
            {
                "name": "l1",
                "contacts": ["oncall"],
                "ack_minutes": 15,
                "may_approve": ["change", "nightly", "reboot"],
            },
            {"name": "l2", "contacts": ["lead"], "ack_minutes": 30},
            {"name": "l1", "contacts": ["oncall"], "ack_minutes": 5},
        ],
        routines={"nightly": {"schedule": "0 1 * * *", "steps": [{"playbook": "ping"}]}},
        incidents={
            "runbooks": [
                {"name": "a", "match": {"check": "x"}, "escalate_to": ["l2", "l1"]},
                {"name": "a", "match": {"check": "y"}, "escalate_to": ["l3"]},
            ]
        },
    ).reference_problems()
    by_path = {path: message for path, message in problems}
    assert set(by_path) == {
        ("escalation", 0, "may_approve", 2),
        ("escalation", 1, "contacts", 0),
        ("escalation", 2, "name"),
        ("incidents", "runbooks", 0, "escalate_to", 1),
        ("incidents", "runbooks", 1, "name"),
        ("incidents", "runbooks", 1, "escalate_to", 0),
    }
    assert "'reboot' is neither a kind of step nor a routine" in by_path[("escalation", 0, "may_approve", 2)]
    assert "expected one of the contacts: oncall" in by_path[("escalation", 1, "contacts", 0)]
    assert "out of order" in by_path[("incidents", "runbooks", 0, "escalate_to", 1)]
    assert "expected one of: l1, l2, l1" in by_path[("incidents", "runbooks", 1, "escalate_to", 0)]


def test_escalating_steps_need_a_tier() -> None:
    problems = design(
        routines={
            "nightly": {"schedule": "0 1 * * *", "steps": [{"playbook": "ping", "on_failure": "escalate"}]}
        }
    ).reference_problems()
    assert problems == [
        (
            ("routines", "nightly", "steps", 0, "on_failure"),
            "on_failure: escalate needs at least one tier under escalation",
        )
    ]


def test_steps_lists_every_step_with_its_path() -> None:
    steps = design(
        routines={
            "nightly": {"schedule": "@daily", "steps": [{"playbook": "ping"}, {"playbook": "health_check"}]}
        },
        incidents={
            "runbooks": [
                {"name": "a", "match": {"check": "x"}, "diagnose": [{"playbook": "diagnostics"}],
                 "first_response": [{"playbook": "service_restart", "change": True}]},
            ]
        },
    ).steps()  # fmt: skip
    assert [(path, step.playbook) for path, step in steps] == [
        (("routines", "nightly", "steps", 0), "ping"),
        (("routines", "nightly", "steps", 1), "health_check"),
        (("incidents", "runbooks", 0, "diagnose", 0), "diagnostics"),
        (("incidents", "runbooks", 0, "first_response", 0), "service_restart"),
    ]
