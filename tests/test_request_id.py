"""Request ids: read from the configured header (from trusted proxies when listed), kept with the lead."""

from __future__ import annotations

import logging

import pytest

from app import services
from app.config import ConfigError, parse_settings
from app.delivery import Deliverer
from app.worker import Worker
from tests.conftest import PB_URL, SUCCESS, auth, base_document, build_app

LEAD = {"first_name": "Jeff", "email": "jeffsample@example.com"}


def app_with(**server):
    document = base_document()
    document["server"] = server
    return build_app(document)


def test_request_id_taken_from_anyone_without_proxies():
    client = app_with().test_client()

    response = client.get("/healthz", headers={"X-Request-Id": "upstream-id-0001"})

    assert response.headers["X-Request-Id"] == "upstream-id-0001"


def test_request_id_generated_when_absent():
    client = app_with().test_client()

    response = client.get("/healthz")

    assert len(response.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("offered", ["x" * 129, "has space", "line\tbreak", "quote\"d"])
def test_request_id_malformed_replaced(offered):
    client = app_with().test_client()

    response = client.get("/healthz", headers={"X-Request-Id": offered})

    assert response.headers["X-Request-Id"] != offered
    assert len(response.headers["X-Request-Id"]) == 32


def test_request_id_configured_header():
    client = app_with(request_id_header="X-Correlation-Id").test_client()

    named = client.get("/healthz", headers={"X-Correlation-Id": "corr-0001"})
    default = client.get("/healthz", headers={"X-Request-Id": "ignored-0001"})

    assert named.headers["X-Request-Id"] == "corr-0001"
    assert default.headers["X-Request-Id"] != "ignored-0001"


def test_request_id_from_trusted_proxy_kept():
    client = app_with(trusted_proxies=["10.0.0.0/8"]).test_client()

    response = client.get("/healthz", headers={"X-Request-Id": "proxy-id-0001"},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})

    assert response.headers["X-Request-Id"] == "proxy-id-0001"


def test_request_id_from_untrusted_peer_replaced():
    client = app_with(trusted_proxies=["10.0.0.0/8"]).test_client()

    response = client.get("/healthz", headers={"X-Request-Id": "forged-id-0001"},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})

    assert response.headers["X-Request-Id"] != "forged-id-0001"


@pytest.mark.parametrize("name", ["", "X Request", "X-Request-Id:", "é-id", "a" * 65])
def test_request_id_header_invalid_refused(name):
    document = base_document()
    document["server"] = {"request_id_header": name}

    with pytest.raises(ConfigError) as raised:
        parse_settings(document)

    assert "server.request_id_header" in str(raised.value)


def test_request_id_stored_and_logged_by_worker(pb, caplog):
    document = base_document()
    document["delivery"] = {"inline_budget": 0}
    app = build_app(document)
    response = app.test_client().post("/v1/leads/landing", data=LEAD,
                                      headers={**auth(), "X-Request-Id": "sender-request-0001"})
    lead_id = response.get_json()["lead_id"]
    store = app.extensions["relay"].store
    assert store.get(lead_id)["request_id"] == "sender-request-0001"

    pb.get(PB_URL, body=SUCCESS)
    settings = parse_settings(document)
    deliverer = Deliverer(settings, store, services.build_client(settings, size=2))
    worker = Worker(store, deliverer, lease=60, concurrency=2, poll_interval=0.05)
    with caplog.at_level(logging.INFO, logger="relay"):
        assert worker.run_once() == 1

    attempted = [record for record in caplog.records if record.getMessage() == "lead.attempted"]
    assert [(record.lead_id, record.request_id) for record in attempted] == [(lead_id, "sender-request-0001")]
