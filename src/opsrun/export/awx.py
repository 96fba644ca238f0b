"""The operations design as an awx.awx configuration-as-code playbook (AWX / Automation Platform).

The playbook creates, in one organization: the project (the repository that holds ops.yml and the
playbooks), the scope's inventory and its sources, a job template per playbook the design uses
(its survey from the roles' argument specs), a workflow job template per routine and per incident
runbook, the routines' schedules, and notification templates for the contacts of the tiers.

Workflows follow each step's on_failure: `stop` has only a success edge (a failure ends the
workflow, failed), `continue` an always edge, `escalate` a success edge to the next step and a
failure edge to the tier's escalation node, which then always goes on. AWX has no notification
node, so each tier has a job template "opsrun escalate to TIER" that runs the ping playbook on the
controller's own localhost and sends the tier's notifications when it starts. A step with
`approval: true` is preceded by an approval node; the workflow's approval notifications go to the
tiers that may approve it.
"""

import os.path
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsrun.collection import COLLECTION_NAME, resolve_playbook
from opsrun.design.load import LoadedDesign
from opsrun.design.schema import OpsDesign, Step, Tier
from opsrun.errors import ExitCode, OpsrunError
from opsrun.export import Unsafe, to_yaml
from opsrun.export.notifications import notification_templates
from opsrun.export.rrule import ScheduleError, schedule_rrules
from opsrun.export.survey import survey_spec

ORGANIZATION = "{{ opsrun_awx_organization }}"
PROJECT = "opsrun"
INVENTORY = "opsrun scope"
# Variables the user sets (the playbook's defaults), beside the vault_notify_* secrets.
USER_VARIABLES = {
    "opsrun_awx_organization": "Default",
    "opsrun_awx_scm_url": "",
    "opsrun_awx_scm_branch": "main",
    "opsrun_awx_playbook_dir": "playbooks",
}
# The health check that verifies a runbook's first response.
VERIFY_PLAYBOOK = "health_check"
# The harmless playbook that carries a tier's notifications (see the module's docstring).
ESCALATION_PLAYBOOK = "ping"


@dataclass
class AwxExport:
    """The generated playbook, and what the user must provide or know."""

    playbook: str
    secrets: list[str]
    left_out_notifications: list[str]
    job_templates: list[str]
    workflows: list[str]
    schedules: list[str] = field(default_factory=list)


def _literal(value: Any) -> Any:
    """`value` with every string that looks like Jinja marked !unsafe: step variables and role
    defaults are for the jobs on AWX to template, not for the configuration playbook."""
    if isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value):
        return Unsafe(value)
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    return value


def project_root(ops_file: Path) -> Path:
    """The root of the repository holding ops.yml (where .git or galaxy.yml is), else its directory."""
    directory = ops_file.absolute().parent
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists() or (candidate / "galaxy.yml").is_file():
            return candidate
    return directory


def _in_project(path: Path, root: Path, what: str) -> str:
    relative = os.path.relpath(os.path.normpath(path), root)
    if relative.startswith(".."):
        raise OpsrunError(
            f"{what} {path} is outside the repository {root} that becomes the AWX project",
            hint="keep ops.yml, its inventories and playbook files in one repository",
            exit_code=ExitCode.CONFIG,
        )
    return relative


