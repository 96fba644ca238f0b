# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sphinx settings of the opsrun documentation; docs/build.sh builds it, with warnings as errors.

The build reads no network, so no intersphinx inventory is fetched: the few labels of the Ansible
documentation that the generated reference pages use become links to their pages here.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes

_GALAXY = yaml.safe_load((Path(__file__).resolve().parents[1] / "galaxy.yml").read_text(encoding="utf-8"))

project = "opsrun"
author = "opsrun maintainers"
copyright = "2026, opsrun maintainers"
release = version = str(_GALAXY["version"])

extensions = ["myst_parser", "sphinx_antsibull_ext"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# Only the pages in the toctrees: the staging directory holds example files next to the guides.
exclude_patterns = ["**/README.md"]
# Every reference must resolve: a broken link fails the build.
nitpicky = True
# Links to a heading of another guide (ops-yml.md#routines) resolve.
myst_heading_anchors = 3

html_theme = "sphinx_ansible_theme"
html_title = f"opsrun {release}"
html_show_sphinx = False
html_copy_source = False
html_use_index = False
pygments_style = "ansible"
highlight_language = "YAML+Jinja"

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
# Label of the Ansible documentation -> its page.
ANSIBLE_LABELS = {
    "action_plugins": "plugins/action.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
    "common_return_values": "reference_appendices/common_return_values.html",
}
# ansible_collections.ansible.builtin.fetch_module -> collections/ansible/builtin/fetch_module.html
_BUILTIN_PLUGIN = re.compile(r"^ansible_collections\.ansible\.builtin\.(\w+)_(module|lookup|filter|test)$")


def ansible_page(label: str) -> str | None:
    """The page of the Ansible documentation a label names, or None when it is not one of them."""
    if label in ANSIBLE_LABELS:
        return ANSIBLE_DOCS + ANSIBLE_LABELS[label]
    match = _BUILTIN_PLUGIN.match(label)
    if match is None:
        return None
    return f"{ANSIBLE_DOCS}collections/ansible/builtin/{match.group(1)}_{match.group(2)}.html"


def _link_to_ansible_docs(_app: Any, _env: Any, node: Any, contnode: nodes.Node) -> nodes.Node | None:
    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    page = ansible_page(node["reftarget"])
    if page is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=page)
    reference += contnode
    return reference


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", _link_to_ansible_docs)
    return {"parallel_read_safe": True}
