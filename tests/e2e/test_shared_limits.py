"""Rate limits shared through Redis by three relay processes: exactly the limit is accepted."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import FORM_CONFIG, launch_relay, stop
from tests.redis_server import delete_keys, fresh_prefix, keys_under, redis_url

FORM = "application/x-www-form-urlencoded"
PROCESSES = 3
LIMIT = 7
REQUESTS = 30

SHARED_STORAGE = """[limits]
storage_url = "{redis_url}"
key_prefix = "{prefix}"
"""

LIMITED_SOURCES = """
[sources.per-source]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
rate_limit = "{limit}/minute"

[sources.per-ip]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
ip_rate_limit = "{limit}/minute"
"""


@pytest.fixture(scope="module")
def shared_redis():
    """The test Redis URL and a key prefix for this module's relays, whose keys are deleted afterwards."""
    url, prefix = redis_url(), fresh_prefix()
    yield url, prefix
    delete_keys(url, prefix)


@pytest.fixture(scope="module")
def relays(simulator, tmp_path_factory, shared_redis):
    """Three separate relay processes over one store and one Redis key prefix, making no inline attempts."""
    directory = tmp_path_factory.mktemp("shared-limits")
    config_text = FORM_CONFIG.format(sim_port=simulator.base.rsplit(":", 1)[1], store_path=directory / "relay.db")
    assert "inline_budget = 3" in config_text
    # Every lead is queued at once, so the test measures the limits, not PhoneBurner.
    config_text = config_text.replace("inline_budget = 3", "inline_budget = 0")
    redis_server, prefix = shared_redis
    assert "[limits]\n" in config_text
    config_text = config_text.replace("[limits]\n", SHARED_STORAGE.format(redis_url=redis_server, prefix=prefix))
    config = directory / "relay.toml"
    config.write_text(config_text + LIMITED_SOURCES.format(limit=LIMIT))

    processes, started = [], []
    try:
        for number in range(PROCESSES):
            launched, relay = launch_relay(config, directory / f"relay-{number}.log", web_workers=1, with_worker=False)
            processes += launched
            started.append(relay)
        yield started
    finally:
        for process in processes:
            stop(process)


@pytest.mark.parametrize("source", ["per-source", "per-ip"])
def test_limit_exact_across_processes(relays, shared_redis, source):
    barrier = threading.Barrier(REQUESTS)

    def send(number):
        relay = relays[number % PROCESSES]
        body = f"first_name=Ann&email=ann.{number}%40example.com"
        barrier.wait(timeout=30)
        return relay.post(source, body, FORM)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        answers = list(pool.map(send, range(REQUESTS)))

    codes = [answer.status_code for answer in answers]
    assert codes.count(202) == LIMIT
    assert codes.count(429) == REQUESTS - LIMIT
    assert all(answer.json()["reason"] == "rate_limited" for answer in answers if answer.status_code == 429)
    # Each process accepted some of them: the count is shared, not each process's own.
    accepted_by = {number % PROCESSES for number, code in enumerate(codes) if code == 202}
    rejected_by = {number % PROCESSES for number, code in enumerate(codes) if code == 429}
    assert rejected_by == set(range(PROCESSES))
    assert accepted_by
    redis_server, prefix = shared_redis
    assert keys_under(redis_server, prefix)
