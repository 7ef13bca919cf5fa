"""The Webflow adapter: form_submission bodies, other events, and the x-webflow-signature check."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody, IgnoredEvent
from tests.adapters.harness import NOW, app_client, assert_fixture_maps, assert_lead, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, TOKEN, load_fixture, sent_params

SECRET = "fixture_webflow_secret"
STAMP = str(NOW * 1000)
SUBMISSION_ID = "6321ca84df3949bfc6752327"


def submission(data: dict, **payload_changes) -> str:
    payload = {
        "name": "Contact Us",
        "siteId": "65427cf400e02b306eaa049c",
        "data": data,
        "schema": [{"fieldName": name, "fieldType": "FormTextInput"} for name in data],
        "submittedAt": "2025-03-14T18:19:58.117Z",
        "id": SUBMISSION_ID,
        "formId": "65429eadebe8a9f3a30f62d0",
        "formElementId": "4e038d2c-6a1e-4953-7be9-a59a2b453177",
    }
    payload.update(payload_changes)
    return json.dumps({"triggerType": "form_submission", "payload": payload}, ensure_ascii=False)


CASES = {
    "common": (
        submission({
            "First Name": "Zaphod", "Last Name": "Beeblebrox", "email": "zaphod@example.com",
            "Phone Number": 19495550100, "Message": "Call me\nafter 5", "Budget": "10k-50k",
        }),
        lead(
            {"Message": "Call me\nafter 5", "Budget": "10k-50k"},
            sender_id=SUBMISSION_ID,
            firstname="Zaphod", lastname="Beeblebrox", email="zaphod@example.com", phone="+19495550100",
        ),
    ),
    "sparse newsletter": (
        submission({"Email 2": "hello@example.com"}, name="Email Form", id="66a947f35b9d7ba400e22733"),
        lead({}, sender_id="66a947f35b9d7ba400e22733", email="hello@example.com"),
    ),
    "nasty": (
        submission({
            "Name": "  Zoë   O'Brien-Ñúñez ",
            "Email": "zoe+leads@Example.COM",
            "Phone": "(949) 555-0101",
            "Address": "1 Main St",
            "Address 2": "Apt 4",
            "Zip": "92618-1234",
            "Country": "United States",
            "Company": "Tom &amp; Jerry &lt;Ltd&gt;",
            "Interests": ["Solar", "", "Battery"],
            "Subscribed": True,
            "Order ref": 123456789012345678901,
            "Empty": "",
            "Nothing": None,
            "id": "visitor-field-called-id",
            "name": "lower-case name field",
        }),
        lead(
            {
                "Company": "Tom & Jerry <Ltd>",
                "Interests": "Solar, Battery",
                "Subscribed": "true",
                "Order ref": "123456789012345678901",
                "id": "visitor-field-called-id",
                "name": "lower-case name field",
            },
            sender_id=SUBMISSION_ID,
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+leads@example.com", phone="+19495550101",
            address1="1 Main St", address2="Apt 4", zip="92618-1234", country="US",
        ),
    ),
    "legacy v1 body": (
        json.dumps({
            "name": "Sample Form", "site": "62749158efef318abc8d5a0f",
            "data": {"name": "Some One", "email": "some.one@example.com"},
            "d": "2022-09-14T12:35:16.117Z", "_id": "6321ca84df3949bfc6752328",
        }),
        lead({}, sender_id="6321ca84df3949bfc6752328", firstname="Some", lastname="One",
             email="some.one@example.com"),
    ),
    "no submission id": (
        submission({"email": "a@example.com"}, id=""),
        lead({}, sender_id=None, email="a@example.com"),
    ),
}


def test_fixture_matches_expected():
    assert_fixture_maps("webflow", "webflow_form_submission", sender_id="67d4f1a2b3c4d5e6f7a8b9d1")


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("webflow", raw, "application/json")

    assert_lead(mapped, expected)


def test_envelope_mappable_as_extra():
    raw = submission({"Email": "a@example.com", "Note": "hi"})

    mapped = map_body("webflow", raw, "application/json", extras={"Form": "webflow.form_name"},
                      extras_unmapped=True)

    assert list(mapped["extras"].items()) == [("Form", "Contact Us"), ("Note", "hi")]


@pytest.mark.parametrize("trigger", ["site_publish", "collection_item_created", "ecomm_new_order"])
def test_other_events_ignored(trigger):
    raw = json.dumps({"triggerType": trigger, "payload": {"siteId": "65427cf400e02b306eaa049c"}})

    with pytest.raises(IgnoredEvent, match="subscribe this webhook to form_submission"):
        map_body("webflow", raw, "application/json")


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        ("email=a%40example.com", "application/x-www-form-urlencoded", "JSON webhook body"),
        ('{"email": "a@example.com"}', "application/json", "triggerType and payload"),
        ('{"triggerType": "form_submission"}', "application/json", "no 'payload'"),
        ('{"triggerType": "form_submission", "payload": {"data": []}}', "application/json", "no 'data'"),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("webflow", raw, content_type)


# --- Through the app: the signature and what reaches PhoneBurner ----------------


def signed_app(secrets=("old-secret-for-rotation", SECRET)):
    return app_client("webflow", auth="signature", signing_secret=list(secrets))


def sign(body: bytes, stamp: str = STAMP, secret: str = SECRET) -> dict[str, str]:
    digest = hmac_hex(secret, stamp.encode() + b":" + body)
    return {"x-webflow-timestamp": stamp, "x-webflow-signature": digest}


def test_signed_fixture_delivered(frozen, pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, meta = load_fixture("webflow_form_submission")

    response = signed_app().post("/v1/leads/landing", data=raw, headers=meta["headers"])

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
        ("firstname", "愛子"), ("lastname", "田中"), ("email", "aiko.tanaka@example.com"),
        ("phone", "9495550124"), ("city", "Seattle"), ("state", "WA"), ("zip", "98101"),
        ("question[0]", "I agree to receive calls"), ("answer[0]", "true"),
        ("question[1]", "utm_source"), ("answer[1]", "linkedin"),
    ]


def test_token_source_delivers(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = submission({"Name": "Ana Lima", "Email": "ana@example.com", "Phone": "+44 20 7946 0958"})
    client = app_client("webflow")

    response = client.post(f"/v1/leads/landing?token={TOKEN}", data=raw, content_type="application/json")

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
        ("firstname", "Ana"), ("lastname", "Lima"), ("email", "ana@example.com"), ("phone", "+442079460958"),
    ]


def test_ignored_event_returns_200(frozen, pb):
    raw = b'{"triggerType":"site_publish","payload":{"siteId":"65427cf400e02b306eaa049c"}}'

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw), content_type="application/json")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert len(pb.calls) == 0


def test_first_secret_accepted(frozen, pb):
    pb.get(PB_URL, body=SUCCESS)
    raw, _ = load_fixture("webflow_form_submission")

    client = signed_app(secrets=(SECRET, "newer-secret-for-rotation"))
    response = client.post("/v1/leads/landing", data=raw, headers=sign(raw), content_type="application/json")

    assert response.status_code == 201


def _tampered(raw: bytes) -> tuple[bytes, dict[str, str]]:
    return raw.replace(b"Seattle", b"Tacoma!"), sign(raw)


def _replace(**headers: str):
    return lambda raw: (raw, {**sign(raw), **headers})


def _without(name: str):
    return lambda raw: (raw, {key: value for key, value in sign(raw).items() if key != name})


REJECTED = {
    "tampered body": _tampered,
    "wrong secret": lambda raw: (raw, sign(raw, secret="not-the-secret")),
    "stale timestamp": lambda raw: (raw, sign(raw, stamp=str((NOW - 301) * 1000))),
    "future timestamp": lambda raw: (raw, sign(raw, stamp=str((NOW + 301) * 1000))),
    "seconds not milliseconds": lambda raw: (raw, sign(raw, stamp=str(NOW))),
    "missing signature": _without("x-webflow-signature"),
    "missing timestamp": _without("x-webflow-timestamp"),
    "garbage signature": _replace(**{"x-webflow-signature": "not a signature"}),
    "prefixed signature": lambda raw: (raw, {**sign(raw), "x-webflow-signature": "sha256=" + sign(raw)[
        "x-webflow-signature"]}),
    "non-hex signature": _replace(**{"x-webflow-signature": "zz" * 32}),
    "truncated signature": lambda raw: (raw, {**sign(raw), "x-webflow-signature": sign(raw)[
        "x-webflow-signature"][:-1]}),
    "empty signature": _replace(**{"x-webflow-signature": ""}),
    "non-ascii signature": _replace(**{"x-webflow-signature": "é" * 64}),
    "garbage timestamp": _replace(**{"x-webflow-timestamp": "yesterday"}),
    "negative timestamp": _replace(**{"x-webflow-timestamp": "-1741976400000"}),
    "superscript timestamp": _replace(**{"x-webflow-timestamp": "²"}),
}


@pytest.mark.parametrize("name", REJECTED)
def test_bad_signature_rejected(frozen, pb, name):
    raw, _ = load_fixture("webflow_form_submission")
    body, headers = REJECTED[name](raw)

    response = signed_app().post("/v1/leads/landing", data=body, headers=headers, content_type="application/json")

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
