"""Shared fixtures: a valid configuration, the app built from it, PhoneBurner mocked."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import responses

from app.config import parse_settings
from app.factory import create_app
from tests.stores import fresh_sqlite_url, fresh_store_url

VENDOR_KEY = "vendor-key-for-tests-0001"
TOKEN = "token-for-tests-aaaaaaaa"
OTHER_TOKEN = "token-for-tests-bbbbbbbb"
PB_URL = "https://phoneburner.test/api/vendor/put_contact"
SUCCESS = "SUCCESS | https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP"

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "payloads"

# The redis_prefix fixture, for rate-limit tests that share a Redis server.
pytest_plugins = ["tests.redis_server"]

# Shared sender payloads -> the adapter that reads each.
FIXTURE_ADAPTERS = {
    "html_form": "form",
    "zapier_webhooks_post": "zapier",
    "zapier_webhooks_post_json": "zapier",
    "cf7_to_webhook": "cf7",
    "unbounce": "unbounce",
    "typeform": "typeform",
    "jotform": "jotform",
    "gravity_forms_webhooks": "gravity_forms",
    "elementor_pro_forms": "elementor",
    "webflow_form_submission": "webflow",
    "facebook_lead_ads_graph_lead": "meta_lead_ads",
}


def base_document() -> dict[str, Any]:
    """Return a valid configuration document with one customer and one source."""
    return {
        "phoneburner": {"url": PB_URL, "vendor_key": VENDOR_KEY, "connect_timeout": 2, "read_timeout": 5},
        "customers": {
            "acme": {"user_id": "123456", "leadstreams": {"default": "YYYY", "spanish": "ZZZZ"}},
            "globex": {"user_id": "654321", "leadstreams": {"main": "GGGG"}},
        },
        "sources": {
            "landing": {
                "customer": "acme",
                "tokens": [TOKEN, OTHER_TOKEN],
                "extras_unmapped": True,
            },
        },
        "logging": {"format": "json"},
    }


def build_app(document: dict[str, Any]):
    """Build the app from a configuration document, with logs reaching caplog.

    Without a [storage] table the app gets a fresh migrated SQLite store.
    """
    document = copy.deepcopy(document)
    document.setdefault("storage", {"url": fresh_sqlite_url()})
    app = create_app(parse_settings(document, "test.toml"))
    logging.getLogger("relay").propagate = True
    _built_apps.append(app)
    return app


# Apps built by the current test, whose store connections are closed when it ends.
_built_apps: list = []


@pytest.fixture(autouse=True)
def close_app_stores():
    """Dispose of each app's engine after its test, so no database connection outlives it."""
    yield
    while _built_apps:
        _built_apps.pop().extensions["relay"].store.engine.dispose()


@pytest.fixture(autouse=True)
def reset_relay_logger():
    """Undo create_app's logging set-up, so one test's level cannot hide another's records."""
    yield
    logger = logging.getLogger("relay")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture
def document() -> dict[str, Any]:
    return base_document()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request) -> str:
    """A fresh migrated store, once on SQLite and once on PostgreSQL."""
    return fresh_store_url(request.param)


@pytest.fixture
def pb():
    """PhoneBurner mocked with `responses`; every test registers its replies."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(document, pb):
    """A test client of the app built from the `document` fixture."""
    return build_app(document).test_client()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sent_params(pb) -> list[tuple[str, str]]:
    """Return the decoded query parameters of the only put_contact call."""
    from urllib.parse import parse_qsl, urlsplit

    assert len(pb.calls) == 1
    return parse_qsl(urlsplit(pb.calls[0].request.url).query, keep_blank_values=True)


def load_fixture(name: str) -> tuple[bytes, dict[str, Any]]:
    """Return a shared payload's exact body and its meta document."""
    meta = json.loads((FIXTURES / f"{name}.meta.json").read_text())
    body_path = next(path for path in FIXTURES.glob(f"{name}.*") if not path.name.endswith(".meta.json"))
    raw = body_path.read_bytes()
    if body_path.name.endswith(".multipart.txt"):
        raw = raw.split(b"\n", 1)[1]
    return raw, meta
