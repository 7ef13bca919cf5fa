"""Helpers for adapter tests.

They run a body through an adapter and a source schema the way intake does, build and
compare expected leads, build the app around one source, and sign and post requests.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask

from app.config import parse_settings
from app.errors import RelayError
from app.intake.bodies import read_body
from app.relay import build_handler
from app.routing import resolve_destination
from tests.conftest import base_document, build_app, load_fixture

STANDARD_FIELDS = (
    "firstname", "lastname", "email", "phone", "address1", "address2", "city", "state", "zip", "country"
)

NOW = 1741976400  # 2025-03-14T18:20:00Z, the signed timestamp of the shared Webflow fixture


def source_document(adapter: str, **source_changes: Any) -> dict[str, Any]:
    """Return a configuration whose `landing` source uses `adapter`, with changes applied."""
    document = copy.deepcopy(base_document())
    source = {"customer": "acme", "adapter": adapter, "tokens": ["token-for-tests-aaaaaaaa"]}
    source.update(source_changes)
    document["sources"] = {"landing": source}
    return document


def app_client(adapter: str, **source_changes: Any):
    """Return a test client of the app whose `landing` source uses `adapter`, with changes applied."""
    return build_app(source_document(adapter, **source_changes)).test_client()


def map_body(adapter: str, raw: bytes | str, content_type: str, **source_changes: Any) -> dict[str, Any]:
    """Return the lead that `raw` yields, in the shared fixtures' `expected` form.

    Extras are an ordered dict of label -> answer; `sender_id` is added.
    Raises the relay's typed errors (InvalidLead, IgnoredEvent, BadBody...).
    """
    document = source_document(adapter, **source_changes)
    settings = parse_settings(document)
    handler = build_handler(settings.sources["landing"])
    # A bare app is enough to parse a request; the relay's store and client are not needed.
    app = Flask(__name__)

    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with app.test_request_context("/v1/leads/landing", method="POST", data=data, content_type=content_type):
        from flask import request

        body = read_body(request, settings.limits)
        unwrapped = handler.adapter.unwrap(body.document, body.pairs)
        resolve_destination(handler.source, settings.customers, unwrapped.fields, {})
        loaded = handler.schema.load_lead(unwrapped.fields)

    result: dict[str, Any] = {name: getattr(loaded, name) for name in STANDARD_FIELDS}
    result["extras"] = {extra.label: extra.value for extra in loaded.extras}
    result["sender_id"] = unwrapped.sender_id
    return result


def map_fixture(adapter: str, name: str, **source_changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the lead a shared fixture yields, the fixture's expected lead)."""
    raw, meta = load_fixture(name)
    return map_body(adapter, raw, meta["content_type"], **source_changes), meta["expected"]


def lead(
    extras: Mapping[str, str] | Iterable[tuple[str, str]] = (), *, sender_id: str | None = None, **standard: str
) -> dict[str, Any]:
    """Build an expected lead for `assert_lead`.

    Every standard field is None unless given. Extras, a dict or (label, answer) pairs,
    are stored as a list of pairs in order. Raises TypeError on a field name that is not standard.
    """
    unknown = sorted(set(standard) - set(STANDARD_FIELDS))
    if unknown:
        raise TypeError(f"lead() got fields that are not standard: {unknown}")

    expected: dict[str, Any] = dict.fromkeys(STANDARD_FIELDS)
    expected.update(standard)
    expected["extras"] = list(extras.items()) if isinstance(extras, Mapping) else list(extras)
    expected["sender_id"] = sender_id
    return expected


def assert_lead(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Assert that a lead from `map_body` equals one from `lead`, extras in the same order."""
    actual = dict(actual)
    expected = dict(expected)
    assert list(actual.pop("extras").items()) == expected.pop("extras")
    assert actual == expected


def assert_fixture_maps(adapter: str, name: str, *, sender_id: str | None = None, **source_changes: Any) -> None:
    """Assert that a shared fixture maps to the lead its meta file expects, with `sender_id`."""
    actual, expected = map_fixture(adapter, name, **source_changes)

    # `lead` fills a missing field with None, so the meta file must name every field itself.
    assert set(expected) == {*STANDARD_FIELDS, "extras"}
    assert_lead(actual, lead(**expected, sender_id=sender_id))


def post_fixture(client, name: str, url: str = "/v1/leads/landing", **request: Any):
    """Post a shared fixture's body with its content type to `url` and return the response."""
    raw, meta = load_fixture(name)
    return client.post(url, data=raw, content_type=meta["content_type"], **request)


def freeze_clock(monkeypatch, now: float = NOW) -> None:
    """Make signature checks read `now` (Unix seconds) as the current time."""
    monkeypatch.setattr("app.intake.auth.time.time", lambda: float(now))


def hmac_hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    """Return the HMAC of `message` under `secret`, with the hashlib `algorithm`, as lowercase hex."""
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def hmac_base64(secret: str, message: bytes) -> str:
    """Return the HMAC-SHA256 of `message` under `secret`, in standard base64."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def multipart_body(parts: Iterable[tuple[str, str]], boundary: str, *, final_crlf: bool = True) -> bytes:
    """Return a multipart/form-data body with one text part per (name, value), in UTF-8.

    With `final_crlf` false, nothing follows the closing boundary.
    """
    lines = []
    for name, value in parts:
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines.append(f"--{boundary}--")
    body = "\r\n".join(lines) + ("\r\n" if final_crlf else "")
    return body.encode("utf-8")


__all__ = [
    "NOW",
    "STANDARD_FIELDS",
    "RelayError",
    "app_client",
    "assert_fixture_maps",
    "assert_lead",
    "freeze_clock",
    "hmac_base64",
    "hmac_hex",
    "lead",
    "map_body",
    "map_fixture",
    "multipart_body",
    "post_fixture",
    "source_document",
]
