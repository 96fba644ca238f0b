"""Exports of the operations design for the engines that run it beyond one machine.

`awx` builds an awx.awx configuration-as-code playbook (AWX / Ansible Automation Platform),
`rulebook` an ansible-rulebook rulebook (Event-Driven Ansible) for alerts from Alertmanager.
Both are plain data dumped as YAML, sorted and free of secrets, so that an export is reproducible.
"""

import os
from pathlib import Path
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as ansible-lint's yaml rule and most playbooks do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, indentless=False)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a generated file is read by people: no anchors, every value written out


class Unsafe(str):
    """Text that Ansible must not template (marked !unsafe): AWX's own Jinja message templates."""

    __slots__ = ()


def _represent_unsafe(dumper: yaml.SafeDumper, value: Unsafe) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(value))


_Dumper.add_representer(Unsafe, _represent_unsafe)


def to_yaml(data: Any, *, header: str = "") -> str:
    """`data` as a YAML document after a comment header; keys keep their order (tasks start with
    their name), so callers build mappings in a fixed order and sort what they list."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return f"---\n{comment}{body}"


def write_private(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path` created with `mode` (0640 or 0600), replacing an older file atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)  # the umask may have taken bits away; an old file kept its own
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