class _Builder:
    def __init__(self, loaded: LoadedDesign, collection: Path) -> None:
        self.loaded = loaded
        self.design: OpsDesign = loaded.design
        self.collection = collection
        self.root = project_root(loaded.source)
        self.templates, self.left_out = notification_templates(self.design.contacts)
        self.job_templates: dict[str, dict[str, Any]] = {}
        self.escalation_tiers: set[str] = set()

    # -- job templates --------------------------------------------------------------------------

    def job_template(self, playbook: str) -> str:
        """The name of the job template of `playbook`, created on first use."""
        path = resolve_playbook(playbook, self.collection, self.loaded.base_dir)
        if path.parent == self.collection / "playbooks":
            name = f"{COLLECTION_NAME}.{path.stem}"
            in_project = "{{ opsrun_awx_playbook_dir }}/" + path.name
        else:
            name = _in_project(path, self.root, "the playbook")
            in_project = name
        if name not in self.job_templates:
            arguments: dict[str, Any] = {
                "name": name,
                "description": f"The playbook {name} of the operations design",
                "organization": ORGANIZATION,
                "project": PROJECT,
                "inventory": INVENTORY,
                "playbook": in_project,
                "job_type": "run",
                "limit": self.design.scope.host_pattern(),
                "ask_limit_on_launch": True,
                "ask_variables_on_launch": True,
                "ask_job_type_on_launch": True,
                "state": "present",
            }
            survey = survey_spec(self.collection, path.stem, path)
            if survey is not None:
                arguments.update(survey_enabled=True, survey_spec=_literal(survey))
            self.job_templates[name] = arguments
        return name

    def escalation_template(self, tier: Tier) -> str:
        self.escalation_tiers.add(tier.name)
        return f"opsrun escalate to {tier.name}"

    def _tier_templates(self, tiers: list[Tier]) -> list[str]:
        contacts = {contact for tier in tiers for contact in tier.contacts}
        return sorted({template.name for template in self.templates if template.contact in contacts})

    def escalation_job_templates(self) -> list[dict[str, Any]]:
        path = resolve_playbook(ESCALATION_PLAYBOOK, self.collection, self.loaded.base_dir)
        arguments = []
        for tier in self.design.escalation:
            if tier.name not in self.escalation_tiers:
                continue
            arguments.append(
                {
                    "name": f"opsrun escalate to {tier.name}",
                    "description": (
                        f"Notifies the escalation tier {tier.name} ({', '.join(tier.contacts)}) "
                        "when it starts; runs the ping playbook on the controller's localhost only"
                    ),
                    "organization": ORGANIZATION,
                    "project": PROJECT,
                    "inventory": INVENTORY,
                    "playbook": "{{ opsrun_awx_playbook_dir }}/" + path.name,
                    "job_type": "run",
                    "extra_vars": {"opsrun_hosts": "localhost"},
                    "notification_templates_started": self._tier_templates([tier]),
                    "state": "present",
                }
            )
        return arguments

    # -- workflows ------------------------------------------------------------------------------

    def _step_node(self, identifier: str, step: Step) -> dict[str, Any]:
        node: dict[str, Any] = {
            "identifier": identifier,
            "unified_job_template": {
                "name": self.job_template(step.playbook),
                "type": "job_template",
                "organization": {"name": ORGANIZATION},
            },
            "extra_data": _literal(dict(step.vars)),
            "job_type": "check" if step.check_mode else "run",
            "related": {},
        }
        if step.limit is not None:
            node["limit"] = step.limit
        return node

    def _escalation_node(self, identifier: str, tier: Tier) -> dict[str, Any]:
        return {
            "identifier": identifier,
            "unified_job_template": {
                "name": self.escalation_template(tier),
                "type": "job_template",
                "organization": {"name": ORGANIZATION},
            },
            "related": {},
        }

    def chain(
        self, steps: list[tuple[str, Step]], tier: Tier | None, routine: str | None, after: str | None = None
    ) -> list[dict[str, Any]]:
        """The nodes of `steps` one after another as their on_failure says; `after` follows the last."""
        nodes: list[dict[str, Any]] = []
        entries = [f"approval-{prefix}" if step.approval else f"step-{prefix}" for prefix, step in steps]
        for position, (prefix, step) in enumerate(steps):
            following = entries[position + 1] if position + 1 < len(steps) else after
            if step.approval:
                approvers = self.design.approving_tiers(routine, step) if routine else []
                nodes.append(
                    {
                        "identifier": f"approval-{prefix}",
                        "unified_job_template": {
                            "name": f"Approve: {step.title}"[:512],
                            "description": "Approval by "
                            + (", ".join(tier.name for tier in approvers) or "the approvers"),
                            "type": "workflow_approval",
                            "timeout": 0,
                        },
                        "related": {"success_nodes": [{"identifier": f"step-{prefix}"}]},
                    }
                )
            node = self._step_node(f"step-{prefix}", step)
            next_nodes = [{"identifier": following}] if following else []
            if step.on_failure == "continue":
                node["related"]["always_nodes"] = next_nodes
            else:
                node["related"]["success_nodes"] = next_nodes
            if step.on_failure == "escalate" and tier is not None:
                escalation = self._escalation_node(f"escalate-{prefix}", tier)
                escalation["related"]["always_nodes"] = next_nodes
                node["related"]["failure_nodes"] = [{"identifier": f"escalate-{prefix}"}]
                nodes.append(escalation)
            nodes.append(node)
        return nodes

    def routine_workflow(self, name: str) -> dict[str, Any]:
        routine = self.design.routines[name]
        first = self.design.escalation[0] if self.design.escalation else None
        steps = [(str(index), step) for index, step in enumerate(routine.steps, start=1)]
        approvers = [
            tier for _, step in steps if step.approval for tier in self.design.approving_tiers(name, step)
        ]
        return {
            "name": f"opsrun routine {name}",
            "description": routine.description or f"The routine {name} of the operations design",
            "organization": ORGANIZATION,
            "inventory": INVENTORY,
            "ask_limit_on_launch": False,
            "allow_simultaneous": False,
            "notification_templates_error": self._tier_templates([first]) if first else [],
            "notification_templates_approvals": self._tier_templates(approvers),
            "workflow_nodes": _sorted_nodes(self.chain(steps, first, name)),
            "state": "present",
        }

    def runbook_workflow(self, index: int) -> dict[str, Any]:
        runbook = self.design.incidents.runbooks[index]
        tiers = [tier for name in runbook.escalate_to if (tier := self.design.tier(name)) is not None]
        tier = tiers[0] if tiers else (self.design.escalation[0] if self.design.escalation else None)
        steps = [
            *((f"diagnose-{number}", step) for number, step in enumerate(runbook.diagnose, start=1)),
            *(
                (f"first_response-{number}", step)
                for number, step in enumerate(runbook.first_response, start=1)
            ),
        ]
        nodes: list[dict[str, Any]] = []
        if runbook.verify:
            verify = self._step_node("verify", Step(playbook=VERIFY_PLAYBOOK))
            if tier is not None:
                verify["related"]["failure_nodes"] = [{"identifier": "escalate-verify"}]
                nodes.append(self._escalation_node("escalate-verify", tier))
            nodes.append(verify)
        nodes.extend(self.chain(steps, tier, None, after="verify" if runbook.verify else None))
        match = runbook.match
        return {
            "name": f"opsrun runbook {runbook.name}",
            "description": runbook.description
            or f"Incident runbook {runbook.name}: check {match.check}, item {match.item}",
            "organization": ORGANIZATION,
            "inventory": INVENTORY,
            "limit": match.hosts,
            "ask_limit_on_launch": True,
            "ask_variables_on_launch": True,
            "allow_simultaneous": True,
            "notification_templates_error": self._tier_templates(tiers[:1]),
            "workflow_nodes": _sorted_nodes(nodes),
            "state": "present",
        }

    def schedules(self, name: str) -> list[dict[str, Any]]:
        routine = self.design.routines[name]
        try:
            rules = schedule_rrules(routine.schedule, self.design.calendar.timezone)
        except ScheduleError as error:
            raise OpsrunError(
                f"{self.loaded.source}: the schedule {routine.schedule!r} of the routine {name!r} "
                f"cannot be an AWX schedule: {error}",
                hint="use a 5-field cron expression or an OnCalendar form such as 'Mon..Fri 07:00'",
                exit_code=ExitCode.CONFIG,
            ) from None
        schedules = []
        for number, rule in enumerate(rules, start=1):
            suffix = f" ({number}/{len(rules)})" if len(rules) > 1 else ""
            schedules.append(
                {
                    "name": f"opsrun routine {name}{suffix}",
                    "description": f"{routine.schedule} ({self.design.calendar.timezone})",
                    "organization": ORGANIZATION,
                    "unified_job_template": f"opsrun routine {name}",
                    "rrule": rule,
                    "enabled": True,
                    "state": "present",
                }
            )
        return schedules

    # -- everything -----------------------------------------------------------------------------

    def inventory_tasks(self) -> list[dict[str, Any]]:
        scope = self.design.scope
        tasks = [
            _task(
                "awx.awx.inventory",
                f"Create the inventory {INVENTORY}",
                name=INVENTORY,
                description=f"The contract scope of the operations design: {scope.host_pattern()}",
                organization=ORGANIZATION,
                state="present",
            )
        ]
        for entry in scope.inventory_sources(self.loaded.base_dir):
            if "," in entry:
                for host in sorted(filter(None, (part.strip() for part in entry.split(",")))):
                    tasks.append(
                        _task(
                            "awx.awx.host",
                            f"Add the host {host}",
                            name=host,
                            inventory=INVENTORY,
                            state="present",
                        )
                    )
                continue
            source_path = _in_project(Path(entry), self.root, "the inventory")
            tasks.append(
                _task(
                    "awx.awx.inventory_source",
                    f"Add the inventory source {source_path}",
                    name=f"opsrun {source_path}",
                    inventory=INVENTORY,
                    organization=ORGANIZATION,
                    source="scm",
                    source_project=PROJECT,
                    source_path=source_path,
                    overwrite=True,
                    update_on_launch=True,
                    state="present",
                )
            )
        return tasks

    def notification_tasks(self) -> list[dict[str, Any]]:
        tasks = []
        for template in self.templates:
            arguments: dict[str, Any] = {
                "name": template.name,
                "description": f"Notifies {template.contact} ({template.notification_type})",
                "organization": ORGANIZATION,
                "notification_type": template.notification_type,
                "notification_configuration": template.configuration,
                "state": "present",
            }
            if template.messages is not None:
                arguments["messages"] = template.messages
            tasks.append(
                _task(
                    "awx.awx.notification_template",
                    f"Create the notification template {template.name}",
                    no_log=True,
                    **arguments,
                )
            )
        return tasks


