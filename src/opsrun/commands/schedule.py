"""`opsrun schedule install|list|remove`: systemd timers or crontab entries for the routines of ops.yml."""

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope

if TYPE_CHECKING:
    from opsrun.schedule import Job

COMMAND = "schedule"
DEFAULT_OPS_FILE = "ops.yml"

AddGlobalOptions = Callable[..., None]


def add_parser(commands: "argparse._SubParsersAction[Any]", add_global_options: AddGlobalOptions) -> None:
    """Add `schedule` with its actions to the subcommands of opsrun."""
    parser = commands.add_parser(
        COMMAND,
        help="install, list and remove systemd timers or crontab entries that run the routines of ops.yml",
        description=(
            "Run the routines of ops.yml on their schedules: a systemd timer (Persistent=true) or a crontab "
            "entry per routine runs 'opsrun run ROUTINE' with the same ops.yml and state directory. The "
            "calendar (holidays, freezes, windows) is applied when the routine runs."
        ),
    )
    add_global_options(parser, in_subcommand=True)
    actions = parser.add_subparsers(dest="schedule_action", metavar="ACTION", required=True)

    install = actions.add_parser("install", help="write (and start) the schedules of routines")
    add_global_options(install, in_subcommand=True)
    install.add_argument("routines", nargs="*", metavar="ROUTINE", help="routines of ops.yml (default: all)")
    install.add_argument(
        "--ops-file",
        type=Path,
        default=Path(DEFAULT_OPS_FILE),
        metavar="OPS_YML",
        help=f"the operations design that holds the routines (default: ./{DEFAULT_OPS_FILE})",
    )
    install.add_argument(
        "--kind", choices=["systemd", "cron"], default="systemd", help="systemd timers (default) or crontab"
    )
    _add_scope(install)

    list_parser = actions.add_parser("list", help="the installed schedules with their next run")
    add_global_options(list_parser, in_subcommand=True)
    _add_scope(list_parser)

    remove = actions.add_parser("remove", help="remove the schedules of routines that opsrun installed")
    add_global_options(remove, in_subcommand=True)
    remove.add_argument("routines", nargs="*", metavar="ROUTINE", help="routines whose schedules go")
    remove.add_argument("--all", action="store_true", help="every schedule opsrun installed")
    _add_scope(remove)


def _add_scope(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--user",
        dest="system",
        action="store_false",
        default=None,
        help="your own systemd units in ~/.config/systemd/user (default unless root)",
    )
    scope.add_argument(
        "--system",
        dest="system",
        action="store_true",
        help="system units in /etc/systemd/system (default as root)",
    )


def handle(options: GlobalOptions, args: argparse.Namespace) -> int:
    """Carry out `opsrun schedule ACTION`; returns the exit code."""
    system = args.system if args.system is not None else os.geteuid() == 0
    if args.schedule_action == "install":
        result = install(
            options, ops_file=args.ops_file, routines=args.routines, kind=args.kind, system=system
        )
    elif args.schedule_action == "list":
        result = list_schedules(system=system)
    else:
        if bool(args.routines) == args.all:
            raise OpsrunError(
                "opsrun schedule remove: name the routines whose schedules go, or give --all",
                hint="see 'opsrun schedule list' for the installed schedules",
            )
        result = remove(routines=args.routines, remove_all=args.all, system=system)
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(COMMAND, ExitCode.OK, result))
    else:
        _print_human(args.schedule_action, result)
    return ExitCode.OK


def _unit_dir(system: bool) -> Path:
    from opsrun.schedule import SYSTEM_UNIT_DIR, user_unit_dir  # noqa: PLC0415

    return SYSTEM_UNIT_DIR if system else user_unit_dir()


