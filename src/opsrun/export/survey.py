"""AWX survey specs from the argument specs (meta/argument_specs.yml) of the collection's roles.

A playbook's survey asks for the options of the role entry points it runs. Options a survey can
hold become questions: text, numbers, choices, true/false (a choice of "true" and "false", which
the role's argument validation reads as booleans) and lists of choices; dicts and free lists are
left to the job template's extra variables.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from opsrun.collection import COLLECTION_NAME, COLLECTION_PREFIX, short_name
from opsrun.errors import ExitCode, OpsrunError

# Ansible's documentation markup: C(value), O(option), M(module), I(italic), V(value), …
_MARKUP = re.compile(r"\b[CIMOVBLPRU]\(([^()]*)\)")
# AWX refuses text answers and defaults longer than the question's max (1024 unless given).
_TEXT_MAX = 1024


def playbook_entry_points(playbook: Path) -> list[tuple[str, str]]:
    """The (role, entry point) pairs of the collection's roles that a playbook runs, in order."""
    try:
        plays = yaml.safe_load(playbook.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as error:
        raise OpsrunError(
            f"cannot read the playbook {playbook}: {error}",
            hint="check that the collection is installed completely",
            exit_code=ExitCode.CONFIG,
        ) from None
    found: list[tuple[str, str]] = []
    for play in plays if isinstance(plays, list) else []:
        for role in play.get("roles", []) if isinstance(play, dict) else []:
            name = role.get("role") if isinstance(role, dict) else role
            found.append((str(name), "main"))
        for task in _tasks(play):
            for action in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                arguments = task.get(action)
                if isinstance(arguments, dict) and "name" in arguments:
                    found.append((str(arguments["name"]), str(arguments.get("tasks_from", "main"))))
    return list(
        dict.fromkeys(
            (short_name(name), entry) for name, entry in found if name.startswith(COLLECTION_PREFIX)
        )
    )


def _tasks(play: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(play, dict):
        return
    for section in ("pre_tasks", "tasks", "post_tasks"):
        for task in play.get(section) or []:
            if isinstance(task, dict):
                yield task


def _text(description: Any) -> str:
    lines = description if isinstance(description, list) else [description or ""]
    return " ".join(_MARKUP.sub(r"\1", str(line)) for line in lines).strip()


_NUMBERS: dict[str, tuple[str, Callable[[Any], Any]]] = {"int": ("integer", int), "float": ("float", float)}


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _answer_form(option: dict[str, Any]) -> tuple[dict[str, Any], Callable[[Any], Any]] | None:
    """The question's type (and choices or limits), and how the role's default becomes its default."""
    kind = option.get("type", "str")
    choices = option.get("choices")
    if kind == "list" and choices:
        form = {"type": "multiselect", "choices": [str(choice) for choice in choices]}
        return form, lambda default: "\n".join(str(value) for value in default)
    if kind == "bool":
        return {"type": "multiplechoice", "choices": ["true", "false"]}, _bool_text
    if choices and kind in ("str", "int", "float", "path"):
        return {"type": "multiplechoice", "choices": [str(choice) for choice in choices]}, str
    if kind in _NUMBERS:
        survey_type, convert = _NUMBERS[kind]
        return {"type": survey_type}, convert
    if kind in ("str", "path", "raw") and isinstance(option.get("default"), str | int | float | None):
        return {"type": "text", "min": 0, "max": _TEXT_MAX}, str
    return None


def _question(variable: str, option: dict[str, Any]) -> dict[str, Any] | None:
    """The survey question for one option, or None when a survey cannot hold it."""
    answer_form = _answer_form(option)
    if answer_form is None:
        return None
    form, convert = answer_form
    question: dict[str, Any] = {
        "question_name": variable,
        "question_description": _text(option.get("description")),
        "variable": variable,
        "required": bool(option.get("required", False)),
        **form,
    }
    default = option.get("default")
    if default is not None and default != []:
        question["default"] = convert(default)
    return question


def survey_spec(collection: Path, playbook_name: str, playbook: Path) -> dict[str, Any] | None:
    """The survey of a collection playbook, or None when none of its roles' options fit a survey."""
    questions: dict[str, dict[str, Any]] = {}
    for role, entry_point in playbook_entry_points(playbook):
        specs_file = collection / "roles" / role / "meta" / "argument_specs.yml"
        try:
            specs = yaml.safe_load(specs_file.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            continue  # a role without argument specs has nothing to ask
        except (OSError, yaml.YAMLError) as error:
            raise OpsrunError(
                f"cannot read the argument specs {specs_file}: {error}",
                hint="fix the role's meta/argument_specs.yml; 'ansible-doc -t role' shows the problem too",
                exit_code=ExitCode.CONFIG,
            ) from None
        options = (specs.get("argument_specs") or {}).get(entry_point, {}).get("options") or {}
        for variable, option in sorted(options.items()):
            question = _question(variable, option or {})
            if question is not None:
                questions.setdefault(variable, question)
    if not questions:
        return None
    return {
        "name": f"{COLLECTION_NAME}.{playbook_name}",
        "description": f"The options of {COLLECTION_NAME}.{playbook_name}, from its roles' argument specs",
        "spec": [questions[name] for name in sorted(questions)],
    }
