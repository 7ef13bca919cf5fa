"""GET /metrics: counters as leads flow, the admin token, and the gauges read from the store."""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import app as relay_package
from app.breaker import CircuitBreaker
from tests.conftest import PB_URL, SUCCESS, TOKEN, VENDOR_KEY, auth, base_document, build_app
from tests.store.helpers import Clock, lead_row

ADMIN_TOKEN = "admin-token-for-tests-cccc"
LEAD = {"first_name": "Jeff", "email": "jeffsample@example.com", "phone": "(949) 555-0123"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def app(pb):
    document = base_document()
    document["admin"] = {"token": ADMIN_TOKEN}
    return build_app(document)


@pytest.fixture
def client(app):
    return app.test_client()


def scrape(client) -> Samples:
    """Return every sample of an authenticated scrape, keyed by name and labels."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def changed(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_delivered_lead_counted(client, pb):
    pb.get(PB_URL, body=SUCCESS)
    before = scrape(client)

    client.post("/v1/leads/landing", data=LEAD, headers=auth())

    after = scrape(client)
    assert changed(before, after, "relay_leads_received_total", source="landing", status="delivered") == 1
    assert changed(before, after, "relay_phoneburner_replies_total",
                   via="inline", reply_class="delivered", reason="") == 1
    assert changed(before, after, "relay_phoneburner_attempt_duration_seconds_count", via="inline") == 1
    assert changed(before, after, "relay_http_request_duration_seconds_count",
                   route="/v1/leads/<source_name>", status_class="2xx") == 1


def test_queued_lead_counted_and_in_queue_depth(client, pb):
    pb.get(PB_URL, status=503)
    before = scrape(client)

    response = client.post("/v1/leads/landing", data=LEAD, headers=auth())

    after = scrape(client)
    assert response.status_code == 202
    assert changed(before, after, "relay_leads_received_total", source="landing", status="queued") == 1
    assert changed(before, after, "relay_phoneburner_replies_total",
                   via="inline", reply_class="unavailable", reason="http_503") == 1
    assert value(after, "relay_queue_depth", status="queued") == 1
    assert value(after, "relay_queue_oldest_age_seconds") >= 0


def test_rejected_lead_counted_without_attempt(client, pb):
    before = scrape(client)

    response = client.post("/v1/leads/landing", data={"first_name": "Jeff"}, headers=auth())

    after = scrape(client)
    assert response.status_code == 422
    assert changed(before, after, "relay_leads_received_total", source="landing", status="rejected") == 1
    assert len(pb.calls) == 0


def test_phoneburner_error_reply_counted_and_customer_held(client, pb):
    pb.get(PB_URL, body="ERROR|UNKNOWN USER")
    before = scrape(client)

    response = client.post("/v1/leads/landing", data=LEAD, headers=auth())

    after = scrape(client)
    assert response.status_code == 502
    assert changed(before, after, "relay_leads_received_total", source="landing", status="failed") == 1
    assert changed(before, after, "relay_phoneburner_replies_total",
                   via="inline", reply_class="config_fault", reason="UNKNOWN USER") == 1
    assert value(after, "relay_customers_on_hold") == 1
    assert value(after, "relay_queue_depth", status="failed") == 1


def test_wrong_token_counted_as_401(client):
    before = scrape(client)

    response = client.post("/v1/leads/landing", data=LEAD, headers=auth("not-the-token-at-all-xx"))

    after = scrape(client)
    assert response.status_code == 401
    assert changed(before, after, "relay_request_errors_total",
                   source="landing", http_status="401", reason="unauthorized") == 1


def test_unknown_source_not_a_label(client):
    client.post("/v1/leads/no-such-source-x1", data=LEAD, headers=auth())

    after = scrape(client)
    assert value(after, "relay_request_errors_total", source="", http_status="404", reason="not_found") >= 1
    assert not any("no-such-source-x1" in str(labels) for _, labels in after)


def test_repeat_counted_apart(client, pb):
    pb.get(PB_URL, body=SUCCESS)
    headers = {**auth(), "Idempotency-Key": "metrics-repeat-0001"}
    client.post("/v1/leads/landing", data=LEAD, headers=headers)
    before = scrape(client)

    client.post("/v1/leads/landing", data=LEAD, headers=headers)

    after = scrape(client)
    assert changed(before, after, "relay_lead_repeats_total", source="landing") == 1
    assert changed(before, after, "relay_leads_received_total", source="landing", status="delivered") == 0


def test_metrics_without_token_401(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"


def test_metrics_with_wrong_token_401(client):
    for headers in ({"Authorization": "Bearer wrong-admin-token-xxxx"}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get("/metrics", headers=headers)

        assert response.status_code == 401
        assert response.get_json()["status"] == "error"


def test_metrics_token_in_query_refused(client):
    response = client.get(f"/metrics?token={ADMIN_TOKEN}")

    assert response.status_code == 401


def test_metrics_off_without_admin_token(pb):
    client = build_app(base_document()).test_client()

    response = client.get("/metrics", headers={"Authorization": "Bearer anything-at-all-here"})

    assert response.status_code == 404
    assert "[admin].token" in response.get_json()["message"]


def test_metrics_exposition_has_no_secrets_or_personal_data(client, pb):
    pb.get(PB_URL, body=SUCCESS)
    client.post("/v1/leads/landing", data=LEAD, headers=auth())

    response = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    text = response.get_data(as_text=True)
    for forbidden in (VENDOR_KEY, TOKEN, ADMIN_TOKEN, "jeffsample", "9495550123", "Jeff"):
        assert forbidden not in text


def test_queue_gauges_read_from_store(app, client):
    store = app.extensions["relay"].store
    now = time.time()
    store.accept(lead_row(now=now - 600), None, key_ttl=60, now=now)
    store.accept(lead_row(now=now - 60), None, key_ttl=60, now=now)
    store.accept(lead_row(now=now, status="dead"), None, key_ttl=60, now=now)
    store.accept(lead_row(now=now, status="delivered"), None, key_ttl=60, now=now)
    store.hold("acme", "UNKNOWN USER", now=now)
    store.hold("globex", "CANCELLED USER", now=now)

    samples = scrape(client)

    assert value(samples, "relay_store_up") == 1
    assert value(samples, "relay_queue_depth", status="queued") == 2
    assert value(samples, "relay_queue_depth", status="failed") == 0
    assert value(samples, "relay_leads_dead") == 1
    assert value(samples, "relay_customers_on_hold") == 2
    assert 600 <= value(samples, "relay_queue_oldest_age_seconds") < 3600


def test_queue_gauges_absent_when_store_down(app, client, tmp_path):
    os.replace(app.extensions["relay"].store.engine.url.database, tmp_path / "moved.db")

    samples = scrape(client)

    assert value(samples, "relay_store_up") == 0
    assert ("relay_queue_depth", frozenset({("status", "queued")})) not in samples


def test_build_info_exposed(client):
    samples = scrape(client)

    info = [labels for name, labels in samples if name == "relay_build_info"]
    assert len(info) == 1
    assert ("version", relay_package.__version__) in info[0]


def test_breaker_state_follows_transitions(client):
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, open_seconds=30, clock=clock)
    assert value(scrape(client), "relay_breaker_state") == 0

    breaker.record(transient_failure=True)
    breaker.record(transient_failure=True)
    assert value(scrape(client), "relay_breaker_state") == 2

    clock.advance(31)
    assert breaker.allow()
    assert value(scrape(client), "relay_breaker_state") == 1

    breaker.release_probe()
    assert value(scrape(client), "relay_breaker_state") == 2

    assert breaker.allow()
    breaker.record(transient_failure=False)
    assert value(scrape(client), "relay_breaker_state") == 0


def test_breaker_transitions_counted(client):
    breaker = CircuitBreaker(threshold=1, open_seconds=30, clock=Clock())
    before = scrape(client)

    breaker.record(transient_failure=True)
    breaker.record(transient_failure=False)

    after = scrape(client)
    assert changed(before, after, "relay_breaker_transitions_total", state="open") == 1
    assert changed(before, after, "relay_breaker_transitions_total", state="closed") == 1


def test_recording_fault_never_fails_request(client, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)

    def broken(*args, **kwargs):
        raise OSError("the metrics directory is gone")

    monkeypatch.setattr("app.metrics.leads_received.labels", broken)
    monkeypatch.setattr("app.metrics.request_duration.labels", broken)

    response = client.post("/v1/leads/landing", data=LEAD, headers=auth())

    assert response.status_code == 201


def test_recording_failure_logged_once(monkeypatch, caplog):
    from app import metrics

    def broken(*args, **kwargs):
        raise OSError("metrics directory removed")

    monkeypatch.setattr(metrics, "leads_received", type("Broken", (), {"labels": staticmethod(broken)})())
    monkeypatch.setattr(metrics, "_failure_log", metrics.LogThrottle(metrics.FAILURE_LOG_SECONDS))

    with caplog.at_level("ERROR", logger="relay.metrics"):
        for _ in range(5):
            metrics.lead_answered("landing", "delivered", repeat=False)

    lines = [record for record in caplog.records if record.getMessage() == "metrics.record_failed"]
    assert len(lines) == 1
    assert "metrics directory removed" in lines[0].error
