"""Fixtures shared by the integration tests."""

from receiver import webhook

__all__ = ["webhook"]
