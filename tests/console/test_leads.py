"""Console: searching leads, paging, a lead's page, escaping hostile values, and replays."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from app.console.lead_views import PAGE_SIZE
from app.leads import Extra, Lead
from tests.conftest import PB_URL, SUCCESS, TOKEN, auth
from tests.console.conftest import add_attempt, add_lead, post_form

LEAD_LINK = re.compile(r'href="/console/leads/([0-9a-f]{32})"')
DAY = 86400.0


def listed(client, query: str = "") -> list[str]:
    response = client.get(f"/console/leads{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return LEAD_LINK.findall(response.get_data(as_text=True))


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- search -----------------------------------------------------------------------


def test_search_by_email_of_posted_lead(operator, pb):
    """Intake stores the normalized email, and the operator's query is normalized the same way."""
    pb.get(PB_URL, body=SUCCESS)
    posted = operator.post("/v1/leads/landing", json={"email": "Ada.Lovelace@EXAMPLE.com"}, headers=auth(TOKEN))
    operator.post("/v1/leads/landing", json={"email": "grace@example.com"}, headers=auth(TOKEN))

    found = listed(operator, "?email=+ada.lovelace@example.COM+")

    assert found == [posted.get_json()["lead_id"]]


def test_search_by_phone_in_any_format(operator, store):
    wanted = add_lead(store, phone="+19495550181")
    add_lead(store, phone="+19495550182")

    assert listed(operator, "?phone=(949)+555-0181") == [wanted]
    assert listed(operator, "?phone=%2B1+949+555+0181") == [wanted]


