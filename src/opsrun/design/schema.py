"""The schema of ops.yml, the operations design: the one source of truth for its structure.

Every model forbids unknown keys, so a misspelt key is an error rather than a silently ignored
setting. Checks that need more than one part of the document (a tier naming a contact, a runbook
naming a tier) are in OpsDesign.reference_problems(), so that all of them are reported at once.
"""

import os.path
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holidays import HolidayBase, country_holidays, list_supported_countries
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    model_validator,
)

from opsrun.cronwords import CRON_FIELDS, CRON_MACROS

SCHEMA_VERSION = 1

# A location inside the document: mapping keys and list indexes, e.g. ("routines", "daily", "steps", 1).
KeyPath = tuple[str | int, ...]

Layer = Literal["os", "middleware", "app", "network"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FindingStatus = Literal["ok", "warn", "crit", "unknown"]
OnFailure = Literal["stop", "continue", "escalate"]

# What an escalation tier may approve besides whole routines (named by their name).
APPROVAL_KINDS = {
    "change": "a step that changes hosts",
    "force": "a change forced outside the maintenance windows or during a freeze",
    "permanent_fix": "the permanent fix (恒久対処) of an incident",
}

# Japanese public holidays apply by default to a design kept in Japanese time.
_DEFAULT_HOLIDAY_COUNTRIES = {"Asia/Tokyo": "JP"}

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, StringConstraints(pattern=_NAME_PATTERN, max_length=64)]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://\S+$")


def redact_url(url: str) -> str:
    """A notification URL as it may be shown: its scheme only, since the rest often holds a token."""
    match = _URL_SCHEME.match(url)
    return f"{match.group(1)}://***" if match else "***"


def _notification_url(value: str) -> str:
    # The value itself is never part of the message: it may hold a token.
    if not _URL_SCHEME.match(value):
        raise ValueError("expected a notification URL of the form scheme://… (apprise syntax)")
    return value


def _email_address(value: str) -> str:
    if re.fullmatch(r"[^@\s]+@[^@\s]+", value) is None:
        raise ValueError("expected an email address such as ops@example.com")
    return value


def _one_or_many(value: Any) -> Any:
    """Accepts a single string where a list of strings is expected."""
    return [value] if isinstance(value, str) else value


def _clock_time(value: Any) -> time:
    # Only HH:MM text: pydantic alone would also take a number as seconds after midnight UTC.
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    match = (
        re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", value.strip()) if isinstance(value, str) else None
    )
    if match is None:
        raise ValueError("expected a time of day as HH:MM, e.g. 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def _iana_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; expected an IANA name such as Asia/Tokyo or UTC"
        ) from None
    return value


