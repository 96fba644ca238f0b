"""Routine schedules (cron or systemd OnCalendar) as RFC 5545 recurrence rules that AWX accepts.

AWX takes one RRULE per schedule and refuses several BYMONTHDAY or BYMONTH values, and BYDAY
with a numeric prefix; a schedule that needs them becomes several rules (one AWX schedule each),
so that the union of the rules fires exactly when the routine's schedule does. Every rule starts
from the same fixed DTSTART in the design's time zone, which keeps an export reproducible.
"""

import re
from dataclasses import dataclass
from itertools import product
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsrun.cronwords import CALENDAR_SHORTHANDS, CRON_MACROS, MONTH_NAMES
from opsrun.design.schema import schedule_kind

# A fixed start in the past: the rule, not the start, decides when a schedule fires.
DTSTART = "20260101T000000"
# More rules than this for one routine is a schedule AWX is the wrong place for.
MAX_RULES = 31

_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # Monday first, as datetime.weekday()
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleError(ValueError):
    """A schedule that no set of AWX recurrence rules expresses; the message says why."""


@dataclass(frozen=True)
class _Times:
    """When a schedule fires: each field a sorted tuple of values, or None for every value."""

    minutes: tuple[int, ...] | None
    hours: tuple[int, ...] | None
    month_days: tuple[int, ...] | None
    months: tuple[int, ...] | None
    weekdays: tuple[int, ...] | None  # 0 = Monday


def _values(
    text: str, low: int, high: int, names: tuple[str, ...], *, range_mark: str
) -> tuple[int, ...] | None:
    """The values of one field (`*`, a, a-b or a..b, with /step, comma lists); None for all of them."""
    found: set[int] = set()
    for part in text.split(","):
        range_text, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if range_text == "*":
            start, end = low, high
        else:
            first, mark, last = range_text.partition(range_mark)
            start = _number(first, low, names)
            end = _number(last, low, names) if mark else (high if step_text else start)
        if step < 1 or not low <= start <= end <= high:
            raise ScheduleError(f"{part!r} is not a value or range within {low}-{high}")
        found.update(range(start, end + 1, step))
    return None if found == set(range(low, high + 1)) else tuple(sorted(found))


def _number(text: str, low: int, names: tuple[str, ...]) -> int:
    if text.lower() in names:
        return names.index(text.lower()) + low
    if not text.isdigit():
        raise ScheduleError(f"{text!r} is not a number")
    return int(text)


def _cron_times(expression: str) -> list[_Times]:
    fields = CRON_MACROS.get(expression.strip(), expression).split()
    minute, hour, month_day, month, weekday = fields
    minutes = _values(minute, 0, 59, (), range_mark="-")
    hours = _values(hour, 0, 23, (), range_mark="-")
    month_days = _values(month_day, 1, 31, (), range_mark="-")
    months = _values(month, 1, 12, MONTH_NAMES, range_mark="-")
    # cron counts Sunday as 0 and 7; rrule's week starts on Monday.
    cron_days = _values(weekday, 0, 7, ("sun", *_DAY_NAMES[:6]), range_mark="-")
    weekdays = None if cron_days is None else tuple(sorted({(day - 1) % 7 for day in cron_days}))
    if weekdays is not None and len(weekdays) == 7:
        weekdays = None
    # cron fires when either the day of the month or the weekday matches, if both are restricted
    # (a field starting with * counts as unrestricted): two rule sets then.
    if not month_day.startswith("*") and not weekday.startswith("*"):
        return [
            _Times(minutes, hours, month_days, months, None),
            _Times(minutes, hours, None, months, weekdays),
        ]
    return [_Times(minutes, hours, month_days, months, weekdays)]


