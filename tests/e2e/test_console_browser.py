"""The console in a real browser: Debian's chromium, driven by Playwright, against the relay under gunicorn.

The relay, its worker and the PhoneBurner simulator run as processes of this module's own, so no other
test's leads or faults reach them. Set RELAY_CONSOLE_SCREENSHOT to a path to save a picture of the home
page there (docs/console.png is made that way, from the fake leads below).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, FORM_CONFIG, launch_relay, launch_simulator, stop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

FORM = "application/x-www-form-urlencoded"

# The other end-to-end tests' configuration, plus a second customer that a test puts on hold.
BETA_TABLES = """
[customers.beta]
user_id = "123456"
[customers.beta.leadstreams]
default = "YYYY"

[sources.beta-form]
customer = "beta"
tokens = ["${E2E_TOKEN}"]
"""

# Unparseable replies a lead gets before it is dead: [delivery].unrecognized_attempts, by default.
UNRECOGNIZED_ATTEMPTS = 3

# Seconds to wait for the worker to move a lead on; only a failure waits this long.
WORKER_DEADLINE = 20.0


def require_chromium() -> None:
    """Skip without chromium on a developer's machine; fail in CI, which must run these tests."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the browser tests")
    pytest.skip(message)


@pytest.fixture(scope="module")
def console_relay(tmp_path_factory):
    """The relay with a delivery worker, against a simulator of its own, with an admin token."""
    require_chromium()
    simulator_process, simulator = launch_simulator()
    directory = tmp_path_factory.mktemp("console")
    config = directory / "relay.toml"
    sim_port = simulator.base.rsplit(":", 1)[1]
    config.write_text(FORM_CONFIG.format(sim_port=sim_port, store_path=directory / "relay.db") + BETA_TABLES)
    try:
        processes, relay = launch_relay(config, directory / "relay.log", web_workers=1, with_worker=True)
    except RuntimeError:
        stop(simulator_process)
        raise

    relay.simulator = simulator
    relay.store_url = f"sqlite:///{directory / 'relay.db'}"
    yield relay
    for process in [*processes, simulator_process]:
        stop(process)


@pytest.fixture(scope="module")
def browser(console_relay):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context, with no cookies, and one page in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def lead_form(email: str, first_name: str = "Priya") -> str:
    return f"first_name={first_name}&last_name=Raman&email={quote(email)}&phone=%28212%29+555-0142&budget=5000"


def log_in(page, relay) -> None:
    page.goto(f"{relay.base}/console/")
    assert "/console/login" in page.url
    page.fill("#token", ADMIN_TOKEN)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{relay.base}/console/")


def post_dead_lead(relay, email: str, first_name: str) -> str:
    """Post a lead that gets only unparseable replies until it is dead, and return its id."""
    relay.simulator.fault(*["html"] * UNRECOGNIZED_ATTEMPTS)
    response = relay.post("form", lead_form(email, first_name), FORM)
    assert response.status_code == 502
    lead_id = response.json()["lead_id"]

    deadline = time.monotonic() + WORKER_DEADLINE
    while relay.status(lead_id)["attempts"] < UNRECOGNIZED_ATTEMPTS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert relay.status(lead_id)["attempts"] == UNRECOGNIZED_ATTEMPTS
    return lead_id


def wait_for_lead_status(page, status: str) -> None:
    """Reload the lead's page until it shows the status, as an operator would."""
    deadline = time.monotonic() + WORKER_DEADLINE
    while page.inner_text("#lead-status") != status and time.monotonic() < deadline:
        time.sleep(0.2)
        page.reload()
    assert page.inner_text("#lead-status") == status


def test_search_open_and_replay_dead_lead(console_relay, page):
    relay = console_relay
    delivered = relay.post("form", lead_form("mateo.delivered@example.com", "Mateo"), FORM)
    assert delivered.status_code == 201
    dead_id = post_dead_lead(relay, "priya.dead@example.com", "Priya")

    log_in(page, relay)
    assert page.inner_text("#count-dead") == "1"
    page.click("a:has-text('Leads')")
    page.fill("#email", "Priya.Dead@EXAMPLE.com")
    page.click("button:has-text('Search')")
    rows = page.locator("table.leads tbody tr")
    assert rows.count() == 1
    assert "priya.dead@example.com" in rows.first.inner_text()

    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(rf".*/console/leads/{dead_id}$"))
    assert page.inner_text("#lead-status") == "dead"
    assert page.locator("table.attempts tbody tr").count() == UNRECOGNIZED_ATTEMPTS
    assert "key=REDACTED" in page.inner_text("table.attempts")

    page.click("button:has-text('Replay this lead')")
    assert "Requeued 1 lead" in page.inner_text(".messages")
    wait_for_lead_status(page, "delivered")
    attempts = page.locator("table.attempts tbody tr")
    assert attempts.count() == UNRECOGNIZED_ATTEMPTS + 1
    assert "SUCCESS" in attempts.last.inner_text()
    assert "Replay: already delivered" in page.inner_text(".actions")


