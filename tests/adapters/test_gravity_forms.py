"""The gravity_forms adapter: entries posted by the Gravity Forms Webhooks Add-On."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_lead, lead, map_body, map_fixture, post_fixture
from tests.conftest import PB_URL, SUCCESS, TOKEN, auth, load_fixture, sent_params

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def fixture_expected() -> dict:
    """Return the fixture's expected lead with its line breaks as the relay writes them.

    The fixture's textarea answer uses CRLF; the relay turns every line break
    into "\\n" by design, so the expected answer is compared that way.
    """
    _, meta = load_fixture("gravity_forms_webhooks")
    expected = dict(meta["expected"])
    extras = [(label, answer.replace("\r\n", "\n")) for label, answer in expected.pop("extras").items()]
    return lead(extras=extras, sender_id="1042", **expected)


def fixture_as_form() -> bytes:
    """Return the fixture entry as the add-on's FORM format sends it.

    WordPress encodes the body with PHP's http_build_query, which leaves out
    null values and writes numbers as decimal text.
    """
    raw, _ = load_fixture("gravity_forms_webhooks")
    entry = json.loads(raw)
    return urlencode([(key, str(value)) for key, value in entry.items() if value is not None]).encode()


def test_fixture_matches_expected():
    actual, _ = map_fixture("gravity_forms", "gravity_forms_webhooks")

    assert_lead(actual, fixture_expected())


def test_form_format_matches_json():
    actual = map_body("gravity_forms", fixture_as_form(), FORM)

    assert_lead(actual, fixture_expected())


# A "Select Fields" feed: the site owner typed the keys, added Entry ID as
# `entry_id` and the page URL, and picked a Checkbox field whole.
COMMON = json.dumps({
    "first_name": "Luis",
    "last_name": "Ortega",
    "email": "luis.ortega@example.com",
    "phone": "+1 (602) 555-0119",
    "city": "Phoenix",
    "state": "Arizona",
    "zip": "85004",
    "services": "Solar panels, Battery storage",
    "entry_id": "88",
    "source_url": "https://www.example.com/quote/?utm_source=bing",
})

# Only an email in field 2, with the entry id; every other input is empty.
SPARSE = json.dumps({
    "id": "7",
    "form_id": "3",
    "1.2": "",
    "1.3": "",
    "1.4": "",
    "1.6": "",
    "1.8": "",
    "2": "sparse@example.com",
    "3": "",
    "4.1": "",
    "4.2": "",
    "4.3": "",
    "4.4": "",
    "4.5": "",
    "4.6": "",
    "5.1": "",
    "5.2": "",
    "5.3": "",
    "6.1": "",
    "6.2": "I agree to be contacted.",
    "6.3": "1",
    "date_created": "2025-03-14 18:20:00",
})

# Inputs in no particular order and an entry id above 2^53 as a bare number.
# A name with a prefix, WordPress slashes and an entity. A three-choice
# Checkbox that is not a Consent field, and a Consent field left unticked.
# A field 13 that `1.3` must not find loosely. A six-choice Checkbox, which
# has the input ids of an Address field and so keeps its choices apart.
NASTY = (
    '{"id":12345678901234567891,"form_id":"3","status":"active",'
    '"2":"ren\\u00e9e.o+quote@example.com","1.3":"Ren\\u00e9e","1.2":"Dr.","1.6":"O\\\\\'Brien",'
    '"1.4":"","1.8":"","3":"(949) 555-0171",'
    '"5.1":"Solar &amp; storage","5.2":"","5.3":"EV charger",'
    '"6.1":"","6.2":"I agree to be contacted.","6.3":"4",'
    '"9.1":"North","9.2":"","9.3":"East","9.4":"","9.5":"","9.6":"",'
    '"13":"Call after 5pm","post_id":null,"is_starred":0,"ip":"203.0.113.20"}'
)

# A "Select Fields" feed that picked the address inputs but not line 2 (`4.2`).
ADDRESS_WITHOUT_LINE_2 = json.dumps({
    "2": "ga@example.com",
    "4.1": "1 Main",
    "4.3": "Austin",
    "4.4": "Texas",
    "4.5": "78701",
    "4.6": "United States",
})

# Three-choice Checkbox fields whose values would pass for a Consent field's
# `.1` and `.3`: numeric choices, all ticked or with the second unticked.
NUMERIC_CHECKBOXES = json.dumps({
    "2": "boxes@example.com",
    "11.1": "1",
    "11.2": "2",
    "11.3": "3",
    "12.1": "1",
    "12.2": "",
    "12.3": "3",
    "14.1": "",
    "14.2": "2.5",
    "14.3": "7",
})

# Multi Select values, which the entry stores as JSON arrays of strings. Text
# that only looks like an array stays as sent.
MULTI_SELECT = json.dumps({
    "2": "multi@example.com",
    "15": '["Choice A","Choice B"]',
    "16": " [\"Only\"] ",
    "17": "[]",
    "18": "[1, 2]",
    "19": "[not json]",
    "20": "[" * 5000 + "]" * 5000,
})

CASES = {
    "address without line 2": (
        ADDRESS_WITHOUT_LINE_2,
        lead(email="ga@example.com", address1="1 Main", city="Austin", state="TX", zip="78701", country="US"),
    ),
    "numeric checkboxes": (
        NUMERIC_CHECKBOXES,
        lead(email="boxes@example.com", extras=[("11", "1, 2, 3"), ("12", "1, 3"), ("14", "2.5, 7")]),
    ),
    "multi select": (
        MULTI_SELECT,
        lead(
            email="multi@example.com",
            extras=[
                ("15", "Choice A, Choice B"),
                ("16", "Only"),
                ("18", "[1, 2]"),
                ("19", "[not json]"),
                ("20", "[" * 5000 + "]" * 5000),
            ],
        ),
    ),
    "common": (
        COMMON,
        lead(
            firstname="Luis",
            lastname="Ortega",
            email="luis.ortega@example.com",
            phone="+16025550119",
            city="Phoenix",
            state="AZ",
            zip="85004",
            extras=[("services", "Solar panels, Battery storage")],
            sender_id="88",
        ),
    ),
    "sparse": (SPARSE, lead(email="sparse@example.com", sender_id="7")),
    "nasty": (
        NASTY,
        lead(
            firstname="Renée",
            lastname="O'Brien",
            email="renée.o+quote@example.com",
            phone="+19495550171",
            extras=[
                ("1.2", "Dr."),
                ("5", "Solar & storage, EV charger"),
                ("9.1", "North"),
                ("9.3", "East"),
                ("13", "Call after 5pm"),
            ],
            sender_id="12345678901234567891",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_maps(case):
    body, expected = CASES[case]

    assert_lead(map_body("gravity_forms", body, JSON), expected)


def test_field_id_not_matched_loosely():
    # Field 1 is a single-line text here, so there is no `1.3`; field 13 must
    # not stand in for it.
    body = json.dumps({"id": "5", "1": "Acme Roofing", "2": "a@example.com", "13": "Comments"})

    actual = map_body("gravity_forms", body, JSON)

    assert_lead(
        actual, lead(email="a@example.com", extras=[("1", "Acme Roofing"), ("13", "Comments")], sender_id="5")
    )


def test_field_map_for_other_layout():
    body = json.dumps({
        "id": "31",
        "7.3": "Ana",
        "7.6": "Silva",
        "8": "ana@example.com",
        "9": "(208) 555-0100",
        "11.1": "9 Elm St",
        "11.2": "",
        "11.3": "Boise",
        "11.4": "Idaho",
        "11.5": "83702",
        "11.6": "United States",
        "12": "Referral",
    })

    actual = map_body(
        "gravity_forms",
        body,
        JSON,
        fields={
            "firstname": "7.3",
            "lastname": "7.6",
            "email": "8",
            "phone": "9",
            "address1": "11.1",
            "city": "11.3",
            "state": "11.4",
            "zip": "11.5",
            "country": "11.6",
        },
        extras={"How did you hear about us?": "12"},
    )

    assert_lead(
        actual,
        lead(
            firstname="Ana",
            lastname="Silva",
            email="ana@example.com",
            phone="+12085550100",
            address1="9 Elm St",
            city="Boise",
            state="ID",
            zip="83702",
            country="US",
            extras=[("How did you hear about us?", "Referral")],
            sender_id="31",
        ),
    )


def test_nested_body_rejected():
    with pytest.raises(BadBody) as raised:
        map_body("gravity_forms", '{"id": "1", "entry": {"2": "a@example.com"}}', JSON)

    assert "flat entry object" in raised.value.message


def test_fixture_reaches_phoneburner(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("gravity_forms")

    response = post_fixture(client, "gravity_forms_webhooks", headers=auth(TOKEN))

    assert response.status_code == 201
    message = dict(fixture_expected()["extras"])["8"]
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Renée"),
        ("lastname", "D'Angelo"),
        ("email", "renee.dangelo@example.com"),
        ("phone", "9495550171"),
        ("address1", "100 Fixture Rd"),
        ("address2", "Suite 5"),
        ("city", "Irvine"),
        ("state", "CA"),
        ("zip", "92618"),
        ("country", "US"),
        ("question[0]", "5"),
        ("answer[0]", "Solar panels, Battery storage"),
        ("question[1]", "6"),
        ("answer[1]", "I agree to be contacted by phone or text at the number provided."),
        ("question[2]", "7"),
        ("answer[2]", "google"),
        ("question[3]", "8"),
        ("answer[3]", message),
    ]
    assert "\r" not in message
