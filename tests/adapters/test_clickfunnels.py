"""The ClickFunnels adapter: 2.0 events, Classic contacts, ignored events, and the 2.0 signature."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from app.errors import BadBody, IgnoredEvent
from tests.adapters.harness import NOW, app_client, assert_lead, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, sent_params

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SECRET = "839d0d645bedefbaf76e3269d1b1141ef07683c179cc3bb0aee9348c90517a7"
EVENT_ID = "123b4741-3f2d-431a-90d1-ddca0f4d6721"


def contact(**changes) -> dict:
    """Return a 2.0 Contact shaped like the contact.identified example in ClickFunnels' webhook guide."""
    data = {
        "id": 236296209, "tags": [], "uuid": "31cabea548c19c0495106323678abcac", "fb_url": None,
        "anonymous": 0, "last_name": "Dullan", "public_id": "BbBNRxw", "time_zone": None,
        "created_at": "2024-04-04T19:16:30.660Z", "first_name": "Bob", "updated_at": "2024-04-04T19:16:45.253Z",
        "twitter_url": None, "website_url": None, "linkedin_url": None, "phone_number": "+18472555555",
        "workspace_id": 42, "email_address": "bob@example.com", "instagram_url": None, "unsubscribed_at": None,
        "custom_attributes": {}, "last_notification_email_sent_at": None,
    }
    data.update(changes)
    return data


def event(data: dict, event_type: str = "contact.identified", event_id=EVENT_ID) -> str:
    document = {
        "data": data, "event_id": event_id, "event_type": event_type, "subject_id": data.get("id"),
        "subject_type": "Contact", "created_at": "2024-04-04T19:16:31.000Z", "page_id": None, "funnel_id": None,
    }
    return json.dumps(document, ensure_ascii=False)


def submission(inputs: dict) -> dict:
    """Return a 2.0 FormSubmission whose `inputs` are the form's HTML input names and values."""
    return {"id": 4, "public_id": "WXjTzp", "contact_id": 87, "workspace_id": 42000, "page_id": 13,
            "created_at": None, "updated_at": None, "data": {"url": "/contact", **inputs}}


