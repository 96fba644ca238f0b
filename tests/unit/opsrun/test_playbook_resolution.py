"""Finding the collection, resolving playbook names and the default inventory."""

from pathlib import Path

import pytest

from opsrun.collection import (
    available_playbooks,
    collection_dir,
    default_inventory,
    resolve_playbook,
)
from opsrun.errors import ExitCode, OpsrunError


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "ansible_collections" / "opsrun" / "ops"
    playbooks = root / "playbooks"
    playbooks.mkdir(parents=True)
    (playbooks / "ping.yml").write_text("- hosts: all\n")
    (playbooks / "health_check.yaml").write_text("- hosts: all\n")
    (playbooks / "README.md").write_text("not a playbook\n")
    (playbooks / "vars").mkdir()
    return root


def test_the_installed_collection_is_found() -> None:
    found = collection_dir()
    assert (found / "galaxy.yml").is_file()
    assert found.parts[-3:] == ("ansible_collections", "opsrun", "ops")


def test_available_playbooks_lists_yaml_files_only(collection: Path) -> None:
    assert available_playbooks(collection) == ["health_check", "ping"]


def test_available_playbooks_without_a_playbooks_dir(tmp_path: Path) -> None:
    assert available_playbooks(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ping", "playbooks/ping.yml"),
        ("opsrun.ops.ping", "playbooks/ping.yml"),
        ("health_check", "playbooks/health_check.yaml"),
        ("opsrun.ops.health_check", "playbooks/health_check.yaml"),
    ],
)
def test_collection_names_resolve(collection: Path, tmp_path: Path, name: str, expected: str) -> None:
    assert resolve_playbook(name, collection, tmp_path) == collection / expected


def test_paths_resolve_relative_to_the_working_directory(collection: Path, tmp_path: Path) -> None:
    own = tmp_path / "site" / "mine.yml"
    own.parent.mkdir()
    own.write_text("- hosts: all\n")
    assert resolve_playbook("site/mine.yml", collection, tmp_path) == own
    assert resolve_playbook(str(own), collection, Path("/")) == own
    (tmp_path / "ping.yml").write_text("- hosts: all\n")
    # With a suffix it is a file; without, the collection's playbook.
    assert resolve_playbook("ping.yml", collection, tmp_path) == tmp_path / "ping.yml"
    assert resolve_playbook("ping", collection, tmp_path) == collection / "playbooks" / "ping.yml"


def test_missing_playbook_file_is_an_error_naming_it(collection: Path, tmp_path: Path) -> None:
    with pytest.raises(OpsrunError) as caught:
        resolve_playbook("./nowhere.yml", collection, tmp_path)
    assert str(tmp_path / "nowhere.yml") in caught.value.message


@pytest.mark.parametrize("name", ["pong", "opsrun.ops.pong", "other.coll.ping", "../ping", "opsrun.ops."])
def test_unknown_name_lists_the_available_playbooks(collection: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(OpsrunError) as caught:
        resolve_playbook(name, collection, tmp_path)
    error = caught.value
    assert error.exit_code == ExitCode.USAGE
    if "/" not in name:
        assert repr(name) in error.message
        assert "health_check, ping" in error.hint


def test_unknown_name_in_an_empty_collection(tmp_path: Path) -> None:
    with pytest.raises(OpsrunError) as caught:
        resolve_playbook("ping", tmp_path, tmp_path)
    assert "use one of: none" in caught.value.hint


def test_default_inventory(collection: Path) -> None:
    with pytest.raises(OpsrunError) as caught:
        default_inventory(collection)
    assert caught.value.exit_code == ExitCode.CONFIG
    assert "-i" in caught.value.hint
    (collection / "inventories" / "local").mkdir(parents=True)
    assert default_inventory(collection) == collection / "inventories" / "local"