def _holiday_country(value: str | None) -> str | None:
    if value is not None and value not in list_supported_countries():
        raise ValueError(
            f"no public holidays are known for country {value!r}; expected an ISO code such as JP"
        )
    return value


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if text.lower() in names:
        return names.index(text.lower()) + low
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def _cron_field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    for part in text.split(","):
        range_text, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"the {name} field has a bad step {step!r}"
        if range_text == "*":
            continue
        first, dash, last = range_text.partition("-")
        start = _cron_value(first, low, high, names)
        end = _cron_value(last, low, high, names) if dash else start
        if start is None or end is None or start > end:
            return f"the {name} field {part!r} is not a value or range within {low}-{high}"
    return None


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid 5-field cron expression, or None when it is."""
    fields = expression.split()
    if len(fields) == 1 and fields[0] in CRON_MACROS:
        return None
    if len(fields) != 5:
        return f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}"
    for text, (name, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, name, low, high, names)
        if problem is not None:
            return problem
    return None


# An OnCalendar expression has at most four parts: weekday, date, time and time zone.
_ON_CALENDAR_MAX_FIELDS = 4
_ON_CALENDAR_CHARACTERS = re.compile(r"^[A-Za-z0-9*,.:~/_+ -]+$")


def schedule_kind(schedule: str) -> Literal["cron", "oncalendar"]:
    """A schedule is a cron expression (five fields or an @macro), else a systemd OnCalendar string."""
    fields = schedule.split()
    return "cron" if len(fields) == 5 or schedule.strip().startswith("@") else "oncalendar"


def _schedule(value: str) -> str:
    value = value.strip()
    expected = "expected a cron expression (0 7 * * *) or a systemd OnCalendar string (Mon..Fri 07:00)"
    if not value:
        raise ValueError(expected)
    if schedule_kind(value) == "cron":
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(f"{problem}; e.g. '0 7 * * *' for 07:00 every day")
    elif len(value.split()) > _ON_CALENDAR_MAX_FIELDS or not _ON_CALENDAR_CHARACTERS.match(value):
        raise ValueError(f"{value!r} is neither; {expected}")
    return value


NotificationUrl = Annotated[str, AfterValidator(_notification_url)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Schedule = Annotated[str, AfterValidator(_schedule)]
Patterns = Annotated[list[NonEmptyText], BeforeValidator(_one_or_many)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("expected each value once")
    return values


class Scope(_Model):
    """What the contract covers (契約範囲): opsrun acts only on these hosts."""

    inventory: Annotated[Patterns, Field(min_length=1)]
    hosts: Annotated[Patterns, Field(min_length=1)] = ["all"]
    exclude: Patterns = []
    layers: Annotated[list[Layer], Field(min_length=1), AfterValidator(_unique)]

    def inventory_sources(self, base_dir: Path) -> list[str]:
        """The inventories as -i takes them: paths made relative to `base_dir`, host lists as given."""
        return [entry if "," in entry else os.path.normpath(base_dir / entry) for entry in self.inventory]

    def host_pattern(self) -> str:
        """The scope as one Ansible host pattern: the hosts in scope minus the excluded ones."""
        return ":".join([*self.hosts, *(f"!{pattern}" for pattern in self.exclude)])


class Contact(_Model):
    """Someone to notify: apprise URLs (email, Slack, Teams, PagerDuty, webhooks…), and how to call them."""

    notify: Annotated[list[NotificationUrl], Field(repr=False)] = []
    email: Annotated[str, AfterValidator(_email_address)] | None = None
    phone: NonEmptyText | None = None

    @model_validator(mode="after")
    def _reachable(self) -> "Contact":
        if not (self.notify or self.email or self.phone):
            raise ValueError("a contact needs at least one of notify, email or phone")
        return self

    def redacted_notify(self) -> list[str]:
        return [redact_url(url) for url in self.notify]


class Tier(_Model):
    """One level of escalation (l1, l2, maintainer, client…)."""

    name: Name
    contacts: Annotated[list[Name], Field(min_length=1)]
    ack_minutes: PositiveInt
    may_approve: list[Name] = []


class BusinessHours(_Model):
    days: Annotated[list[Weekday], Field(min_length=1), AfterValidator(_unique)] = list(WEEKDAYS[:5])
    start: ClockTime = time(9, 0)
    end: ClockTime = time(18, 0)

    @model_validator(mode="after")
    def _ordered(self) -> "BusinessHours":
        if self.start >= self.end:
            raise ValueError("business hours must start before they end on the same day")
        return self


class Holidays(_Model):
    # Left out: JP when the time zone is Asia/Tokyo, else none. `country: null` turns them off.
    country: Annotated[str | None, AfterValidator(_holiday_country)] = None
    extra: list[date] = []


class Freeze(_Model):
    """Days (inclusive) when no change runs, e.g. the year-end freeze."""

    start: Annotated[date, Field(alias="from")]
    until: date
    reason: NonEmptyText

    @model_validator(mode="after")
    def _ordered(self) -> "Freeze":
        if self.start > self.until:
            raise ValueError("a freeze must not end before it starts")
        return self


class WeeklyWindow(_Model):
    """A weekly window; one that ends before it starts runs past midnight into the next day."""

    days: Annotated[list[Weekday], Field(min_length=1), AfterValidator(_unique)]
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> "WeeklyWindow":
        if self.start == self.end:
            raise ValueError("a window must not start and end at the same time")
        return self

    def contains(self, local: datetime) -> bool:
        now = local.time()
        today = WEEKDAYS[local.weekday()]
        if self.start < self.end:
            return today in self.days and self.start <= now < self.end
        yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        return (today in self.days and now >= self.start) or (yesterday in self.days and now < self.end)


class DatedWindow(_Model):
    """A one-off window; times without an offset are in the calendar's time zone."""

    start: Annotated[datetime, Field(alias="from")]
    until: datetime

    @model_validator(mode="after")
    def _ordered(self) -> "DatedWindow":
        if (self.start.tzinfo is None) != (self.until.tzinfo is None):
            raise ValueError("give both from and until with a UTC offset, or neither")
        if self.start >= self.until:
            raise ValueError("a window must end after it starts")
        return self


