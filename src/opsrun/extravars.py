"""Parsing -e/--extra-vars arguments the way ansible-playbook does.

Extra vars may hold secrets, so no error message repeats a value: errors name the argument by
its position (and the file, for @file), never its content.
"""

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from opsrun.errors import OpsrunError

_FORMS_HINT = 'use key=value, inline YAML/JSON such as \'{"key": "value"}\', or @file.yml'


def _load_mapping(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        # `from None`: the YAML error quotes the input, which may be a secret.
        raise OpsrunError(f"{source} is not valid YAML/JSON{where}", hint=_FORMS_HINT) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise OpsrunError(f"{source} is not a mapping of variable names to values", hint=_FORMS_HINT)
    return data


def _parse_key_values(text: str, source: str) -> dict[str, str]:
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise OpsrunError(f"{source} has an unbalanced quote", hint=_FORMS_HINT) from None
    pairs: dict[str, str] = {}
    for token in tokens:
        key, separator, value = token.partition("=")
        if not separator or not key.strip():
            raise OpsrunError(f"{source} is not key=value, inline YAML/JSON or @file", hint=_FORMS_HINT)
        pairs[key.strip()] = value
    return pairs


def parse_extra_var(argument: str, source: str, cwd: Path) -> dict[str, Any]:
    """The variables of one -e argument; `source` names the argument in error messages."""
    if argument.startswith("@"):
        path = cwd / argument[1:]
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OpsrunError(
                f"{source}: cannot read the extra vars file {path}: {exc.strerror}",
                hint="check the path after @",
            ) from None
        except UnicodeDecodeError:
            raise OpsrunError(
                f"{source}: the extra vars file {path} is not UTF-8 text", hint=_FORMS_HINT
            ) from None
        return _load_mapping(text, f"{source} (file {path})")
    if argument.lstrip().startswith(("{", "[")):
        return _load_mapping(argument, source)
    return _parse_key_values(argument, source)


def parse_extra_vars(arguments: Sequence[str], cwd: Path) -> dict[str, Any]:
    """All -e arguments merged in order; a later argument overrides an earlier one's keys."""
    merged: dict[str, Any] = {}
    for position, argument in enumerate(arguments, start=1):
        merged.update(parse_extra_var(argument, f"extra vars argument {position}", cwd))
    return merged
