"""Idempotency keys: every kind fits the store's key column, whatever the source's name and the request."""

from __future__ import annotations

import pytest

from app.config.schema import NAME_PATTERN
from app.idempotency import SignedRequest, replay_key, request_key
from app.leads import Lead
from app.store.tables import idempotency_keys

# A source name of the maximum length the configuration accepts.
MAX_SOURCE_NAME = "s" * 64

KINDS = ["header", "message", "sender", "fingerprint", "signature", "signed message"]


def key_of_kind(kind: str, *, source: str, value: str) -> str | None:
    """Return the key of this kind that a request carrying `value` gets from this source."""
    if kind == "header":
        return request_key(source=source, header=value, sender_id=None, lead=None)
    if kind == "message":
        return request_key(source=source, header=None, sender_id=None, lead=None, message_id=value)
    if kind == "sender":
        return request_key(source=source, header=None, sender_id=value, lead=None)
    if kind == "fingerprint":
        lead = Lead(email=f"{value}@example.com", phone="+19495550123")
        return request_key(source=source, header=None, sender_id=None, lead=lead)
    if kind == "signature":
        return replay_key(source=source, signed=SignedRequest(signature=value.encode()))
    return replay_key(source=source, signed=SignedRequest(message_id=value))


def test_max_source_name_is_64():
    assert NAME_PATTERN.match(MAX_SOURCE_NAME)
    assert not NAME_PATTERN.match(MAX_SOURCE_NAME + "s")


@pytest.mark.parametrize("kind", KINDS)
def test_longest_key_fits_column(kind):
    key = key_of_kind(kind, source=MAX_SOURCE_NAME, value="x" * 255)

    assert key is not None
    assert len(key) <= idempotency_keys.c.key.type.length


@pytest.mark.parametrize("kind", KINDS)
def test_key_length_independent_of_request(kind):
    # Only digests follow the source's name, so the longest name makes the longest key.
    short = key_of_kind(kind, source=MAX_SOURCE_NAME, value="x")
    long = key_of_kind(kind, source=MAX_SOURCE_NAME, value="x" * 255)

    assert len(short) == len(long)
