#!/usr/bin/env python3
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the variables tables of the roles' READMEs from their meta/argument_specs.yml.

Each README keeps its prose; between `<!-- BEGIN argument_specs ENTRY -->` and
`<!-- END argument_specs ENTRY -->` this script writes the table of the entry point ENTRY.
Every entry point of a role must have its table.

    python docs/role_readme.py [ROLE_DIR...]          rewrite the tables (default: every role)
    python docs/role_readme.py --check [ROLE_DIR...]  exit 1 and name the READMEs that are out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MARKUP = re.compile(r"\b(?:C|O|V|M|RV|I|B|E|P)\(([^()]*)\)")
LINK = re.compile(r"\bL\(([^,()]*),[^()]*\)|\bU\(([^()]*)\)")


class SpecError(Exception):
    """A README or argument spec that cannot be rendered; the message names the file."""


def plain(text: str) -> str:
    """Ansible documentation markup as Markdown: C(x), O(x), V(x)… become `x`."""
    text = LINK.sub(lambda match: match.group(1) or match.group(2), text)
    return MARKUP.sub(lambda match: f"`{match.group(1)}`", text)


def description(spec: dict[str, Any]) -> str:
    value = spec.get("description", "")
    lines = value if isinstance(value, list) else [value]
    return " ".join(plain(str(line)).strip() for line in lines).strip()


def type_name(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", "str"))
    if kind == "list" and "elements" in spec:
        return f"list of {spec['elements']}"
    return kind


def literal(value: Any, kind: str) -> str:
    """A default as it would be written in YAML, inside backticks."""
    if isinstance(value, str) and kind in ("str", "path", "raw"):
        text = value if value else '""'
    else:
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 20,
                              allow_unicode=True).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
    return "`" + text.replace("|", "\\|") + "`"


def suboptions(spec: dict[str, Any]) -> str:
    options = spec.get("options")
    if not options:
        return ""
    parts = []
    for name, sub in options.items():
        facts = [type_name(sub)]
        if sub.get("required"):
            facts.append("required")
        if "default" in sub and sub["default"] is not None:
            facts.append(f"default {literal(sub['default'], str(sub.get('type', 'str')))}")
        if "choices" in sub:
            facts.append("one of " + ", ".join(f"`{choice}`" for choice in sub["choices"]))
        said = description(sub).rstrip(".")
        if said[:1].isupper() and not said[1:2].isupper():
            said = said[0].lower() + said[1:]  # it continues the sentence of its parent
        text = f"`{name}` ({', '.join(facts)}) {said}".strip()
        nested = suboptions(sub)
        parts.append(f"{text} {nested}".strip())
    lead = "Each item:" if spec.get("type") == "list" else "Keys:"
    return f"{lead} " + "; ".join(parts) + "."


def table(options: dict[str, Any]) -> str:
    rows = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, spec in options.items():
        kind = type_name(spec) + (", required" if spec.get("required") else "")
        default = ""
        if spec.get("default") is not None:
            default = literal(spec["default"], str(spec.get("type", "str")))
        text = description(spec)
        if "choices" in spec:
            text += " One of " + ", ".join(f"`{choice}`" for choice in spec["choices"]) + "."
        extra = suboptions(spec)
        if extra:
            text += " " + extra
        rows.append(f"| `{name}` | {kind} | {default} | {text.replace('|', chr(92) + '|')} |")
    return "\n".join(rows) + "\n"


def render(role: Path) -> tuple[Path, str, str]:
    """The README of ROLE: (path, text now, text with fresh tables)."""
    specs_file = role / "meta" / "argument_specs.yml"
    readme = role / "README.md"
    try:
        specs = yaml.safe_load(specs_file.read_text(encoding="utf-8"))["argument_specs"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise SpecError(f"{specs_file}: cannot read the argument specs ({exc})") from exc
    try:
        current = readme.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{readme}: {exc.strerror}; write it with a table marker per entry point") from exc
    fresh = current
    for entry, spec in specs.items():
        name = re.escape(entry)
        begin, end = f"<!-- BEGIN argument_specs {name} -->", f"<!-- END argument_specs {name} -->"
        block = re.compile(rf"({begin}\n).*?({end})", re.S)
        if not block.search(fresh):
            raise SpecError(
                f"{readme}: no table for entry point {entry!r}; add the lines "
                f"'<!-- BEGIN argument_specs {entry} -->' and '<!-- END argument_specs {entry} -->'"
            )
        rows = table(spec.get("options") or {})
        fresh = block.sub(lambda match, rows=rows: match.group(1) + rows + match.group(2), fresh)
    return readme, current, fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report READMEs that are out of date")
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (default: every role)")
    args = parser.parse_args(argv)
    found = (REPO / "roles").glob("*/meta/argument_specs.yml")
    roles = args.roles or sorted(path.parent.parent for path in found)
    stale = []
    try:
        for role in roles:
            readme, current, fresh = render(role)
            if current == fresh:
                continue
            if args.check:
                stale.append(readme)
            else:
                readme.write_text(fresh, encoding="utf-8")
                print(f"wrote {readme}")
    except SpecError as exc:
        print(f"role_readme: {exc}", file=sys.stderr)
        return 2
    for readme in stale:
        print(f"{readme}: variables table out of date; run python docs/role_readme.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
