"""The Google Ads adapter: lead form webhook bodies, test leads, and the google_key check."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_lead, lead, map_body
from tests.conftest import PB_URL, SUCCESS, sent_params

KEY = "google-key-for-tests-0001"
LEAD_ID = "Cj0KCQjwit_8BRCoARIsAIx3Rj7g-AeL6z35IWb6VYiZUygtTfwD3hDlgSGmY-XTTlK3lfV1wcuIwIAaAmMxEALw_wcB"


def column(column_id, value, name=None) -> dict:
    entry = {"column_id": column_id, "string_value": value}
    if name is not None:
        entry["column_name"] = name
    return entry


def webhook(columns: list, **changes) -> str:
    body = {
        "lead_id": LEAD_ID,
        "user_column_data": columns,
        "api_version": "1.0",
        "form_id": 123456789,
        "campaign_id": 987654321,
        "google_key": KEY,
        "is_test": False,
        "gcl_id": "EAIaIQobChMI8vX1",
        "adgroup_id": 111222333,
        "creative_id": 444555666,
        "lead_submit_time": "2025-03-14 18:19:58+00:00",
    }
    body.update(changes)
    return json.dumps(body, ensure_ascii=False)


CASES = {
    "common": (
        webhook([
            column("FULL_NAME", "Grace Hopper", "Full Name"),
            column("EMAIL", "grace@example.com", "User Email"),
            column("PHONE_NUMBER", "+19495550120", "User Phone"),
            column("CITY", "Irvine", "City"),
            column("REGION", "California", "Region"),
            column("POSTAL_CODE", "92618", "Postal Code"),
            column("COUNTRY", "US", "Country"),
            column("COMPANY_NAME", "Navy Labs", "Company Name"),
            column("JOB_TITLE", "Rear Admiral", "Job Title"),
            column("what_is_your_monthly_budget?", "$500-$1,000", "What is your monthly budget?"),
        ]),
        lead(
            {
                "Company Name": "Navy Labs",
                "Job Title": "Rear Admiral",
                "What is your monthly budget?": "$500-$1,000",
            },
            sender_id=LEAD_ID,
            firstname="Grace", lastname="Hopper", email="grace@example.com",
            phone="+19495550120", city="Irvine", state="CA", zip="92618", country="US",
        ),
    ),
    "test lead from the form builder": (
        webhook([
            column("FULL_NAME", "FirstName LastName", "Full Name"),
            column("PHONE_NUMBER", "1-650-555-0123", "User Phone"),
            column("EMAIL", "test@example.com", "User Email"),
        ], is_test=True, adgroup_id=0, creative_id=0),
        lead(
            {"Test lead": "true"}, sender_id=LEAD_ID,
            firstname="FirstName", lastname="LastName", email="test@example.com", phone="+16505550123",
        ),
    ),
    "sparse": (
        json.dumps({"lead_id": "lead-1", "google_key": KEY, "user_column_data": [column("EMAIL", "a@example.com")]}),
        lead({}, sender_id="lead-1", email="a@example.com"),
    ),
    "nasty": (
        webhook(
            [
                column("FIRST_NAME", " Zoë ", "First Name"),
                column("LAST_NAME", "Ñúñez-Ávila", "Last Name"),
                column("WORK_EMAIL", "zoe+ads@Example.com", "Work Email"),
                column("WORK_PHONE", "+44 20 7946 0958", "Work Phone"),
                column("STREET_ADDRESS", "1 Main St", "Street Address"),
                column("preferred_time", "Mornings &amp; evenings"),
                {"column_name": "Anything else?", "string_value": "Line 1\nLine 2"},
                column("EMPTY_ANSWER", "", "Empty answer"),
                {"string_value": "no id and no name"},
                column("AGE_RANGE", "35-44", ""),
            ],
            lead_id=123456789012345678901,
            form_id=9223372036854775807,
            is_test="false",
            Google_key=KEY,
        ),
        lead(
            {
                "preferred_time": "Mornings & evenings",
                "Anything else?": "Line 1\nLine 2",
                "AGE_RANGE": "35-44",
            },
            sender_id="123456789012345678901",
            firstname="Zoë", lastname="Ñúñez-Ávila", email="zoe+ads@example.com",
            phone="+442079460958", address1="1 Main St",
        ),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("google_ads", raw, "application/json")

    assert_lead(mapped, expected)


def test_envelope_mappable_as_extra():
    raw = webhook([column("EMAIL", "a@example.com")], form_id=9223372036854775807)

    mapped = map_body("google_ads", raw, "application/json", extras_unmapped=True, extras={
        "Campaign": "google_ads.campaign_id", "Click id": "google_ads.gcl_id", "Form": "google_ads.form_id",
    })

    assert list(mapped["extras"].items()) == [
        ("Campaign", "987654321"), ("Click id", "EAIaIQobChMI8vX1"), ("Form", "9223372036854775807"),
    ]


def test_key_never_a_field():
    raw = webhook([column("EMAIL", "a@example.com")])

    mapped = map_body("google_ads", raw, "application/json", extras={"Key": ["google_key", "google_ads.google_key"]},
                      extras_unmapped=True)

    assert mapped["extras"] == {}


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        ("email=a%40example.com", "application/x-www-form-urlencoded", "JSON body"),
        ('{"lead_id": "x", "google_key": "k"}', "application/json", "user_column_data"),
        ('{"lead_id": "x", "user_column_data": ["EMAIL"]}', "application/json", "must be an object"),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("google_ads", raw, content_type)


# --- Through the app: the google_key check and what reaches PhoneBurner ---------


def keyed_app(keys=("older-google-key-0001", KEY), **changes):
    return app_client("google_ads", auth="signature", signing_secret=list(keys), **changes)


def test_keyed_lead_delivered(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = CASES["common"][0]

    response = keyed_app(response_mode="always_200").post("/v1/leads/landing", data=raw,
                                                           content_type="application/json")

    assert response.status_code == 200
    assert response.get_json()["status"] == "delivered"
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
        ("firstname", "Grace"), ("lastname", "Hopper"), ("email", "grace@example.com"), ("phone", "9495550120"),
        ("city", "Irvine"), ("state", "CA"), ("zip", "92618"), ("country", "US"),
        ("question[0]", "Company Name"), ("answer[0]", "Navy Labs"),
        ("question[1]", "Job Title"), ("answer[1]", "Rear Admiral"),
        ("question[2]", "What is your monthly budget?"), ("answer[2]", "$500-$1,000"),
    ]


def test_first_key_accepted(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = webhook([column("EMAIL", "a@example.com")])

    response = keyed_app(keys=(KEY, "newer-google-key-0002")).post("/v1/leads/landing", data=raw,
                                                                   content_type="application/json")

    assert response.status_code == 201


def test_always_200_rejected_lead(pb):
    raw = webhook([column("FULL_NAME", "No Contact")])

    response = keyed_app(response_mode="always_200").post("/v1/leads/landing", data=raw,
                                                           content_type="application/json")

    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    assert len(pb.calls) == 0


REJECTED = {
    "wrong key": webhook([column("EMAIL", "a@example.com")], google_key="not-the-key").encode(),
    "key with extra space": webhook([column("EMAIL", "a@example.com")], google_key=KEY + " ").encode(),
    "missing key": json.dumps({"lead_id": "x", "user_column_data": []}).encode(),
    "empty key": webhook([], google_key="").encode(),
    "numeric key": webhook([], google_key=12345).encode(),
    "null key": webhook([], google_key=None).encode(),
    "malformed json": b'{"google_key": "' + KEY.encode() + b'", ',
    "not utf-8": webhook([]).encode("utf-16"),
    "json array": json.dumps([{"google_key": KEY}, {"google_key": KEY}]).encode(),
    "json string": json.dumps(KEY).encode(),
    "empty body": b"",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("name", REJECTED)
def test_bad_key_rejected(pb, name):
    response = keyed_app().post("/v1/leads/landing", data=REJECTED[name], content_type="application/json")

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0


def test_capitalized_key_accepted(pb):
    pb.get(PB_URL, body=SUCCESS)
    body = json.loads(webhook([column("EMAIL", "a@example.com")]))
    body["Google_key"] = body.pop("google_key")

    response = keyed_app().post("/v1/leads/landing", json=body)

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"), ("email", "a@example.com"),
    ]
