"""The Make adapter: the HTTP module's JSON, form and multipart bodies, nested keys, and delivery."""

from __future__ import annotations

import json

import pytest

from tests.adapters.harness import app_client, assert_lead, lead, map_body, multipart_body
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
BOUNDARY = "----MakeBoundary7MA4YWxk"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

CASES = {
    "nested json": (
        json.dumps({
            "contact": {
                "firstName": "Marta", "lastName": "Ruiz", "email": "marta@example.com",
                "phone": "+1 949 555 0181", "address": {"city": "Austin", "state": "TX", "zip": "73301"},
            },
            "answers": {"budget": "25k", "timeline": "Q3"},
            "source": "facebook-lead-ads",
        }),
        JSON,
        lead(
            {"answers.budget": "25k", "answers.timeline": "Q3", "source": "facebook-lead-ads"},
            firstname="Marta", lastname="Ruiz", email="marta@example.com", phone="+19495550181",
            city="Austin", state="TX", zip="73301",
        ),
    ),
    "sparse form": (
        "email=solo%40example.com",
        FORM,
        lead({}, email="solo@example.com"),
    ),
    "multipart": (
        multipart_body(
            [("name", "Lee Park"), ("phone", "949-555-0182"), ("notes", "Ring after 6")], BOUNDARY, final_crlf=False
        ),
        MULTIPART,
        lead({"notes": "Ring after 6"}, firstname="Lee", lastname="Park", phone="+19495550182"),
    ),
    # Array items repeat their path end (`name`), so it matches neither. Plain lists join with ", ".
    "nasty json": (
        json.dumps({
            "lead": {
                "first_name": "Renée", "last_name": "D&#39;Arcy", "email": "renee+make@example.com",
                "country": "Canada", "state": "Quebec", "phone": "514 555 0183",
            },
            "items": [{"name": "Heat pump", "qty": 1}, {"name": "Install", "qty": 2}],
            "tags": ["vip", "", "returning"],
            "crm_id": 98765432109876543210,
            "consent": False,
            "comment": None,
            "note": "  Ça va &amp; merci  ",
        }, ensure_ascii=False),
        JSON,
        lead(
            {
                "items.0.name": "Heat pump",
                "items.0.qty": "1",
                "items.1.name": "Install",
                "items.1.qty": "2",
                "tags": "vip, returning",
                "crm_id": "98765432109876543210",
                "consent": "false",
                "note": "Ça va & merci",
            },
            firstname="Renée", lastname="D'Arcy", email="renee+make@example.com", phone="+15145550183",
            state="QC", country="CA",
        ),
    ),
    # One phone and one email in arrays of objects fill phone and email. An
    # email item's `address` is not the street address.
    "array contacts": (
        json.dumps({
            "contact": {
                "name": "Kim Lee",
                "phones": [{"label": "work", "number": "+1 512 555 0101"}],
                "emails": [{"address": "kim@example.com", "primary": True}],
            },
        }),
        JSON,
        lead(
            {"contact.phones.0.label": "work", "contact.emails.0.primary": "true"},
            firstname="Kim", lastname="Lee", email="kim@example.com", phone="+15125550101",
        ),
    ),
    "array contacts with value keys": (
        json.dumps({
            "person": {
                "phone": [{"value": "(512) 555-0102", "label": "mobile", "primary": True}],
                "email": [{"value": "pat@example.com", "label": "work"}],
                "emails": [],
            },
        }),
        JSON,
        lead(
            {"person.phone.0.label": "mobile", "person.phone.0.primary": "true", "person.email.0.label": "work"},
            email="pat@example.com", phone="+15125550102",
        ),
    ),
    # Two emails could be two people, so neither is the email. A plain `phone`
    # key outranks an array item.
    "array contacts ambiguous": (
        json.dumps({
            "phone": "512-555-0103",
            "contact": {
                "phones": [{"number": "512-555-0104"}],
                "emails": [{"email": "first@example.com"}, {"email": "second@example.com"}],
            },
        }),
        JSON,
        lead(
            {
                "contact.phones.0.number": "512-555-0104",
                "contact.emails.0.email": "first@example.com",
                "contact.emails.1.email": "second@example.com",
            },
            phone="+15125550103",
        ),
    ),
}


@pytest.mark.parametrize(("raw", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_body_maps(raw, content_type, expected):
    mapped = map_body("make", raw, content_type)

    assert_lead(mapped, expected)


def test_ignore_drops_scenario_keys():
    raw = json.dumps({"email": "x@example.com", "scenario": {"execution_id": "abc"}, "note": "hi"})

    mapped = map_body("make", raw, JSON, ignore=["scenario.*"])

    assert list(mapped["extras"].items()) == [("note", "hi")]


def test_delivery_through_app(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, content_type, _ = CASES["nested json"]
    client = app_client("make")

    response = client.post(
        "/v1/leads/landing", data=raw, content_type=content_type, headers={"X-Relay-Token": TOKEN}
    )

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Marta"),
        ("lastname", "Ruiz"),
        ("email", "marta@example.com"),
        ("phone", "9495550181"),
        ("city", "Austin"),
        ("state", "TX"),
        ("zip", "73301"),
        ("question[0]", "answers.budget"),
        ("answer[0]", "25k"),
        ("question[1]", "answers.timeline"),
        ("answer[1]", "Q3"),
        ("question[2]", "source"),
        ("answer[2]", "facebook-lead-ads"),
    ]
