"""Loading ops.yml: every problem with its file, line and key path, all of them at once."""

import textwrap
from pathlib import Path

import pytest

from opsrun.design.load import load_design, parse_design
from opsrun.design.problems import DesignError, DesignProblem, format_path
from opsrun.errors import ExitCode, OpsrunError

REPOSITORY = Path(__file__).resolve().parents[3]
SOURCE = Path("/ops/ops.yml")

VALID = """\
version: 1
scope:
  inventory: hosts.yml
  hosts: [web]
  layers: [os, app]
contacts:
  oncall:
    notify: ["slack://T0/B0/very-secret-token"]
escalation:
  - name: l1
    contacts: [oncall]
    ack_minutes: 15
calendar:
  timezone: Asia/Tokyo
  business_hours: {start: 09:00, end: 18:00}
  maintenance_windows:
    - weekly: {days: [sun], start: 02:00, end: 05:00}
routines:
  daily:
    schedule: "0 7 * * *"
    steps:
      - playbook: health_check
        on_failure: escalate
"""


def problems_of(text: str) -> list[DesignProblem]:
    with pytest.raises(DesignError) as caught:
        parse_design(textwrap.dedent(text), SOURCE)
    assert caught.value.exit_code == ExitCode.CONFIG
    return caught.value.problems


def lines_of(text: str) -> list[str]:
    return [problem.one_line() for problem in problems_of(text)]


def test_a_valid_document_loads_with_its_positions() -> None:
    loaded = parse_design(VALID, SOURCE)
    assert loaded.base_dir == Path("/ops")
    assert loaded.design.routines["daily"].steps[0].on_failure == "escalate"
    assert loaded.locations.of(("routines", "daily", "steps", 0, "on_failure")) == (23, 9)
    # A key the document leaves out is placed at its parent.
    assert loaded.locations.of(("routines", "daily", "steps", 0, "limit")) == (22, 9)


def test_times_of_day_are_not_read_as_base_60_numbers() -> None:
    calendar = parse_design(VALID, SOURCE).design.calendar
    assert (calendar.business_hours.start.hour, calendar.business_hours.end.hour) == (9, 18)
    assert calendar.maintenance_windows[0].weekly is not None
    assert calendar.maintenance_windows[0].weekly.end.hour == 5


def test_the_example_design_is_valid() -> None:
    loaded = load_design(REPOSITORY / "examples" / "ops.yml")
    design = loaded.design
    assert design.calendar.holidays.country == "JP"
    assert {"daily-health", "daily-log-backup", "monthly-patching"} <= set(design.routines)
    assert [tier.name for tier in design.escalation] == ["l1", "l2", "maintainer", "client"]
    assert design.reference_problems() == []


def test_every_error_is_reported_at_once_sorted_by_line() -> None:
    text = (
        VALID.replace("layers: [os, app]", "layers: [os, apps]")
        .replace("on_failure: escalate", "on_failure: abort")
        .replace("ack_minutes: 15", "ack_minutes: fifteen")
    )
    assert lines_of(text) == [
        "/ops/ops.yml:5: scope.layers[1]: expected 'os', 'middleware', 'app' or 'network'",
        "/ops/ops.yml:12: escalation[0].ack_minutes: "
        "expected a valid integer, unable to parse string as an integer (found text)",
        "/ops/ops.yml:23: routines.daily.steps[0].on_failure: expected 'stop', 'continue' or 'escalate'",
    ]


def test_a_misspelt_key_names_the_allowed_ones() -> None:
    [problem] = problems_of(VALID.replace("        on_failure:", "        on_failur:"))
    assert (problem.line, problem.path) == (23, "routines.daily.steps[0].on_failur")
    assert problem.message.startswith(
        "unknown key; did you mean 'on_failure'? expected one of: name, playbook,"
    )


def test_a_missing_key_is_reported_at_its_parent() -> None:
    [problem] = problems_of(VALID.replace("    ack_minutes: 15\n", ""))
    assert (problem.line, problem.path, problem.message) == (
        10,
        "escalation[0].ack_minutes",
        "required key is missing",
    )


def test_wrong_types_say_what_was_found() -> None:
    lines = lines_of(
        VALID.replace("hosts: [web]", "hosts: {web: 1}").replace("ack_minutes: 15", "ack_minutes: [15]")
    )
    assert lines == [
        "/ops/ops.yml:4: scope.hosts: expected a list (found a mapping)",
        "/ops/ops.yml:12: escalation[0].ack_minutes: expected a valid integer (found a list)",
    ]


