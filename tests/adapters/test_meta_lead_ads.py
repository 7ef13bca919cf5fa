"""The Meta Lead Ads adapter: Graph API lead objects, notifications, and X-Hub-Signature-256."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_fixture_maps, assert_lead, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, load_fixture, sent_params

SECRET = "meta-app-secret-for-tests"


def lead_object(field_data: list, **changes) -> str:
    body = {
        "created_time": "2025-03-14T18:20:00+0000",
        "id": "1029384756102938476",
        "ad_id": "120210000000000001",
        "ad_name": "Spring promo",
        "adset_id": "120210000000000002",
        "campaign_id": "120210000000000003",
        "campaign_name": "Solar 2025",
        "form_id": "987654321012345",
        "field_data": field_data,
        "is_organic": False,
        "platform": "fb",
    }
    body.update(changes)
    return json.dumps(body, ensure_ascii=False)


def answer(name: str, *values) -> dict:
    return {"name": name, "values": list(values)}


CASES = {
    "common": (
        lead_object([
            answer("first_name", "Ada"),
            answer("last_name", "Lovelace"),
            answer("email", "ada@example.com"),
            answer("phone_number", "+19495550130"),
            answer("street_address", "12 Analytical Way"),
            answer("city", "Irvine"),
            answer("state", "CA"),
            answer("zip_code", "92618"),
            answer("country", "US"),
            answer("company_name", "Engines Ltd"),
            answer("how_soon_do_you_want_to_install?", "within_3_months"),
        ], custom_disclaimer_responses=[{"checkbox_key": "tcpa_consent", "is_checked": "1"}]),
        lead(
            {
                "company_name": "Engines Ltd",
                "how_soon_do_you_want_to_install?": "within_3_months",
                "tcpa_consent": "1",
            },
            sender_id="1029384756102938476",
            firstname="Ada", lastname="Lovelace", email="ada@example.com",
            phone="+19495550130", address1="12 Analytical Way", city="Irvine", state="CA",
            zip="92618", country="US",
        ),
    ),
    "sparse": (
        json.dumps({"id": "5", "field_data": [answer("email", "only@example.com")]}),
        lead({}, sender_id="5", email="only@example.com"),
    ),
    "nasty": (
        '{"id": 1029384756102938477123, "created_time": "2025-03-14T18:20:00+0000", "field_data": ['
        '{"name": "full_name", "values": ["Jos\\u00e9 \\u00d1\\u00fa\\u00f1ez-\\u00c1vila"]},'
        '{"name": "work_email", "values": ["jose+meta\\u0040Example.com"]},'
        '{"name": "work_phone_number", "values": ["+44 20 7946 0958"]},'
        '{"name": "post_code", "values": ["SW1A 1AA"]},'
        '{"name": "province", "values": ["Ontario"]},'
        '{"name": "which_products_interest_you?", "values": ["solar", "", "battery"]},'
        '{"name": "comments", "values": ["Tom &amp; Jerry\\nsecond line"]},'
        '{"name": "empty_question", "values": []},'
        '{"name": "numeric_answer", "values": [42]},'
        '{"name": "single_value", "values": "not a list"}],'
        '"custom_disclaimer_responses": [{"checkbox_key": "newsletter", "is_checked": true},'
        '{"checkbox_key": "", "is_checked": "1"}, "garbage"],'
        '"is_organic": true, "platform": "ig", "partner_name": null}',
        lead(
            {
                "which_products_interest_you?": "solar, battery",
                "comments": "Tom & Jerry\nsecond line",
                "numeric_answer": "42",
                "single_value": "not a list",
                "newsletter": "true",
            },
            sender_id="1029384756102938477123",
            firstname="José", lastname="Ñúñez-Ávila", email="jose+meta@example.com",
            phone="+442079460958", state="ON", zip="SW1A 1AA",
        ),
    ),
}


def test_fixture_matches_expected():
    assert_fixture_maps("meta_lead_ads", "facebook_lead_ads_graph_lead", sender_id="1029384756102938475")


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("meta_lead_ads", raw, "application/json")

    assert_lead(mapped, expected)


def test_envelope_mappable_as_extra():
    raw = lead_object([answer("email", "a@example.com")])

    mapped = map_body("meta_lead_ads", raw, "application/json", extras_unmapped=True, extras={
        "Campaign": "meta.campaign_name", "Ad": "meta.ad_name", "Organic": "meta.is_organic",
    })

    assert list(mapped["extras"].items()) == [("Campaign", "Solar 2025"), ("Ad", "Spring promo"), ("Organic", "false")]


NOTIFICATION = json.dumps({
    "object": "page",
    "entry": [{"id": "153125381133", "time": 1741976400, "changes": [{"field": "leadgen", "value": {
        "leadgen_id": 1029384756102938475, "page_id": 153125381133, "form_id": 987654321012345,
        "adgroup_id": 120210000000000001, "ad_id": 120210000000000001, "created_time": 1741976400,
    }}]}],
})


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (NOTIFICATION, "application/json", "leadgen notification"),
        ('{"leadgen_id": "1029384756102938475", "form_id": "1"}', "application/json", "leadgen notification"),
        ('{"full_name": "Flat Body", "email": "a@example.com"}', "application/json", 'adapter = "form"'),
        ("email=a%40example.com", "application/x-www-form-urlencoded", "lead object as JSON"),
        ('{"id": "1", "field_data": [{"values": ["x"]}]}', "application/json", "'name'"),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("meta_lead_ads", raw, content_type)


# --- Through the app: the signature and what reaches PhoneBurner ----------------


def signed_app(secrets=("older-app-secret-0001", SECRET)):
    return app_client("meta_lead_ads", auth="signature", signing_secret=list(secrets))


def sign(body: bytes, secret: str = SECRET, algorithm: str = "sha256") -> dict[str, str]:
    digest = hmac_hex(secret, body, algorithm)
    header = "X-Hub-Signature-256" if algorithm == "sha256" else "X-Hub-Signature"
    return {header: f"{algorithm}={digest}"}


def test_signed_fixture_delivered(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, meta = load_fixture("facebook_lead_ads_graph_lead")

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw), content_type=meta["content_type"])

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
        ("firstname", "José"), ("lastname", "Ñúñez-Ávila"), ("email", "jose.nunez@example.com"),
        ("phone", "9495550142"), ("city", "El Paso"), ("state", "TX"), ("zip", "79901"),
        ("question[0]", "when_is_the_best_time_to_call?"), ("answer[0]", "evenings_after_6pm"),
        ("question[1]", "consent_calls"), ("answer[1]", "1"),
    ]


def test_legacy_sha1_accepted(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, _ = load_fixture("facebook_lead_ads_graph_lead")

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw, algorithm="sha1"),
                                 content_type="application/json")

    assert response.status_code == 201


def test_first_secret_accepted(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, _ = load_fixture("facebook_lead_ads_graph_lead")

    response = signed_app(secrets=(SECRET, "newer-app-secret-0002")).post(
        "/v1/leads/landing", data=raw, headers=sign(raw), content_type="application/json"
    )

    assert response.status_code == 201


def test_signed_notification_returns_400(pb):
    raw = NOTIFICATION.encode()

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw), content_type="application/json")

    assert response.status_code == 400
    assert "GET /{leadgen_id}" in response.get_json()["message"]
    assert len(pb.calls) == 0


def _header(value: str):
    return lambda raw: (raw, {"X-Hub-Signature-256": value})


REJECTED = {
    "tampered body": lambda raw: (raw.replace(b"El Paso", b"Houston"), sign(raw)),
    "wrong secret": lambda raw: (raw, sign(raw, secret="not-the-secret")),
    "missing header": lambda raw: (raw, {}),
    "garbage": _header("garbage"),
    "empty": _header(""),
    "wrong prefix": lambda raw: (raw, {"X-Hub-Signature-256": sign(raw)["X-Hub-Signature-256"].replace(
        "sha256=", "sha1=")}),
    "upper-case prefix": lambda raw: (raw, {"X-Hub-Signature-256": sign(raw)["X-Hub-Signature-256"].replace(
        "sha256=", "SHA256=")}),
    "no prefix": lambda raw: (raw, {"X-Hub-Signature-256": sign(raw)["X-Hub-Signature-256"][len("sha256="):]}),
    "non-hex": _header("sha256=" + "zz" * 32),
    "truncated": lambda raw: (raw, {"X-Hub-Signature-256": sign(raw)["X-Hub-Signature-256"][:-1]}),
    "non-ascii": _header("sha256=" + "é" * 64),
    "sha1 digest in sha256 header": lambda raw: (raw, {"X-Hub-Signature-256": "sha256=" + sign(
        raw, algorithm="sha1")["X-Hub-Signature"][len("sha1="):]}),
    "broken sha256 next to valid sha1": lambda raw: (raw, {"X-Hub-Signature-256": "sha256=00",
                                                           **sign(raw, algorithm="sha1")}),
    "wrong legacy prefix": lambda raw: (raw, {"X-Hub-Signature": sign(raw, algorithm="sha1")[
        "X-Hub-Signature"].replace("sha1=", "sha256=")}),
}


@pytest.mark.parametrize("name", REJECTED)
def test_bad_signature_rejected(pb, name):
    raw, _ = load_fixture("facebook_lead_ads_graph_lead")
    body, headers = REJECTED[name](raw)

    response = signed_app().post("/v1/leads/landing", data=body, headers=headers, content_type="application/json")

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