def install(
    options: GlobalOptions, *, ops_file: Path, routines: list[str], kind: str, system: bool
) -> dict[str, Any]:
    """Write the schedules of `routines` (all when empty); what changed, per routine."""
    # Imported here: the schema's libraries would slow the start of every other command.
    from opsrun.design.load import load_design  # noqa: PLC0415
    from opsrun.schedule import (  # noqa: PLC0415
        ESCALATION_JOB,
        ESCALATION_SCHEDULE,
        Job,
        escalation_command,
        routine_command,
    )

    loaded = load_design(ops_file)
    design = loaded.design
    if not design.routines:
        raise OpsrunError(
            f"{ops_file}: the design has no routines to schedule",
            hint="add routines with a schedule to ops.yml (see docs/ops-yml.md)",
            exit_code=ExitCode.CONFIG,
        )
    unknown = [name for name in routines if name not in design.routines]
    if unknown:
        raise OpsrunError(
            f"{ops_file}: no routine named {', '.join(map(repr, unknown))}",
            hint=f"name routines of the design: {', '.join(design.routines)}",
        )
    jobs = [
        Job(
            routine=name,
            schedule=design.routines[name].schedule,
            timezone=design.calendar.timezone,
            command=routine_command(name, ops_file=ops_file, state_dir=options.state_dir),
            working_dir=Path.cwd(),
            description=design.routines[name].description or "",
        )
        for name in (routines or list(design.routines))
    ]
    if not routines and design.escalation:
        # Every 5 minutes: incidents not acknowledged in time go to the next tier.
        jobs.append(
            Job(
                routine=ESCALATION_JOB,
                schedule=ESCALATION_SCHEDULE,
                timezone=design.calendar.timezone,
                command=escalation_command(ops_file=ops_file, state_dir=options.state_dir),
                working_dir=Path.cwd(),
                description="escalate incidents past their acknowledge deadline",
            )
        )
    if kind == "cron":
        if system:
            raise OpsrunError(
                "cron schedules go into your own crontab, not the system's",
                hint="give --user with --kind cron, or use --kind systemd --system",
            )
        return _install_cron(jobs)
    return _install_systemd(jobs, system=system)


def _install_systemd(jobs: "list[Job]", *, system: bool) -> dict[str, Any]:
    from opsrun.schedule import (  # noqa: PLC0415
        Change,
        check_on_calendar,
        on_calendar,
        render_service,
        render_timer,
        systemctl,
        systemd_running,
        unit_name,
        write_unit,
    )

    for job in jobs:
        check_on_calendar(job.routine, on_calendar(job.schedule, job.timezone))
    directory = _unit_dir(system)
    installed: list[dict[str, Any]] = []
    for job in jobs:
        service = write_unit(directory / unit_name(job.routine, "service"), render_service(job))
        timer = write_unit(directory / unit_name(job.routine, "timer"), render_timer(job))
        change = service if service == timer else Change.CHANGED
        installed.append(
            {
                "routine": job.routine,
                "change": change.value,
                "unit": unit_name(job.routine, "timer"),
                "schedule": job.schedule,
                "on_calendar": on_calendar(job.schedule, job.timezone),
            }
        )
    user = not system
    started = systemd_running(user=user)
    if started:
        if any(entry["change"] != Change.UNCHANGED for entry in installed):
            systemctl(["daemon-reload"], user=user)
        systemctl(["enable", "--now", *(unit_name(job.routine, "timer") for job in jobs)], user=user)
    return {"kind": "systemd", "unit_dir": str(directory), "started": started, "routines": installed}


def _install_cron(jobs: "list[Job]") -> dict[str, Any]:
    from opsrun.schedule import (  # noqa: PLC0415
        Change,
        cron_entry,
        merge_crontab,
        read_crontab,
        split_crontab,
        write_crontab,
        zone_differs_from_local,
    )

    new = {job.routine: cron_entry(job) for job in jobs}  # raises for what cron cannot express
    current = read_crontab()
    _, existing = split_crontab(current)
    old = {entry.routine: entry for entry in existing}
    merged = [new.get(entry.routine, entry) for entry in existing]
    merged += [entry for name, entry in new.items() if name not in old]
    text = merge_crontab(current, merged)
    if text != current:
        write_crontab(text)
    installed = []
    for name, entry in new.items():
        if name not in old:
            change = Change.CREATED
        else:
            change = Change.UNCHANGED if old[name].lines == entry.lines else Change.CHANGED
        installed.append(
            {"routine": name, "change": change.value, "schedule": entry.schedule, "cron": entry.expression}
        )
    now = datetime.now().astimezone()
    zones = {entry.timezone for entry in new.values()}
    unlike_local = sorted(zone for zone in zones if zone_differs_from_local(zone, now=now))
    return {"kind": "cron", "routines": installed, "zones_unlike_local": unlike_local}


