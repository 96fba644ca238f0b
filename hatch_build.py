"""Build hook: ship the collection inside the wheel as ansible_collections/opsrun/ops.

ansible-core scans sys.path for ansible_collections/, so a plain `pip install` makes
`ansible-doc -l opsrun.ops` and `ansible-playbook opsrun.ops.<name>` work without any path set.
An editable install gets no copy: it puts .dev/ on sys.path, whose ansible_collections/opsrun/ops
links back to the checkout, so edits are live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COLLECTION_CONTENT = ("galaxy.yml", "README.md", "meta", "plugins", "roles", "playbooks", "inventories")


class CollectionInWheel(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        for name in COLLECTION_CONTENT:
            if (Path(self.root) / name).exists():
                build_data["force_include"][name] = f"ansible_collections/opsrun/ops/{name}"
