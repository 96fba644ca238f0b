# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for every module test."""

import pytest
from ansible.module_utils import _internal


@pytest.fixture(autouse=True)
def runs_on_a_managed_host(monkeypatch):
    """Modules run on managed hosts, where their warnings travel in the result. Importing any
    controller code (a filter or action plugin under test) flags the whole process as the
    controller and sends warnings to the display instead, so each module test resets the flag."""
    monkeypatch.setattr(_internal, 'is_controller', False)
