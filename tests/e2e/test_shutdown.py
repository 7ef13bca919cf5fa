"""Graceful shutdown with real processes: no lead is lost, sent twice or left leased.

Each test gives the PhoneBurner simulator a delay for every reply, so that
attempts are in flight when the signal arrives, and starts on a fresh SQLite
store.
The worker tests queue leads in the store, as intake does when it makes no
inline attempt, signal the delivery worker mid-delivery, and let a second
worker, in the test's own process, finish. The web test signals gunicorn while a request waits on its
inline attempt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from app import services
from app.config import load_settings
from app.delivery import Deliverer
from app.phoneburner.client import make_session
from app.store.engine import make_engine
from app.store.repository import RETRYABLE_STATUSES, Store
from app.worker import Worker
from tests.e2e.conftest import ROOT, TOKEN, VENDOR_KEY, Simulator, free_port, wait_until_up
from tests.store.helpers import lead_row
from tests.stores import fresh_sqlite_url

FORM = "application/x-www-form-urlencoded"

CONFIG = """
[phoneburner]
url = "http://127.0.0.1:{sim_port}/api/vendor/put_contact"
vendor_key = "${{E2E_VENDOR_KEY}}"
connect_timeout = 1
read_timeout = {read_timeout}
allow_insecure_url = true

[logging]
format = "json"

[storage]
url = "{store_url}"

[delivery]
inline_budget = {inline_budget}
worker_concurrency = 4
poll_interval = 0.1
backoff_initial = 1
backoff_max = 1
{extra_delivery}

[customers.acme]
user_id = "123456"
[customers.acme.leadstreams]
default = "YYYY"

