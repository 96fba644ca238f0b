"""Malformed operations designs of every shape end in a DesignError with lines, never in another exception."""

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsrun.design.load import parse_design
from opsrun.design.problems import DesignError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ops.yml"
SOURCE = Path("/ops/ops.yml")
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# No example database: the tests leave nothing behind in the working tree.
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.dates(),
    st.sampled_from(["09:00", "25:61", "0 7 * * *", "mon", "crit", "json://127.0.0.1/x", "l1", "stop"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)


def load_example() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


EXAMPLE_DOCUMENT = load_example()


def example_document() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE_DOCUMENT)


def all_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += all_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += all_paths(child, (*path, index))
    return found


EXAMPLE_PATHS = all_paths(example_document())


def assert_clean_outcome(text: str) -> None:
    """Either a valid design, or a DesignError whose every problem has a file and a line."""
    try:
        parse_design(text, SOURCE)
    except DesignError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == str(SOURCE)
            assert problem.line >= 1
            assert problem.column >= 1
            assert problem.message


@PROPERTY_SETTINGS
@given(values)
def test_random_yaml_values(value: Any) -> None:
    assert_clean_outcome(yaml.dump(value, allow_unicode=True, Dumper=DUMPER))


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    assert_clean_outcome(text)


def mutate(document: dict[str, Any], path: tuple[Any, ...], operation: str, replacement: Any) -> None:
    parent: Any = document
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if operation == "remove":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[f"{last}_x"] = parent.pop(last)
    else:
        parent[last] = replacement


@PROPERTY_SETTINGS
@given(st.data())
def test_the_example_with_keys_removed_renamed_or_retyped(data: st.DataObject) -> None:
    document = example_document()
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        paths = all_paths(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        operation = data.draw(st.sampled_from(["remove", "rename", "retype"]), label="operation")
        mutate(document, path, operation, data.draw(values, label="replacement"))
    assert_clean_outcome(yaml.dump(document, allow_unicode=True, sort_keys=False, Dumper=DUMPER))


def test_a_renamed_required_key_is_an_error_on_its_line() -> None:
    """The mutation test's baseline: a document mutated as it does fails as expected."""
    document = example_document()
    mutate(document, ("scope", "layers"), "rename", None)
    text = yaml.dump(document, allow_unicode=True, sort_keys=False, Dumper=DUMPER)
    try:
        parse_design(text, SOURCE)
    except DesignError as error:
        paths = {problem.path for problem in error.problems}
        assert paths == {"scope.layers", "scope.layers_x"}
        renamed_line = next(problem.line for problem in error.problems if problem.path == "scope.layers_x")
        assert text.splitlines()[renamed_line - 1].strip().startswith("layers_x:")
    else:
        raise AssertionError("a design without scope.layers was accepted")
    assert ("scope", "layers") in EXAMPLE_PATHS
