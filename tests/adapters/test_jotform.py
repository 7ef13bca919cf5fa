"""The jotform adapter: Jotform's multipart webhook with answers in rawRequest."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody
from tests.adapters.harness import (
    app_client,
    assert_fixture_maps,
    assert_lead,
    lead,
    map_body,
    multipart_body,
    post_fixture,
)
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

BOUNDARY = "------------------------RelayTestB0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(parts: list[tuple[str, str]]) -> bytes:
    """Return a multipart body with one text part per (name, value), as Jotform posts it."""
    return multipart_body(parts, BOUNDARY)


def delivery(raw_request: str, *, submission_id: str = "6100000000000000042", **envelope: str) -> bytes:
    """Return a delivery with Jotform's envelope parts around `raw_request` (JSON text)."""
    parts = {
        "action": "",
        "webhookURL": f"https://relay.example.com/v1/leads/landing?token={TOKEN}",
        "username": "acmeroofing",
        "formID": "251230000000007",
        "type": "WEB",
        "formTitle": "Free Roof Quote",
        "submissionID": submission_id,
        "event": "",
        "subject": "",
        "rawRequest": raw_request,
        "pretty": "ignored: the adapter reads rawRequest",
        "ip": "203.0.113.44",
    }
    parts.update(envelope)
    return multipart(list(parts.items()))


def test_fixture_matches_expected():
    assert_fixture_maps("jotform", "jotform", sender_id="6100000000000000001")


# Jotform's default elements with a Phone input mask ({"full"}), an address
# second line, a dropdown, a date, hidden UTM fields, and the bookkeeping
# keys every rawRequest carries.
COMMON = json.dumps({
    "slug": "submit/251230000000007",
    "jsExecutionTracker": "build-date-1741976000000=>init-started:1741976100000",
    "submitSource": "form",
    "submitDate": "1741976400000",
    "uploadServerUrl": "https://upload.jotform.com/upload",
    "eventObserver": "1",
    "q3_fullName": {"first": "Dana", "last": "Whitfield"},
    "q4_email": "dana.whitfield@example.com",
    "q5_phoneNumber": {"full": "(512) 555-0147"},
    "q6_address": {
        "addr_line1": "4100 Congress Ave",
        "addr_line2": "Unit 12",
        "city": "Austin",
        "state": "Texas",
        "postal": "78745",
        "country": "United States",
    },
    "q7_roofType": "Asphalt shingle",
    "q8_inspectionDate": {"month": "04", "day": "02", "year": "2025"},
    "q9_utm_source": "google",
    "q10_utm_campaign": "spring_roofs",
    "event_id": "1741976100000_251230000000007_AbC123",
    "timeToSubmit": "41",
    "validatedNewRequiredFieldIDs": "{\"new\":1}",
    "path": "/submit/251230000000007",
})

# Only an email: no name, phone or address question, no submissionID part.
SPARSE = json.dumps({"slug": "submit/251230000000008", "q2_email": "lead@example.com"})

# Escapes written the way PHP's json_encode writes them, a name with every
# part and stray spaces, an entity encoded twice (decoded once), answers named
# like envelope parts, a JSON number, an empty date and an empty checkbox
# choice, an upload (its links repeat without the q-prefix), a newline, and
# a submission id above 2^53.
NASTY = (
    '{"slug":"submit\\/251230000000009",'
    '"q3_name":{"prefix":"Dr. ","first":"Zo\\u00eb ","middle":"Q","last":" O\\u2019Brien-Sm\\u00edth ","suffix":"Jr."},'
    '"q4_email":"zoe+vip@example.com",'
    '"q5_phone":{"full":"+44 20 7946 0958"},'
    '"q6_subject":"Tom &amp;amp; Jerry &quot;Roofing&quot;",'
    '"q7_type":"Flat roof",'
    '"q8_budget":1.50,'
    '"q9_visit":{"month":"","day":"","year":""},'
    '"q10_services":["Solar","","EV charger"],'
    '"q11_company":"",'
    '"temp_upload":{"q12_photo":["roof.png#jotformfs-abc#0194"]},'
    '"photo":["https:\\/\\/www.jotform.com\\/uploads\\/acme\\/251230000000009\\/1\\/roof.png"],'
    '"q13_notes":"Gate code 1234\\nDog in yard",'
    '"event_id":"1741976100000_251230000000009_XyZ"}'
)

