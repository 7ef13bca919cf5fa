"""Fixtures shared by the adapter tests."""

from __future__ import annotations

import pytest

from tests.adapters.harness import freeze_clock


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the clock that signature checks read at harness.NOW."""
    freeze_clock(monkeypatch)