def list_schedules(*, system: bool) -> dict[str, Any]:
    """The schedules opsrun installed: systemd timers in the unit directory and crontab entries."""
    from opsrun.schedule import (  # noqa: PLC0415
        installed_timers,
        next_elapse,
        on_calendar,
        read_crontab,
        split_crontab,
        split_zone,
        systemd_running,
        timer_state,
    )

    directory = _unit_dir(system)
    running = systemd_running(user=not system)
    schedules = []
    for timer in installed_timers(directory):
        if running:
            next_text, state = timer_state(timer.path.name, user=not system)
        else:
            zone = split_zone(timer.on_calendar[0])[1] if timer.on_calendar else None
            next_text = _when(next_elapse(timer.on_calendar), zone)
            state = "not started (systemd is not running)"
        schedules.append(
            {
                "routine": timer.routine,
                "kind": "systemd",
                "schedule": timer.schedule,
                "next_elapse": next_text,
                "state": state,
                "where": str(timer.path),
            }
        )
    if shutil.which("crontab") is not None and not system:
        for entry in split_crontab(read_crontab())[1]:
            schedules.append(
                {
                    "routine": entry.routine,
                    "kind": "cron",
                    "schedule": entry.schedule,
                    "next_elapse": _when(
                        next_elapse(on_calendar(entry.expression, entry.timezone)), entry.timezone
                    ),
                    "state": "in crontab",
                    "where": "crontab",
                }
            )
    return {"unit_dir": str(directory), "schedules": schedules}


def _when(moment: datetime | None, zone: str | None) -> str:
    if moment is None:
        return "unknown (systemd-analyze not found)"
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    return moment.astimezone(ZoneInfo(zone or "UTC")).strftime("%Y-%m-%d %H:%M %Z")


def remove(*, routines: list[str], remove_all: bool, system: bool) -> dict[str, Any]:
    """Remove the schedules of `routines` (or all) that opsrun installed, systemd and cron."""
    from opsrun.schedule import (  # noqa: PLC0415
        installed_timers,
        merge_crontab,
        read_crontab,
        split_crontab,
        systemctl,
        systemd_running,
        unit_name,
        write_crontab,
    )

    user = not system
    timers = {timer.routine: timer for timer in installed_timers(_unit_dir(system))}
    cron_text = read_crontab() if shutil.which("crontab") is not None and user else ""
    cron_entries = split_crontab(cron_text)[1]
    installed = set(timers) | {entry.routine for entry in cron_entries}
    wanted = installed if remove_all else set(routines)
    unknown = sorted(wanted - installed)
    if unknown:
        raise OpsrunError(
            f"no schedule installed by opsrun for {', '.join(map(repr, unknown))}",
            hint=f"installed: {', '.join(sorted(installed)) or 'none'}; see 'opsrun schedule list'",
        )
    removed = []
    doomed = [timers[name] for name in sorted(wanted) if name in timers]
    if doomed:
        running = systemd_running(user=user)
        if running:
            systemctl(["disable", "--now", *(timer.path.name for timer in doomed)], user=user)
        for timer in doomed:
            timer.path.unlink()
            timer.path.with_name(unit_name(timer.routine, "service")).unlink(missing_ok=True)
            removed.append({"routine": timer.routine, "kind": "systemd"})
        if running:
            systemctl(["daemon-reload"], user=user)
    kept = [entry for entry in cron_entries if entry.routine not in wanted]
    if len(kept) != len(cron_entries):
        write_crontab(merge_crontab(cron_text, kept))
        removed += [
            {"routine": entry.routine, "kind": "cron"} for entry in cron_entries if entry.routine in wanted
        ]
    return {"removed": removed}


def _print_human(action: str, result: dict[str, Any]) -> None:
    write = sys.stdout.write
    if action == "install":
        for entry in result["routines"]:
            detail = entry.get("unit") or f"crontab: {entry['cron']}"
            write(f"{entry['change']:<10} {entry['routine']}  ({entry['schedule']}) → {detail}\n")
        if result["kind"] == "systemd":
            if result["started"]:
                write("timers enabled and started\n")
            else:
                write(
                    f"systemd is not running here: the units are in {result['unit_dir']}, "
                    "their timers are not started\n"
                )
        for zone in result["zones_unlike_local"] if result["kind"] == "cron" else []:
            write(
                f"note: the entries set CRON_TZ={zone}, which this machine's time zone differs from; "
                "a cron without CRON_TZ (Debian's) runs them in local time: use --kind systemd there\n"
            )
    elif action == "list":
        from rich.console import Console  # noqa: PLC0415
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        if not result["schedules"]:
            write("no schedules installed by opsrun\n")
            return
        table = Table(title="Schedules", title_justify="left")
        for column in ("routine", "kind", "schedule", "next elapse", "state"):
            table.add_column(column, overflow="fold")
        for entry in result["schedules"]:
            table.add_row(
                *(Text(entry[key]) for key in ("routine", "kind", "schedule", "next_elapse", "state"))
            )
        Console().print(table)
    else:
        for entry in result["removed"]:
            write(f"removed    {entry['routine']} ({entry['kind']})\n")
