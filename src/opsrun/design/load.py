"""Reading ops.yml: YAML with the line of every key, validated against the schema, all errors at once.

The document is composed (not loaded) with PyYAML so that each value keeps its position; the
values are then built here, which is also where duplicate keys, unsupported tags and cycles are
caught. Every problem names the file, the line, the key path (routines.daily.steps[1].on_failure)
and what is expected.
"""

import difflib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from opsrun.design.problems import DesignError, DesignProblem, format_path
from opsrun.design.schema import KeyPath, OpsDesign
from opsrun.errors import ExitCode, OpsrunError

# libyaml's parser when PyYAML has it (ten times faster); both keep the position of every node.
_COMPOSING_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A bound on the values built from one document, against alias bombs ("billion laughs").
MAX_VALUES = 100_000
_MAX_DEPTH = 100

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = {
    _STR,
    _INT,
    _FLOAT,
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAPPING_TAG = "tag:yaml.org,2002:map"
_SEQUENCE_TAG = "tag:yaml.org,2002:seq"


@dataclass
class Locations:
    """The line and column (1-based) of each key path of a document."""

    marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: KeyPath) -> tuple[int, int]:
        """Where `path` is; for a key that is not in the document (a missing one), where its parent is."""
        for length in range(len(path), -1, -1):
            found = self.marks.get(path[:length])
            if found is not None:
                return found
        return (1, 1)


@dataclass(frozen=True)
class LoadedDesign:
    design: OpsDesign
    source: Path
    locations: Locations

    @property
    def base_dir(self) -> Path:
        """Relative paths in the design (inventories, playbook files) are relative to this directory."""
        return self.source.absolute().parent

    def problem(self, path: KeyPath, message: str) -> DesignProblem:
        line, column = self.locations.of(path)
        return DesignProblem(str(self.source), line, column, format_path(path), message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Builds plain values from composed YAML nodes, noting positions and problems on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.locations = Locations()
        self.problems: list[DesignProblem] = []
        self._constructor = yaml.SafeLoader("")
        self._built = 0

    def problem(self, path: KeyPath, position: tuple[int, int], message: str) -> None:
        self.problems.append(DesignProblem(self.source, *position, format_path(path), message))

    def build(self, node: yaml.Node, path: KeyPath, ancestors: tuple[int, ...] = ()) -> Any:
        self._built += 1
        if self._built > MAX_VALUES:
            raise _TooLarge(_mark(node))
        if id(node) in ancestors or len(ancestors) > _MAX_DEPTH:
            self.problem(
                path, _mark(node), "an alias refers to a value that contains it, or nesting is too deep"
            )
            return None
        inside = (*ancestors, id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, inside)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQUENCE_TAG:
                self.problem(
                    path, _mark(node), f"the YAML tag {node.tag} is not supported here; expected a plain list"
                )
            return [self._item(item, (*path, index), inside) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _item(self, node: yaml.Node, path: KeyPath, ancestors: tuple[int, ...]) -> Any:
        self.locations.marks.setdefault(path, _mark(node))
        return self.build(node, path, ancestors)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, ancestors: tuple[int, ...]) -> dict[str, Any]:
        if node.tag != _MAPPING_TAG:
            self.problem(
                path, _mark(node), f"the YAML tag {node.tag} is not supported here; expected a plain mapping"
            )
        first_seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = str(key_node.value)
            if key in first_seen:
                self.problem(
                    (*path, key),
                    _mark(key_node),
                    f"duplicate key {key!r} (first at line {first_seen[key]}); keep only one",
                )
            else:
                first_seen[key] = key_node.start_mark.line + 1
        try:
            self._constructor.flatten_mapping(node)
        except yaml.YAMLError as error:
            self.problem(
                path,
                _mark(node),
                f"a merge (<<) needs a mapping or a list of mappings: {_yaml_reason(error)}",
            )
            node.value = [(key, value) for key, value in node.value if key.tag != _MERGE]
        built: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(
                    path, _mark(key_node), "a key must be a plain word or string, not a list or mapping"
                )
                continue
            key = str(key_node.value)
            self.locations.marks.setdefault((*path, key), _mark(key_node))
            built[key] = self.build(value_node, (*path, key), ancestors)
        return built

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.problem(path, _mark(node), f"the YAML tag {node.tag} is not supported here; remove it")
            return node.value
        # YAML 1.1 reads 18:00 as the number 1080 (base 60); in ops.yml it is always a time of day.
        if node.tag in (_INT, _FLOAT) and ":" in node.value:
            return node.value
        try:
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError):
            self.problem(path, _mark(node), f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}")
            return node.value


class _TooLarge(Exception):
    def __init__(self, position: tuple[int, int]) -> None:
        super().__init__(position)
        self.position = position


def _yaml_reason(error: yaml.YAMLError) -> str:
    # Only the problem and its context: the snippet of the source line could hold a secret.
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [part for part in (error.context, error.problem) if part]
        return "; ".join(parts) or "not valid YAML"
    return str(error)


def _yaml_error_position(error: yaml.YAMLError, text: str) -> tuple[int, int]:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            return (mark.line + 1, mark.column + 1)
    if isinstance(error, yaml.reader.ReaderError):
        # libyaml counts bytes of UTF-8, PyYAML characters.
        encoded = _COMPOSING_LOADER is not yaml.SafeLoader
        before = (
            text.encode()[: error.position].decode(errors="ignore") if encoded else text[: error.position]
        )
        return (before.count("\n") + 1, len(before) - before.rfind("\n"))
    return (1, 1)


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_fields_at(path: KeyPath) -> list[str]:
    """The keys the schema allows at `path` (a mapping of the document), or [] when it is not a model."""
    annotation: Any = OpsDesign
    for element in path:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {info.alias or name: info for name, info in annotation.model_fields.items()}
            if element not in fields:
                return []
            annotation = fields[str(element)].annotation
        elif origin is list and isinstance(element, int):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict and isinstance(element, str):
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


