"""Fixtures for the console's tests: an app with an admin token, an operator's logged-in client, stored leads."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from app.leads import Extra, Lead
from app.logs import new_id
from app.store.repository import Claim
from app.store.search import contact_columns
from tests.conftest import PB_URL, build_app

ADMIN_TOKEN = "admin-token-for-tests-0001"

_CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console_document(document) -> dict[str, Any]:
    document["admin"] = {"token": ADMIN_TOKEN}
    return document


@pytest.fixture
def console_app(console_document, pb):
    return build_app(console_document)


@pytest.fixture
def store(console_app):
    return console_app.extensions["relay"].store


@pytest.fixture
def anonymous(console_app):
    """A browser that has not logged in."""
    return console_app.test_client()


@pytest.fixture
def operator(console_app):
    """A browser logged in with the admin token."""
    client = console_app.test_client()
    response = log_in(client, ADMIN_TOKEN)
    assert response.status_code == 303
    return client


def csrf_token(client, path: str = "/console/login") -> str:
    """Return the CSRF token of the form on the page at `path`."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {path}"
    return match[1] or match[2]


def log_in(client, token: str, **fields: str):
    return client.post("/console/login", data={"csrf_token": csrf_token(client), "token": token, **fields})


def post_form(client, path: str, data: dict[str, Any] | None = None, *, form_page: str = "/console/"):
    """Post a console form with a valid CSRF token taken from the page at `form_page`."""
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **(data or {})})


def add_lead(
    store,
    *,
    email: str = "ada.lovelace@example.com",
    phone: str = "+19495550181",
    status: str = "delivered",
    created_at: float | None = None,
    source: str = "landing",
    customer: str | None = "acme",
    raw_body: bytes | None = None,
    lead: Lead | None = None,
    errors: dict[str, list[str]] | None = None,
    **columns: Any,
) -> str:
    """Store a lead row as intake does and return its id; with `errors`, a lead rejected before mapping."""
    created_at = time.time() if created_at is None else created_at
    lead = lead or Lead(firstname="Ada", lastname="Lovelace", email=email, phone=phone,
                        extras=[Extra("Budget", "5000")])
    raw_body = raw_body if raw_body is not None else json.dumps({"email": email, "phone": phone}).encode()
    row = {
        "id": new_id(),
        "source": source,
        "customer": customer,
        "leadstream": "default",
        "sender_id": None,
        "idempotency_key": None,
        "request_hash": "0" * 64,
        "content_type": "application/json",
        "raw_body": raw_body,
        "lead": None if errors else json.dumps(lead.to_dict()),
        **contact_columns(None if errors else lead),
        "status": "rejected" if errors else status,
        "errors": json.dumps(errors) if errors else None,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "claim_token": 0,
        "ambiguous": False,
        "created_at": created_at,
        "updated_at": created_at,
        **columns,
    }
    store.accept(row, None, key_ttl=3600, now=created_at)
    return row["id"]


def add_attempt(store, lead_id: str, **attempt: Any) -> None:
    """Store one attempt of a lead, as the deliverer records it."""
    record = {
        "number": 1,
        "started_at": time.time(),
        "duration_ms": 212.0,
        "http_status": 200,
        "reply_class": "unrecognized",
        "outcome": None,
        "reason": None,
        "excerpt": "<html>Bad gateway</html>",
        "request_url": f"{PB_URL}?key=REDACTED&user_id=123456",
        **attempt,
    }
    store.record_attempt(Claim(lead_id=lead_id, token=0, was_abandoned=False), record, {})
