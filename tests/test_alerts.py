"""Alerts reach a webhook on 127.0.0.1: holds, the breaker, the queue's age, rate limits, failures."""

from __future__ import annotations

import json
import logging

import pytest
import responses

from app import alerts
from app.alerts import Alerter, BacklogWatch
from app.breaker import CircuitBreaker
from app.store.engine import make_engine
from app.store.repository import Store, StoreUnavailable
from tests.conftest import OTHER_TOKEN, PB_URL, SUCCESS, TOKEN, VENDOR_KEY, auth, base_document, build_app
from tests.e2e.conftest import free_port
from tests.store.helpers import Clock, attempt_record, lead_row
from tests.webhook import PATH, WebhookServer

FORM = "application/x-www-form-urlencoded"
INTERVAL = 30 * 60

# The lead's personal data, none of which may reach an alert.
LEAD_BODY = "first_name=Priya&last_name=Raman&email=priya.raman%40example.com&phone=%28949%29+555-0123&age=35"
PERSONAL = ("Priya", "Raman", "priya.raman@example.com", "9495550123", "555-0123")


def assert_nothing_private(texts: list[str]) -> None:
    for text in texts:
        for private in (*PERSONAL, VENDOR_KEY, TOKEN, OTHER_TOKEN, PATH):
            assert private not in text, f"{private!r} in alert: {text}"


@pytest.fixture
def webhook():
    with WebhookServer() as server:
        yield server


@pytest.fixture
def make_app(pb):
    """Build the app with alerts going to `url`; PhoneBurner stays mocked, the webhook is real."""
    apps = []

    def make(url: str, **delivery):
        pb.add_passthru(url.rsplit("/", 4)[0])
        document = base_document()
        document["alerts"] = {"webhook_url": url, "allow_insecure_url": True}
        document["delivery"] = delivery
        app = build_app(document)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["relay"].alerter.close(timeout=10)


@pytest.fixture
def store(store_url):
    engine = make_engine(store_url)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def make_alerter(webhook):
    """Build alerters posting to the test webhook; each is one process of the relay."""
    built = []

    def make(store: Store | None, clock: Clock | None = None) -> Alerter:
        alerter = Alerter(webhook_url=webhook.url, min_interval=INTERVAL, store=store, clock=clock or Clock())
        built.append(alerter)
        return alerter

    yield make
    for alerter in built:
        alerter.close(timeout=10)


def post_lead(app, body: str = LEAD_BODY):
    return app.test_client().post("/v1/leads/landing", data=body, headers=auth(), content_type=FORM)


def flushed(*alerters: Alerter) -> None:
    for alerter in alerters:
        assert alerter.flush(timeout=10), "the alerts were not sent within 10 s"


def test_hold_alert_names_customer_and_fix(webhook, make_app, pb):
    pb.get(PB_URL, body="FAILURE|CM_ID IS INVALID")
    app = make_app(webhook.url)

    response = post_lead(app)

    assert response.status_code == 502
    [text] = webhook.wait_for(1)
    assert "Customer acme is on hold" in text
    assert "CM_ID IS INVALID" in text
    assert "python -m app customers resume acme" in text
    assert_nothing_private([text])
    [sent] = webhook.posts
    assert sent["path"] == PATH
    assert sent["content_type"] == "application/json"
    assert list(sent["body"]) == ["text"]


def test_hold_alert_once_per_hold(webhook, make_app, pb):
    pb.get(PB_URL, body="FAILURE|UNKNOWN USER")
    app = make_app(webhook.url)
    relay = app.extensions["relay"]

    first = post_lead(app)
    held = post_lead(app, LEAD_BODY.replace("priya.raman", "second"))
    flushed(relay.alerter)

    assert first.status_code == 502
    assert held.get_json()["reason"] == "customer_on_hold"
    assert len(webhook.texts()) == 1

    # After a resume, a new fault is a new hold and alerts again, within the rate limit's interval.
    relay.store.resume("acme", now=0)
    again = post_lead(app, LEAD_BODY.replace("priya.raman", "third"))
    flushed(relay.alerter)

    assert again.status_code == 502
    assert len(webhook.texts()) == 2