CASES = {
    "contact identified": (
        event(contact(
            tags=[{"id": 7, "name": "webinar"}, {"id": 8, "name": "vip"}],
            custom_attributes={"Budget": "5000", "Best time": "evenings"},
            visits={
                "first_visit": {"utm_source": "google", "utm_campaign": "spring", "ip": "203.0.113.9",
                                "user_agent": "Mozilla/5.0", "landing_page": "https://example.com/"},
                "last_visit_with_utm": {"utm_source": "bing"},
            },
        )),
        JSON,
        lead(
            {"tags": "webinar, vip", "Budget": "5000", "Best time": "evenings",
             "utm_source": "google", "utm_campaign": "spring"},
            sender_id=EVENT_ID,
            firstname="Bob", lastname="Dullan", email="bob@example.com", phone="+18472555555",
        ),
    ),
    "form submission": (
        event(submission({
            "contact": {"first_name": "John", "last_name": "Doe", "email": "john@example.com",
                        "phone_number": "949-555-0194"},
            "how_soon": "this month",
        }), event_type="form_submission.created"),
        JSON,
        lead({"how_soon": "this month"}, sender_id=EVENT_ID, firstname="John", lastname="Doe",
             email="john@example.com", phone="+19495550194"),
    ),
    "sparse contact created": (
        event({"id": 1, "anonymous": 0, "email_address": "only@example.com"}, event_type="contact.created"),
        JSON,
        lead({}, sender_id=EVENT_ID, email="only@example.com"),
    ),
    "nasty contact": (
        event(
            contact(
                first_name="  Zoë ", last_name="O'Brien-Ñúñez", email_address="zoe+cf@example.com",
                phone_number="+44 20 7946 0958", fb_url="https://facebook.com/zoe",
                custom_attributes={"Notes": "Tom &amp; Jerry\nsecond line", "Score": 123456789012345678901,
                                   "Opt in": True, "Empty": "", "Nothing": None},
                tags=["plain-tag"],
            ),
            event_id=98765432109876543210987,
        ),
        JSON,
        lead(
            {"tags": "plain-tag", "fb_url": "https://facebook.com/zoe", "Notes": "Tom & Jerry\nsecond line",
             "Score": "123456789012345678901", "Opt in": "true"},
            sender_id="98765432109876543210987",
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+cf@example.com", phone="+442079460958",
        ),
    ),
    "classic contact": (
        json.dumps({
            "id": 5551212, "page_id": 77, "first_name": "Ann", "last_name": "Lee", "name": "Ann Lee",
            "address": "9 Elm St", "city": "Irvine", "state": "California", "zip": "92618", "country": "United States",
            "email": "ann@example.com", "phone": "949.555.0195", "ip": "203.0.113.7", "funnel_id": 3,
            "funnel_step_id": 4, "created_at": "2025-03-14T18:19:00.000Z", "cf_uvid": "abc123",
            "contact_profile": {"id": 9, "first_name": "Ann", "tags": []},
            "additional_info": {"how_soon": "ASAP", "cf_uvid": "abc123", "time_zone": "Pacific Time (US & Canada)"},
            "event": "created",
        }),
        JSON,
        lead(
            {"name": "Ann Lee", "how_soon": "ASAP"}, sender_id=None,
            firstname="Ann", lastname="Lee", email="ann@example.com", phone="+19495550195",
            address1="9 Elm St", city="Irvine", state="CA", zip="92618", country="US",
        ),
    ),
    # Purchase totals, webinar and affiliate tracking are ClickFunnels' data, not answers.
    "classic contact with tracking": (
        json.dumps({
            "email": "track@example.com", "first_name": "Tia", "orders_count": 3, "total_spent": "297.00",
            "webinar_ext": "a1b2c3", "aff_sub": "partner-7", "aff_sub2": "campaign-2", "how_soon": "today",
            "purchase": {"product_ids": [12, 13], "payment_method_nonce": None, "order_saas_url": "x"},
        }),
        JSON,
        lead({"how_soon": "today"}, sender_id=None, firstname="Tia", email="track@example.com"),
    ),
    "classic nested contact with tracking": (
        json.dumps({"contact": {"email": "nested2@example.com", "orders_count": 3, "total_spent": "10.00",
                                "aff_sub": "partner-7", "budget": "5k"}}),
        JSON,
        lead({"budget": "5k"}, sender_id=None, email="nested2@example.com"),
    ),
    "classic form with tracking": (
        urlencode({"email": "form2@example.com", "phone": "9495550197", "orders_count": "0", "total_spent": "0.0",
                   "webinar_ext": "x9", "aff_sub": "fb", "purchase": "", "how_soon": "next week"}),
        FORM,
        lead({"how_soon": "next week"}, sender_id=None, email="form2@example.com", phone="+19495550197"),
    ),
    "classic nested contact": (
        json.dumps({"contact": {"email": "nest@example.com", "contact_profile": {"first_name": "Nia"}}}),
        JSON,
        lead({}, sender_id=None, firstname="Nia", email="nest@example.com"),
    ),
    "classic form": (
        urlencode({"email": "form+cf@example.com", "name": "Omar Haddad", "phone": "9495550196", "event": "created"}),
        FORM,
        lead({}, sender_id=None, firstname="Omar", lastname="Haddad", email="form+cf@example.com",
             phone="+19495550196"),
    ),
}