[sources.form]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
"""

# Bound on every wait for a process or a condition, in seconds.
WAIT = 30

LEADS = 10


class Stack:
    """One test's configuration, store, gunicorn and delivery workers, each process in a group of its own."""

    def __init__(self, directory: Path, simulator: Simulator, *, read_timeout: float, inline_budget: float,
                 extra_delivery: str = "") -> None:
        self.directory = directory
        self.simulator = simulator
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.processes: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}

        store_url = fresh_sqlite_url()
        config = directory / "relay.toml"
        sim_port = simulator.base.rsplit(":", 1)[1]
        config.write_text(CONFIG.format(sim_port=sim_port, store_url=store_url, read_timeout=read_timeout,
                                        inline_budget=inline_budget, extra_delivery=extra_delivery))
        self.environ = {
            **os.environ,
            "RELAY_CONFIG": str(config),
            "E2E_VENDOR_KEY": VENDOR_KEY,
            "E2E_TOKEN": TOKEN,
            "RELAY_WORKERS": "1",
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.web_port}",
        }
        self.settings = load_settings(str(config), self.environ)
        self.store = Store(make_engine(store_url))

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log_path = self.directory / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(command, cwd=ROOT, env=self.environ, stdout=log_file,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        self.logs[process.pid] = log_path
        return process

    def delay_replies(self, milliseconds: int | None) -> None:
        """Make the simulator wait this long before every reply, or not at all for None."""
        sticky = f"delay:{milliseconds}" if milliseconds else None
        requests.post(f"{self.simulator.base}/_sim/faults", json={"sticky": sticky}, timeout=5).raise_for_status()

    def start_web(self) -> subprocess.Popen:
        process = self.spawn("web", [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"])
        wait_until_up(f"{self.base}/healthz", process, WAIT)
        return process

    def start_worker(self, name: str) -> subprocess.Popen:
        """Start a delivery worker and wait until it logs worker.started."""
        process = self.spawn(name, [sys.executable, "-m", "app", "worker"])
        deadline = time.monotonic() + WAIT
        while not self.events(process, "worker.started"):
            assert process.poll() is None, f"{name} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{name} did not start within {WAIT} s"
            time.sleep(0.05)
        return process

    def events(self, process: subprocess.Popen, *names: str) -> list[dict[str, Any]]:
        """Return the process's JSON log records whose message is one of `names`."""
        records = []
        for line in self.logs[process.pid].read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("message") in names:
                records.append(record)
        return records

    def post(self, email: str) -> requests.Response:
        fields = {"first_name": "Priya", "last_name": "Raman", "email": email}
        # Without "close", gunicorn keeps the connection open for its keep-alive time before a worker exits.
        headers = {"Content-Type": FORM, "Authorization": f"Bearer {TOKEN}", "Connection": "close"}
        return requests.post(f"{self.base}/v1/leads/form", data=urlencode(fields), headers=headers, timeout=WAIT)

    def queue_leads(self, run: str) -> list[str]:
        """Store LEADS leads due now, as intake does without an inline attempt; return their emails."""
        emails = [f"{run}-{index}@example.com" for index in range(LEADS)]
        now = time.time()
        for email in emails:
            self.store.accept(lead_row(now=now, email=email), None, key_ttl=3600, now=now)
        return emails

    def leased(self) -> list[dict[str, Any]]:
        """Return the leads whose lease has not run out."""
        now = time.time()
        return [row for row in self.store.find(limit=1000) if row["lease_until"] is not None
                and row["lease_until"] > now]

    def finish_here(self) -> dict[str, int]:
        """Deliver the leads left with a worker in this process, as a second worker would; return the counts.

        It saves starting another process, and claims exactly as `python -m app worker` does.
        """
        session = make_session(4, user_agent="shutdown-test")
        client = services.build_client(self.settings, size=4, session=session)
        worker = Worker(self.store, Deliverer(self.settings, self.store, client), lease=self.settings.lease_seconds,
                        concurrency=4, poll_interval=0.1)
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                return self.wait_until_drained(lambda: worker.run_once(pool))
        finally:
            session.close()

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert time.monotonic() < deadline, f"{what} within {WAIT} s"
            time.sleep(0.05)

    def wait_until_drained(self, work) -> dict[str, int]:
        def drained() -> bool:
            work()
            counts = self.store.counts()
            return not any(counts.get(status) for status in RETRYABLE_STATUSES)

        self.wait_for(drained, "the leads were not all delivered")
        return self.store.counts()

    def replies_by_email(self, emails: list[str]) -> dict[str, Counter]:
        """Count the simulator's replies to these emails: SUCCESS, DUPLICATE, or another reply.

        The simulator is shared, and the package's own relay may deliver other tests' leads to it meanwhile.
        """
        counted: dict[str, Counter] = {email: Counter() for email in emails}
        for item in self.simulator.received():
            email = dict(item["params"]).get("email", "")
            if email not in counted:
                continue
            body = item["reply_body"]
            reply = body
            if body.startswith("SUCCESS"):
                reply = "SUCCESS"
            elif "DUPLICATE" in body:
                reply = "DUPLICATE"
            counted[email][reply] += 1
        return counted

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=WAIT)
        self.store.engine.dispose()


def stop_and_wait(process: subprocess.Popen, signal_number: int) -> int:
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"process {process.pid} did not exit within {WAIT} s of signal {signal_number}")


@pytest.fixture
def make_stack(request, tmp_path, simulator):
    def make(*, delay_ms: int, **options) -> Stack:
        stack = Stack(tmp_path, simulator, **options)
        request.addfinalizer(stack.stop_all)
        stack.delay_replies(delay_ms)
        request.addfinalizer(lambda: stack.delay_replies(None))
        return stack

    return make


def test_worker_ignores_hangup(make_stack):
    stack = make_stack(delay_ms=0, read_timeout=4, inline_budget=0)
    worker = stack.start_worker("worker-hangup")

    worker.send_signal(signal.SIGHUP)
    stack.wait_for(lambda: stack.events(worker, "worker.hangup_ignored"), "the worker logged no hangup")

    assert worker.poll() is None
    assert stop_and_wait(worker, signal.SIGTERM) == 0


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_finishes_attempts_then_exits(make_stack, signal_number):
    # Each attempt takes 1 s of the 4 s read timeout.
    stack = make_stack(delay_ms=1000, read_timeout=4, inline_budget=0)
    first = stack.start_worker("worker-1")
    emails = stack.queue_leads(f"graceful-{signal_number.name}-{time.time_ns()}")
    stack.wait_for(stack.leased, "the worker claimed no lead")

    status = stop_and_wait(first, signal_number)

    assert status == 0
    [stopping] = stack.events(first, "worker.stopping")
    assert stopping["in_flight"] >= 1
    [stopped] = stack.events(first, "worker.stopped")
    assert stopped["abandoned"] == 0
    assert stack.leased() == []
    assert all(row["lease_until"] is None for row in stack.store.find(limit=1000))
    # A claim whose attempt had not started when the signal came is given back untouched.
    released = len(stack.events(first, "worker.claim_released"))
    assert stack.store.counts().get("delivered", 0) + released == stopping["in_flight"]

    counts = stack.finish_here()

    assert counts == {"delivered": LEADS}
    replies = stack.replies_by_email(emails)
    for email in emails:
        assert replies[email] == Counter({"SUCCESS": 1}), f"{email}: {dict(replies[email])}"


def test_worker_gives_back_claims_after_grace(make_stack):
    # Attempts take 2 s, longer than the 0.3 s grace, so the stopping worker abandons them.
    stack = make_stack(delay_ms=2000, read_timeout=4, inline_budget=0, extra_delivery="shutdown_grace = 0.3")
    first = stack.start_worker("worker-1")
    emails = stack.queue_leads(f"abandon-{time.time_ns()}")
    stack.wait_for(stack.leased, "the worker claimed no lead")

    status = stop_and_wait(first, signal.SIGTERM)
    stopped_at = time.time()

    assert status == 0
    [stopped] = stack.events(first, "worker.stopped")
    assert stopped["abandoned"] >= 1
    assert len(stack.events(first, "worker.claim_abandoned")) == stopped["abandoned"]
    # Every lease has ended, so another worker may take each lead at once instead of after the lease.
    for row in stack.store.find(limit=1000):
        assert row["lease_until"] is None or row["lease_until"] <= stopped_at, row["id"]

    counts = stack.finish_here()

    assert counts == {"delivered": LEADS}
    replies = stack.replies_by_email(emails)
    for email in emails:
        # An abandoned call may still have reached PhoneBurner: the retry then gets DUPLICATE EMAIL.
        assert replies[email]["SUCCESS"] == 1, f"{email}: {dict(replies[email])}"
    taken_over = [row for row in stack.store.find(limit=1000) if row["ambiguous"]]
    assert len(taken_over) == stopped["abandoned"]


def test_gunicorn_finishes_request_in_flight(make_stack):
    # The inline attempt takes 2 s; SIGTERM arrives while the request waits on it.
    stack = make_stack(delay_ms=2000, read_timeout=4, inline_budget=5)
    web = stack.start_web()
    email = f"web-{time.time_ns()}@example.com"

    with ThreadPoolExecutor(max_workers=1) as poster:
        posting = poster.submit(stack.post, email)
        stack.wait_for(stack.leased, "no inline attempt started")
        status = stop_and_wait(web, signal.SIGTERM)
        answer = posting.result(timeout=WAIT)

    assert status == 0
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "delivered"
    assert stack.replies_by_email([email]) == {email: Counter({"SUCCESS": 1})}
    [row] = stack.store.find(limit=10)
    assert row["status"] == "delivered"
    assert row["lease_until"] is None