def test_breaker_alert_from_web_process(webhook, make_app, pb):
    pb.get(PB_URL, status=503)
    app = make_app(webhook.url, breaker_threshold=1)

    response = post_lead(app)

    assert response.status_code == 202
    [text] = webhook.wait_for(1)
    assert "circuit breaker opened" in text
    assert "(last: http_503)" in text
    assert_nothing_private([text])


def test_breaker_open_then_recovered(store, make_alerter, webhook):
    alerter = make_alerter(store)
    breaker = CircuitBreaker(threshold=2, open_seconds=30, clock=Clock(),
                             on_open=alerter.breaker_opened, on_close=alerter.breaker_closed)

    breaker.record(transient_failure=True, reason="read_timeout")
    breaker.record(transient_failure=True, reason="read_timeout")
    [opened] = webhook.wait_for(1)
    breaker.record(transient_failure=False)
    texts = webhook.wait_for(2)

    assert "PhoneBurner is failing: the circuit breaker opened" in opened
    assert "2 transient failures in a row (last: read_timeout)" in opened
    assert len(texts) == 2
    assert texts[1].startswith("PhoneBurner answers again: the circuit breaker closed")


def test_breaker_still_open_reminds_once_per_interval(store, make_alerter, webhook):
    clock = Clock()
    alerter = make_alerter(store, clock)
    breaker = CircuitBreaker(threshold=1, open_seconds=30, clock=clock, on_open=alerter.breaker_opened)

    breaker.record(transient_failure=True, reason="http_503")
    # Failed probes while the breaker stays open.
    for _ in range(5):
        clock.advance(30)
        breaker.record(transient_failure=True, reason="http_503")
    flushed(alerter)
    assert len(webhook.texts()) == 1

    clock.advance(INTERVAL)
    breaker.record(transient_failure=True, reason="http_503")
    flushed(alerter)
    assert len(webhook.texts()) == 2


def test_rate_limit_shared_by_processes(store, make_alerter, webhook):
    clock = Clock()
    first, second = make_alerter(store, clock), make_alerter(store, clock)

    first.breaker_opened(5, "http_503")
    flushed(first)
    second.breaker_opened(5, "http_503")
    flushed(second)
    assert len(webhook.texts()) == 1

    # Another kind of alert has its own limit.
    second.queue_behind(3, 20 * 60, 15 * 60)
    flushed(second)
    assert len(webhook.texts()) == 2

    clock.advance(INTERVAL)
    second.breaker_opened(5, "http_503")
    flushed(second)
    assert len(webhook.texts()) == 3


def test_recovery_only_from_alerting_process(store, make_alerter, webhook):
    clock = Clock()
    first, second = make_alerter(store, clock), make_alerter(store, clock)
    first.breaker_opened(5, "connect_timeout")
    flushed(first)
    second.breaker_opened(5, "connect_timeout")
    flushed(second)

    second.breaker_closed()
    flushed(second)
    assert len(webhook.texts()) == 1

    first.breaker_closed()
    flushed(first)
    texts = webhook.texts()
    assert len(texts) == 2
    assert texts[1].startswith("PhoneBurner answers again")


def test_rate_limit_within_process_without_store(make_alerter, webhook):
    class DownStore:
        def take_alert_slot(self, key, *, now, interval):
            raise StoreUnavailable("the store failed: OperationalError")

    clock = Clock()
    alerter = make_alerter(DownStore(), clock)

    alerter.breaker_opened(5, "http_503")
    alerter.breaker_opened(5, "http_503")
    flushed(alerter)
    assert len(webhook.texts()) == 1

    clock.advance(INTERVAL)
    alerter.breaker_opened(5, "http_503")
    flushed(alerter)
    assert len(webhook.texts()) == 2


