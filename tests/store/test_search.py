"""Store: the console's lead search with keyset pages, and lead counts per hour."""

from __future__ import annotations

from app.store.search import LeadFilter, PagePosition
from tests.store.helpers import START, lead_row

HOUR = 3600.0


def add(store, **columns) -> str:
    row = lead_row(**columns)
    store.accept(row, None, key_ttl=HOUR, now=row["created_at"])
    return row["id"]


def ids(rows) -> list[str]:
    return [row["id"] for row in rows]


def test_search_newest_first(store):
    older = add(store, created_at=START)
    newer = add(store, created_at=START + 10)

    assert ids(store.search(LeadFilter())) == [newer, older]


def test_search_by_each_filter(store):
    wanted = add(store, status="dead", source="partner", customer="globex", created_at=START + 50,
                 email_normalized="ada@example.com", phone_normalized="+19495550181")
    add(store, status="dead", source="partner", customer="globex", created_at=START + 50)
    add(store, status="delivered", source="partner", customer="globex", created_at=START + 50,
        email_normalized="ada@example.com", phone_normalized="+19495550181")
    add(store, status="dead", source="landing", customer="globex", created_at=START + 50,
        email_normalized="ada@example.com")
    add(store, status="dead", source="partner", customer="acme", created_at=START + 50,
        phone_normalized="+19495550181")
    add(store, status="dead", source="partner", customer="globex", created_at=START - 50,
        email_normalized="ada@example.com")
    add(store, status="dead", source="partner", customer="globex", created_at=START + 500,
        email_normalized="ada@example.com")

    found = store.search(LeadFilter(
        email="ada@example.com", phones=("+442079460958", "+19495550181"), status="dead", source="partner",
        customer="globex", created_from=START, created_before=START + 100,
    ))

    assert ids(found) == [wanted]


def test_search_pages_by_position(store):
    # Three leads share one creation time, so only the id orders them within it.
    same_time = sorted((add(store, created_at=START) for _ in range(3)), reverse=True)
    newest = add(store, created_at=START + 1)
    oldest = add(store, created_at=START - 1)

    first = store.search(LeadFilter(), limit=2)
    last_of_first = first[-1]
    second = store.search(LeadFilter(), after=PagePosition(last_of_first["created_at"], last_of_first["id"]), limit=2)
    last_of_second = second[-1]
    third = store.search(LeadFilter(), after=PagePosition(last_of_second["created_at"], last_of_second["id"]),
                         limit=2)

    assert ids(first) == [newest, same_time[0]]
    assert ids(second) == same_time[1:]
    assert ids(third) == [oldest]


def test_search_leaves_out_raw_body(store):
    add(store)

    row = store.search(LeadFilter())[0]

    assert "raw_body" not in row
    assert "lead" in row


def test_counts_per_hour_by_status(store):
    hour = int(START // HOUR)
    add(store, status="delivered", created_at=hour * HOUR)
    add(store, status="delivered", created_at=hour * HOUR + HOUR - 0.5)
    add(store, status="dead", created_at=hour * HOUR + 10)
    add(store, status="delivered", created_at=(hour + 2) * HOUR + 1)
    add(store, status="delivered", created_at=(hour - 1) * HOUR)

    counts = store.counts_per_hour(since=hour * HOUR)

    assert sorted(counts) == [(hour, "dead", 1), (hour, "delivered", 2), (hour + 2, "delivered", 1)]
