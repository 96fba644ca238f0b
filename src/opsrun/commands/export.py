"""`opsrun export awx|rulebook`: the operations design for AWX and for Event-Driven Ansible."""

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope

COMMAND = "export"
DEFAULT_OPS_FILE = "ops.yml"
PLAYBOOK_FILE = "awx.yml"
VAULT_FILE = "vault.yml"
# The generated files hold no secret but describe the whole operation: group-readable at most.
PLAYBOOK_MODE = 0o640
VAULT_MODE = 0o600

log = logging.getLogger(__name__)


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(text)
    return value


def add_parser(
    commands: "argparse._SubParsersAction[Any]",
    add_global_options: Callable[..., None],
) -> None:
    """Add `export awx` and `export rulebook` to the subcommands of the opsrun command line."""
    export_parser = commands.add_parser(
        "export",
        help="the operations design as an AWX configuration playbook or an ansible-rulebook rulebook",
        description="Export ops.yml for AWX / Ansible Automation Platform or Event-Driven Ansible.",
    )
    add_global_options(export_parser, in_subcommand=True)
    targets = export_parser.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    awx_parser = targets.add_parser(
        "awx",
        help="an awx.awx playbook: project, inventory, job and workflow templates, schedules, notifications",
        description=(
            "Write an awx.awx configuration-as-code playbook for the operations design: one job template per "
            "playbook (surveys from the roles' argument specs), one workflow per routine and runbook, the "
            "routines' schedules as rrules and the tiers' notification templates. Secrets stay out: they are "
            f"vault_notify_* variables, listed empty in {VAULT_FILE}."
        ),
    )
    add_global_options(awx_parser, in_subcommand=True)
    rulebook_parser = targets.add_parser(
        "rulebook",
        help="an ansible-rulebook rulebook that runs the runbooks' first response on Alertmanager alerts",
        description=(
            "Write a rulebook for ansible-rulebook: alerts from Prometheus Alertmanager "
            "(ansible.eda.alertmanager) run the first-response playbooks of the matching incident runbook "
            "on the alert's host."
        ),
    )
    add_global_options(rulebook_parser, in_subcommand=True)
    for parser, out_help in (
        (
            awx_parser,
            f"write {PLAYBOOK_FILE} and {VAULT_FILE} into this directory (default: print the playbook)",
        ),
        (rulebook_parser, "write the rulebook to this file (default: print it)"),
    ):
        parser.add_argument(
            "--ops-file",
            type=Path,
            default=Path(DEFAULT_OPS_FILE),
            metavar="OPS_YML",
            help=f"the operations design (default: ./{DEFAULT_OPS_FILE})",
        )
        parser.add_argument(
            "--out", type=Path, metavar="DIR" if parser is awx_parser else "FILE", help=out_help
        )
    rulebook_parser.add_argument(
        "--host", default="127.0.0.1", help="the address the webhook listens on (default: 127.0.0.1)"
    )
    rulebook_parser.add_argument(
        "--port", type=_port, default=5000, help="the port the webhook listens on (default: 5000)"
    )


def _write(path: Path, text: str, mode: int) -> None:
    from opsrun.export import write_private  # noqa: PLC0415

    try:
        write_private(path, text, mode)
    except OSError as error:
        raise OpsrunError(
            f"cannot write {path}: {error.strerror}",
            hint="choose a --out that exists and that you may write to",
            exit_code=ExitCode.CONFIG,
        ) from None


def _finish(options: GlobalOptions, result: dict[str, Any], text: str | None) -> int:
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(COMMAND, 0, result))
    elif text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        for key in ("playbook", "vault", "rulebook"):
            if key in result:
                sys.stdout.write(f"wrote {result[key]}\n")
    return 0


def export_awx(options: GlobalOptions, *, ops_file: Path, out: Path | None) -> int:
    """Print or write the awx.awx playbook of `ops_file`; returns the exit code."""
    # Imported here: the schema's libraries would slow the start of every other command.
    from opsrun.collection import collection_dir  # noqa: PLC0415
    from opsrun.design.load import load_design  # noqa: PLC0415
    from opsrun.export.awx import build_awx_export, vault_template  # noqa: PLC0415

    export = build_awx_export(load_design(ops_file), collection_dir())
    for left_out in export.left_out_notifications:
        sys.stderr.write(f"opsrun: warning: AWX has no notification type for the URL of {left_out}\n")
    result: dict[str, Any] = {
        "file": str(ops_file),
        "job_templates": export.job_templates,
        "workflows": export.workflows,
        "schedules": export.schedules,
        "secrets": export.secrets,
        "left_out_notifications": export.left_out_notifications,
    }
    if out is None:
        result["playbook_text"] = export.playbook
        return _finish(options, result, export.playbook)
    if not out.is_dir():
        raise OpsrunError(
            f"--out {out} is not a directory",
            hint="create it first, or leave --out out to print the playbook",
        )
    _write(out / PLAYBOOK_FILE, export.playbook, PLAYBOOK_MODE)
    result["playbook"] = str(out / PLAYBOOK_FILE)
    if export.secrets:
        _write(out / VAULT_FILE, vault_template(export.secrets), VAULT_MODE)
        result["vault"] = str(out / VAULT_FILE)
    log.info("export awx of %s into %s", ops_file, out)
    return _finish(options, result, None)


def export_rulebook(options: GlobalOptions, *, ops_file: Path, out: Path | None, host: str, port: int) -> int:
    """Print or write the rulebook of `ops_file`; returns the exit code."""
    from opsrun.collection import collection_dir  # noqa: PLC0415
    from opsrun.design.load import load_design  # noqa: PLC0415
    from opsrun.export.rulebook import build_rulebook  # noqa: PLC0415

    text = build_rulebook(load_design(ops_file), collection_dir(), host=host, port=port)
    result: dict[str, Any] = {"file": str(ops_file), "host": host, "port": port}
    if out is None:
        result["rulebook_text"] = text
        return _finish(options, result, text)
    _write(out, text, PLAYBOOK_MODE)
    result["rulebook"] = str(out)
    return _finish(options, result, None)


def handle(options: GlobalOptions, args: argparse.Namespace) -> int:
    """Carry out `opsrun export TARGET` as parsed by add_parser."""
    if args.export_target == "awx":
        return export_awx(options, ops_file=args.ops_file, out=args.out)
    return export_rulebook(options, ops_file=args.ops_file, out=args.out, host=args.host, port=args.port)
