"""The opsrun command line: argument parsing, dispatch to a subcommand, and the error handler."""

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from opsrun import __version__
from opsrun.commands import export as export_command
from opsrun.commands import history as history_command
from opsrun.commands import report as report_command
from opsrun.commands import run as run_command
from opsrun.commands import schedule as schedule_command
from opsrun.design import DEFAULT_FILE_NAME, FORMATS, LANGUAGES
from opsrun.design.problems import DesignError
from opsrun.errors import ExitCode, OpsrunError
from opsrun.incidents import DEFAULT_APPROVAL_HOURS, NOTE_REQUIRED, Action, State
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope
from opsrun.state import LOG_FILE_NAME, open_log

PROG = "opsrun"
DEFAULT_STATE_DIR = ".opsrun"

log = logging.getLogger("opsrun")

Handler = Callable[[GlobalOptions, argparse.Namespace], int]


class _ArgumentParser(argparse.ArgumentParser):
    """Reports bad usage as an OpsrunError (exit code USAGE) instead of exiting with 2.

    ansible-playbook uses 2 for failed hosts, which opsrun passes through.
    """

    def error(self, message: str) -> NoReturn:
        raise OpsrunError(
            f"{self.prog}: {message}", hint=f"see '{self.prog} --help'", exit_code=ExitCode.USAGE
        )


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # Accepted before and after the subcommand; after it, only given values override.
    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    parser.add_argument(
        "--output",
        choices=[fmt.value for fmt in OutputFormat],
        default=default(OutputFormat.HUMAN.value),
        help="human-readable output (default) or a JSON result envelope on stdout",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default(None),
        help=(
            "where runs, the run store and the log live "
            f"(env OPSRUN_STATE_DIR; default ./{DEFAULT_STATE_DIR})"
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="more detail in the log, and tracebacks on the terminal",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


def _number_from_env(name: str, convert: Callable[[str], float], default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        return convert(text)
    except ValueError:
        raise OpsrunError(
            f"the environment variable {name}={text!r} is not a positive number",
            hint=f"set {name} to a positive number or unset it",
            exit_code=ExitCode.CONFIG,
        ) from None


def _run(options: GlobalOptions, args: argparse.Namespace) -> int:
    keep_runs, keep_days = _retention(args)
    if (args.routine is None) == (args.playbook is None):
        raise OpsrunError(
            "opsrun run: name a routine of ops.yml or give --playbook, not both and not neither",
            hint="e.g. 'opsrun run daily-health' or 'opsrun run --playbook ping'; see 'opsrun run --help'",
        )
    if args.routine is not None:
        if args.inventory or args.limit or args.extra_vars:
            raise OpsrunError(
                "opsrun run ROUTINE takes its inventory, limits and variables from ops.yml",
                hint="drop -i, -l and -e, or change the routine's steps in ops.yml; see 'opsrun run --help'",
            )
        # Imported here: the schema's libraries would slow the start of every other command.
        from opsrun.commands import routine as routine_command  # noqa: PLC0415

        return routine_command.run_routine(
            options,
            routine=args.routine,
            ops_file=args.ops_file,
            check=args.check,
            diff=args.diff,
            force=args.force,
            keep_runs=keep_runs,
            keep_days=keep_days,
            scheduled=args.scheduled,
            actor=args.actor,
            wait_seconds=args.wait,
        )
    for given, option in (
        (args.force is not None, "--force"),
        (args.wait > 0, "--wait"),
        (args.scheduled, "--scheduled"),
        (args.actor, "--as"),
    ):
        if given:
            raise OpsrunError(
                f"{option} applies to a routine of ops.yml", hint=f"drop {option}; see 'opsrun run --help'"
            )
    return run_command.run(
        options,
        playbook=args.playbook,
        inventory=args.inventory,
        limit=args.limit,
        extra_vars=args.extra_vars,
        check=args.check,
        diff=args.diff,
        keep_runs=keep_runs,
        keep_days=keep_days,
    )


def _retention(args: argparse.Namespace) -> tuple[int, float]:
    keep_runs = args.keep_runs
    if keep_runs is None:
        keep_runs = int(_number_from_env("OPSRUN_KEEP_RUNS", _positive_int, run_command.DEFAULT_KEEP_RUNS))
    keep_days = args.keep_days
    if keep_days is None:
        keep_days = _number_from_env("OPSRUN_KEEP_DAYS", _positive_float, run_command.DEFAULT_KEEP_DAYS)
    return keep_runs, keep_days


def _approve(options: GlobalOptions, args: argparse.Namespace) -> int:
    from opsrun.commands import routine as routine_command  # noqa: PLC0415

    keep_runs, keep_days = _retention(args)
    return routine_command.approve_run(
        options,
        routine_run_id=args.routine_run_id,
        actor=args.actor,
        keep_runs=keep_runs,
        keep_days=keep_days,
        wait_seconds=args.wait,
    )


def _check(options: GlobalOptions, args: argparse.Namespace) -> int:
    # Imported here: the schema's libraries (pydantic, holidays) would slow every other command's start.
    from opsrun.commands import check as check_command  # noqa: PLC0415

    return check_command.check(options, ops_file=args.ops_file, skip_syntax=args.skip_syntax)


def _design(options: GlobalOptions, args: argparse.Namespace) -> int:
    from opsrun.commands import design as design_command  # noqa: PLC0415

    return design_command.design(
        options, ops_file=args.ops_file, language=args.lang, output_format=args.format
    )


def _incident(options: GlobalOptions, args: argparse.Namespace) -> int:
    from opsrun.commands import incident as incident_command  # noqa: PLC0415

    if args.incident_action == "list":
        state = State(args.state) if args.state else None
        return incident_command.list_command(options, include_resolved=args.all, state=state)
    if args.incident_action == "show":
        return incident_command.show(options, incident_id=args.incident_id)
    if args.incident_action == "escalate-due":
        return incident_command.escalate_due(options, ops_file=args.ops_file)
    action = Action(args.incident_action)
    approval_hours = DEFAULT_APPROVAL_HOURS
    if action is Action.APPROVE:
        approval_hours = args.valid_hours or _number_from_env(
            "OPSRUN_APPROVAL_HOURS", _positive_float, DEFAULT_APPROVAL_HOURS
        )
    return incident_command.act(
        options,
        action=action,
        incident_id=args.incident_id,
        actor=args.actor,
        ops_file=args.ops_file,
        note=args.note,
        approval_hours=approval_hours,
    )


_INCIDENT_ACTIONS = {
    Action.ACK: "acknowledge an open incident for its current tier",
    Action.ESCALATE: "hand an incident to the next escalation tier",
    Action.MITIGATE: "record the temporary fix (暫定対処) that was made",
    Action.PROPOSE_FIX: "propose the permanent fix (恒久対処), which then needs approval",
    Action.APPROVE: "approve the proposed permanent fix (a tier that may approve permanent_fix)",
    Action.RESOLVE: "close an incident (after an approved permanent fix, or when none is needed)",
}


def _add_design_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ops-file",
        type=Path,
        default=Path(DEFAULT_FILE_NAME),
        metavar="OPS_YML",
        help=f"the operations design with the contacts and tiers (default: ./{DEFAULT_FILE_NAME})",
    )


def _add_retention_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-runs",
        type=_positive_int,
        metavar="N",
        help=f"keep at most N runs (env OPSRUN_KEEP_RUNS; default {run_command.DEFAULT_KEEP_RUNS})",
    )
    parser.add_argument(
        "--keep-days",
        type=_positive_float,
        metavar="DAYS",
        help=(
            "remove run directories older than DAYS "
            f"(env OPSRUN_KEEP_DAYS; default {run_command.DEFAULT_KEEP_DAYS:g})"
        ),
    )


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for another run changing the same hosts to finish (default: fail at once)",
    )