@pytest.mark.parametrize(
    ("query", "message"),
    [("?email=not-an-email", "not a valid email address"), ("?phone=12", "not a valid phone number"),
     ("?status=lost", "Not a valid choice"), ("?created_from=yesterday", "Not a valid date"),
     ("?created_from=2026-05-02&created_to=2026-05-01", "the end date is before the start date"),
     ("?after=1700000000.5_nothex", "invalid page position")],
)
def test_search_invalid_input_explained(operator, query, message):
    response = operator.get(f"/console/leads{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_search_by_status_source_customer(operator, store):
    wanted = add_lead(store, status="dead", source="partner", customer="globex")
    add_lead(store, status="delivered", source="partner", customer="globex")
    add_lead(store, status="dead", source="landing", customer="globex")
    add_lead(store, status="dead", source="partner", customer="acme")

    assert listed(operator, "?status=dead&source=partner&customer=globex") == [wanted]


def test_search_by_date_range_includes_end_day(operator, store):
    before = add_lead(store, created_at=timestamp("2026-05-01T23:59:59"))
    first_day = add_lead(store, created_at=timestamp("2026-05-02T00:00:00"))
    last_day = add_lead(store, created_at=timestamp("2026-05-03T23:59:59"))
    after = add_lead(store, created_at=timestamp("2026-05-04T00:00:00"))

    found = listed(operator, "?created_from=2026-05-02&created_to=2026-05-03")

    assert found == [last_day, first_day]
    assert before not in found
    assert after not in found


def test_dead_leads_filter_linked_from_home(operator, store):
    add_lead(store, status="dead")
    add_lead(store, status="dead")
    add_lead(store, status="delivered")

    html = operator.get("/console/").get_data(as_text=True)

    assert '<span class="count" id="count-dead">2</span>' in html
    assert 'href="/console/leads?status=dead"' in html
    assert len(listed(operator, "?status=dead")) == 2


def test_search_pages_newest_first(operator, store):
    now = time.time()
    created = [add_lead(store, created_at=now - index) for index in range(PAGE_SIZE + 3)]

    first = operator.get("/console/leads?status=delivered").get_data(as_text=True)
    next_link = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    second = operator.get(next_link).get_data(as_text=True)

    assert LEAD_LINK.findall(first) == created[:PAGE_SIZE]
    assert LEAD_LINK.findall(second) == created[PAGE_SIZE:]
    assert "status=delivered" in next_link
    assert 'rel="next"' not in second
    assert "Newest leads" in second


def test_search_page_stable_when_leads_arrive(operator, store):
    now = time.time()
    created = [add_lead(store, created_at=now - index) for index in range(PAGE_SIZE + 1)]
    first = operator.get("/console/leads").get_data(as_text=True)
    next_link = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")

    add_lead(store, created_at=now + 10)

    assert LEAD_LINK.findall(operator.get(next_link).get_data(as_text=True)) == created[PAGE_SIZE:]


# --- a lead's page ----------------------------------------------------------------


def test_lead_page_shows_everything(operator, store):
    lead_id = add_lead(store, status="dead", last_class="unrecognized", last_reason="html_page", attempts=1,
                       answer_status=502, answer_body='{"status": "failed", "lead_id": "x"}')
    add_attempt(store, lead_id, excerpt="<h1>Bad gateway</h1>", reason="html_page",
                request_url=f"{PB_URL}?key=REDACTED&user_id=123456&email=ada.lovelace%40example.com")

    html = operator.get(f"/console/leads/{lead_id}").get_data(as_text=True)

    assert "ada.lovelace@example.com" in html
    assert "+19495550181" in html
    assert "Budget" in html
    assert "5000" in html
    assert "unrecognized" in html
    assert "html_page" in html
    assert "&lt;h1&gt;Bad gateway&lt;/h1&gt;" in html
    assert "key=REDACTED&amp;user_id=123456" in html
    assert "HTTP 502" in html
    assert "&#34;status&#34;: &#34;failed&#34;" in html
    assert "Replay this lead" in html


def test_lead_page_escapes_hostile_values(operator, store):
    hostile = '<script>alert("x")</script>'
    lead = Lead(firstname=hostile, email="eve@example.com", extras=[Extra(f"<b>{hostile}", "<img src=x onerror=1>")])
    lead_id = add_lead(store, lead=lead, raw_body=f'{{"first_name": "{hostile}"}}'.encode(),
                       status="failed", last_reason="</td><script>1</script>", source="landing")
    add_attempt(store, lead_id, excerpt=hostile)

    pages = [operator.get(f"/console/leads/{lead_id}").get_data(as_text=True),
             operator.get("/console/leads").get_data(as_text=True)]

    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script" not in pages[0].split("</head>", 1)[1]


def test_lead_page_of_rejected_lead(operator, store):
    lead_id = add_lead(store, errors={"email": ["not a valid email address: it should look like name@example.com"]})

    html = operator.get(f"/console/leads/{lead_id}").get_data(as_text=True)

    assert "the lead was rejected before its fields were mapped" in html
    assert "<code>email</code>: not a valid email address" in html
    assert "rejected (invalid email), and would be rejected again" in html


def test_lead_page_unknown_id(operator):
    response = operator.get("/console/leads/" + "f" * 32)

    assert response.status_code == 404
    assert "Lead not found" in response.get_data(as_text=True)


def test_lead_page_long_body_cut(operator, store):
    lead_id = add_lead(store, raw_body=b"x" * 70000)

    html = operator.get(f"/console/leads/{lead_id}").get_data(as_text=True)

    assert "70000 bytes" in html
    assert "showing the first 65536 bytes" in html


# --- replay -----------------------------------------------------------------------


def test_replay_one_lead(operator, store):
    lead_id = add_lead(store, status="dead", attempts=30, last_reason="read_timeout")

    response = post_form(operator, f"/console/leads/{lead_id}/replay")
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    row = store.get(lead_id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/leads/{lead_id}"
    assert row["status"] == "queued"
    assert row["attempts"] == 0
    assert row["next_attempt_at"] <= time.time()
    assert "Requeued 1 lead; the worker sends them." in page


def test_replay_delivered_lead_refused(operator, store):
    lead_id = add_lead(store, status="delivered")

    response = post_form(operator, f"/console/leads/{lead_id}/replay")
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert store.get(lead_id)["status"] == "delivered"
    assert "already delivered; nothing sent" in page


def test_replay_selection(operator, store):
    dead = add_lead(store, status="dead")
    failed = add_lead(store, status="failed", last_class="unrecognized")
    delivered = add_lead(store, status="delivered")
    untouched = add_lead(store, status="dead")

    response = post_form(operator, "/console/leads/replay",
                         {"lead_ids": [dead, failed, delivered], "return_to": "/console/leads?status=dead"})
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert response.headers["Location"] == "/console/leads?status=dead"
    assert store.get(dead)["status"] == "queued"
    assert store.get(failed)["status"] == "queued"
    assert store.get(delivered)["status"] == "delivered"
    assert store.get(untouched)["status"] == "dead"
    assert "Requeued 2 leads" in page
    assert f"{delivered}: already delivered" in page


def test_replay_selection_notes_hold(operator, store):
    lead_id = add_lead(store, status="failed", last_class="config_fault", last_reason="UNKNOWN USER")
    store.hold("acme", "UNKNOWN USER", now=time.time())

    response = post_form(operator, "/console/leads/replay", {"lead_ids": [lead_id]})
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert "Customer acme is on hold (UNKNOWN USER)" in page


@pytest.mark.parametrize("lead_ids", [[], ["../../etc"], ["f" * 33]])
def test_replay_selection_invalid(operator, store, lead_ids):
    dead = add_lead(store, status="dead")

    response = post_form(operator, "/console/leads/replay", {"lead_ids": lead_ids})
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303
    assert "Nothing replayed" in page
    assert store.get(dead)["status"] == "dead"


def test_replay_selection_unknown_id(operator):
    unknown = "e" * 32

    response = post_form(operator, "/console/leads/replay", {"lead_ids": [unknown]})
    page = operator.get(response.headers["Location"]).get_data(as_text=True)

    assert f"{unknown}: not found in the store" in page


def test_replay_return_to_stays_in_console(operator, store):
    lead_id = add_lead(store, status="dead")

    response = post_form(operator, "/console/leads/replay",
                         {"lead_ids": [lead_id], "return_to": "https://evil.example/"})

    assert response.headers["Location"] == "/console/leads"


def test_only_replayable_leads_selectable(operator, store):
    dead = add_lead(store, status="dead")
    delivered = add_lead(store, status="delivered")

    html = operator.get("/console/leads").get_data(as_text=True)

    assert f'name="lead_ids" value="{dead}"' in html
    assert f'name="lead_ids" value="{delivered}"' not in html
