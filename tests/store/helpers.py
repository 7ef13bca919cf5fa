"""Rows, settings and a controllable clock shared by the store tests and their child processes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.config import Settings, parse_settings
from app.leads import Lead

# A fixed Unix time for tests that drive the clock themselves.
START = 1_700_000_000.0

# One hour: far longer than any attempt in these tests, so a lease never runs out by accident.
LONG_LEASE = 3600.0


class Clock:
    """A fake clock that returns the same time until a test advances it; call it like time.time."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = now


def new_id() -> str:
    return uuid.uuid4().hex


def lead_row(
    *,
    now: float = START,
    lead_id: str | None = None,
    customer: str | None = "acme",
    leadstream: str | None = "default",
    email: str | None = None,
    status: str = "queued",
    **columns: Any,
) -> dict[str, Any]:
    """Return a lead row as intake stores it, due at `now`. Keyword arguments override any column."""
    lead_id = lead_id or new_id()
    email = email or f"lead-{lead_id[:12]}@example.com"
    lead = Lead(firstname="Jeff", lastname="Sample", email=email, phone="+19495550123")
    row = {
        "id": lead_id,
        "source": "landing",
        "customer": customer,
        "leadstream": leadstream,
        "sender_id": None,
        "idempotency_key": None,
        "request_hash": "0" * 64,
        "content_type": "application/json",
        "raw_body": json.dumps({"email": email}).encode(),
        "lead": json.dumps(lead.to_dict()),
        "status": status,
        "errors": None,
        "attempts": 0,
        "next_attempt_at": now,
        "lease_until": None,
        "claim_token": 0,
        "ambiguous": False,
        "created_at": now,
        "updated_at": now,
    }
    row.update(columns)
    return row


def attempt_record(number: int, *, now: float, reply_class: str = "delivered") -> dict[str, Any]:
    """Return the attempts-table columns of one attempt, as the deliverer writes them."""
    return {"number": number, "started_at": now, "duration_ms": 1.0, "http_status": 200, "reply_class": reply_class}


def settings_with(**delivery: Any) -> Settings:
    """Return the tests' base settings with the given [delivery] keys."""
    # Imported here so that child processes, which only need rows, skip the app factory.
    from tests.conftest import base_document

    document = base_document()
    document["delivery"] = delivery
    return parse_settings(document, "test.toml")