def _add_approve_parser(commands: "argparse._SubParsersAction[_ArgumentParser]") -> None:
    parser = commands.add_parser(
        "approve",
        help="approve the step a routine run is paused before, and run the rest of the routine",
        description=(
            "A routine pauses before a step marked approval: true until a contact of a tier whose "
            "may_approve names the routine (or change, for a step that changes hosts) approves it. The "
            "approver must not be the one who started the run. The run then goes on from that step, in this "
            "process."
        ),
    )
    _add_global_options(parser, in_subcommand=True)
    parser.add_argument(
        "routine_run_id", metavar="RUN_ID", help="the paused routine run (see 'opsrun history')"
    )
    parser.add_argument(
        "--as", dest="actor", required=True, metavar="CONTACT", help="who approves: a contact of ops.yml"
    )
    _add_retention_options(parser)
    _add_wait_option(parser)


def _add_incident_parser(commands: "argparse._SubParsersAction[_ArgumentParser]") -> None:
    incident_parser = commands.add_parser(
        "incident",
        help="list, show and work incidents: ack, escalate, mitigate, propose-fix, approve, resolve",
        description=(
            "Incidents opened from health findings, each with its timeline. States: open → acknowledged → "
            "mitigated → fix_proposed → approved → resolved. Actions name who takes them with --as CONTACT "
            "(a contact of ops.yml, whose tiers decide what they may approve)."
        ),
    )
    _add_global_options(incident_parser, in_subcommand=True)
    actions = incident_parser.add_subparsers(dest="incident_action", metavar="ACTION", required=True)
    list_parser = actions.add_parser("list", help="the incidents that are not resolved, newest first")
    _add_global_options(list_parser, in_subcommand=True)
    list_parser.add_argument("--all", action="store_true", help="resolved incidents too")
    list_parser.add_argument(
        "--state", choices=[state.value for state in State], help="only the incidents in this state"
    )
    show_parser = actions.add_parser("show", help="an incident with its timeline and approvals")
    _add_global_options(show_parser, in_subcommand=True)
    show_parser.add_argument("incident_id", type=_positive_int, metavar="ID")
    due_parser = actions.add_parser(
        "escalate-due",
        help="escalate every open incident whose tier let its ack deadline pass, and notify the next tier",
        description=(
            "Escalate each open incident not acknowledged within its tier's ack_minutes to the next tier "
            "and notify that tier's contacts. Run it from a timer every few minutes ('opsrun schedule')."
        ),
    )
    _add_global_options(due_parser, in_subcommand=True)
    _add_design_option(due_parser)
    for action, summary in _INCIDENT_ACTIONS.items():
        action_parser = actions.add_parser(action.value, help=summary, description=summary)
        _add_global_options(action_parser, in_subcommand=True)
        action_parser.add_argument("incident_id", type=_positive_int, metavar="ID")
        action_parser.add_argument(
            "--as", dest="actor", required=True, metavar="CONTACT", help="who you are: a contact of ops.yml"
        )
        action_parser.add_argument(
            "--note",
            required=action in NOTE_REQUIRED,
            default="",
            help="what was done, proposed or decided" + (" (required)" if action in NOTE_REQUIRED else ""),
        )
        _add_design_option(action_parser)
        if action is Action.APPROVE:
            action_parser.add_argument(
                "--valid-hours",
                type=_positive_float,
                metavar="HOURS",
                help=(
                    "how long the approval stays valid "
                    f"(env OPSRUN_APPROVAL_HOURS; default {DEFAULT_APPROVAL_HOURS:g})"
                ),
            )


