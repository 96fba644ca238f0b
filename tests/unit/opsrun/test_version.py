"""The command and the collection it runs carry one version."""

from pathlib import Path

import yaml

import opsrun

REPO = Path(__file__).resolve().parents[3]


def test_the_package_and_the_collection_have_the_same_version() -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    assert galaxy["version"] == opsrun.__version__