class MaintenanceWindow(_Model):
    name: NonEmptyText | None = None
    weekly: WeeklyWindow | None = None
    dated: DatedWindow | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "MaintenanceWindow":
        if (self.weekly is None) == (self.dated is None):
            raise ValueError("a maintenance window is either weekly or dated: give exactly one of them")
        return self


class Calendar(_Model):
    """Time zone, business hours, public holidays, change freezes and maintenance windows."""

    timezone: Annotated[str, AfterValidator(_iana_time_zone)] = "UTC"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    holidays: Holidays = Field(default_factory=Holidays)
    freezes: list[Freeze] = []
    maintenance_windows: list[MaintenanceWindow] = []

    @model_validator(mode="after")
    def _default_holidays(self) -> "Calendar":
        if "country" not in self.holidays.model_fields_set:
            self.holidays.country = _DEFAULT_HOLIDAY_COUNTRIES.get(self.timezone)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _public_holidays(self) -> HolidayBase | None:
        country = self.holidays.country
        return country_holidays(country) if country else None

    def local(self, moment: datetime) -> datetime:
        """`moment` in the calendar's time zone; a naive datetime is taken as already local."""
        return moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment.astimezone(self.zone)

    def is_holiday(self, day: date) -> bool:
        """Whether `day` is a public holiday of the country or one of the extra dates."""
        if day in self.holidays.extra:
            return True
        public = self._public_holidays
        return public is not None and day in public

    def in_business_hours(self, moment: datetime) -> bool:
        local = self.local(moment)
        hours = self.business_hours
        return (
            WEEKDAYS[local.weekday()] in hours.days
            and not self.is_holiday(local.date())
            and hours.start <= local.time() < hours.end
        )

    def freeze_at(self, moment: datetime) -> Freeze | None:
        """The change freeze in force at `moment`, if any."""
        day = self.local(moment).date()
        return next((freeze for freeze in self.freezes if freeze.start <= day <= freeze.until), None)

    def in_freeze(self, moment: datetime) -> bool:
        return self.freeze_at(moment) is not None

    def in_window(self, moment: datetime) -> bool:
        """Whether `moment` falls inside one of the maintenance windows."""
        local = self.local(moment)
        for window in self.maintenance_windows:
            if window.weekly is not None and window.weekly.contains(local):
                return True
            if window.dated is not None:
                start, until = window.dated.start, window.dated.until
                if start.tzinfo is None:
                    start, until = start.replace(tzinfo=self.zone), until.replace(tzinfo=self.zone)
                if start <= local < until:
                    return True
        return False


class Step(_Model):
    """One playbook run: a step of a routine, or of an incident's diagnosis or first response."""

    name: NonEmptyText | None = None
    playbook: NonEmptyText
    vars: dict[str, Any] = {}
    limit: NonEmptyText | None = None
    on_failure: OnFailure = "stop"
    # A change runs only inside a maintenance window and outside freezes, unless forced.
    change: bool = False
    check_mode: bool = False
    # The routine pauses before this step until a tier that may approve it approves (opsrun approve).
    approval: bool = False

    @property
    def title(self) -> str:
        return self.name or self.playbook


class Routine(_Model):
    """Scheduled work: a named sequence of steps."""

    description: NonEmptyText | None = None
    schedule: Schedule
    # A scheduled run (opsrun run --scheduled) on a holiday or outside business days is skipped.
    business_days_only: bool = False
    steps: Annotated[list[Step], Field(min_length=1)]

    @property
    def changes_hosts(self) -> bool:
        return any(step.change for step in self.steps)


class RunbookMatch(_Model):
    """Which findings a runbook handles: shell-style globs on check and item, and statuses."""

    check: NonEmptyText
    status: Annotated[list[FindingStatus], Field(min_length=1), AfterValidator(_unique)] = ["crit"]
    item: NonEmptyText = "*"
    hosts: NonEmptyText = "all"


class Runbook(_Model):
    """Incident handling: diagnose, first response (L1, automatic), verify, then escalate."""

    name: Name
    description: NonEmptyText | None = None
    match: RunbookMatch
    diagnose: list[Step] = []
    first_response: list[Step] = []
    verify: bool = True
    escalate_to: list[Name] = []

    def matches(self, *, check: str, status: str, item: str | None) -> bool:
        """Whether a finding's check, status and item fall under this runbook (Ansible matches hosts)."""
        return (
            status in self.match.status
            and fnmatchcase(check, self.match.check)
            and fnmatchcase(item or "", self.match.item)
        )


class Incidents(_Model):
    runbooks: list[Runbook] = []