def _add_ops_file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ops_file",
        nargs="?",
        type=Path,
        default=Path(DEFAULT_FILE_NAME),
        metavar="OPS_YML",
        help=f"the operations design (default: ./{DEFAULT_FILE_NAME})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog=PROG, description="Routine and incident operations for managed servers, through Ansible."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run_parser = commands.add_parser(
        "run",
        help="run a routine of ops.yml, or one playbook of the opsrun.ops collection (or a playbook file)",
        description=(
            "Run a routine of the operations design step by step, each step inside the contract scope and, "
            "when it changes hosts, inside a maintenance window; or run one playbook. Reports per host and "
            "exits with ansible-playbook's code on failure (77 when ops.yml refuses a step)."
        ),
    )
    _add_global_options(run_parser, in_subcommand=True)
    run_parser.add_argument("routine", nargs="?", metavar="ROUTINE", help="a routine of ops.yml")
    run_parser.add_argument(
        "--playbook",
        metavar="NAME",
        help="a collection playbook (ping or opsrun.ops.ping) or a path to a playbook file",
    )
    run_parser.add_argument(
        "--ops-file",
        type=Path,
        default=Path(DEFAULT_FILE_NAME),
        metavar="OPS_YML",
        help=f"the operations design that holds ROUTINE (default: ./{DEFAULT_FILE_NAME})",
    )
    run_parser.add_argument(
        "--force",
        metavar="REASON",
        help="run a routine's change steps outside maintenance windows or in a freeze; REASON is recorded",
    )
    run_parser.add_argument(
        "-i",
        "--inventory",
        action="append",
        default=[],
        help="inventory path or host list, repeatable (default: the collection's local inventory)",
    )
    run_parser.add_argument("-l", "--limit", help="limit the run to these hosts (an Ansible host pattern)")
    run_parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="VARS",
        help="key=value pairs, inline YAML/JSON, or @file; repeatable",
    )
    run_parser.add_argument("--check", action="store_true", help="predict changes without making them")
    run_parser.add_argument("--diff", action="store_true", help="show the differences in changed files")
    run_parser.add_argument(
        "--scheduled",
        action="store_true",
        help=(
            "a run started by a timer: the calendar decides whether the routine runs now, and a day it "
            "may not is recorded as a skip with its reason"
        ),
    )
    run_parser.add_argument(
        "--as",
        dest="actor",
        metavar="CONTACT",
        help="who starts the routine (a contact of ops.yml; default opsrun): they may not approve its gates",
    )
    _add_wait_option(run_parser)
    _add_retention_options(run_parser)

    check_parser = commands.add_parser(
        "check",
        help="validate an operations design (ops.yml) with its inventories and playbooks",
        description=(
            "Validate ops.yml, check that its inventories exist and its playbooks resolve, and run "
            "ansible-playbook --syntax-check on each playbook. Lists every error as FILE:LINE: KEY: MESSAGE."
        ),
    )
    _add_global_options(check_parser, in_subcommand=True)
    _add_ops_file_argument(check_parser)
    check_parser.add_argument(
        "--skip-syntax",
        action="store_true",
        help="do not run ansible-playbook --syntax-check on the playbooks",
    )

    design_parser = commands.add_parser(
        "design",
        help="print the operations design (ops.yml) as a document, Markdown or HTML, English or Japanese",
        description=(
            "Render ops.yml as a readable operations design: scope, routines and thresholds, escalation "
            "and contacts, incident runbooks, calendar. Notification URLs show only their scheme."
        ),
    )
    _add_global_options(design_parser, in_subcommand=True)
    _add_ops_file_argument(design_parser)
    design_parser.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    design_parser.add_argument(
        "--format", choices=FORMATS, default="md", help="Markdown or HTML (default: md)"
    )
    _add_incident_parser(commands)
    _add_approve_parser(commands)
    history_command.add_history_parser(commands, _add_global_options)
    history_command.add_show_parser(commands, _add_global_options)
    report_command.add_parser(commands, _add_global_options)
    schedule_command.add_parser(commands, _add_global_options)
    export_command.add_parser(commands, _add_global_options)
    return parser


