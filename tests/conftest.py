"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fleet"))

from handle import Fleet

FLEET_SIZE = int(os.environ.get("OPSRUN_FLEET_SIZE", "20"))
FLEET_SYSTEMD = int(os.environ.get("OPSRUN_FLEET_SYSTEMD", "2"))


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """The session's fleet: OPSRUN_FLEET_SIZE hosts (20), the last OPSRUN_FLEET_SYSTEMD (2) with systemd.

    FLEET_NAME and FLEET_SUBNET select another fleet than the default one, so that two test
    sessions on one machine do not take each other's hosts down.
    """
    if os.geteuid() != 0:
        pytest.fail("the SSH test fleet needs root; run as root or deselect with -m 'not fleet'")
    started = Fleet.up(FLEET_SIZE, systemd=FLEET_SYSTEMD)
    try:
        yield started
    finally:
        started.down()