def test_queue_behind_then_caught_up(store, make_alerter, webhook):
    clock = Clock()
    alerter = make_alerter(store, clock)
    now = Clock().now
    old = lead_row(now=now - 20 * 60)
    store.accept(old, None, key_ttl=3600, now=now)
    # A customer on hold is the hold alert's business, so its leads do not count here.
    store.accept(lead_row(now=now - 60 * 60, customer="globex", leadstream="main"), None, key_ttl=3600, now=now)
    store.hold("globex", "UNKNOWN USER", now=now)
    watch = BacklogWatch(store, alerter, threshold=15 * 60, every=0, clock=clock)

    watch.check()
    [behind] = webhook.wait_for(1)
    assert behind.startswith("Delivery is behind: 1 lead queued, the oldest for 20 minutes")
    assert "alert threshold 15 minutes" in behind
    assert_nothing_private([behind])

    [claim] = store.claim_due(now=now, lease=60, limit=1)
    store.record_attempt(claim, attempt_record(1, now=now), {"status": "delivered", "attempts": 1})
    watch.check()
    texts = webhook.wait_for(2)
    assert len(texts) == 2
    assert texts[1] == "Delivery caught up: no queued lead is older than 15 minutes (0 leads queued)."


def test_queue_within_threshold_sends_nothing(store, make_alerter, webhook):
    clock = Clock()
    alerter = make_alerter(store, clock)
    store.accept(lead_row(now=clock.now - 60), None, key_ttl=3600, now=clock.now)
    watch = BacklogWatch(store, alerter, threshold=15 * 60, every=0, clock=clock)

    watch.check()
    flushed(alerter)

    assert webhook.texts() == []
    assert watch.behind is False


@pytest.mark.parametrize("fault", ["http_500", "refused", "timeout"])
def test_failing_webhook_leaves_delivery_alone(fault, make_app, pb, caplog, monkeypatch):
    pb.add(responses.GET, PB_URL, body="FAILURE|CM_ID IS INVALID")
    pb.add(responses.GET, PB_URL, body=SUCCESS)
    monkeypatch.setattr(alerts, "WEBHOOK_TIMEOUT", (1.0, 0.5))
    caplog.set_level(logging.INFO, logger="relay")

    with WebhookServer(status=500 if fault == "http_500" else 200) as webhook:
        if fault == "timeout":
            webhook.hold()
        url = f"http://127.0.0.1:{free_port()}{PATH}" if fault == "refused" else webhook.url
        app = make_app(url)
        relay = app.extensions["relay"]

        held = post_lead(app)
        flushed(relay.alerter)
        relay.store.resume("acme", now=0)
        delivered = post_lead(app, LEAD_BODY.replace("priya.raman", "next"))

    assert held.status_code == 502
    assert delivered.status_code == 201
    failures = [record for record in caplog.records if record.getMessage() == "alert.failed"]
    assert len(failures) == 1
    expected = {"http_500": ("http_status", 500), "refused": ("error", "ConnectionError"),
                "timeout": ("error", "ReadTimeout")}[fault]
    assert getattr(failures[0], expected[0]) == expected[1]
    assert failures[0].kind == "customer_on_hold"
    for record in caplog.records:
        assert PATH not in record.getMessage()
        assert PATH not in json.dumps(vars(record), default=str)


def test_request_does_not_wait_for_webhook(webhook, make_app, pb, caplog):
    pb.get(PB_URL, body="FAILURE|CM_ID IS INVALID")
    caplog.set_level(logging.INFO, logger="relay")
    webhook.hold()
    app = make_app(webhook.url)

    response = post_lead(app)

    # The response came while the webhook still kept the alert's request open.
    assert response.status_code == 502
    assert webhook.wait_for_arrival(1)
    assert webhook.texts() == []
    webhook.release()
    assert len(webhook.wait_for(1)) == 1


def test_no_webhook_sends_nothing(pb):
    pb.get(PB_URL, body="FAILURE|CM_ID IS INVALID")
    app = build_app(base_document())
    alerter = app.extensions["relay"].alerter

    response = post_lead(app)

    assert response.status_code == 502
    assert alerter.enabled is False
    assert alerter.flush(timeout=1)
