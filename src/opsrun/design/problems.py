"""The problems of an operations design and the error that carries them (light: the CLI imports it)."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from opsrun.errors import ExitCode, OpsrunError


def format_path(path: Iterable[str | int]) -> str:
    """A key path as written in messages: routines.daily.steps[1].on_failure."""
    text = ""
    for element in path:
        text += f"[{element}]" if isinstance(element, int) else (f".{element}" if text else element)
    return text


@dataclass(frozen=True, order=True)
class DesignProblem:
    """One thing wrong in an operations design, where it is, and what is expected."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def one_line(self) -> str:
        return f"{self.file}:{self.line}: {self.path or '(top level)'}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DesignError(OpsrunError):
    """An operations design that cannot be used; carries every problem found, sorted by line."""

    def __init__(self, source: str, problems: Iterable[DesignProblem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} error{'s' if count != 1 else ''} in the operations design",
            hint="fix each one listed above and run 'opsrun check' again",
            exit_code=ExitCode.CONFIG,
        )