class OpsDesign(_Model):
    """The whole operations design (運用設計) held in ops.yml."""

    version: Literal[1]
    scope: Scope
    contacts: dict[Name, Contact] = {}
    escalation: list[Tier] = []
    calendar: Calendar = Field(default_factory=Calendar)
    routines: dict[Name, Routine] = {}
    incidents: Incidents = Field(default_factory=Incidents)

    @property
    def first_tier(self) -> Tier | None:
        """Where a new incident starts, and whom a failed routine step tells."""
        return self.escalation[0] if self.escalation else None

    def tier(self, name: str) -> Tier | None:
        return next((tier for tier in self.escalation if tier.name == name), None)

    def approving_tiers(self, routine: str, step: Step) -> list[Tier]:
        """The tiers that may approve `step` of `routine`: those naming the routine, or `change`
        for a step that changes hosts."""
        kinds = {routine, "change"} if step.change else {routine}
        return [tier for tier in self.escalation if kinds & set(tier.may_approve)]

    def steps(self) -> Iterator[tuple[KeyPath, Step]]:
        """Every step of the design with where it is in the document."""
        for routine_name, routine in self.routines.items():
            for index, step in enumerate(routine.steps):
                yield ("routines", routine_name, "steps", index), step
        for runbook_index, runbook in enumerate(self.incidents.runbooks):
            for phase in ("diagnose", "first_response"):
                for index, step in enumerate(getattr(runbook, phase)):
                    yield ("incidents", "runbooks", runbook_index, phase, index), step

    def reference_problems(self) -> list[tuple[KeyPath, str]]:
        """What refers to something the design does not define, or defines twice."""
        problems: list[tuple[KeyPath, str]] = []
        tier_names = [tier.name for tier in self.escalation]
        contacts = ", ".join(self.contacts) or "none defined"
        for tier_index, tier in enumerate(self.escalation):
            if tier.name in tier_names[:tier_index]:
                problems.append(
                    (("escalation", tier_index, "name"), f"the tier {tier.name!r} is defined twice")
                )
            for index, contact in enumerate(tier.contacts):
                if contact not in self.contacts:
                    problems.append(
                        (
                            ("escalation", tier_index, "contacts", index),
                            f"no contact named {contact!r}; expected one of the contacts: {contacts}",
                        )
                    )
            for index, approval in enumerate(tier.may_approve):
                if approval not in APPROVAL_KINDS and approval not in self.routines:
                    expected = ", ".join([*APPROVAL_KINDS, *self.routines])
                    problems.append(
                        (
                            ("escalation", tier_index, "may_approve", index),
                            f"{approval!r} is neither a kind of step nor a routine; "
                            f"expected one of: {expected}",
                        )
                    )
        for routine_name, routine in self.routines.items():
            for index, step in enumerate(routine.steps):
                if step.approval and not self.approving_tiers(routine_name, step):
                    what = f"{routine_name!r} or change" if step.change else repr(routine_name)
                    problems.append(
                        (
                            ("routines", routine_name, "steps", index, "approval"),
                            f"no tier may approve this step; add {what} to the may_approve of a tier",
                        )
                    )
        runbook_names = [runbook.name for runbook in self.incidents.runbooks]
        for runbook_index, runbook in enumerate(self.incidents.runbooks):
            path: KeyPath = ("incidents", "runbooks", runbook_index)
            if runbook.name in runbook_names[:runbook_index]:
                problems.append(((*path, "name"), f"the runbook {runbook.name!r} is defined twice"))
            problems.extend(self._escalation_problems(path, runbook.escalate_to, tier_names))
        if not tier_names:
            problems.extend(
                ((*path, "on_failure"), "on_failure: escalate needs at least one tier under escalation")
                for path, step in self.steps()
                if step.on_failure == "escalate"
            )
        return problems

    @staticmethod
    def _escalation_problems(
        path: KeyPath, escalate_to: list[str], tier_names: list[str]
    ) -> list[tuple[KeyPath, str]]:
        problems: list[tuple[KeyPath, str]] = []
        previous = -1
        for index, name in enumerate(escalate_to):
            where = (*path, "escalate_to", index)
            if name not in tier_names:
                expected = ", ".join(tier_names) or "none defined"
                problems.append((where, f"no escalation tier named {name!r}; expected one of: {expected}"))
                continue
            position = tier_names.index(name)
            if position <= previous:
                problems.append(
                    (
                        where,
                        f"{name!r} comes out of order; "
                        f"list tiers in the order of escalation ({', '.join(tier_names)})",
                    )
                )
            previous = max(previous, position)
        return problems