def _on_calendar_times(expression: str) -> tuple[list[_Times], str | None]:
    """The times of an OnCalendar expression, and its own time zone when it names one."""
    text = CALENDAR_SHORTHANDS.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    zone = None
    if parts and _is_time_zone(parts[-1]):
        zone = parts.pop()
    weekdays = None
    if parts and parts[0][:3].lower() in _DAY_NAMES:
        weekdays = _weekdays(parts.pop(0))
    date_text = parts.pop(0) if parts and ":" not in parts[0] else "*-*-*"
    time_text = parts.pop(0) if parts else "00:00:00"
    if parts:
        raise ScheduleError("it has more parts than weekday, date, time and time zone")
    if "~" in date_text:
        raise ScheduleError("days counted from the end of the month (~) have no AWX recurrence rule")
    date_fields = date_text.split("-")
    if len(date_fields) == 2:
        date_fields.insert(0, "*")
    if len(date_fields) != 3:
        raise ScheduleError(f"the date {date_text!r} is not YEAR-MONTH-DAY or MONTH-DAY")
    if date_fields[0] != "*":
        raise ScheduleError("a schedule for particular years is not a recurring schedule")
    time_fields = time_text.split(":")
    if len(time_fields) == 2:
        time_fields.append("00")
    if len(time_fields) != 3:
        raise ScheduleError(f"the time {time_text!r} is not HOUR:MINUTE[:SECOND]")
    if _values(time_fields[2], 0, 59, (), range_mark="..") != (0,):
        raise ScheduleError("seconds other than :00 are finer than AWX schedules go")
    times = _Times(
        minutes=_values(time_fields[1], 0, 59, (), range_mark=".."),
        hours=_values(time_fields[0], 0, 23, (), range_mark=".."),
        month_days=_values(date_fields[2], 1, 31, (), range_mark=".."),
        months=_values(date_fields[1], 1, 12, (), range_mark=".."),
        weekdays=weekdays,
    )
    return [times], zone


def _is_time_zone(text: str) -> bool:
    zone_like = re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", text)
    if zone_like is None or text[:3].lower() in _DAY_NAMES:
        return False
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _weekdays(text: str) -> tuple[int, ...] | None:
    days: set[int] = set()
    for part in text.split(","):
        first, mark, last = part.partition("..")
        names = [first, last] if mark else [first]
        if any(name[:3].lower() not in _DAY_NAMES for name in names):
            raise ScheduleError(f"{part!r} is not a weekday or a range of weekdays such as Mon..Fri")
        start, end = (_DAY_NAMES.index(name[:3].lower()) for name in (names[0], names[-1]))
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return None if len(days) == 7 else tuple(sorted(days))


def _joined(values: tuple[int, ...]) -> str:
    return ",".join(str(value) for value in values)


def _week_of_month(times: _Times) -> int | None:
    """1-4 for "the Nth weekday of the month" (one weekday, days 1..7, 8..14, …, one time a day)."""
    days = times.month_days
    minutes, hours = times.minutes, times.hours
    single_time = minutes is not None and hours is not None and len(minutes) == len(hours) == 1
    if days is None or times.weekdays is None or len(times.weekdays) != 1 or not single_time:
        return None
    if len(days) == 7 and days[0] % 7 == 1 and days[-1] == days[0] + 6 and days[-1] <= 28:
        return days[0] // 7 + 1
    return None


def _rules(times: _Times) -> list[str]:
    if times.minutes is None:
        frequency = "MINUTELY"
    elif times.hours is None:
        frequency = "HOURLY"
    else:
        frequency = "DAILY"
    common = ["INTERVAL=1"]
    if times.weekdays is not None:
        common.append("BYDAY=" + ",".join(_RRULE_DAYS[day] for day in times.weekdays))
    position = _week_of_month(times)
    if position is not None:
        frequency = "MONTHLY"
        common.append(f"BYSETPOS={position}")
    clock = []
    if times.hours is not None:
        clock.append(f"BYHOUR={_joined(times.hours)}")
    if times.minutes is not None:
        clock.append(f"BYMINUTE={_joined(times.minutes)}")
    month_days: list[int | None] = list(times.month_days) if times.month_days and position is None else [None]
    months: list[int | None] = list(times.months) if times.months else [None]
    rules = []
    for month, day in product(months, month_days):
        parts = [f"FREQ={frequency}", *common]
        if month is not None:
            parts.append(f"BYMONTH={month}")
        if day is not None:
            parts.append(f"BYMONTHDAY={day}")
        rules.append(";".join([*parts, *clock]))
    return rules


def schedule_rrules(schedule: str, timezone: str) -> list[str]:
    """The AWX rrule strings (DTSTART and one RRULE each) that fire together when `schedule` does.

    Raises ScheduleError when the schedule has no such rules; the caller names the routine.
    """
    if schedule_kind(schedule) == "cron":
        all_times, zone = _cron_times(schedule), None
    else:
        all_times, zone = _on_calendar_times(schedule)
    rules = list(dict.fromkeys(rule for times in all_times for rule in _rules(times)))
    if len(rules) > MAX_RULES:
        raise ScheduleError(
            f"it needs {len(rules)} AWX schedules (one per day of the month and month), more than {MAX_RULES}"
        )
    start = f"DTSTART;TZID={zone or timezone}:{DTSTART}"
    return [f"{start} RRULE:{rule}" for rule in rules]
