"""The Unbounce adapter: data.json inside the form body, the JSON option, bad bodies, and delivery."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_fixture_maps, assert_lead, lead, map_body, post_fixture
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
PAGE = {
    "page_url": "https://get.example.com/quote/",
    "page_name": "Quote LP",
    "page_id": "a2838d98-4cf4-11df-a3fd-00163e372d58",
    "variant": "b",
}
TRANSPORT = {
    "ip_address": ["203.0.113.20"],
    "page_uuid": ["a2838d98-4cf4-11df-a3fd-00163e372d58"],
    "variant": ["b"],
    "time_submitted": ["10:57 PM UTC"],
    "date_submitted": ["2025-03-14"],
    "page_url": ["https://get.example.com/quote/"],
    "page_name": ["Quote LP"],
}


def form_body(answers: dict, data_json: str | None = None) -> str:
    """Return an Unbounce form body, with `data_json` in place of the encoded answers when given."""
    data = data_json if data_json is not None else json.dumps({**answers, **TRANSPORT}, ensure_ascii=False)
    return urlencode({**PAGE, "data.json": data, "data.xml": "<form_data></form_data>"})


def test_fixture_maps_without_config():
    assert_fixture_maps("unbounce", "unbounce")


CASES = {
    "common": (
        form_body({
            "first_name": ["Kai"], "last_name": ["Nakamura"], "email": ["kai@example.com"],
            "phone_number": ["(949) 555-0191"], "zip_code": ["92618"], "utm_source": ["bing"],
        }),
        FORM,
        lead(
            {"utm_source": "bing"},
            firstname="Kai", lastname="Nakamura", email="kai@example.com", phone="+19495550191", zip="92618",
        ),
    ),
    "sparse": (
        form_body({"email": ["only@example.com"]}),
        FORM,
        lead({}, email="only@example.com"),
    ),
    "nasty": (
        form_body({
            "name": ["  Zoë   O'Brien-Ñúñez "],
            "email": ["zoe+ub@example.com"],
            "phone_number": ["+44 20 7946 0958"],
            "country": ["United Kingdom"],
            "interests": ["Solar", "", "Heat &amp; power"],
            "message": ["Line one\nLine two"],
            "company_name": [""],
            "referral_code": [],
            "lead_score": [123456789012345678901],
            "rating": [4.50],
            "opt_in": [True],
            "hidden_note": "not an array",
        }),
        FORM,
        lead(
            {
                "interests": "Solar, Heat & power",
                "message": "Line one\nLine two",
                "lead_score": "123456789012345678901",
                "rating": "4.5",
                "opt_in": "true",
                "hidden_note": "not an array",
            },
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+ub@example.com", phone="+442079460958",
            country="GB",
        ),
    ),
    "json option with data.json": (
        json.dumps({**PAGE, "data.json": json.dumps({"email": ["j@example.com"], "city": ["Reno"], **TRANSPORT})}),
        JSON,
        lead({}, email="j@example.com", city="Reno"),
    ),
    "json option flat": (
        json.dumps({"email": ["flat@example.com"], "budget": ["5k", "10k"], **TRANSPORT}),
        JSON,
        lead({"budget": "5k, 10k"}, email="flat@example.com"),
    ),
    "php underscore key": (
        urlencode({**PAGE, "data_json": json.dumps({"email": ["php@example.com"]})}),
        FORM,
        lead({}, email="php@example.com"),
    ),
}


@pytest.mark.parametrize(("raw", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_body_maps(raw, content_type, expected):
    mapped = map_body("unbounce", raw, content_type)

    assert_lead(mapped, expected)


BAD_BODIES = {
    "no data.json": urlencode({**PAGE, "email": "x@example.com"}),
    "empty data.json": form_body({}, data_json=" "),
    "invalid json": form_body({}, data_json="{email: [x]}"),
    "not an object": form_body({}, data_json='["x@example.com"]'),
    "too deep": form_body({}, data_json="[" * 5000 + "]" * 5000),
}


@pytest.mark.parametrize("raw", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_body_raises(raw):
    with pytest.raises(BadBody) as raised:
        map_body("unbounce", raw, FORM)

    assert "data.json" in raised.value.message


def test_page_fields_usable_as_extras():
    mapped = map_body("unbounce", form_body({"email": ["p@example.com"]}), FORM, extras={"Landing page": "page_name"})

    assert list(mapped["extras"].items()) == [("Landing page", "Quote LP")]


def test_delivery_through_app(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("unbounce", response_mode="always_200")

    response = post_fixture(client, "unbounce", f"/v1/leads/landing?token={TOKEN}")

    assert response.status_code == 200
    assert response.get_json()["status"] == "delivered"
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Dana"),
        ("lastname", "Testperson"),
        ("email", "dana.testperson+ub@example.com"),
        ("phone", "9495550123"),
        ("city", "Irvine"),
        ("state", "CA"),
        ("zip", "92618"),
        ("question[0]", "which_services_are_you_interested_in"),
        ("answer[0]", "Solar panels, Battery storage"),
        ("question[1]", "i_agree_to_be_contacted_by_phone_and_sms"),
        ("answer[1]", "Yes, call or text me"),
        ("question[2]", "utm_source"),
        ("answer[2]", "google"),
        ("question[3]", "utm_medium"),
        ("answer[3]", "cpc"),
        ("question[4]", "utm_campaign"),
        ("answer[4]", "spring_promo"),
        ("question[5]", "gclid"),
        ("answer[5]", "Cj0KCQ-fixture-0001"),
    ]