def test_resume_held_customer(console_relay, page):
    relay = console_relay
    relay.simulator.fault("reply:FAILURE|CM_ID IS INVALID")
    faulted = relay.post("beta-form", lead_form("ines.faulted@example.com", "Ines"), FORM)
    held = relay.post("beta-form", lead_form("omar.held@example.com", "Omar"), FORM)
    assert faulted.status_code == 502
    assert held.json()["reason"] == "customer_on_hold"

    log_in(page, relay)
    page.click("a:has-text('Customers')")
    assert "on hold" in page.inner_text("#customer-beta")
    assert "CM_ID IS INVALID" in page.inner_text("#customer-beta")
    page.click("button:has-text('Resume beta')")

    messages = page.inner_text(".messages")
    assert "Lifted the hold on beta" in messages
    assert "Requeued 1 lead of beta" in messages
    assert "active" in page.inner_text("#customer-beta")
    for response in (faulted, held):
        lead_id = response.json()["lead_id"]
        assert relay.wait_for_status(lead_id, "delivered", seconds=WORKER_DEADLINE)["status"] == "delivered"


def test_post_without_csrf_token_rejected(console_relay, page):
    relay = console_relay
    dead_id = post_dead_lead(relay, "lena.csrf@example.com", "Lena")
    log_in(page, relay)
    page.goto(f"{relay.base}/console/leads/{dead_id}")

    page.locator(".actions input[name=csrf_token]").evaluate("input => input.remove()")
    page.click("button:has-text('Replay this lead')")

    assert "The form was rejected" in page.inner_text("main")
    assert "The CSRF token is missing" in page.inner_text("main")
    assert relay.status(dead_id)["attempts"] == UNRECOGNIZED_ATTEMPTS


def test_logged_out_browser_sent_to_login(console_relay, page):
    relay = console_relay
    log_in(page, relay)

    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/console/login$"))
    page.goto(f"{relay.base}/console/leads?status=dead")

    assert re.search(r"/console/login\?next=", page.url)
    assert page.locator("#token").is_visible()
    assert "priya" not in page.content().lower()


def test_home_page_chart(console_relay, page):
    """Check the home page's chart and legend, and save a screenshot over fake history when asked."""
    relay = console_relay
    target = os.environ.get("RELAY_CONSOLE_SCREENSHOT")
    if target:
        seed_fake_history(relay.store_url)
    log_in(page, relay)

    assert page.locator("figure.chart svg rect.bar").count() >= 1
    assert "leads arrived in the last 3 days" in page.inner_text("figure.chart figcaption")
    if target:
        page.screenshot(path=target, full_page=True)

    page.click("summary")
    assert page.locator("details.chart-table tbody tr").count() >= 1


def seed_fake_history(store_url: str) -> None:
    """Store three days of made-up leads with a spread of statuses, and a customer on hold."""
    from app.store.engine import make_engine
    from app.store.repository import Store
    from tests.console.conftest import add_lead

    store = Store(make_engine(store_url))
    now = time.time()
    for hours_ago in range(1, 72):
        created = now - hours_ago * 3600
        busy = 9 <= time.gmtime(created).tm_hour <= 17
        for index in range(2 + hours_ago * 7 % 4 + (5 if busy else 0)):
            status = "duplicate" if index % 6 == 5 else "delivered"
            if hours_ago in (20, 21) and index < 3:
                status = "dead"
            elif hours_ago % 13 == 0 and index == 0:
                status = "rejected"
            add_lead(store, email=f"fake.lead.{hours_ago}.{index}@example.com", status=status,
                     created_at=created + index, source="form")
    store.hold("beta", "CM_ID IS INVALID", now=now)
    store.engine.dispose()
