"""Schedules of routines: systemd timers or crontab entries that run `opsrun run ROUTINE`.

The pure parts (schedule conversion, unit and crontab rendering, crontab merging) are separate
from the parts that read and write files or run systemctl, systemd-analyze and crontab.
The calendar of ops.yml (holidays, freezes, windows) is not encoded here: `opsrun run` applies it
when the timer fires, so a schedule only says when to try.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from opsrun.cronwords import CALENDAR_SHORTHANDS, CRON_DAY_NAMES, CRON_FIELDS, CRON_MACROS
from opsrun.errors import ExitCode, OpsrunError

UNIT_PREFIX = "opsrun-"
UNIT_FILE_MODE = 0o644
# Keys that mark a unit as written by opsrun; systemd ignores [Unit] keys that start with X-.
ROUTINE_KEY = "X-Opsrun-Routine"
SCHEDULE_KEY = "X-Opsrun-Schedule"
CRON_BEGIN = "# BEGIN opsrun schedules: written by 'opsrun schedule'; changes here are replaced"
CRON_END = "# END opsrun schedules"
_CRON_ROUTINE_PREFIX = "# opsrun routine "


class Kind(StrEnum):
    SYSTEMD = "systemd"
    CRON = "cron"


class Change(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REMOVED = "removed"


@dataclass(frozen=True)
class Job:
    """What one schedule runs: a routine of an ops.yml, from a working directory, at its times."""

    routine: str
    schedule: str
    timezone: str
    command: tuple[str, ...]
    working_dir: Path
    description: str = ""


def opsrun_command() -> list[str]:
    """The absolute command line of this opsrun: its script beside the Python running it, else -m."""
    script = Path(sys.executable).parent / "opsrun"
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "opsrun"]


def routine_command(routine: str, *, ops_file: Path, state_dir: Path) -> tuple[str, ...]:
    """What a timer runs: the routine as a scheduled run, so the calendar decides at run time."""
    return (
        *opsrun_command(),
        "run",
        routine,
        "--scheduled",
        "--ops-file",
        str(ops_file.absolute()),
        "--state-dir",
        str(state_dir.absolute()),
    )


# The job that escalates incidents whose tier let the acknowledge deadline pass.
ESCALATION_JOB = "escalate-due"
ESCALATION_SCHEDULE = "*/5 * * * *"


def escalation_command(*, ops_file: Path, state_dir: Path) -> tuple[str, ...]:
    return (
        *opsrun_command(),
        "incident",
        "escalate-due",
        "--ops-file",
        str(ops_file.absolute()),
        "--state-dir",
        str(state_dir.absolute()),
    )


# --- cron expressions as systemd OnCalendar expressions ----------------------------------------

# OnCalendar writes weekdays Mon..Sun.
_CALENDAR_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _cron_number(text: str, low: int, names: tuple[str, ...]) -> int:
    if text.lower() in names:
        return names.index(text.lower()) + low
    return int(text)


def _cron_values(text: str, low: int, high: int, names: tuple[str, ...]) -> list[int]:
    """Every value a cron field selects, in order (the schema has checked its syntax)."""
    values: set[int] = set()
    for part in text.split(","):
        range_text, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if range_text == "*":
            start, end = low, high
        else:
            first, dash, last = range_text.partition("-")
            start = _cron_number(first, low, names)
            end = _cron_number(last, low, names) if dash else (high if step_text else start)
        values.update(range(start, end + 1, step))
    return sorted(values)


def _calendar_numbers(text: str, low: int, high: int, names: tuple[str, ...]) -> str:
    """A cron field as an OnCalendar component: *, a repetition start/step, or a list with ranges."""
    if text == "*":
        return "*"
    range_text, _, step = text.partition("/")
    if range_text == "*" and step:
        return f"{low:02d}/{int(step)}"
    values = _cron_values(text, low, high, names)
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(
        f"{run[0]:02d}..{run[-1]:02d}" if len(run) > 2 else ",".join(f"{value:02d}" for value in run)
        for run in runs
    )


def _calendar_weekdays(text: str) -> str:
    # Cron counts Sunday as 0 and 7; OnCalendar lists Mon..Sun.
    days = {value % 7 for value in _cron_values(text, 0, 7, CRON_DAY_NAMES)}
    ordered = [index for index in (1, 2, 3, 4, 5, 6, 0) if index in days]
    names = [_CALENDAR_DAYS[(index - 1) % 7] for index in ordered]
    if len(names) > 2 and ordered == list(range(ordered[0], ordered[0] + len(ordered))):
        return f"{names[0]}..{names[-1]}"
    return ",".join(names)


def cron_to_on_calendar(expression: str) -> list[str]:
    """A 5-field cron expression (or @macro) as the OnCalendar expressions of one timer.

    Cron runs a job when the day of month OR the day of week matches if both are restricted
    (neither starts with *); OnCalendar needs both to match, so that case takes two expressions.
    """
    fields = CRON_MACROS.get(expression.strip(), expression).split()
    minute, hour, day, month = (
        _calendar_numbers(text, low, high, names)
        for text, (_, low, high, names) in zip(fields[:4], CRON_FIELDS[:4], strict=True)
    )
    weekday = fields[4]
    time = f"{hour}:{minute}:00"
    if weekday.startswith("*"):
        return [f"*-{month}-{day} {time}"]
    days = _calendar_weekdays(weekday)
    if fields[2].startswith("*"):
        return [f"{days} *-{month}-{day} {time}"]
    return [f"*-{month}-{day} {time}", f"{days} *-{month}-* {time}"]


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def split_zone(expression: str) -> tuple[str, str | None]:
    """An OnCalendar expression without its trailing time zone, and that zone (None when it has none)."""
    words = expression.split()
    if len(words) > 1 and words[-1] in _zone_names():
        return " ".join(words[:-1]), words[-1]
    return " ".join(words), None


def on_calendar(schedule: str, timezone: str) -> list[str]:
    """The OnCalendar expressions of a routine's schedule, in the calendar's time zone.

    A cron schedule is converted; OnCalendar text is kept, and gets the calendar's zone unless it
    names its own.
    """
    if schedule_is_cron(schedule):
        return [f"{expression} {timezone}" for expression in cron_to_on_calendar(schedule)]
    expression, zone = split_zone(schedule)
    return [f"{expression} {zone or timezone}"]


def schedule_is_cron(schedule: str) -> bool:
    """Five fields or an @macro are cron, as the schema of ops.yml reads them; the rest is OnCalendar."""
    return len(schedule.split()) == 5 or schedule.strip().startswith("@")


# --- OnCalendar expressions as cron expressions --------------------------------------------------

_CALENDAR_NUMBER = re.compile(r"^\d{1,2}$")
_CALENDAR_WEEKDAY_NUMBER = {name.lower(): (index + 1) % 7 for index, name in enumerate(_CALENDAR_DAYS)}


class NotCronExpressible(ValueError):
    """An OnCalendar expression that has no cron equivalent; the message says why."""


def _cron_component(text: str, what: str, high: int) -> str:
    """An OnCalendar number component (*, 5, 1,15, 1..5, 0/15, 3/2) as a cron field."""
    if text == "*":
        return "*"
    parts = []
    for part in text.split(","):
        start, slash, step = part.partition("/")
        first, dots, last = start.partition("..")
        numbers = [first, last] if dots else [first]
        if not all(_CALENDAR_NUMBER.match(number) for number in numbers) or (slash and not step.isdigit()):
            raise NotCronExpressible(f"the {what} {part!r} has no cron equivalent")
        cron_range = "-".join(str(int(number)) for number in numbers)
        if slash:
            cron_range = f"{int(first)}-{high}/{int(step)}" if not dots else f"{cron_range}/{int(step)}"
        parts.append(cron_range)
    return ",".join(parts)


def _cron_weekdays(text: str) -> str:
    parts = []
    for part in text.split(","):
        first, dots, last = part.partition("..")
        try:
            names = [first, last] if dots else [first]
            numbers = [_CALENDAR_WEEKDAY_NUMBER[name.lower()[:3]] for name in names]
        except KeyError:
            raise NotCronExpressible(f"the weekday {part!r} has no cron equivalent") from None
        if dots and numbers[1] == 0:  # Sat..Sun: cron's Sunday at the end of the week is 7
            numbers[1] = 7
        parts.append("-".join(str(number) for number in numbers))
    return ",".join(parts)


def on_calendar_to_cron(expression: str) -> str:
    """An OnCalendar expression (without a time zone) as a 5-field cron expression.

    Raises NotCronExpressible for what cron cannot say: seconds, years, the last days of a month
    (~), and a weekday together with days of the month (cron would run on either).
    """
    words = CALENDAR_SHORTHANDS.get(expression.strip().lower(), expression).split()
    weekdays = words.pop(0) if words and words[0][:1].isalpha() else "*"
    date = words.pop(0) if words and "-" in words[0] else "*-*-*"
    time = words.pop(0) if words and ":" in words[0] else "00:00:00"
    if words:
        raise NotCronExpressible(f"{' '.join(words)!r} is not a weekday, date or time")
    if "~" in date:
        raise NotCronExpressible("cron has no 'last days of the month' (~)")
    date_parts = date.split("-")
    if len(date_parts) == 2:
        date_parts.insert(0, "*")
    if len(date_parts) != 3 or date_parts[0] != "*":
        raise NotCronExpressible("cron cannot restrict the year")
    time_parts = time.split(":")
    if len(time_parts) == 2:
        time_parts.append("00")
    if len(time_parts) != 3 or not (_CALENDAR_NUMBER.match(time_parts[2]) and int(time_parts[2]) == 0):
        raise NotCronExpressible("cron runs at whole minutes only, not at seconds")
    day = _cron_component(date_parts[2], "day", 31)
    if weekdays != "*" and day != "*":
        raise NotCronExpressible("cron runs on either the weekday or the day of the month, not both")
    return " ".join(
        (
            _cron_component(time_parts[1], "minute", 59),
            _cron_component(time_parts[0], "hour", 23),
            day,
            _cron_component(date_parts[1], "month", 12),
            _cron_weekdays(weekdays) if weekdays != "*" else "*",
        )
    )


def cron_schedule(job: Job) -> tuple[str, str]:
    """The cron expression and time zone of a job; OnCalendar that cron cannot say is an OpsrunError."""
    if schedule_is_cron(job.schedule):
        return job.schedule, job.timezone
    expression, zone = split_zone(job.schedule)
    try:
        return on_calendar_to_cron(expression), zone or job.timezone
    except NotCronExpressible as exc:
        raise OpsrunError(
            f"the schedule of routine {job.routine!r}, {job.schedule!r}, cannot be written for cron: {exc}",
            hint="install it as a systemd timer with --kind systemd, or write the schedule in cron form",
            exit_code=ExitCode.CONFIG,
        ) from None


# --- systemd units -------------------------------------------------------------------------------


def unit_name(routine: str, suffix: str) -> str:
    return f"{UNIT_PREFIX}{routine}.{suffix}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _specifiers_escaped(text: str) -> str:
    # systemd expands %x specifiers in most settings.
    return text.replace("%", "%%")


def _exec_word(argument: str) -> str:
    """One argument of ExecStart=: $ and % kept literal, quoted when it holds blanks or quotes."""
    if any(character in argument for character in "\n\r\0"):
        raise OpsrunError(
            f"cannot write {argument!r} into a systemd unit: it holds a line break",
            hint="rename the path without line breaks",
            exit_code=ExitCode.CONFIG,
        )
    word = _specifiers_escaped(argument).replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _managed_header(job: Job) -> list[str]:
    about = f": {_one_line(job.description)}" if job.description else ""
    return [
        "# Written by 'opsrun schedule install'; 'opsrun schedule remove' removes it.",
        "[Unit]",
        _specifiers_escaped(f"Description=opsrun routine {job.routine}{about}"),
        f"{ROUTINE_KEY}={job.routine}",
        f"{SCHEDULE_KEY}={_specifiers_escaped(job.schedule)}",
    ]


def render_service(job: Job) -> str:
    """The .service unit that runs the routine once."""
    lines = [
        *_managed_header(job),
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={_specifiers_escaped(str(job.working_dir))}",
        "ExecStart=" + " ".join(_exec_word(argument) for argument in job.command),
        # 75: the routine waits at an approval gate, or another change holds its hosts. The run is
        # recorded and its on_failure applies; the unit itself has not failed.
        "SuccessExitStatus=75",
    ]
    return "\n".join(lines) + "\n"


def render_timer(job: Job) -> str:
    """The .timer unit: the schedule in the calendar's time zone, caught up after downtime."""
    lines = [
        *_managed_header(job),
        "",
        "[Timer]",
        *(f"OnCalendar={expression}" for expression in on_calendar(job.schedule, job.timezone)),
        "Persistent=true",
        f"Unit={unit_name(job.routine, 'service')}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


# --- crontab entries -----------------------------------------------------------------------------


def _cron_word(argument: str) -> str:
    # cron hands the line to /bin/sh: quoted for the shell, and % (a line break to cron) escaped.
    if any(character in argument for character in "\n\r\0"):
        raise OpsrunError(
            f"cannot write {argument!r} into a crontab: it holds a line break",
            hint="rename the path without line breaks",
            exit_code=ExitCode.CONFIG,
        )
    return shlex.quote(argument).replace("%", "\\%")


def render_cron_entry(job: Job) -> list[str]:
    """The lines of one routine in the opsrun block of a crontab."""
    expression, zone = cron_schedule(job)
    command = " ".join(_cron_word(argument) for argument in job.command)
    return [
        f"{_CRON_ROUTINE_PREFIX}{job.routine}: {job.schedule}",
        # CRON_TZ holds for the lines after it; every entry sets its own.
        f"CRON_TZ={zone}",
        f"{expression} cd {_cron_word(str(job.working_dir))} && {command}",
    ]


@dataclass(frozen=True)
class CronEntry:
    routine: str
    schedule: str
    lines: tuple[str, ...]

    @property
    def expression(self) -> str:
        return " ".join(self.lines[-1].split()[:5])

    @property
    def timezone(self) -> str:
        return next((line.partition("=")[2] for line in self.lines if line.startswith("CRON_TZ=")), "UTC")


def split_crontab(text: str) -> tuple[list[str], list[CronEntry]]:
    """The lines of a crontab outside the opsrun block, and the routines inside it."""
    others: list[str] = []
    entries: list[CronEntry] = []
    inside = False
    current: list[str] = []

    def close() -> None:
        if current:
            routine, _, schedule = current[0].removeprefix(_CRON_ROUTINE_PREFIX).partition(": ")
            entries.append(CronEntry(routine, schedule, tuple(current)))
            current.clear()

    for line in text.splitlines():
        if line == CRON_BEGIN:
            inside = True
        elif line == CRON_END and inside:
            close()
            inside = False
        elif not inside:
            others.append(line)
        elif line.startswith(_CRON_ROUTINE_PREFIX):
            close()
            current.append(line)
        elif current:
            current.append(line)
    close()
    return others, entries


def merge_crontab(text: str, entries: Sequence[CronEntry]) -> str:
    """The crontab `text` with its opsrun block replaced by `entries`, at the end (none: no block).

    The block goes last so that its CRON_TZ lines hold for no entry of the user's own.
    """
    others, _ = split_crontab(text)
    while others and not others[-1].strip():
        others.pop()
    lines = list(others)
    if entries:
        if lines:
            lines.append("")
        lines.extend([CRON_BEGIN, *(line for entry in entries for line in entry.lines), CRON_END])
    return "\n".join(lines) + "\n" if lines else ""


def cron_entry(job: Job) -> CronEntry:
    return CronEntry(job.routine, job.schedule, tuple(render_cron_entry(job)))


# --- the machine: unit files, systemctl, systemd-analyze, crontab --------------------------------


def user_unit_dir() -> Path:
    """Where systemd reads a user's own units: $XDG_CONFIG_HOME/systemd/user (~/.config/...)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def systemd_running(*, user: bool) -> bool:
    """Whether systemd manages this machine (and, for user units, the user has a manager running)."""
    if not Path("/run/systemd/system").is_dir():
        return False
    if not user:
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return runtime is not None and (Path(runtime) / "systemd" / "private").exists()


def _run(command: Sequence[str], *, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )


def _tool_failed(command: Sequence[str], result: subprocess.CompletedProcess[str], hint: str) -> OpsrunError:
    detail = (result.stderr or result.stdout).strip()
    said = f": {detail}" if detail else ""
    return OpsrunError(
        f"'{' '.join(command)}' failed with exit code {result.returncode}{said}",
        hint=hint,
        exit_code=ExitCode.CONFIG,
    )


def systemctl(arguments: Sequence[str], *, user: bool) -> None:
    command = ["systemctl", *(["--user"] if user else []), *arguments]
    result = _run(command)
    if result.returncode != 0:
        raise _tool_failed(command, result, "see 'journalctl -xe', fix the cause and run the command again")


def check_on_calendar(routine: str, expressions: Iterable[str]) -> None:
    """Refuse what systemd would not parse, when systemd-analyze is there to ask."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    for expression in expressions:
        result = _run([analyze, "calendar", expression])
        if result.returncode != 0:
            raise OpsrunError(
                f"the schedule of routine {routine!r} gives the OnCalendar expression {expression!r}, "
                f"which systemd does not accept: {result.stderr.strip()}",
                hint="correct the routine's schedule in ops.yml (see 'man systemd.time')",
                exit_code=ExitCode.CONFIG,
            )


_NEXT_ELAPSE = re.compile(r"^\s*Next elapse: \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.MULTILINE)


def next_elapse(expressions: Iterable[str]) -> datetime | None:
    """When the first of `expressions` elapses next, computed by systemd-analyze; None without it."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return None
    result = subprocess.run(
        [analyze, "calendar", *expressions],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
    )
    times = [
        datetime.strptime(match, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        for match in _NEXT_ELAPSE.findall(result.stdout)
    ]
    return min(times, default=None)


def write_unit(path: Path, text: str) -> Change:
    """Write a unit file (0644) atomically unless it already holds `text`."""
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return Change.UNCHANGED
        change = Change.CHANGED
    else:
        change = Change.CREATED
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, UNIT_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(temporary, UNIT_FILE_MODE)  # whatever the umask
    temporary.replace(path)
    return change


@dataclass(frozen=True)
class InstalledTimer:
    routine: str
    schedule: str
    on_calendar: tuple[str, ...]
    path: Path


def _unit_values(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith(("#", ";")):
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def installed_timers(directory: Path) -> list[InstalledTimer]:
    """The timers in `directory` that opsrun wrote (named opsrun-*.timer and marked), by routine."""
    timers = []
    for path in sorted(directory.glob(f"{UNIT_PREFIX}*.timer")):
        values = _unit_values(path.read_text(encoding="utf-8"))
        routine = values.get(ROUTINE_KEY, [""])[0]
        if routine and path.name == unit_name(routine, "timer"):
            schedule = values.get(SCHEDULE_KEY, [""])[0].replace("%%", "%")
            timers.append(InstalledTimer(routine, schedule, tuple(values.get("OnCalendar", [])), path))
    return timers


def read_crontab() -> str:
    """The user's crontab; empty when there is none."""
    result = _run(["crontab", "-l"])
    if result.returncode != 0:
        if "no crontab" in result.stderr.lower():
            return ""
        raise _tool_failed(["crontab", "-l"], result, "check that cron is installed and you may use it")
    return result.stdout


def write_crontab(text: str) -> None:
    result = _run(["crontab", "-"], input_text=text)
    if result.returncode != 0:
        raise _tool_failed(["crontab", "-"], result, "check that cron is installed and you may use it")


def zone_differs_from_local(timezone: str, *, now: datetime) -> bool:
    """Whether `timezone` keeps another time than this machine, in winter or summer."""
    zone = ZoneInfo(timezone)
    for month in (1, 7):
        moment = now.replace(month=month, day=1)
        if moment.astimezone(zone).utcoffset() != moment.astimezone().utcoffset():
            return True
    return False


def timer_state(unit: str, *, user: bool) -> tuple[str, str]:
    """The next elapse and the state of a loaded timer, as systemctl shows them."""
    result = _run(
        [
            "systemctl",
            *(["--user"] if user else []),
            "show",
            "--property=NextElapseUSecRealtime",
            "--property=ActiveState",
            "--property=UnitFileState",
            unit,
        ]
    )
    values = dict(line.partition("=")[::2] for line in result.stdout.splitlines())
    state = f"{values.get('ActiveState') or 'unknown'}, {values.get('UnitFileState') or 'unknown'}"
    return values.get("NextElapseUSecRealtime") or "-", state