@pytest.mark.parametrize(("raw", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_body_maps(raw, content_type, expected):
    mapped = map_body("clickfunnels", raw, content_type)

    assert_lead(mapped, expected)


IGNORED = {
    "contact updated": event(contact(), event_type="contact.updated"),
    "contact deleted": event(contact(), event_type="contact.deleted"),
    "order completed": event({"id": 1}, event_type="one-time-order.completed"),
    "anonymous contact": event({"id": 2, "anonymous": 1}, event_type="contact.created"),
    "classic purchase": json.dumps({"id": 1, "status": "paid", "contact": {"email": "p@example.com"}, "products": []}),
    "classic update": json.dumps({"email": "u@example.com", "event": "updated"}),
}


@pytest.mark.parametrize("raw", IGNORED.values(), ids=IGNORED.keys())
def test_non_lead_event_ignored(raw):
    with pytest.raises(IgnoredEvent) as raised:
        map_body("clickfunnels", raw, JSON)

    assert "subscribe" in raised.value.message


BAD_BODIES = {
    "event without data": json.dumps({"event_type": "contact.created", "event_id": "x", "data": None}),
    "submission without inputs": event({"id": 3, "data": "x"}, event_type="form_submission.created"),
    "unknown shape": json.dumps({"hello": "world"}),
}


@pytest.mark.parametrize("raw", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_body_raises(raw):
    with pytest.raises(BadBody):
        map_body("clickfunnels", raw, JSON)


# --- the 2.0 signature, through the app ------------------------------------------------------------

BODY = event(contact()).encode("utf-8")


def signed(body: bytes = BODY, timestamp: int | str = NOW, secret: str = SECRET) -> dict[str, str]:
    digest = hmac_hex(secret, f"{timestamp}.".encode() + body)
    return {"X-Webhook-ClickFunnels-Signature": digest, "X-Webhook-ClickFunnels-Timestamp": str(timestamp)}


@pytest.fixture
def signed_client(frozen, pb):
    return app_client("clickfunnels", auth="signature", signing_secret=["old-secret-being-rotated", SECRET])


def post(client, headers: dict[str, str], body: bytes = BODY):
    return client.post("/v1/leads/landing", data=body, content_type=JSON, headers=headers)


def test_signed_event_delivered(signed_client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = post(signed_client, signed())

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Bob"),
        ("lastname", "Dullan"),
        ("email", "bob@example.com"),
        ("phone", "8472555555"),
    ]


def test_first_secret_accepted(signed_client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = post(signed_client, signed(secret="old-secret-being-rotated"))

    assert response.status_code == 201


def test_signed_ignored_event_answers_200(signed_client, pb):
    body = event(contact(), event_type="contact.updated").encode()

    response = post(signed_client, signed(body), body)

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert len(pb.calls) == 0


SIGNATURE = "X-Webhook-ClickFunnels-Signature"
TIMESTAMP = "X-Webhook-ClickFunnels-Timestamp"
VALID = signed()
DIGEST = VALID[SIGNATURE]
BAD_HEADERS = {
    "tampered body": signed(BODY + b" "),
    "wrong secret": signed(secret="not-the-secret"),
    "stale": signed(timestamp=NOW - 301),
    "future": signed(timestamp=NOW + 301),
    "milliseconds": signed(timestamp=NOW * 1000),
    "missing both": {},
    "missing signature": {TIMESTAMP: str(NOW)},
    "missing timestamp": {SIGNATURE: DIGEST},
    "garbage": {**VALID, SIGNATURE: "garbage"},
    "wrong prefix": {**VALID, SIGNATURE: f"sha256={DIGEST}"},
    "base64 not hex": {**VALID, SIGNATURE: "q83vEjRWeJA="},
    "truncated": {**VALID, SIGNATURE: DIGEST[:40]},
    "odd length": {**VALID, SIGNATURE: DIGEST[:-1]},
    "non-ascii signature": {**VALID, SIGNATURE: "ünïcödé"},
    "non-ascii timestamp": {**VALID, TIMESTAMP: "1741976400²"},
    "timestamp not a number": {**VALID, TIMESTAMP: "2025-03-14T18:20:00Z"},
    "negative timestamp": {**VALID, TIMESTAMP: "-1741976400"},
}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_bad_signature_answers_401(signed_client, pb, headers):
    response = post(signed_client, headers)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
