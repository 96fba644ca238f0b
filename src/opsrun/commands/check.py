"""`opsrun check`: validate an operations design (ops.yml) with its inventories and playbooks."""

import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from opsrun.collection import collection_dir
from opsrun.design.check import CheckResult, check_design
from opsrun.design.load import load_design
from opsrun.design.schema import OpsDesign
from opsrun.engine import ansible_playbook_executable
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope

COMMAND = "check"

log = logging.getLogger(__name__)


def summary(result: CheckResult) -> dict[str, Any]:
    """What the design holds, for --output json; notification URLs appear only as scheme://***."""
    design = result.loaded.design
    calendar = design.calendar
    return {
        "file": str(result.loaded.source),
        "scope": {
            "inventory": result.inventories,
            "hosts": design.scope.hosts,
            "exclude": design.scope.exclude,
            "layers": design.scope.layers,
        },
        "contacts": {
            name: {"notify": contact.redacted_notify(), "email": contact.email, "phone": contact.phone}
            for name, contact in design.contacts.items()
        },
        "escalation": [tier.model_dump() for tier in design.escalation],
        "calendar": {
            "timezone": calendar.timezone,
            "holiday_country": calendar.holidays.country,
            "freezes": len(calendar.freezes),
            "maintenance_windows": len(calendar.maintenance_windows),
        },
        "routines": {
            name: {
                "schedule": routine.schedule,
                "steps": len(routine.steps),
                "changes_hosts": routine.changes_hosts,
            }
            for name, routine in design.routines.items()
        },
        "runbooks": [runbook.name for runbook in design.incidents.runbooks],
        "playbooks": {name: str(path) for name, path in result.playbooks.items()},
        "syntax_checked": result.syntax_checked,
    }


def summary_lines(design: OpsDesign, result: CheckResult) -> list[str]:
    """A few lines for the terminal: scope, escalation, calendar, routines, runbooks, playbooks."""
    scope = design.scope
    excluded = f" except {', '.join(scope.exclude)}" if scope.exclude else ""
    tiers = " → ".join(f"{tier.name} ({tier.ack_minutes} min)" for tier in design.escalation) or "none"
    calendar = design.calendar
    holidays = f"{calendar.holidays.country} holidays" if calendar.holidays.country else "no public holidays"
    routines = [
        f"{name} ({routine.schedule}; {len(routine.steps)} step(s)"
        + (", changes hosts)" if routine.changes_hosts else ")")
        for name, routine in design.routines.items()
    ]
    runbooks = [runbook.name for runbook in design.incidents.runbooks]
    checked = "resolved and syntax-checked" if result.syntax_checked else "resolved (syntax check skipped)"
    return [
        f"{result.loaded.source}: the operations design is valid",
        f"  scope: {', '.join(scope.hosts)}{excluded} in {', '.join(result.inventories)}; "
        f"layers {', '.join(scope.layers)}",
        f"  escalation: {tiers}",
        f"  calendar: {calendar.timezone}, {holidays}, {len(calendar.freezes)} freeze(s), "
        f"{len(calendar.maintenance_windows)} maintenance window(s)",
        f"  routines: {', '.join(routines) or 'none'}",
        f"  incidents: {len(runbooks)} runbook(s){': ' + ', '.join(runbooks) if runbooks else ''}",
        f"  playbooks: {len(set(result.playbooks.values()))} {checked}",
    ]


def check(
    options: GlobalOptions,
    *,
    ops_file: Path,
    skip_syntax: bool = False,
    console: Console | None = None,
) -> int:
    """Validate `ops_file`; returns 0, or raises DesignError (exit code 78) listing every problem."""
    loaded = load_design(ops_file)
    executable = None if skip_syntax else ansible_playbook_executable()
    result = check_design(loaded, collection=collection_dir(), ansible_playbook=executable)
    log.info("check %s: valid, %d playbook(s)", ops_file, len(result.playbooks))
    if options.output is OutputFormat.JSON:
        print_envelope(envelope(COMMAND, 0, summary(result)))
    else:
        console = console or Console()
        for line in summary_lines(loaded.design, result):
            console.print(Text(line), soft_wrap=True)
    return 0