def _data_path(loc: tuple[str | int, ...], data: Any) -> KeyPath:
    """The document path of a pydantic error location, without pydantic's own markers."""
    path: list[str | int] = []
    current = data
    for index, element in enumerate(loc):
        if element == "[key]":
            continue  # pydantic's marker of an error in a mapping key, which path already ends with
        in_mapping = isinstance(current, dict) and element in current
        in_list = isinstance(current, list) and isinstance(element, int) and 0 <= element < len(current)
        if in_mapping or in_list:
            current = current[element]
        elif isinstance(current, dict) and isinstance(element, str) and index == len(loc) - 1:
            current = None  # a missing key
        else:
            continue  # a union member or another marker of pydantic
        path.append(element)
    return tuple(path)


_KIND_NAMES = {
    str: "text",
    bool: "true/false",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "a mapping",
    type(None): "nothing (null)",
}


def _found(value: Any) -> str:
    kind = _KIND_NAMES.get(type(value), "a date or time" if hasattr(value, "isoformat") else "another value")
    return f" (found {kind})"


# pydantic's error types in the words of ops.yml; {names} take values from the error's context.
_MESSAGES = {
    "missing": "required key is missing",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "dict_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "string_pattern_mismatch": (
        "expected a name of letters, digits, '_', '.' and '-', starting with a letter or digit"
    ),
    "too_short": "expected at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "greater_than": "expected a number greater than {gt}",
}
_OWN_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def _unknown_key_message(path: KeyPath) -> str:
    allowed = _model_fields_at(path[:-1])
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1) if path else []
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {suggestion}expected one of: {', '.join(allowed)}"


def _message(error: ErrorDetails, path: KeyPath) -> str:
    kind = error["type"]
    # The type of a wrong value, never the value: it could be a notification URL with a token.
    found = _found(error["input"]) if kind.endswith(("_type", "_parsing")) else ""
    if kind == "extra_forbidden":
        return _unknown_key_message(path)
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(**error.get("ctx", {})) + found
    message = error["msg"]
    prefix = next((prefix for prefix in _OWN_MESSAGE_PREFIXES if message.startswith(prefix)), None)
    if prefix is not None:
        return message[len(prefix) :]  # raised by the schema's own validators, already in its words
    message = message.replace("Input should be ", "expected ", 1)
    return message[:1].lower() + message[1:] + found


def _validation_problems(
    error: ValidationError, data: Any, source: str, locations: Locations
) -> Iterator[DesignProblem]:
    for details in error.errors(include_url=False):
        path = _data_path(tuple(details["loc"]), data)
        line, column = locations.of(path)
        yield DesignProblem(source, line, column, format_path(path), _message(details, path))


def parse_design(text: str, source: Path) -> LoadedDesign:
    """Validate the text of an operations design; raises DesignError with every problem found."""
    name = str(source)
    builder = _Builder(name)
    try:
        root = yaml.compose(text, Loader=_COMPOSING_LOADER)
    except yaml.YAMLError as error:
        line, column = _yaml_error_position(error, text)
        raise DesignError(
            name, [DesignProblem(name, line, column, "", f"not valid YAML: {_yaml_reason(error)}")]
        ) from None
    except RecursionError:
        raise DesignError(name, [DesignProblem(name, 1, 1, "", "the YAML is nested too deeply")]) from None
    if root is None:
        raise DesignError(
            name,
            [
                DesignProblem(
                    name, 1, 1, "", "the file is empty; expected a mapping starting with 'version: 1'"
                )
            ],
        )
    try:
        data = builder.build(root, ())
    except _TooLarge as too_large:
        message = f"the document expands to more than {MAX_VALUES} values (through aliases?); simplify it"
        raise DesignError(name, [DesignProblem(name, *too_large.position, "", message)]) from None
    builder.locations.marks[()] = _mark(root)
    if not isinstance(data, dict):
        builder.problem(
            (), _mark(root), "expected a mapping of sections (version, scope, contacts, …)" + _found(data)
        )
        raise DesignError(name, builder.problems)
    problems = list(builder.problems)
    already = {problem.path for problem in problems}
    try:
        design = OpsDesign.model_validate(data)
    except ValidationError as error:
        problems.extend(
            problem
            for problem in _validation_problems(error, data, name, builder.locations)
            if problem.path not in already
        )
        raise DesignError(name, problems) from None
    loaded = LoadedDesign(design, source, builder.locations)
    problems.extend(loaded.problem(path, message) for path, message in design.reference_problems())
    if problems:
        raise DesignError(name, problems)
    return loaded


def load_design(path: Path) -> LoadedDesign:
    """Read and validate the operations design in the file `path`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise OpsrunError(
            f"the operations design {path} does not exist",
            hint="give the path of your ops.yml, or start from examples/ops.yml of opsrun",
            exit_code=ExitCode.CONFIG,
        ) from None
    except OSError as error:
        raise OpsrunError(
            f"cannot read the operations design {path}: {error.strerror}",
            hint="check the path and its permissions",
            exit_code=ExitCode.CONFIG,
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DesignError(
            str(path), [DesignProblem(str(path), line, 1, "", "the file is not UTF-8 text; save it as UTF-8")]
        ) from None
    return parse_design(text, path)
