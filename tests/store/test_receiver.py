"""Receiver through the app: store first, repeats and replays, holds, and the circuit breaker."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from app import idempotency
from app.breaker import CircuitBreaker
from app.store.repository import Store, StoreUnavailable
from tests.conftest import PB_URL, SUCCESS, auth, base_document, build_app
from tests.e2e.conftest import free_port
from tests.store.helpers import Clock, lead_row

FORM = "application/x-www-form-urlencoded"
KEY = "order-4711"
OPEN_SECONDS = 30


def form_body(email: str = "jeff@example.com") -> bytes:
    return f"first_name=Jeff&email={email.replace('@', '%40')}&phone=%28949%29+555-0123".encode()


def post(client, body: bytes | None = None, *, key: str | None = None):
    headers = auth()
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/leads/landing", data=body or form_body(), headers=headers, content_type=FORM)


@pytest.fixture
def make_app(pb):
    """Build the app over a store URL with the given [delivery] keys, and dispose its engines afterwards."""
    apps = []

    def make(url: str, **delivery):
        document = base_document()
        document["storage"] = {"url": url}
        document["delivery"] = delivery
        app = build_app(document)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["relay"].store.engine.dispose()


def relay_of(app):
    return app.extensions["relay"]


def install_breaker(app, *, threshold: int, clock: Clock) -> CircuitBreaker:
    """Give intake and its deliverer one breaker that reads the fake clock."""
    relay = relay_of(app)
    breaker = CircuitBreaker(threshold=threshold, open_seconds=OPEN_SECONDS, clock=clock)
    relay.breaker = relay.deliverer.breaker = relay.receiver.breaker = breaker
    return breaker


def refused() -> requests.ConnectionError:
    return requests.ConnectionError(ConnectionRefusedError("connection refused"))


def assert_store_unavailable(response) -> None:
    assert response.status_code == 503
    document = response.get_json()
    assert document["status"] == "error"
    assert document["reason"] == "store_unavailable"
    assert response.headers["Retry-After"] == "30"


def test_store_failure_answers_503(store_url, make_app, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)
    client = make_app(store_url).test_client()

    def fail(*args, **kwargs):
        raise StoreUnavailable("the store failed: OperationalError")

    monkeypatch.setattr(Store, "accept", fail)
    response = post(client)

    assert_store_unavailable(response)
    assert len(pb.calls) == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_broken_store_answers_503(make_app, pb, tmp_path, kind):
    pb.get(PB_URL, body=SUCCESS)
    urls = {
        # A store file without tables, as before `python -m app migrate`.
        "sqlite": f"sqlite:///{tmp_path / 'unmigrated.db'}",
        # Nothing listens on a port that was just free.
        "postgresql": f"postgresql+psycopg://root@127.0.0.1:{free_port()}/relay_test",
    }
    client = make_app(urls[kind]).test_client()

    response = post(client)

    assert_store_unavailable(response)
    assert len(pb.calls) == 0


def test_lead_stored_before_answer(store_url, make_app, pb):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)

    response = post(app.test_client())

    lead = relay_of(app).store.get(response.get_json()["lead_id"])
    assert lead["status"] == "delivered"
    assert lead["raw_body"] == form_body()
    assert lead["answer_status"] == 201
    assert lead["lease_until"] is None


def forbid_save_answer(store: Store, monkeypatch) -> None:
    """Make a separate write of the answer fail the test: the answer belongs in an earlier commit."""

    def separate_write(*args, **kwargs):
        raise AssertionError("the answer was written in a commit of its own")

    monkeypatch.setattr(store, "save_answer", separate_write)


def assert_answer_stored(store: Store, response) -> None:
    """Check that the lead of `response` keeps exactly that response as the answer repeats get."""
    lead = store.get(response.get_json()["lead_id"])
    assert lead["answer_status"] == response.status_code
    assert json.loads(lead["answer_body"]) == response.get_json()


def test_answer_stored_with_attempt(store_url, make_app, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    store = relay_of(app).store
    forbid_save_answer(store, monkeypatch)

    response = post(app.test_client())

    assert response.status_code == 201
    assert_answer_stored(store, response)


def test_held_answer_stored_with_lead(store_url, make_app, pb, monkeypatch):
    app = make_app(store_url)
    store = relay_of(app).store
    store.hold("acme", "UNKNOWN USER", now=time.time())
    forbid_save_answer(store, monkeypatch)

    response = post(app.test_client())

    assert response.status_code == 202
    assert_answer_stored(store, response)


def test_claim_lost_answer_saved_apart(store_url, make_app, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    store = relay_of(app).store
    # A newer claim owns the lead, so the attempt's commit changes nothing.
    monkeypatch.setattr(store, "record_attempt", lambda claim, attempt, changes, again=False: False)

    response = post(app.test_client())

    assert response.status_code == 201
    assert_answer_stored(store, response)


def test_breaker_opens_then_probe_closes(store_url, make_app, pb):
    pb.get(PB_URL, body=refused())
    pb.get(PB_URL, body=refused())
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    clock = Clock()
    breaker = install_breaker(app, threshold=2, clock=clock)
    client = app.test_client()

    failures = [post(client, form_body(f"fail{number}@example.com")) for number in range(2)]
    skipped = post(client, form_body("skipped@example.com"))

    assert [response.status_code for response in failures] == [202, 202]
    assert [response.get_json()["reason"] for response in failures] == ["retrying", "retrying"]
    assert breaker.is_open
    assert skipped.status_code == 202
    assert skipped.get_json()["reason"] == "breaker_open"
    assert skipped.get_json()["phoneburner"]["outcome"] is None
    assert len(pb.calls) == 2
    kept = relay_of(app).store.get(skipped.get_json()["lead_id"])
    assert kept["status"] == "queued"
    assert kept["attempts"] == 0
    assert kept["lease_until"] is None

    clock.advance(OPEN_SECONDS)
    probe = post(client, form_body("probe@example.com"))
    after = post(client, form_body("after@example.com"))

    assert probe.status_code == 201
    assert not breaker.is_open
    assert after.status_code == 201
    assert len(pb.calls) == 4


def test_breaker_stays_open_before_interval(store_url, make_app, pb):
    pb.get(PB_URL, body=refused())
    app = make_app(store_url)
    clock = Clock()
    install_breaker(app, threshold=1, clock=clock)
    client = app.test_client()
    post(client, form_body("fail@example.com"))

    clock.advance(OPEN_SECONDS - 1)
    response = post(client, form_body("early@example.com"))

    assert response.get_json()["reason"] == "breaker_open"
    assert len(pb.calls) == 1


def test_breaker_probe_not_lost_to_repeat(store_url, make_app, pb):
    pb.get(PB_URL, body=refused())
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    clock = Clock()
    install_breaker(app, threshold=1, clock=clock)
    client = app.test_client()
    post(client, form_body("first@example.com"))

    clock.advance(OPEN_SECONDS)
    repeat = post(client, form_body("first@example.com"))
    clock.advance(OPEN_SECONDS)
    response = post(client, form_body("second@example.com"))

    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert response.status_code == 201
    assert len(pb.calls) == 2


def test_held_customer_queued_without_call(store_url, make_app, pb):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    store = relay_of(app).store
    store.hold("acme", "UNKNOWN USER", now=time.time())

    response = post(app.test_client())

    assert response.status_code == 202
    document = response.get_json()
    assert document["status"] == "queued"
    assert document["reason"] == "customer_on_hold"
    assert len(pb.calls) == 0
    assert store.get(document["lead_id"])["status"] == "queued"


def test_key_with_other_body_answers_422(store_url, make_app, pb):
    pb.get(PB_URL, body=SUCCESS)
    client = make_app(store_url).test_client()
    first = post(client, form_body("first@example.com"), key=KEY)

    response = post(client, form_body("other@example.com"), key=KEY)

    assert first.status_code == 201
    assert response.status_code == 422
    document = response.get_json()
    assert document["lead_id"] == first.get_json()["lead_id"]
    assert document["status"] == "rejected"
    assert "Idempotency-Key" in document["errors"]
    assert len(pb.calls) == 1


def test_key_with_other_body_has_empty_reply(store_url, make_app, pb):
    # Every lead answer has a `phoneburner` member, so clients can read it without checking.
    pb.get(PB_URL, body=SUCCESS)
    client = make_app(store_url).test_client()
    post(client, form_body("first@example.com"), key=KEY)

    response = post(client, form_body("other@example.com"), key=KEY)

    assert response.get_json()["phoneburner"] == {"outcome": None, "reason": None, "lead_url": None}


def test_key_repeat_replays_answer(store_url, make_app, pb):
    pb.get(PB_URL, body=SUCCESS)
    client = make_app(store_url).test_client()
    first = post(client, key=KEY)

    repeat = post(client, key=KEY)

    assert repeat.status_code == first.status_code == 201
    assert repeat.get_json() == first.get_json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(pb.calls) == 1


def insert_in_flight(store: Store, body: bytes) -> dict:
    """Store a lead for KEY and `body` as a request leaves it while still attempting it: leased, without an answer."""
    now = time.time()
    row = lead_row(
        now=now,
        idempotency_key=KEY,
        request_hash=idempotency.body_hash(body),
        lease_until=now + 60,
        claim_token=1,
    )
    key = idempotency.request_key(source="landing", header=KEY, sender_id=None, lead=None)
    assert store.accept(row, key, key_ttl=3600, now=now).repeat is False
    return row


def test_repeat_in_flight_answers_409(store_url, make_app, pb):
    app = make_app(store_url, repeat_wait=0.3)
    first = insert_in_flight(relay_of(app).store, form_body())

    response = post(app.test_client(), key=KEY)

    assert response.status_code == 409
    assert response.headers["Idempotent-Replayed"] == "true"
    document = response.get_json()
    assert document["lead_id"] == first["id"]
    assert document["status"] == "queued"
    assert "still being handled" in document["message"]
    assert len(pb.calls) == 0


def test_repeat_waits_for_first_answer(store_url, make_app, pb):
    app = make_app(store_url, repeat_wait=10)
    store = relay_of(app).store
    first = insert_in_flight(store, form_body())
    answer = {"lead_id": first["id"], "status": "delivered", "message": "PhoneBurner accepted the lead"}
    # The first request saves its answer while the repeat polls for it.
    timer = threading.Timer(0.3, store.save_answer, args=(first["id"], 201, answer))
    timer.start()

    try:
        response = post(app.test_client(), key=KEY)
    finally:
        timer.join()

    assert response.status_code == 201
    assert response.get_json() == answer
    assert response.headers["Idempotent-Replayed"] == "true"
    assert len(pb.calls) == 0


def test_repeat_after_killed_request_gets_lead_status(store_url, make_app, pb):
    app = make_app(store_url, repeat_wait=5)
    store = relay_of(app).store
    first = insert_in_flight(store, form_body())
    # The request died mid-attempt; a worker took the lead over after the lease and delivered it.
    claim = store.claim_due(now=time.time() + 120, lease=60, limit=1)[0]
    store.record_attempt(
        claim,
        {"number": 1, "started_at": time.time(), "reply_class": "delivered", "outcome": "SUCCESS"},
        {"status": "delivered", "attempts": 1, "last_outcome": "SUCCESS", "updated_at": time.time()},
    )

    response = post(app.test_client(), key=KEY)
    again = post(app.test_client(), key=KEY)

    assert response.status_code == 201
    assert response.get_json()["lead_id"] == first["id"]
    assert response.get_json()["status"] == "delivered"
    assert response.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == response.get_json()
    assert len(pb.calls) == 0


def test_attempt_sent_but_not_recorded_answers_its_result(store_url, make_app, pb, monkeypatch):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)
    store = relay_of(app).store

    def fail(*args, **kwargs):
        raise StoreUnavailable("the store failed: OperationalError")

    monkeypatch.setattr(store, "record_attempt", fail)

    response = post(app.test_client())

    # PhoneBurner took the lead, so the sender must not hear "nothing was sent" and send it again.
    assert response.status_code == 201
    assert response.get_json()["status"] == "delivered"
    assert len(pb.calls) == 1


@pytest.mark.parametrize(
    ("header", "value"),
    [("Idempotency-Key", "k" * 255), ("Content-Type", FORM + "; x=" + "z" * 300)],
)
def test_long_headers_stored(store_url, make_app, pb, header, value):
    pb.get(PB_URL, body=SUCCESS)
    app = make_app(store_url)

    response = app.test_client().post("/v1/leads/landing", data=form_body(), headers={**auth(), header: value},
                                      content_type=FORM if header != "Content-Type" else value)

    assert response.status_code == 201


def test_long_lead_url_stored(store_url, make_app, pb):
    pb.get(PB_URL, body="SUCCESS | https://www.phoneburner.com/ms/lead_redirect?upc=" + "U" * 600)
    app = make_app(store_url)

    response = post(app.test_client())

    assert response.status_code == 201
    assert len(response.get_json()["phoneburner"]["lead_url"]) > 600


@pytest.mark.parametrize("key", [KEY, None], ids=["header", "fingerprint"])
def test_max_length_source_keys_stored(store_url, pb, key):
    pb.get(PB_URL, body=SUCCESS)
    source = "s" * 64
    document = base_document()
    document["storage"] = {"url": store_url}
    document["sources"][source] = document["sources"]["landing"]
    client = build_app(document).test_client()
    headers = auth() if key is None else {**auth(), "Idempotency-Key": key}

    first = client.post(f"/v1/leads/{source}", data=form_body(), headers=headers, content_type=FORM)
    repeat = client.post(f"/v1/leads/{source}", data=form_body(), headers=headers, content_type=FORM)

    assert first.status_code == 201, first.get_json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.get_json() == first.get_json()
    assert len(pb.calls) == 1