def _sorted_nodes(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for node in nodes:
        related = node["related"]
        edges = {key: related[key] for key in sorted(related) if related[key]}
        if edges:
            node["related"] = edges
        else:
            del node["related"]
    return sorted(nodes, key=lambda node: str(node["identifier"]))


def _task(module: str, title: str, *, no_log: bool = False, **arguments: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"name": title, module: arguments}
    if no_log:
        task["no_log"] = True
    return task


def build_awx_export(loaded: LoadedDesign, collection: Path) -> AwxExport:
    """The awx.awx playbook of an operations design; raises OpsrunError for what AWX cannot hold."""
    builder = _Builder(loaded, collection)
    design = loaded.design
    routine_names = sorted(design.routines)
    workflows = [builder.routine_workflow(name) for name in routine_names]
    runbook_order = sorted(
        range(len(design.incidents.runbooks)), key=lambda i: design.incidents.runbooks[i].name
    )
    workflows += [builder.runbook_workflow(index) for index in runbook_order]
    schedules = [schedule for name in routine_names for schedule in builder.schedules(name)]
    escalations = builder.escalation_job_templates()
    tasks: list[dict[str, Any]] = [
        _task(
            "ansible.builtin.assert",
            "Check that the repository of the project is set",
            that=["opsrun_awx_scm_url | length > 0"],
            fail_msg="set opsrun_awx_scm_url (-e opsrun_awx_scm_url=URL) to the repository with ops.yml",
            quiet=True,
        ),
        _task("awx.awx.organization", "Find the organization", name=ORGANIZATION, state="exists"),
        _task(
            "awx.awx.project",
            f"Create the project {PROJECT}",
            name=PROJECT,
            description="The repository with the operations design and its playbooks",
            organization=ORGANIZATION,
            scm_type="git",
            scm_url="{{ opsrun_awx_scm_url }}",
            scm_branch="{{ opsrun_awx_scm_branch }}",
            scm_update_on_launch=True,
            update_project=True,
            wait=True,
            state="present",
        ),
        *builder.inventory_tasks(),
        *builder.notification_tasks(),
        *(
            _task("awx.awx.job_template", f"Create the job template {arguments['name']}", **arguments)
            for arguments in [
                *(builder.job_templates[name] for name in sorted(builder.job_templates)),
                *escalations,
            ]
        ),
        *(
            _task("awx.awx.workflow_job_template", f"Create the workflow {arguments['name']}", **arguments)
            for arguments in workflows
        ),
        *(_task("awx.awx.schedule", f"Schedule {arguments['name']}", **arguments) for arguments in schedules),
    ]
    play = {
        "name": f"Configure AWX for the operations design {loaded.source.name}",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": dict(USER_VARIABLES),
        "tasks": tasks,
    }
    header = (
        f"The operations design {loaded.source.name} on AWX / Ansible Automation Platform\n"
        "(made by opsrun export awx). Connect with CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN\n"
        "(or CONTROLLER_USERNAME and CONTROLLER_PASSWORD), set opsrun_awx_scm_url, and pass\n"
        "the vault_notify_* secrets from a vault:\n"
        "  ansible-playbook awx.yml -e opsrun_awx_scm_url=URL -e @vault.yml --ask-vault-pass"
    )
    secrets = sorted({secret for template in builder.templates for secret in template.secrets})
    return AwxExport(
        playbook=to_yaml([play], header=header),
        secrets=secrets,
        left_out_notifications=builder.left_out,
        job_templates=sorted(builder.job_templates) + [arguments["name"] for arguments in escalations],
        workflows=[arguments["name"] for arguments in workflows],
        schedules=[arguments["name"] for arguments in schedules],
    )


def vault_template(secrets: list[str]) -> str:
    """A vars file with every secret the playbook needs, empty, to fill and encrypt with ansible-vault."""
    header = (
        "The secrets of the notification templates: fill in each value, then\n"
        "  ansible-vault encrypt vault.yml"
    )
    return to_yaml({name: "" for name in secrets}, header=header)
