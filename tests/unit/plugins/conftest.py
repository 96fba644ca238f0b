# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the plugin tests."""

import time

import pytest


@pytest.fixture
def utc_time(monkeypatch):
    """Local time is UTC for the test: log timestamps without a zone parse the same everywhere."""
    monkeypatch.setenv('TZ', 'UTC0')
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def tokyo_time(monkeypatch):
    """Local time is UTC+9 without daylight saving, as on a controller in Japan (a POSIX TZ
    string: no time zone database needed)."""
    monkeypatch.setenv('TZ', 'JST-9')
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
