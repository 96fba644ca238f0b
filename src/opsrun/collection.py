"""Locating the opsrun.ops collection, its playbooks and its default inventory."""

import importlib.util
import re
from pathlib import Path

from opsrun.errors import ExitCode, OpsrunError

COLLECTION_NAME = "opsrun.ops"
_COLLECTION_PACKAGE = f"ansible_collections.{COLLECTION_NAME}"
_PLAYBOOK_SUFFIXES = (".yml", ".yaml")
_SHORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COLLECTION_PREFIX = f"{COLLECTION_NAME}."


def short_name(name: str) -> str:
    """A name of the collection without its prefix: opsrun.ops.ping -> ping (others unchanged)."""
    return name.removeprefix(COLLECTION_PREFIX)


def collection_dir() -> Path:
    """The directory of the installed opsrun.ops collection.

    A wheel installs it as site-packages/ansible_collections/opsrun/ops; a development install
    reaches it through .dev/ on sys.path. Either way the import system knows where it is.
    """
    try:
        spec = importlib.util.find_spec(_COLLECTION_PACKAGE)
    except ModuleNotFoundError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise OpsrunError(
            f"the Ansible collection {COLLECTION_NAME} is not installed next to opsrun",
            hint="reinstall opsrun (pip install opsrun); it ships the collection",
            exit_code=ExitCode.CONFIG,
        )
    return Path(locations[0])


def available_playbooks(collection: Path) -> list[str]:
    """Short names of the collection's playbooks, sorted."""
    playbooks_dir = collection / "playbooks"
    if not playbooks_dir.is_dir():
        return []
    return sorted(
        {
            path.stem
            for path in playbooks_dir.iterdir()
            if path.suffix in _PLAYBOOK_SUFFIXES and path.is_file()
        }
    )


def _collection_playbook(collection: Path, short: str) -> Path | None:
    for suffix in _PLAYBOOK_SUFFIXES:
        candidate = collection / "playbooks" / f"{short}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _looks_like_path(name: str) -> bool:
    return "/" in name or name.endswith(_PLAYBOOK_SUFFIXES)


def resolve_playbook(name: str, collection: Path, cwd: Path) -> Path:
    """The playbook file that `name` designates.

    `name` is a short name of a collection playbook (`ping`), its full name (`opsrun.ops.ping`),
    or a path to a playbook file (anything with a slash or a .yml/.yaml suffix; relative to `cwd`).
    """
    if _looks_like_path(name):
        path = (cwd / name).resolve()
        if not path.is_file():
            raise OpsrunError(
                f"playbook file {path} does not exist",
                hint="check the path, or name a playbook of the collection instead",
            )
        return path
    short = short_name(name)
    if _SHORT_NAME.match(short):
        found = _collection_playbook(collection, short)
        if found is not None:
            return found
    available = available_playbooks(collection)
    listing = ", ".join(available) if available else "none"
    raise OpsrunError(
        f"no playbook named {name!r} in the collection {COLLECTION_NAME} at {collection / 'playbooks'}",
        hint=f"use one of: {listing} (short name or {COLLECTION_NAME}.<name>), or a path to a playbook file",
    )


def default_inventory(collection: Path) -> Path:
    """The collection's embedded inventory: this machine over a local connection."""
    inventory = collection / "inventories" / "local"
    if not inventory.exists():
        raise OpsrunError(
            f"the collection at {collection} has no default inventory (inventories/local)",
            hint="pass an inventory with -i, or reinstall opsrun",
            exit_code=ExitCode.CONFIG,
        )
    return inventory
