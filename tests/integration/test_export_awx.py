"""`opsrun export awx` against the real awx.awx collection: every module call of the generated
playbook is checked against the argument specs that `ansible-doc -j` reports, and the playbook
passes `ansible-playbook --syntax-check`. Needs the `ansible` package (which ships awx.awx)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsrun.design.load import load_design
from opsrun.export.awx import build_awx_export

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ops.yml"
BIN = Path(sys.executable).parent
ANSIBLE_DOC = shutil.which("ansible-doc", path=str(BIN)) or shutil.which("ansible-doc")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "dict": (dict,),
    "list": (list,),
    "path": (str,),
    "raw": (object,),
    "json": (dict, list, str),
}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _module_calls(playbook: str) -> list[tuple[str, dict[str, Any]]]:
    plays = yaml.load(playbook, Loader=_Loader)  # noqa: S506 - the loader above is a SafeLoader
    calls = []
    for play in plays:
        for task in play["tasks"]:
            modules = [key for key in task if key.startswith("awx.awx.")]
            calls.extend((module, task[module]) for module in modules)
    return calls


def _check_options(where: str, values: dict[str, Any], options: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in values.items():
        spec = options.get(name)
        if spec is None:
            problems.append(f"{where}: unknown option {name!r}")
            continue
        kind = spec.get("type", "str")
        if not isinstance(value, _TYPES[kind]) or (kind in ("int", "float") and isinstance(value, bool)):
            problems.append(f"{where}.{name}: {value!r} is not of type {kind}")
            continue
        if spec.get("choices") is not None and value not in spec["choices"]:
            problems.append(f"{where}.{name}: {value!r} is not one of {spec['choices']}")
        suboptions = spec.get("suboptions")
        items = value if kind == "list" else [value]
        element = spec.get("elements")
        for index, item in enumerate(items):
            if kind == "list" and element and not isinstance(item, _TYPES[element]):
                problems.append(f"{where}.{name}[{index}]: {item!r} is not of type {element}")
            elif suboptions and isinstance(item, dict):
                problems.extend(_check_options(f"{where}.{name}[{index}]", item, suboptions))
    for name, spec in options.items():
        if spec.get("required") and name not in values:
            problems.append(f"{where}: the required option {name!r} is missing")
    return problems


@pytest.fixture(scope="module")
def export() -> Any:
    collection = ROOT
    return build_awx_export(load_design(EXAMPLE), collection)


@pytest.fixture(scope="module")
def specs(export: Any) -> dict[str, Any]:
    if ANSIBLE_DOC is None:
        pytest.skip("ansible-doc is not installed")
    modules = sorted({module for module, _ in _module_calls(export.playbook)})
    completed = subprocess.run(
        [ANSIBLE_DOC, "-j", *modules], capture_output=True, text=True, check=False, timeout=300
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        pytest.skip(f"awx.awx is not installed (pip install 'ansible>=12,<13'): {completed.stderr[-300:]}")
    documents = json.loads(completed.stdout)
    missing = [module for module in modules if module not in documents]
    assert not missing, f"ansible-doc knows no {missing}"
    return {module: documents[module]["doc"]["options"] for module in modules}


def test_every_module_call_matches_the_awx_argument_specs(export: Any, specs: dict[str, Any]) -> None:
    calls = _module_calls(export.playbook)
    modules = {module for module, _ in calls}
    assert {
        "awx.awx.project",
        "awx.awx.inventory",
        "awx.awx.inventory_source",
        "awx.awx.job_template",
        "awx.awx.workflow_job_template",
        "awx.awx.schedule",
        "awx.awx.notification_template",
    } <= modules
    problems = []
    for index, (module, arguments) in enumerate(calls):
        where = f"{module} #{index} {arguments.get('name')}"
        problems.extend(_check_options(where, arguments, specs[module]))
    assert not problems, "\n".join(problems)


def test_the_checker_finds_a_wrong_call(specs: dict[str, Any]) -> None:
    bad = {"name": "x", "notification_type": "msteams", "colour": "red", "organization": ["a"]}
    problems = _check_options("t", bad, specs["awx.awx.notification_template"])
    assert len(problems) == 3, problems


def test_the_playbook_passes_the_syntax_check(export: Any, tmp_path: Path) -> None:
    playbook = tmp_path / "awx.yml"
    playbook.write_text(export.playbook, encoding="utf-8")
    environment = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".dev"), "ANSIBLE_NOCOLOR": "1"}
    completed = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
