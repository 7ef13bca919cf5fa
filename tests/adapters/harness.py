"""Run a body through an adapter and a source schema the way intake does, for adapter tests."""

from __future__ import annotations

import copy
from typing import Any

from app.config import parse_settings
from app.errors import RelayError
from app.factory import create_app
from app.intake.bodies import read_body
from app.relay import build_handler
from app.routing import resolve_destination
from tests.conftest import base_document, load_fixture


def source_document(adapter: str, **source_changes: Any) -> dict[str, Any]:
    """Return a configuration whose `landing` source uses `adapter`, with changes applied."""
    document = copy.deepcopy(base_document())
    source = {"customer": "acme", "adapter": adapter, "tokens": ["token-for-tests-aaaaaaaa"]}
    source.update(source_changes)
    document["sources"] = {"landing": source}
    return document


def map_body(adapter: str, raw: bytes | str, content_type: str, **source_changes: Any) -> dict[str, Any]:
    """Return the lead that `raw` yields, in the shared fixtures' `expected` form.

    Extras are an ordered dict of label -> answer; `sender_id` is added.
    Raises the relay's typed errors (InvalidLead, IgnoredEvent, BadBody...).
    """
    document = source_document(adapter, **source_changes)
    settings = parse_settings(document)
    handler = build_handler(settings.sources["landing"])
    app = create_app(settings)

    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with app.test_request_context("/v1/leads/landing", method="POST", data=data, content_type=content_type):
        from flask import request

        body = read_body(request, settings.limits)
        unwrapped = handler.adapter.unwrap(body.document, body.pairs)
        resolve_destination(handler.source, settings.customers, unwrapped.fields, {})
        lead = handler.schema.load_lead(unwrapped.fields)

    result: dict[str, Any] = {name: getattr(lead, name) for name in (
        "firstname", "lastname", "email", "phone", "address1", "address2", "city", "state", "zip", "country"
    )}
    result["extras"] = {extra.label: extra.value for extra in lead.extras}
    result["sender_id"] = unwrapped.sender_id
    return result


def map_fixture(adapter: str, name: str, **source_changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the lead a shared fixture yields, the fixture's expected lead)."""
    raw, meta = load_fixture(name)
    return map_body(adapter, raw, meta["content_type"], **source_changes), meta["expected"]


__all__ = ["RelayError", "map_body", "map_fixture", "source_document"]
