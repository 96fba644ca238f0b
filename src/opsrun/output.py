"""Options every command shares, and the versioned JSON result envelope."""

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

ENVELOPE_SCHEMA = "opsrun/v1"


class OutputFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


@dataclass(frozen=True)
class GlobalOptions:
    state_dir: Path
    output: OutputFormat = OutputFormat.HUMAN
    verbose: bool = False


def envelope(
    command: str,
    exit_code: int,
    result: Mapping[str, Any] | None = None,
    *,
    message: str = "",
    hint: str = "",
) -> dict[str, Any]:
    """The JSON document a command prints with --output json, whether it succeeded or not."""
    return {
        "schema": ENVELOPE_SCHEMA,
        "command": command,
        "ok": exit_code == 0,
        "exit_code": int(exit_code),
        "result": dict(result) if result is not None else None,
        "error": {"message": message, "hint": hint} if exit_code != 0 else None,
    }


def print_envelope(document: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
