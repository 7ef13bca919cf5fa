"""Metrics under gunicorn with two web workers and a delivery worker: one scrape sums every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    ADMIN_TOKEN,
    FORM_CONFIG,
    ROOT,
    TOKEN,
    VENDOR_KEY,
    free_port,
    launch_relay,
    launch_simulator,
    stop,
    wait_until_up,
)
from tests.e2e.test_delivery import FORM, new_lead

DELIVERED = 4
REJECTED = 2
UNAUTHORIZED = 3


@pytest.fixture(scope="module")
def metrics_relay(tmp_path_factory):
    """A relay with two web workers and a delivery worker, against a simulator of its own.

    Its own simulator, so a fault queued here cannot reach another relay's worker.
    """
    simulator_process, simulator = launch_simulator()
    directory = tmp_path_factory.mktemp("metrics-relay")
    config = directory / "relay.toml"
    sim_port = simulator.base.rsplit(":", 1)[1]
    config.write_text(FORM_CONFIG.format(sim_port=sim_port, store_path=directory / "relay.db"))
    try:
        # Two web workers import the app at once, which takes longer on a busy machine.
        processes, relay = launch_relay(
            config, directory / "relay.log", web_workers=2, with_worker=True, boot_seconds=60
        )
    except RuntimeError:
        stop(simulator_process)
        raise

    yield relay, simulator, config, processes[0]
    for process in [*processes, simulator_process]:
        stop(process)


@pytest.fixture(scope="module")
def traffic(metrics_relay):
    """Send delivered, rejected, unauthorized and queued leads, and wait for the worker's delivery."""
    relay, simulator, _, _ = metrics_relay
    for _ in range(DELIVERED):
        assert relay.post("form", new_lead(), FORM).status_code == 201
    for _ in range(REJECTED):
        assert relay.post("form", "first_name=Ann", FORM).status_code == 422
    for _ in range(UNAUTHORIZED):
        assert relay.post("form", new_lead(), FORM, {"Authorization": "Bearer wrong-token-0000000"}).status_code == 401

    simulator.fault("http:503")
    queued = relay.post("form", new_lead(), FORM)
    assert queued.status_code == 202
    assert relay.wait_for_status(queued.json()["lead_id"], "delivered")["status"] == "delivered"
    return relay


def scrape(base: str, token: str | None = ADMIN_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{base}/metrics", headers=headers, timeout=10)


def samples_of(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_scrape_sums_web_workers(traffic):
    samples = samples_of(scrape(traffic.base).text)

    assert value(samples, "relay_leads_received_total", source="form", status="delivered") == DELIVERED
    assert value(samples, "relay_leads_received_total", source="form", status="rejected") == REJECTED
    assert value(samples, "relay_leads_received_total", source="form", status="queued") == 1
    assert value(samples, "relay_request_errors_total",
                 source="form", http_status="401", reason="unauthorized") == UNAUTHORIZED
    assert value(samples, "relay_http_request_duration_seconds_count",
                 route="/v1/leads/<source_name>", status_class="2xx") == DELIVERED + 1
    assert value(samples, "relay_http_request_duration_seconds_count",
                 route="/v1/leads/<source_name>", status_class="4xx") == REJECTED + UNAUTHORIZED


def test_scrape_includes_delivery_worker(traffic):
    samples = samples_of(scrape(traffic.base).text)

    assert value(samples, "relay_phoneburner_replies_total",
                 via="inline", reply_class="delivered", reason="") == DELIVERED
    assert value(samples, "relay_phoneburner_replies_total",
                 via="inline", reply_class="unavailable", reason="http_503") == 1
    assert value(samples, "relay_phoneburner_replies_total", via="worker", reply_class="delivered", reason="") == 1
    assert value(samples, "relay_phoneburner_attempt_duration_seconds_count", via="worker") == 1


def test_scrape_reads_store_and_breaker(traffic):
    samples = samples_of(scrape(traffic.base).text)

    assert value(samples, "relay_store_up") == 1
    assert value(samples, "relay_queue_depth", status="queued") == 0
    assert value(samples, "relay_leads_dead") == 0
    assert value(samples, "relay_customers_on_hold") == 0
    assert value(samples, "relay_breaker_state") == 0


def shared_directory(config: Path) -> Path:
    """Return the default metrics directory the relay's processes made beside their config (their TMPDIR)."""
    (directory,) = config.parent.glob("phoneburner-relay-metrics-*")
    return directory


def test_processes_share_metrics_directory(traffic, metrics_relay):
    _, _, config, _ = metrics_relay

    pids = {path.stem.rsplit("_", 1)[-1] for path in shared_directory(config).glob("counter_*.db")}

    # At least one web worker's file and the delivery worker's.
    assert len(pids) >= 2


def test_scrape_without_token_401(metrics_relay):
    relay, _, _, _ = metrics_relay

    response = scrape(relay.base, token=None)

    assert response.status_code == 401
    assert response.json()["reason"] == "unauthorized"


def test_scrape_with_wrong_token_401(metrics_relay):
    relay, _, _, _ = metrics_relay

    response = scrape(relay.base, token="not-the-admin-token-000")

    assert response.status_code == 401


def test_worker_metrics_port_serves_own_metrics(traffic, metrics_relay):
    _, _, config, _ = metrics_relay
    port = free_port()
    environ = {**os.environ, "RELAY_CONFIG": str(config), "TMPDIR": str(config.parent),
               "E2E_VENDOR_KEY": VENDOR_KEY, "E2E_TOKEN": TOKEN, "E2E_ADMIN_TOKEN": ADMIN_TOKEN}
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker", "--metrics-port", str(port)],
                              cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/metrics", worker, 60)
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        stop(worker)

    samples = samples_of(text)
    assert value(samples, "relay_store_up") == 1
    assert any(name == "relay_build_info" for name, _ in samples)
    assert value(samples, "relay_leads_received_total", source="form", status="delivered") == 0
    assert not list(shared_directory(config).glob(f"*_{worker.pid}.db"))


def child_pids(parent: int) -> list[int]:
    """Return the pids of a process's children, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


def test_killed_web_worker_keeps_counts_drops_gauge(traffic, metrics_relay):
    _, _, config, gunicorn = metrics_relay
    before = samples_of(scrape(traffic.base).text)
    victim = child_pids(gunicorn.pid)[0]
    gauge_file = shared_directory(config) / f"gauge_livemax_{victim}.db"
    assert gauge_file.exists()

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while gauge_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    after = samples_of(scrape(traffic.base).text)
    assert not gauge_file.exists()
    for labels in ({"status": "delivered"}, {"status": "rejected"}, {"status": "queued"}):
        assert value(after, "relay_leads_received_total", source="form", **labels) == value(
            before, "relay_leads_received_total", source="form", **labels
        )
