"""Console: the customers page and resuming a customer on hold."""

from __future__ import annotations

import time

from tests.console.conftest import add_lead, post_form


def test_customers_page_shows_holds(operator, store):
    add_lead(store, status="failed", last_class="config_fault", last_reason="UNKNOWN USER")
    add_lead(store, status="dead", customer="globex")
    store.hold("acme", "UNKNOWN USER", now=time.time())

    html = operator.get("/console/customers").get_data(as_text=True)

    assert "<strong>on hold</strong>" in html
    assert "UNKNOWN USER" in html
    assert 'action="/console/customers/acme/resume"' in html
    assert 'action="/console/customers/globex/resume"' not in html
    assert 'href="/console/leads?customer=globex&amp;status=dead">1</a>' in html


def test_resume_lifts_hold_and_requeues(operator, store):
    config_fault = add_lead(store, status="failed", last_class="config_fault", last_reason="UNKNOWN USER")
    unrecognized = add_lead(store, status="failed", last_class="unrecognized")
    other = add_lead(store, status="failed", customer="globex", last_class="config_fault")
    store.hold("acme", "UNKNOWN USER", now=time.time())
    store.hold("globex", "CM_ID IS INVALID", now=time.time())

    response = post_form(operator, "/console/customers/acme/resume")
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303
    assert set(store.holds()) == {"globex"}
    assert store.get(config_fault)["status"] == "queued"
    assert store.get(unrecognized)["status"] == "failed"
    assert store.get(other)["status"] == "failed"
    assert "Lifted the hold on acme" in page
    assert "Requeued 1 lead of acme" in page


def test_resume_customer_not_on_hold(operator, store):
    response = post_form(operator, "/console/customers/globex/resume")
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert "globex was not on hold." in page
    assert "nothing requeued" in page


def test_resume_unknown_customer(operator, store):
    store.hold("initech", "UNKNOWN USER", now=time.time())

    response = post_form(operator, "/console/customers/initech/resume")

    assert response.status_code == 404
    assert "initech" in store.holds()


def test_home_lists_holds(operator, store):
    store.hold("acme", "CM_ID IS INVALID", now=time.time())

    html = operator.get("/console/").get_data(as_text=True)

    assert "<strong>acme</strong>: CM_ID IS INVALID" in html
