"""Build the relay's long-lived objects from settings, for the web app, the worker and the CLI."""

from __future__ import annotations

import os

import requests

from app import __version__
from app.config.model import Settings
from app.phoneburner.client import PhoneBurnerClient, make_session
from app.store.engine import make_engine
from app.store.repository import Store

# The pool must allow as many connections as the process runs calls at once;
# gunicorn.conf.py exports its worker_connections as RELAY_POOL_SIZE.
DEFAULT_POOL_SIZE = 100


def pool_size() -> int:
    """Return the PhoneBurner connection pool size for this process."""
    return int(os.environ.get("RELAY_POOL_SIZE", DEFAULT_POOL_SIZE))


def build_client(settings: Settings, *, size: int, session: requests.Session | None = None) -> PhoneBurnerClient:
    """Build the PhoneBurner client with one pooled session for the process."""
    phoneburner = settings.phoneburner
    return PhoneBurnerClient(
        url=phoneburner.url,
        vendor_key=phoneburner.vendor_key,
        session=session or make_session(size, user_agent=f"phoneburner-lead-relay/{__version__}"),
        connect_timeout=phoneburner.connect_timeout,
        read_timeout=phoneburner.read_timeout,
        max_url_bytes=phoneburner.max_url_bytes,
    )


def build_store(settings: Settings, *, connections: int | None = None) -> Store:
    """Open the store named by [storage].url, with at most `connections` or [storage].pool_size connections."""
    return Store(make_engine(settings.storage.url, pool_size=connections or settings.storage.pool_size))
