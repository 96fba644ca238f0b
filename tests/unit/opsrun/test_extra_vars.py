"""-e/--extra-vars parsing: key=value, inline YAML/JSON, @file; errors never echo values."""

import traceback
from pathlib import Path

import pytest

from opsrun.errors import ExitCode, OpsrunError
from opsrun.extravars import parse_extra_var, parse_extra_vars

CANARY = "hunter2-secret"


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("a=1", {"a": "1"}),
        ("a=1 b=two", {"a": "1", "b": "two"}),
        ("msg='hello world' path=/x=y", {"msg": "hello world", "path": "/x=y"}),
        ("empty=", {"empty": ""}),
        ('{"n": 1, "list": [1, 2], "nested": {"k": true}}', {"n": 1, "list": [1, 2], "nested": {"k": True}}),
        ("{n: 1, s: text}", {"n": 1, "s": "text"}),
        ("", {}),
        ("{}", {}),
    ],
)
def test_inline_forms(tmp_path: Path, argument: str, expected: dict[str, object]) -> None:
    assert parse_extra_var(argument, "arg", tmp_path) == expected


def test_file_forms(tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("port: 8080\nnames: [a, b]\n")
    (tmp_path / "vars.json").write_text('{"port": 9090}')
    (tmp_path / "empty.yml").write_text("")
    assert parse_extra_var("@vars.yml", "arg", tmp_path) == {"port": 8080, "names": ["a", "b"]}
    assert parse_extra_var(f"@{tmp_path / 'vars.json'}", "arg", Path("/")) == {"port": 9090}
    assert parse_extra_var("@empty.yml", "arg", tmp_path) == {}


def test_later_arguments_override_earlier_ones(tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("a: from-file\nb: from-file\n")
    merged = parse_extra_vars(["a=first c=3", "@vars.yml", '{"b": 2}'], tmp_path)
    assert merged == {"a": "from-file", "b": 2, "c": "3"}


def test_missing_file_names_the_file_and_the_argument(tmp_path: Path) -> None:
    with pytest.raises(OpsrunError) as caught:
        parse_extra_vars(["a=1", "@missing.yml"], tmp_path)
    assert "extra vars argument 2" in caught.value.message
    assert str(tmp_path / "missing.yml") in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    "argument",
    [
        f"password{CANARY}",  # no "="
        f"={CANARY}",  # no key
        f"a='{CANARY}",  # unbalanced quote
        f"{{a: [{CANARY}",  # broken YAML
        f"[{CANARY}]",  # a list, not a mapping
        f"{{1: {CANARY}}}",  # keys are not names
    ],
)
def test_bad_input_is_rejected_without_echoing_it(tmp_path: Path, argument: str) -> None:
    with pytest.raises(OpsrunError) as caught:
        parse_extra_vars(["ok=1", argument], tmp_path)
    error = caught.value
    assert "extra vars argument 2" in error.message
    assert CANARY not in error.one_line()
    # Nor in the traceback the error handler writes to the log.
    assert CANARY not in "".join(traceback.format_exception(error))


def test_bad_file_content_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(f"token: {CANARY}\n  - broken: [\n")
    (tmp_path / "list.yml").write_text(f"- {CANARY}\n")
    for name in ("bad.yml", "list.yml"):
        with pytest.raises(OpsrunError) as caught:
            parse_extra_vars([f"@{name}"], tmp_path)
        assert name in caught.value.message
        assert CANARY not in "".join(traceback.format_exception(caught.value))
