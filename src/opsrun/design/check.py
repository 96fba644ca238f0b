"""Checking an operations design against the world: its inventories and the playbooks its steps name.

Playbook names resolve exactly as `opsrun run --playbook` resolves them (a playbook of the
collection, or a file), with files relative to the directory of ops.yml. Each distinct playbook is
then syntax-checked once: all of them in one `ansible-playbook --syntax-check` (its start-up is
most of the cost), and only when that fails, each on its own to tell which ones are broken.
"""

import os.path
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsrun.collection import resolve_playbook
from opsrun.design.load import LoadedDesign
from opsrun.design.problems import DesignError, DesignProblem
from opsrun.design.schema import KeyPath
from opsrun.errors import OpsrunError

SYNTAX_CHECK_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class SyntaxResult:
    returncode: int
    stderr: str


# Runs `ansible-playbook --syntax-check` (the argument list given) in a directory.
SyntaxRunner = Callable[[Sequence[str], Path], SyntaxResult]


@dataclass(frozen=True)
class CheckResult:
    loaded: LoadedDesign
    # Each playbook name as the design writes it -> the file it resolves to.
    playbooks: dict[str, Path]
    inventories: list[str]
    syntax_checked: bool


def run_syntax_check(argv: Sequence[str], cwd: Path) -> SyntaxResult:
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SYNTAX_CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SyntaxResult(-1, f"[ERROR]: no answer within {SYNTAX_CHECK_TIMEOUT_SECONDS}s")
    except OSError as error:
        raise OpsrunError(
            f"cannot run {argv[0]}: {error.strerror}",
            hint="install opsrun with its dependencies, or run 'opsrun check --skip-syntax'",
        ) from None
    return SyntaxResult(completed.returncode, completed.stderr)


def syntax_failure_reason(stderr: str, returncode: int) -> str:
    """The part of ansible-playbook's error output that says what is wrong, on one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("[ERROR]", "ERROR!"))]
    origins = [line for line in lines if line.startswith("Origin:")]
    reason = errors[0] if errors else (lines[-1] if lines else f"exit code {returncode}")
    return f"{reason} ({origins[0]})" if origins else reason


def inventory_sources(loaded: LoadedDesign) -> tuple[list[str], list[DesignProblem]]:
    sources: list[str] = []
    problems: list[DesignProblem] = []
    entries = loaded.design.scope.inventory
    for index, (entry, source) in enumerate(
        zip(entries, loaded.design.scope.inventory_sources(loaded.base_dir), strict=True)
    ):
        if "," in entry or os.path.exists(source):
            sources.append(source)
        else:
            path: KeyPath = ("scope", "inventory", index) if len(entries) > 1 else ("scope", "inventory")
            problems.append(
                loaded.problem(
                    path, f"the inventory {source} does not exist; give a path relative to {loaded.base_dir}"
                )
            )
    return sources, problems


def _resolve_playbooks(
    loaded: LoadedDesign, collection: Path
) -> tuple[dict[str, Path], dict[str, KeyPath], list[DesignProblem]]:
    resolved: dict[str, Path] = {}
    first_use: dict[str, KeyPath] = {}
    problems: list[DesignProblem] = []
    for path, step in loaded.design.steps():
        if step.playbook in first_use:
            continue
        where: KeyPath = (*path, "playbook")
        first_use[step.playbook] = where
        try:
            resolved[step.playbook] = resolve_playbook(step.playbook, collection, loaded.base_dir)
        except OpsrunError as error:
            problems.append(loaded.problem(where, error.one_line()))
    return resolved, first_use, problems


def _syntax_problems(
    loaded: LoadedDesign,
    *,
    playbooks: dict[str, Path],
    first_use: dict[str, KeyPath],
    inventories: list[str],
    ansible_playbook: str,
    run: SyntaxRunner,
) -> list[DesignProblem]:
    inventory_args = [argument for source in inventories for argument in ("-i", source)]

    def syntax_check(files: list[Path]) -> SyntaxResult:
        return run([ansible_playbook, "--syntax-check", *inventory_args, *map(str, files)], loaded.base_dir)

    distinct = sorted(set(playbooks.values()))
    together = syntax_check(distinct)
    if together.returncode == 0:
        return []
    results = (
        {distinct[0]: together} if len(distinct) == 1 else {file: syntax_check([file]) for file in distinct}
    )
    problems = []
    reported: set[Path] = set()
    for name, playbook in playbooks.items():
        result = results[playbook]
        if result.returncode != 0 and playbook not in reported:
            reported.add(playbook)  # once, at its first use
            reason = syntax_failure_reason(result.stderr, result.returncode)
            problems.append(
                loaded.problem(
                    first_use[name], f"ansible-playbook --syntax-check failed for {playbook}: {reason}"
                )
            )
    return problems


def check_design(
    loaded: LoadedDesign,
    *,
    collection: Path,
    ansible_playbook: str | None,
    run: SyntaxRunner = run_syntax_check,
) -> CheckResult:
    """Check the inventories and playbooks of a valid design; raises DesignError listing every problem.

    With `ansible_playbook` (the executable), each distinct playbook is syntax-checked against the
    scope's inventories; with None the syntax check is skipped.
    """
    inventories, problems = inventory_sources(loaded)
    playbooks, first_use, resolve_problems = _resolve_playbooks(loaded, collection)
    problems.extend(resolve_problems)
    if ansible_playbook is not None and playbooks:
        problems.extend(
            _syntax_problems(
                loaded,
                playbooks=playbooks,
                first_use=first_use,
                inventories=inventories,
                ansible_playbook=ansible_playbook,
                run=run,
            )
        )
    if problems:
        raise DesignError(str(loaded.source), problems)
    return CheckResult(loaded, playbooks, inventories, syntax_checked=ansible_playbook is not None)