# Subcommand name -> the function that carries it out.
COMMANDS: dict[str, Handler] = {
    "run": _run,
    "approve": _approve,
    "check": _check,
    "design": _design,
    "incident": _incident,
    "history": history_command.handle_history,
    "show": history_command.handle_show,
    "report": report_command.handle,
    "schedule": schedule_command.handle,
    "export": export_command.handle,
}


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether --output json was asked for; used when the arguments as a whole do not parse."""
    for index, argument in enumerate(argv):
        if argument == "--output=json" or (
            argument == "--output" and index + 1 < len(argv) and argv[index + 1] == "json"
        ):
            return True
    return False


def state_dir_from(option: Path | None) -> Path:
    """The state directory: --state-dir, else OPSRUN_STATE_DIR, else ./.opsrun; made absolute."""
    chosen = option or Path(os.environ.get("OPSRUN_STATE_DIR") or DEFAULT_STATE_DIR)
    return chosen.expanduser().absolute()


def report_error(error: BaseException, *, command: str, options: GlobalOptions, logged: bool) -> int:
    """Print one line about `error` on stderr (and the JSON envelope); return the exit code.

    The traceback goes to the log (when `logged`), and to the terminal only with --verbose.
    """
    log_path = options.state_dir / LOG_FILE_NAME
    if isinstance(error, OpsrunError):
        exit_code, message, hint = error.exit_code, error.message, error.hint
        line = error.one_line()
    elif isinstance(error, KeyboardInterrupt):
        exit_code, message, hint = ExitCode.INTERRUPTED, "interrupted", ""
        line = message
    else:
        exit_code = ExitCode.INTERNAL
        message = f"internal error: {type(error).__name__}: {error}"
        hint = f"the traceback is in {log_path}" if logged else "run again with -v to see the traceback"
        line = f"{message}; {hint}"
    if logged:
        log.error("%s %s", command, line, exc_info=error)
    # An operations design lists every problem, one per line, before the summary line.
    problems = error.problems if isinstance(error, DesignError) else []
    for problem in problems:
        sys.stderr.write(problem.one_line() + "\n")
    sys.stderr.write(f"{PROG}: {line}\n")
    if options.verbose:
        traceback.print_exception(error, file=sys.stderr)
    if options.output is OutputFormat.JSON:
        result = {"errors": [problem.to_dict() for problem in problems]} if problems else None
        print_envelope(envelope(command, exit_code, result, message=message, hint=hint))
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the opsrun command; returns its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as exited:  # --help and --version
        return exited.code if isinstance(exited.code, int) else ExitCode.OK
    except OpsrunError as error:
        output = OutputFormat.JSON if _wants_json(arguments) else OutputFormat.HUMAN
        options = GlobalOptions(state_dir=state_dir_from(None), output=output)
        command = next((argument for argument in arguments if argument in COMMANDS), "")
        return report_error(error, command=command, options=options, logged=False)

    options = GlobalOptions(
        state_dir=state_dir_from(args.state_dir), output=OutputFormat(args.output), verbose=args.verbose
    )
    handler = COMMANDS[args.command]
    log_handler: logging.Handler | None = None
    try:
        log_handler = open_log(options.state_dir)
        log.addHandler(log_handler)
        log.setLevel(logging.DEBUG if options.verbose else logging.INFO)
        return handler(options, args)
    except (Exception, KeyboardInterrupt) as error:
        return report_error(error, command=args.command, options=options, logged=log_handler is not None)
    finally:
        if log_handler is not None:
            log.removeHandler(log_handler)
            log_handler.close()