def test_reference_problems_carry_lines() -> None:
    text = VALID.replace("contacts: [oncall]", "contacts: [on-call]")
    assert lines_of(text) == [
        "/ops/ops.yml:11: escalation[0].contacts[0]: "
        "no contact named 'on-call'; expected one of the contacts: oncall"
    ]


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    [problem] = problems_of(VALID.replace("  hosts: [web]\n", "  hosts: [web]\n  hosts: [db]\n"))
    assert (problem.line, problem.path) == (5, "scope.hosts")
    assert "duplicate key 'hosts' (first at line 4)" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("- a\n- b\n", 1, "expected a mapping of sections (version, scope, contacts, …) (found a list)"),
        ("just text\n", 1, "(found text)"),
        ("version: 1\nscope: [\n", 3, "not valid YAML"),
        ("version: 1\n\tscope: {}\n", 2, "not valid YAML"),
        ("version: 1\n---\nversion: 1\n", 2, "not valid YAML: expected a single document"),
        ("a: &x [*x]\n", 1, "an alias refers to a value that contains it"),
        ("a: " + "[" * 150 + "]" * 150 + "\n", 1, "nesting is too deep"),
        ("version: !!python/name:os.system 1\n", 1, "the YAML tag tag:yaml.org,2002:python/name:os.system"),
        ("version: 1\nscope: !!set {a}\n", 2, "expected a plain mapping"),
        ("version: 1\nwhen: 2026-02-30\n", 2, "'2026-02-30' is not a valid timestamp"),
        ("? [a]\n: 1\n", 1, "a key must be a plain word or string"),
        ("version: 1\nx: \x07\n", 2, "not valid YAML"),
        # The position of a bad character counts UTF-8 bytes in libyaml: still line 1 after "é"s.
        ("é" * 20 + "\x07\n" + "b: 1\n" * 20, 1, "not valid YAML"),
    ],
)
def test_documents_that_are_not_a_design(text: str, line: int, expected: str) -> None:
    problems = problems_of(text)
    assert any(problem.line == line and expected in problem.message for problem in problems), problems


def test_alias_bombs_are_refused() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 7)]
    [problem] = problems_of("\n".join(levels) + "\n")
    assert "more than 100000 values" in problem.message


def test_merge_keys_and_anchors_are_understood() -> None:
    text = VALID.replace(
        "routines:\n",
        "x-step: &patch {playbook: patching, change: true}\nroutines:\n",
    )
    [problem] = problems_of(text)  # x-step is not a section of the design
    assert problem.path == "x-step"
    merged = VALID.replace(
        "      - playbook: health_check\n        on_failure: escalate\n",
        "      - &base {playbook: health_check, on_failure: escalate}\n"
        "      - <<: *base\n"
        "        limit: web01\n",
    )
    steps = parse_design(merged, SOURCE).design.routines["daily"].steps
    assert [(step.playbook, step.limit, step.on_failure) for step in steps] == [
        ("health_check", None, "escalate"),
        ("health_check", "web01", "escalate"),
    ]


def test_notification_urls_never_appear_in_errors() -> None:
    text = VALID.replace('"slack://T0/B0/very-secret-token"', '"T0/B0/very-secret-token"')
    [problem] = problems_of(text)
    assert problem.path == "contacts.oncall.notify[0]"
    assert "very-secret-token" not in problem.one_line()
    assert "scheme://" in problem.message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(OpsrunError) as caught:
        load_design(tmp_path / "ops.yml")
    assert caught.value.exit_code == ExitCode.CONFIG
    assert str(tmp_path / "ops.yml") in caught.value.message
    assert "examples/ops.yml" in caught.value.hint


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ops.yml"
    path.write_bytes(b"version: 1\nscope:\n  hosts: [caf\xe9]\n")
    with pytest.raises(DesignError) as caught:
        load_design(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 3)
    assert "UTF-8" in problem.message


def test_design_error_summary() -> None:
    error = DesignError(
        "ops.yml", [DesignProblem("ops.yml", 3, 1, "b", "y"), DesignProblem("ops.yml", 1, 1, "a", "x")]
    )
    assert [problem.line for problem in error.problems] == [1, 3]
    assert error.message == "ops.yml: 2 errors in the operations design"
    assert "opsrun check" in error.hint


def test_format_path() -> None:
    assert (
        format_path(("routines", "daily", "steps", 1, "on_failure")) == "routines.daily.steps[1].on_failure"
    )
    assert format_path(()) == ""
    assert DesignProblem("f", 1, 1, "", "m").one_line() == "f:1: (top level): m"
