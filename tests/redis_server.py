"""The Redis server for rate-limit tests, and keys of their own on it.

Redis tests run wherever a server answers at RELAY_TEST_REDIS_URL (default:
the local server, database 0). When none answers they are skipped, except in
CI (CI=true), where a missing server fails them instead. Each test uses a
key prefix of its own and deletes only its own keys, since others share
the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("RELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    """Return the URL of the test Redis server; skip the test, or fail it in CI, when none answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        message = f"no Redis server answers at {REDIS_URL}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the Redis tests")
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


def fresh_prefix() -> str:
    """Return a key prefix no other test run uses."""
    return f"relay-test-{uuid.uuid4().hex[:12]}"


def delete_keys(url: str, prefix: str) -> None:
    """Delete the keys under `prefix`, and no others."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """Yield the test Redis URL and a fresh key prefix, then delete the keys under that prefix."""
    url, prefix = redis_url(), fresh_prefix()
    yield url, prefix
    delete_keys(url, prefix)


def keys_under(url: str, prefix: str) -> list[bytes]:
    """Return the keys the rate limits wrote under `prefix`."""
    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match=f"*{prefix}*", count=1000))
    finally:
        client.close()
