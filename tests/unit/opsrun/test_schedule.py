"""Schedules: cron and OnCalendar conversion, unit and crontab rendering, crontab merging."""

from pathlib import Path

import pytest

from opsrun.errors import OpsrunError
from opsrun.schedule import (
    CRON_BEGIN,
    CRON_END,
    Job,
    NotCronExpressible,
    cron_entry,
    cron_to_on_calendar,
    merge_crontab,
    on_calendar,
    on_calendar_to_cron,
    render_service,
    render_timer,
    split_crontab,
)

CRON_TO_CALENDAR = [
    ("0 7 * * *", ["*-*-* 07:00:00"]),
    ("*/15 * * * *", ["*-*-* *:00/15:00"]),
    ("30 1 * * mon-fri", ["Mon..Fri *-*-* 01:30:00"]),
    ("5 4 * * 7", ["Sun *-*-* 04:05:00"]),
    ("0 9-17/2 * jan-mar 0,6", ["Sat,Sun *-01..03-* 09,11,13,15,17:00:00"]),
    ("0 3 */2 * *", ["*-*-01/2 03:00:00"]),
    # Both days restricted: cron runs on either, so the timer gets one expression for each.
    ("0 0 1,15 * 1", ["*-*-01,15 00:00:00", "Mon *-*-* 00:00:00"]),
    ("@weekly", ["Sun *-*-* 00:00:00"]),
    ("@hourly", ["*-*-* *:00:00"]),
]


@pytest.mark.parametrize(("cron", "expected"), CRON_TO_CALENDAR)
def test_cron_to_on_calendar(cron: str, expected: list[str]) -> None:
    assert cron_to_on_calendar(cron) == expected


CALENDAR_TO_CRON = [
    ("daily", "0 0 * * *"),
    ("Mon..Fri *-*-* 07:30", "30 7 * * 1-5"),
    ("Sat..Sun 06:00", "0 6 * * 6-7"),
    ("*-*-* 00/2:00:00", "0 0-23/2 * * *"),
    ("*-01,07-01 05:00", "0 5 1 1,7 *"),
]


@pytest.mark.parametrize(("calendar", "expected"), CALENDAR_TO_CRON)
def test_on_calendar_to_cron(calendar: str, expected: str) -> None:
    assert on_calendar_to_cron(calendar) == expected


NOT_FOR_CRON = [
    ("Sun *-*-1..7 02:00:00", "either the weekday or the day of the month"),
    ("*-*-* 07:00:30", "whole minutes"),
    ("2026-*-* 07:00", "year"),
    ("*-*~01 07:00", "last days"),
]


@pytest.mark.parametrize(("calendar", "reason"), NOT_FOR_CRON)
def test_on_calendar_without_cron_equivalent(calendar: str, reason: str) -> None:
    with pytest.raises(NotCronExpressible, match=reason):
        on_calendar_to_cron(calendar)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("0 7 * * *", ["*-*-* 07:00:00 Asia/Tokyo"]),
        ("Sun *-*-1..7 02:00:00", ["Sun *-*-1..7 02:00:00 Asia/Tokyo"]),
        # A zone of its own wins over the calendar's.
        ("Mon 07:00 Europe/Berlin", ["Mon 07:00 Europe/Berlin"]),
    ],
)
def test_on_calendar_in_the_calendar_zone(schedule: str, expected: list[str]) -> None:
    assert on_calendar(schedule, "Asia/Tokyo") == expected


def _job(schedule: str = "0 7 * * *", working_dir: str = "/srv/ops", routine: str = "daily-health") -> Job:
    return Job(
        routine=routine,
        schedule=schedule,
        timezone="Asia/Tokyo",
        command=("/opt/opsrun/bin/opsrun", "run", routine, "--ops-file", f"{working_dir}/ops.yml"),
        working_dir=Path(working_dir),
        description="定常監視 at 100%",
    )


def test_timer_unit() -> None:
    timer = render_timer(_job())
    assert "\nOnCalendar=*-*-* 07:00:00 Asia/Tokyo\n" in timer
    assert "\nPersistent=true\n" in timer
    assert "\nUnit=opsrun-daily-health.service\n" in timer
    assert "\nX-Opsrun-Routine=daily-health\n" in timer
    assert "\nWantedBy=timers.target\n" in timer
    assert "100%%" in timer  # % is a specifier to systemd


def test_service_unit_quotes_paths() -> None:
    service = render_service(_job(working_dir="/srv/my ops/50%"))
    assert "\nWorkingDirectory=/srv/my ops/50%%\n" in service
    assert '--ops-file "/srv/my ops/50%%/ops.yml"\n' in service
    assert "\nExecStart=/opt/opsrun/bin/opsrun run daily-health --ops-file " in service
    assert "\nType=oneshot\n" in service


def test_cron_entry_quotes_for_the_shell_and_cron() -> None:
    lines = cron_entry(_job(working_dir="/srv/my ops/50%")).lines
    assert lines[0] == "# opsrun routine daily-health: 0 7 * * *"
    assert lines[1] == "CRON_TZ=Asia/Tokyo"
    assert lines[2] == (
        "0 7 * * * cd '/srv/my ops/50\\%' && /opt/opsrun/bin/opsrun run daily-health "
        "--ops-file '/srv/my ops/50\\%/ops.yml'"
    )


def test_cron_entry_of_an_on_calendar_schedule() -> None:
    assert cron_entry(_job("Mon..Fri 06:30")).lines[2].startswith("30 6 * * 1-5 cd ")


def test_cron_entry_refuses_what_cron_cannot_say() -> None:
    with pytest.raises(OpsrunError, match=r"'monthly-patching'.*'Sun \*-\*-1\.\.7 02:00:00'") as raised:
        cron_entry(_job("Sun *-*-1..7 02:00:00", routine="monthly-patching"))
    assert "--kind systemd" in raised.value.hint


USER_CRONTAB = "MAILTO=ops@example.com\n# my own\n15 * * * * /usr/local/bin/tidy\n"


def test_merge_adds_a_block_after_the_users_lines() -> None:
    merged = merge_crontab(USER_CRONTAB, [cron_entry(_job())])
    assert merged.startswith(USER_CRONTAB)
    assert merged.splitlines()[-1] == CRON_END
    assert CRON_BEGIN in merged
    others, entries = split_crontab(merged)
    assert "\n".join(others).rstrip() + "\n" == USER_CRONTAB  # and the blank line before the block
    assert [(entry.routine, entry.schedule, entry.timezone) for entry in entries] == [
        ("daily-health", "0 7 * * *", "Asia/Tokyo")
    ]
    assert entries[0].expression == "0 7 * * *"


def test_merge_is_stable_and_moves_the_block_last() -> None:
    entries = [cron_entry(_job()), cron_entry(_job("30 1 * * *", routine="backup"))]
    merged = merge_crontab(USER_CRONTAB, entries)
    assert merge_crontab(merged, split_crontab(merged)[1]) == merged
    # A line the user added below the block ends up above it.
    moved = merge_crontab(merged + "0 0 * * * /bin/true\n", entries)
    assert moved.index("/bin/true") < moved.index(CRON_BEGIN)


def test_merge_without_entries_removes_only_the_block() -> None:
    merged = merge_crontab(USER_CRONTAB, [cron_entry(_job())])
    assert merge_crontab(merged, []) == USER_CRONTAB
    assert merge_crontab("", []) == ""
