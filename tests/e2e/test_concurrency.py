"""Concurrent repeats of one request against the relay under gunicorn with two worker processes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import (
    FORM_CONFIG,
    adapter_sources,
    launch_relay,
    stop,
)
from tests.stores import fresh_postgres_url

FORM = "application/x-www-form-urlencoded"
SENDERS = 10


@pytest.fixture(params=["sqlite", "postgresql"])
def two_worker_relay(request, simulator, tmp_path):
    """The relay under gunicorn with two gevent workers over one store, without a delivery worker."""
    store_path = tmp_path / "relay.db"
    config_text = FORM_CONFIG.format(sim_port=simulator.base.rsplit(":", 1)[1], store_path=store_path)
    if request.param == "postgresql":
        sqlite_line = f'url = "sqlite:///{store_path}"'
        assert sqlite_line in config_text
        config_text = config_text.replace(sqlite_line, f'url = "{fresh_postgres_url()}"')
    config = tmp_path / "relay.toml"
    config.write_text(config_text + adapter_sources())
    log_path = tmp_path / "relay.log"

    processes, relay = launch_relay(config, log_path, web_workers=2, with_worker=False)
    try:
        yield relay
    finally:
        for process in processes:
            stop(process)


def test_concurrent_repeats_one_call(two_worker_relay, simulator):
    email = "ana.concurrent@example.com"
    body = f"first_name=Ana&last_name=Lopez&email={email.replace('@', '%40')}&phone=%28212%29+555-0199"
    # The simulator delays its reply by 300 ms, so the repeats arrive while the first request is still attempting.
    simulator.fault("delay:300")
    barrier = threading.Barrier(SENDERS)

    def send(_):
        barrier.wait(timeout=10)
        return two_worker_relay.post("form", body, FORM, headers={"Idempotency-Key": "concurrent-order-1"})

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        answers = list(pool.map(send, range(SENDERS)))

    assert [answer.status_code for answer in answers] == [201] * SENDERS
    documents = [answer.json() for answer in answers]
    assert all(document == documents[0] for document in documents)
    assert documents[0]["status"] == "delivered"
    replayed = sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers)
    assert replayed == [""] + ["true"] * (SENDERS - 1)
    assert len(simulator.calls_for(email)) == 1