CASES = {
    "common": (
        delivery(COMMON),
        lead(
            firstname="Dana",
            lastname="Whitfield",
            email="dana.whitfield@example.com",
            phone="+15125550147",
            address1="4100 Congress Ave",
            address2="Unit 12",
            city="Austin",
            state="TX",
            zip="78745",
            country="US",
            extras=[
                ("roofType", "Asphalt shingle"),
                ("inspectionDate", "2025-04-02"),
                ("utm_source", "google"),
                ("utm_campaign", "spring_roofs"),
            ],
            sender_id="6100000000000000042",
        ),
    ),
    "sparse": (
        multipart([("formID", "251230000000008"), ("rawRequest", SPARSE)]),
        lead(email="lead@example.com"),
    ),
    "nasty": (
        delivery(NASTY, submission_id="9007199254740993123"),
        lead(
            firstname="Zoë",
            lastname="O’Brien-Smíth",
            email="zoe+vip@example.com",
            phone="+442079460958",
            extras=[
                ("name.prefix", "Dr."),
                ("name.middle", "Q"),
                ("name.suffix", "Jr."),
                ("subject", 'Tom &amp; Jerry "Roofing"'),
                ("type", "Flat roof"),
                ("budget", "1.50"),
                ("services", "Solar, EV charger"),
                ("notes", "Gate code 1234\nDog in yard"),
            ],
            sender_id="9007199254740993123",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_maps(case):
    body, expected = CASES[case]

    assert_lead(map_body("jotform", body, MULTIPART), expected)


def test_json_repost_maps():
    # A delivery saved and posted again as JSON, with rawRequest as an object
    # and the submission id as a bare number above 2^53.
    body = json.dumps({
        "formID": "251230000000007",
        "submissionID": 6100000000000000042,
        "rawRequest": {"q4_email": "lead@example.com", "q5_visit": {"month": "03", "day": "", "year": ""}},
    })

    actual = map_body("jotform", body, "application/json")

    assert_lead(actual, lead(email="lead@example.com", extras=[("visit", "03")], sender_id="6100000000000000042"))


def test_envelope_reachable_by_extras():
    actual = map_body("jotform", delivery(SPARSE), MULTIPART, extras={"Form": "jotform.formTitle"})

    assert list(actual["extras"].items()) == [("Form", "Free Roof Quote")]


def test_webhook_url_never_forwarded():
    # Jotform echoes the URL it posts to, and that URL carries the relay's token.
    actual = map_body(
        "jotform", delivery(SPARSE), MULTIPART, extras={"URL": ["jotform.webhookURL", "webhookURL"]}
    )

    assert actual["extras"] == {}


def test_field_map_by_question_name():
    raw = json.dumps({"q3_studentsName": {"first": "Niloth", "last": "P"}, "q4_parentEmail": "p@example.com"})

    actual = map_body(
        "jotform",
        delivery(raw),
        MULTIPART,
        fields={"firstname": "studentsName.first", "lastname": "studentsName.last", "email": "parentEmail"},
        extras_unmapped=True,
    )

    assert_lead(actual, lead(firstname="Niloth", lastname="P", email="p@example.com", sender_id="6100000000000000042"))


@pytest.mark.parametrize(
    "body",
    [
        multipart([("formID", "1"), ("submissionID", "2")]),
        delivery("{not json"),
        delivery('["q3_email"]'),
    ],
    ids=["no-raw-request", "not-json", "not-an-object"],
)
def test_not_jotform_rejected(body):
    with pytest.raises(BadBody) as raised:
        map_body("jotform", body, MULTIPART)

    assert "rawRequest" in raised.value.message


def test_fixture_reaches_phoneburner(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("jotform")

    response = post_fixture(client, "jotform", f"/v1/leads/landing?token={TOKEN}")

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "María"),
        ("lastname", "García López"),
        ("email", "maria.garcia@example.com"),
        ("phone", "9495550166"),
        ("address1", "1 Fixture Plaza"),
        ("city", "Irvine"),
        ("state", "CA"),
        ("zip", "92618"),
        ("country", "US"),
        ("question[0]", "interestedIn"),
        ("answer[0]", "Solar, EV charger"),
        ("question[1]", "consent"),
        ("answer[1]", "Acepto recibir llamadas"),
        ("question[2]", "message"),
        ("answer[2]", 'Llamar después de las 5pm & preguntar por "Mari"'),
        ("question[3]", "utm_source"),
        ("answer[3]", "bing"),
    ]
