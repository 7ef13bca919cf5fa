"""Fixtures for the store tests: a store on each backend, a fake clock, a deliverer and a worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from app import services
from app.delivery import Deliverer
from app.store.engine import make_engine
from app.store.repository import Store
from app.worker import Worker
from tests.store.helpers import LONG_LEASE, Clock, settings_with


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    """A fresh migrated store, once on SQLite and once on PostgreSQL."""
    engine = make_engine(store_url)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_deliverer(store, clock, pb):
    """Build a Deliverer over `store` with the given [delivery] keys, the fake clock and a mocked PhoneBurner."""

    def make(**delivery) -> Deliverer:
        settings = settings_with(**delivery)
        client = services.build_client(settings, size=4)
        return Deliverer(settings, store, client, clock=clock)

    return make


@pytest.fixture
def make_worker(store, clock, monkeypatch):
    """Build a Worker whose claims read the fake clock instead of time.time."""
    monkeypatch.setattr("app.worker.time", SimpleNamespace(time=clock, monotonic=time.monotonic, sleep=time.sleep))

    def make(deliverer: Deliverer, *, concurrency: int = 8) -> Worker:
        return Worker(store, deliverer, lease=LONG_LEASE, concurrency=concurrency, poll_interval=0.05)

    return make
