"""The Zapier adapter: flat and flattened (`__`) keys, Unflatten's nested JSON, and delivery."""

from __future__ import annotations

import json

import pytest

from app.adapters.zapier import path_fields
from tests.adapters.harness import app_client, assert_fixture_maps, assert_lead, lead, map_body, post_fixture
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.mark.parametrize("name", ["zapier_webhooks_post", "zapier_webhooks_post_json"])
def test_fixture_maps_without_config(name):
    assert_fixture_maps("zapier", name)


CASES = {
    # Unflatten on: Zapier nests the `__` keys, so they reach the relay as dotted paths.
    "unflattened json": (
        json.dumps({
            "lead": {
                "first_name": "Ana", "last_name": "Lima", "email": "ana@example.com", "phone": "(949) 555-0171",
                "address": {"street": "1 Main St", "city": "Irvine", "state": "California", "zip": "92618"},
                "answers": {"budget": "10k"},
            },
            "meta": {"zap_id": "987"},
        }),
        JSON,
        lead(
            {"lead.answers.budget": "10k"},
            firstname="Ana", lastname="Lima", email="ana@example.com", phone="+19495550171",
            address1="1 Main St", city="Irvine", state="CA", zip="92618",
        ),
    ),
    "sparse form": (
        "email=only%40example.com",
        FORM,
        lead({}, email="only@example.com"),
    ),
    "nasty json": (
        json.dumps({
            "lead__full_name": "  Zoë  O'Brien-Ñúñez ",
            "lead__email": "zoe+tag@example.com",
            "lead__phone": "+44 20 7946 0958",
            "lead__country": "United Kingdom",
            "lead__note": "Tom &amp; Jerry\nline two",
            "lead__big_id": 123456789012345678901,
            "lead__opt_in": True,
            "lead__company": "",
            "lead__nothing": None,
            "lead__products": "Solar,Battery,EV charger",
            "zap_meta_human_now": "Mar 14, 2025",
        }, ensure_ascii=False)[:-1] + ', "lead__price": 1.50}',
        JSON,
        lead(
            {
                "lead__note": "Tom & Jerry\nline two",
                "lead__big_id": "123456789012345678901",
                "lead__opt_in": "true",
                "lead__products": "Solar,Battery,EV charger",
                "lead__price": "1.50",
            },
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+tag@example.com", phone="+442079460958",
            country="GB",
        ),
    ),
    "plus encoded in form": (
        "lead__email=a%2Bb%40example.com&lead__first_name=Al&lead__note=one+two",
        FORM,
        lead({"lead__note": "one two"}, firstname="Al", email="a+b@example.com"),
    ),
    # Two keys end in `email`: guessing could dial the wrong person, so neither maps.
    "ambiguous suffix": (
        json.dumps({
            "lead__email": "lead@example.com", "owner__email": "owner@example.com", "lead__phone": "9495550172",
        }),
        JSON,
        lead({"lead__email": "lead@example.com", "owner__email": "owner@example.com"}, phone="+19495550172"),
    ),
}


@pytest.mark.parametrize(("raw", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_body_maps(raw, content_type, expected):
    mapped = map_body("zapier", raw, content_type)

    assert_lead(mapped, expected)


def test_fields_config_picks_ambiguous_key():
    raw = json.dumps({"lead__email": "lead@example.com", "owner__email": "owner@example.com"})

    mapped = map_body("zapier", raw, JSON, fields={"email": "lead__email"}, extras_unmapped=True)

    assert mapped["email"] == "lead@example.com"
    assert list(mapped["extras"].items()) == [("owner__email", "owner@example.com")]


def test_routing_names_match_exactly():
    fields = path_fields([("deal__customer", "globex"), ("deal__leadstream", "main")])

    assert fields.find("customer") is None
    assert fields.find("leadstream") is None
    assert fields.find("deal__customer").text == "globex"


def test_suffix_finds_longer_path():
    fields = path_fields([("lead__address__city", "Tustin"), ("company__city", "Irvine")])

    assert fields.find("city") is None
    assert fields.find("address_city").key == "lead__address__city"


def test_delivery_through_app(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("zapier")

    response = post_fixture(
        client, "zapier_webhooks_post_json", headers={"Authorization": f"Bearer {TOKEN}", "User-Agent": "Zapier"}
    )

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Hiroshi"),
        ("lastname", "Yamada"),
        ("email", "hiroshi.yamada@example.com"),
        ("phone", "9495550160"),
        ("address1", "10 Fixture Ln"),
        ("city", "Tustin"),
        ("state", "CA"),
        ("zip", "92780"),
        ("question[0]", "lead__answers__how_soon"),
        ("answer[0]", "Within 30 days"),
        ("question[1]", "lead__tags"),
        ("answer[1]", "homeowner,referral"),
    ]
