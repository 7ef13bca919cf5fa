"""The Tally adapter: FORM_RESPONSE bodies, other events, and the Tally-Signature check."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody, IgnoredEvent
from tests.adapters.harness import app_client, assert_lead, hmac_base64, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

SECRET = "tally-signing-secret-for-tests"
RESPONSE_ID = "2wgx4n"


def event(fields: list, response_id=RESPONSE_ID, **envelope) -> str:
    body = {
        "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2025-03-14T18:20:00.889Z",
        "data": {
            "responseId": response_id,
            "submissionId": response_id,
            "respondentId": "dwQKYm",
            "formId": "VwbNEw",
            "formName": "Quote request",
            "createdAt": "2025-03-14T18:20:00.000Z",
            "fields": fields,
        },
    }
    body.update(envelope)
    return json.dumps(body, ensure_ascii=False)


SIZES = [{"id": "5c9e8d9b-0b6a-4f5e-9b4c-1d2e3f4a5b6c", "text": "1-10"},
         {"id": "7e411945-d219-41c3-8098-0f1300f66d3c", "text": "11-50"}]

COMMON_FIELDS = [
    {"key": "question_3EKz4n", "label": "First name", "type": "INPUT_TEXT", "value": "Alice"},
    {"key": "question_nW80DQ", "label": "Last name", "type": "INPUT_TEXT", "value": "Liddell"},
    {"key": "question_w4Q4Xn", "label": "Work email", "type": "INPUT_EMAIL", "value": "alice@example.com"},
    {"key": "question_3jZaa3", "label": "Phone number", "type": "INPUT_PHONE_NUMBER", "value": "+32491223344"},
    {"key": "question_mVGEg3", "label": "Company size", "type": "DROPDOWN",
     "value": ["7e411945-d219-41c3-8098-0f1300f66d3c"], "options": SIZES},
    {"key": "question_mKV0vK", "label": "How can we help?", "type": "TEXTAREA", "value": "Quote for\n3 sites"},
    {"key": "question_mRe24n", "label": "utm_campaign", "type": "HIDDEN_FIELDS", "value": "spring"},
]

CASES = {
    "common": (
        event(COMMON_FIELDS),
        lead(
            {"Company size": "11-50", "How can we help?": "Quote for\n3 sites", "utm_campaign": "spring"},
            sender_id=RESPONSE_ID,
            firstname="Alice", lastname="Liddell", email="alice@example.com", phone="+32491223344",
        ),
    ),
    "sparse email only": (
        event([{"key": "question_w4Q4Xn", "label": "", "type": "INPUT_EMAIL", "value": "solo@example.com"}],
              response_id="nrG8oX"),
        lead({}, sender_id="nrG8oX", email="solo@example.com"),
    ),
    "nasty": (
        event(
            [
                {"key": "question_a1", "label": "What's your full name?\n", "type": "INPUT_TEXT",
                 "value": "  Zoë   O'Brien-Ñúñez "},
                {"key": "question_a2", "label": "email", "type": "HIDDEN_FIELDS", "value": "prefilled@example.com"},
                {"key": "question_a3", "label": "Email", "type": "INPUT_EMAIL", "value": "zoe+leads@Example.COM"},
                {"key": "question_a4", "label": "Mobile", "type": "INPUT_PHONE_NUMBER", "value": "(949) 555-0101"},
                {"key": "question_a5", "label": "Which state are you in?", "type": "DROPDOWN",
                 "value": ["s-ca"], "options": [{"id": "s-ca", "text": "California"}]},
                {"key": "question_a6", "label": "Interests", "type": "CHECKBOXES",
                 "value": ["o-solar", "o-battery"],
                 "options": [{"id": "o-solar", "text": "Solar"}, {"id": "o-battery", "text": "Battery"},
                             {"id": "o-wind", "text": "Wind"}]},
                {"key": "question_a6_o-solar", "label": "Interests (Solar)", "type": "CHECKBOXES", "value": True},
                {"key": "question_a6_o-battery", "label": "Interests (Battery)", "type": "CHECKBOXES", "value": True},
                {"key": "question_a6_o-wind", "label": "Interests (Wind)", "type": "CHECKBOXES", "value": False},
                {"key": "question_a7", "label": "Own or rent?", "type": "MULTIPLE_CHOICE",
                 "value": "o-own", "options": [{"id": "o-own", "text": "Own &amp; live here"}]},
                {"key": "question_a8", "label": "Rank these", "type": "RANKING", "value": ["r2", "r1", "r-gone"],
                 "options": [{"id": "r1", "text": "Price"}, {"id": "r2", "text": "Speed"}]},
                {"key": "question_a9", "label": "Roof photo", "type": "FILE_UPLOAD", "value": [
                    {"id": "31XdB1", "name": "roof.jpg", "url": "https://storage.example.com/roof.jpg",
                     "mimeType": "image/jpeg", "size": 10}]},
                {"key": "question_b1", "label": "Meter number", "type": "INPUT_NUMBER",
                 "value": 123456789012345678901},
                {"key": "question_b2", "label": "I agree to be called", "type": "CHECKBOX", "value": True},
                {"key": "question_b3", "label": "Second phone", "type": "INPUT_TEXT", "value": None},
                {"key": "question_b4", "label": "Notes", "type": "TEXTAREA", "value": ""},
                {"key": "question_b5", "label": "Grid", "type": "MATRIX", "value": {"row1": ["col1"]}},
                {"key": "question_b6", "label": "Pick one", "type": "DROPDOWN", "value": ["o-1"], "options": 7},
                {"label": "no key", "type": "INPUT_TEXT", "value": "dropped"},
            ],
            response_id=None, eventId=98765432109876543210,
        ),
        lead(
            {
                "email": "prefilled@example.com",
                "Interests": "Solar, Battery",
                "Own or rent?": "Own & live here",
                "Rank these": "Speed, Price, r-gone",
                "Roof photo": "https://storage.example.com/roof.jpg",
                "Meter number": "123456789012345678901",
                "I agree to be called": "true",
                "Grid": "row1: col1",
                "Pick one": "o-1",
            },
            sender_id="98765432109876543210",
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+leads@example.com", phone="+19495550101",
            state="CA",
        ),
    ),
    # Matrix rows and columns arrive as ids, resolved when the field lists them.
    # A payment forwards its amount and currency, never the payer.
    "matrix and payment": (
        event([
            {"key": "question_w4Q4Xn", "label": "Email", "type": "INPUT_EMAIL", "value": "grid@example.com"},
            {"key": "question_m1", "label": "Bare grid", "type": "MATRIX",
             "value": {"r1": ["col1"], "r2": ["col2"]}},
            {"key": "question_m2", "label": "Rate us", "type": "MATRIX",
             "value": {"r-speed": ["c-good", "c-fast"], "r-price": ["c-ok"], "r-skipped": []},
             "rows": [{"id": "r-speed", "text": "Speed"}, {"id": "r-price", "text": "Price"}],
             "columns": [{"id": "c-good", "text": "Good"}, {"id": "c-fast", "text": "Fast"},
                         {"id": "c-ok", "text": "OK"}]},
            {"key": "question_m3", "label": "Columns as options", "type": "MATRIX",
             "value": {"Heating": ["opt-yes"]}, "options": [{"id": "opt-yes", "text": "Yes"}]},
            {"key": "question_m4", "label": "Untyped grid", "type": "UNKNOWN_TYPE", "value": {"a": ["b", "c"]}},
            {"key": "question_m5", "label": "Empty grid", "type": "MATRIX", "value": {"r1": []}},
            {"key": "question_m6", "label": "Odd grid", "type": "MATRIX", "value": {"r1": "c1", "r2": [{"x": 1}]}},
            {"key": "question_p1", "label": "Deposit", "type": "PAYMENT",
             "value": {"price": 20, "currency": "EUR", "name": "Alice Smith", "email": "payer@example.com",
                       "link": "https://dashboard.stripe.com/payments/pi_123"}},
            {"key": "question_p2", "label": "Fee", "type": "PAYMENT", "value": {"amount": "9.50", "name": "A"}},
            {"key": "question_p3", "label": "Unpaid", "type": "PAYMENT", "value": {"name": "No Amount"}},
        ], response_id="gr1d"),
        lead(
            {
                "Bare grid": "r1: col1; r2: col2",
                "Rate us": "Speed: Good, Fast; Price: OK",
                "Columns as options": "Heating: Yes",
                "Untyped grid": "a: b, c",
                "Odd grid": "r1: c1",
                "Deposit": "20 EUR",
                "Fee": "9.50",
            },
            sender_id="gr1d", email="grid@example.com",
        ),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("tally", raw, "application/json")

    assert_lead(mapped, expected)


def test_keys_and_labels_mappable():
    mapped = map_body(
        "tally", event(COMMON_FIELDS), "application/json",
        fields={"phone": "question_3jZaa3"},
        extras={"Size": "Company size", "Campaign": "question_mRe24n"},
        extras_unmapped=False,
    )

    assert mapped["phone"] == "+32491223344"
    assert list(mapped["extras"].items()) == [("Size", "11-50"), ("Campaign", "spring")]


def test_other_events_ignored():
    raw = event(COMMON_FIELDS, eventType="FORM_DELETED")

    with pytest.raises(IgnoredEvent, match="only FORM_RESPONSE events"):
        map_body("tally", raw, "application/json")


# `options` that is not a list of {id, text} objects counts as no options.
MALFORMED_OPTIONS = {
    "number": 5,
    "boolean": True,
    "string": "o-1",
    "object": {"id": "o-1", "text": "One"},
    "items not objects": [1, "o-1", None, ["o-1"]],
    "item without id": [{"text": "One"}],
    "item with object id": [{"id": {"o": 1}, "text": "One"}],
}


@pytest.mark.parametrize("options", MALFORMED_OPTIONS.values(), ids=MALFORMED_OPTIONS.keys())
def test_malformed_options_ignored(options):
    fields = [
        {"key": "question_w4Q4Xn", "label": "Email", "type": "INPUT_EMAIL", "value": "opt@example.com"},
        {"key": "question_o1", "label": "Pick", "type": "DROPDOWN", "value": ["o-1"], "options": options},
    ]

    mapped = map_body("tally", event(fields), "application/json")

    assert_lead(mapped, lead({"Pick": "o-1"}, sender_id=RESPONSE_ID, email="opt@example.com"))


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("email=a%40example.com", "application/x-www-form-urlencoded"),
        ('{"email": "a@example.com"}', "application/json"),
        ('{"eventType": "FORM_RESPONSE", "data": {"fields": {"a": 1}}}', "application/json"),
    ],
)
def test_foreign_body_rejected(raw, content_type):
    with pytest.raises(BadBody, match="fields list"):
        map_body("tally", raw, content_type)


# --- Through the app: the signature and what reaches PhoneBurner ----------------


COMMON_PARAMS = [
    ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
    ("firstname", "Alice"), ("lastname", "Liddell"), ("email", "alice@example.com"), ("phone", "+32491223344"),
    ("question[0]", "Company size"), ("answer[0]", "11-50"),
    ("question[1]", "How can we help?"), ("answer[1]", "Quote for\n3 sites"),
    ("question[2]", "utm_campaign"), ("answer[2]", "spring"),
]


def signed_app(secrets=("old-secret-for-rotation", SECRET)):
    return app_client("tally", auth="signature", signing_secret=list(secrets))


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Tally-Signature": hmac_base64(secret, body), "Content-Type": "application/json"}


def test_signed_event_delivered(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = event(COMMON_FIELDS).encode()

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw))

    assert response.status_code == 201
    assert sent_params(pb) == COMMON_PARAMS


def test_malformed_options_delivered(pb):
    pb.get(PB_URL, body=SUCCESS)
    fields = [*COMMON_FIELDS[:4], {**COMMON_FIELDS[4], "options": 42}]

    response = app_client("tally").post(f"/v1/leads/landing?token={TOKEN}", data=event(fields),
                                        content_type="application/json")

    assert response.status_code == 201
    assert ("answer[0]", "7e411945-d219-41c3-8098-0f1300f66d3c") in sent_params(pb)


def test_first_secret_accepted(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = event(COMMON_FIELDS).encode()

    response = signed_app(secrets=(SECRET, "newer-secret-for-rotation")).post(
        "/v1/leads/landing", data=raw, headers=sign(raw))

    assert response.status_code == 201


def test_token_source_delivers(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("tally")

    response = client.post(f"/v1/leads/landing?token={TOKEN}", data=event(COMMON_FIELDS),
                           content_type="application/json")

    assert response.status_code == 201
    assert sent_params(pb) == COMMON_PARAMS


def test_ignored_event_answers_200(pb):
    raw = event(COMMON_FIELDS, eventType="FORM_DELETED").encode()

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw))

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert len(pb.calls) == 0


def _with_signature(value: str):
    return lambda raw: (raw, {"Tally-Signature": value, "Content-Type": "application/json"})


REJECTED = {
    "tampered body": lambda raw: (raw.replace(b"Liddell", b"Liddel!"), sign(raw)),
    "wrong secret": lambda raw: (raw, sign(raw, secret="not-the-secret")),
    "missing header": lambda raw: (raw, {"Content-Type": "application/json"}),
    "empty header": _with_signature(""),
    "garbage": _with_signature("not a signature"),
    "prefixed": lambda raw: (raw, {**sign(raw), "Tally-Signature": "sha256=" + sign(raw)["Tally-Signature"]}),
    "hex digest": lambda raw: (raw, {**sign(raw), "Tally-Signature": hmac_hex(SECRET, raw)}),
    "truncated": lambda raw: (raw, {**sign(raw), "Tally-Signature": sign(raw)["Tally-Signature"][:-4]}),
    "non-base64": _with_signature("!!!!****"),
    "non-ascii": _with_signature("é" * 44),
}


@pytest.mark.parametrize("name", REJECTED)
def test_bad_signature_rejected(pb, name):
    raw = event(COMMON_FIELDS).encode()
    body, headers = REJECTED[name](raw)

    response = signed_app().post("/v1/leads/landing", data=body, headers=headers)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
