"""The incident runbooks as an ansible-rulebook rulebook (Event-Driven Ansible) for Alertmanager.

Alerts come in through the ansible.eda.alertmanager source, one event per alert, with the host
taken from the alert's `instance` label (its port removed) into the event's meta.hosts. A rule per
runbook matches the alert to the runbook's `match`:

- `check` is matched against the `check` label, else the `alertname` label (a glob becomes a
  regular expression, so disk* matches disk_used and disk-inodes);
- `item`, when it is not `*`, against the `item` label;
- only alerts that are firing (status firing) count; `status` of the runbook (ok/warn/crit) is
  opsrun's own severity and is not matched, since Alertmanager speaks of firing and resolved.

The action runs the runbook's first-response playbooks one after another on the alert's host
(opsrun_hosts, the hosts pattern of the collection's playbooks, from the event's meta.hosts).
"""

import fnmatch
from pathlib import Path
from typing import Any

from opsrun.collection import COLLECTION_NAME, resolve_playbook
from opsrun.design.load import LoadedDesign
from opsrun.export import to_yaml

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


def _label_pattern(glob: str) -> str:
    """A shell-style glob as an anchored regular expression for the rule engine's `is regex`."""
    return "^" + fnmatch.translate(glob).removeprefix("(?s:").removesuffix(")\\Z") + "$"


def _condition(check: str, item: str) -> str:
    label = "event.alert.labels"
    checks = f'({label}.check is defined and {label}.check is regex("{_label_pattern(check)}"))'
    names = f'({label}.check is not defined and {label}.alertname is regex("{_label_pattern(check)}"))'
    parts = ['event.alert.status == "firing"', f"({checks} or {names})"]
    if item != "*":
        parts.append(f'{label}.item is regex("{_label_pattern(item)}")')
    return " and ".join(parts)


def _playbook_name(playbook: str, collection: Path, base_dir: Path) -> str:
    """The collection's full name of a collection playbook (ansible-rulebook runs it by that name),
    or the absolute path of a playbook file."""
    path = resolve_playbook(playbook, collection, base_dir)
    if path.parent == collection / "playbooks":
        return f"{COLLECTION_NAME}.{path.stem}"
    return str(path)


def build_rulebook(
    loaded: LoadedDesign,
    collection: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    inventory_note: str = "",
) -> str:
    """The rulebook's YAML text: one rule per runbook with first-response steps, sorted by name."""
    design = loaded.design
    rules = []
    for runbook in sorted(design.incidents.runbooks, key=lambda runbook: runbook.name):
        if not runbook.first_response:
            continue
        actions = []
        for step in runbook.first_response:
            action: dict[str, Any] = {
                "name": _playbook_name(step.playbook, collection, loaded.base_dir),
                # The alert's host: the collection's playbooks run on opsrun_hosts.
                "extra_vars": {
                    "opsrun_hosts": "{{ event.meta.hosts | join(',') }}",
                    "opsrun_runbook": runbook.name,
                    **step.vars,
                },
            }
            if step.check_mode:
                action["check"] = True
            actions.append({"run_playbook": action})
        rules.append(
            {
                "name": f"runbook {runbook.name}",
                "condition": _condition(runbook.match.check, runbook.match.item),
                "actions": actions,
            }
        )
    ruleset = {
        "name": f"opsrun incidents of {loaded.source.name}",
        "hosts": design.scope.host_pattern(),
        "sources": [
            {
                "name": "alertmanager",
                "ansible.eda.alertmanager": {
                    "host": host,
                    "port": port,
                    "data_host_path": "labels.instance",
                    "skip_original_data": True,
                },
            }
        ],
        "rules": rules,
    }
    header = (
        f"The incident runbooks of {loaded.source.name} for ansible-rulebook\n"
        "(made by opsrun export rulebook).\n"
        "Point an Alertmanager webhook receiver at http://HOST:PORT/ and run\n"
        "  ansible-rulebook --rulebook rulebook.yml -i INVENTORY"
        + (f"\n{inventory_note}" if inventory_note else "")
    )
    return to_yaml([ruleset], header=header)
