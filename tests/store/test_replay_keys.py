"""Store: a request with several idempotency keys is a repeat when any one is taken."""

from __future__ import annotations

from sqlalchemy import select

from app.store.tables import idempotency_keys
from tests.store.helpers import START, lead_row

TTL = 3600.0
HEADER_KEY = "key:landing:aaaa"
OTHER_HEADER_KEY = "key:landing:bbbb"
SIGNATURE_KEY = "signature:landing:cccc"


def stored_keys(store) -> dict[str, str]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(idempotency_keys.c.key, idempotency_keys.c.lead_id))
        return {key: lead_id for key, lead_id in rows}


def test_every_key_recorded_for_new_lead(store):
    row = lead_row()

    accepted = store.accept(row, HEADER_KEY, key_ttl=TTL, now=START, extra_keys=[SIGNATURE_KEY])

    assert accepted.repeat is False
    assert stored_keys(store) == {HEADER_KEY: row["id"], SIGNATURE_KEY: row["id"]}


def test_extra_key_alone_recognizes_repeat(store):
    first = lead_row()
    store.accept(first, HEADER_KEY, key_ttl=TTL, now=START, extra_keys=[SIGNATURE_KEY])

    repeat = store.accept(lead_row(), OTHER_HEADER_KEY, key_ttl=TTL, now=START + 1, extra_keys=[SIGNATURE_KEY])

    assert repeat.repeat is True
    assert repeat.lead_id == first["id"]


def test_repeat_keeps_none_of_its_own_keys(store):
    first = lead_row()
    store.accept(first, HEADER_KEY, key_ttl=TTL, now=START, extra_keys=[SIGNATURE_KEY])

    # OTHER_HEADER_KEY sorts before SIGNATURE_KEY, so it is taken before the match rolls it back.
    store.accept(lead_row(), OTHER_HEADER_KEY, key_ttl=TTL, now=START + 1, extra_keys=[SIGNATURE_KEY])

    assert stored_keys(store) == {HEADER_KEY: first["id"], SIGNATURE_KEY: first["id"]}
    assert store.counts() == {"queued": 1}


def test_extra_key_without_request_key(store):
    first = lead_row()
    store.accept(first, None, key_ttl=TTL, now=START, extra_keys=[SIGNATURE_KEY])

    repeat = store.accept(lead_row(), None, key_ttl=TTL, now=START + 1, extra_keys=[SIGNATURE_KEY])

    assert repeat.lead_id == first["id"]


def test_same_key_twice_counts_once(store):
    row = lead_row()

    accepted = store.accept(row, SIGNATURE_KEY, key_ttl=TTL, now=START, extra_keys=[SIGNATURE_KEY])

    assert accepted.repeat is False
    assert stored_keys(store) == {SIGNATURE_KEY: row["id"]}
