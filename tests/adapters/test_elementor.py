"""The elementor adapter: Elementor Pro form webhooks in simple and advanced mode."""

from __future__ import annotations

import json
import unicodedata
from urllib.parse import urlencode

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_fixture_maps, assert_lead, lead, map_body
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

FORM = "application/x-www-form-urlencoded; charset=UTF-8"
NAME = "Ngozi Adébáyọ̀"
LAST_NAME = unicodedata.normalize("NFC", "Adébáyọ̀")


def advanced_field(field_id, field_type, title, value, *, raw_value=None, required=False):
    """Return the pairs Elementor's advanced mode sends for one field, as http_build_query writes them."""
    pairs = [
        (f"fields[{field_id}][id]", field_id),
        (f"fields[{field_id}][type]", field_type),
        (f"fields[{field_id}][title]", title),
        (f"fields[{field_id}][value]", value),
    ]
    if isinstance(raw_value, list):
        pairs += [(f"fields[{field_id}][raw_value][{index}]", item) for index, item in enumerate(raw_value)]
    else:
        pairs.append((f"fields[{field_id}][raw_value]", value if raw_value is None else raw_value))
    # PHP writes true as "1" and false as "0".
    pairs.append((f"fields[{field_id}][required]", "1" if required else "0"))
    return pairs


def meta(key, title, value):
    return [(f"meta[{key}][title]", title), (f"meta[{key}][value]", value)]


# The shared simple-mode fixture's form with "Advanced Data" switched on.
ADVANCED = urlencode([
    ("form[id]", "3c1f2e9"),
    ("form[name]", "Quote Form"),
    *advanced_field("name", "text", "Full Name", NAME),
    *advanced_field("email", "email", "Email", "ngozi.adebayo@example.com", required=True),
    *advanced_field("phone", "tel", "Phone", "949-555-0199"),
    *advanced_field("zip", "text", "ZIP", "75001"),
    *advanced_field(
        "services", "checkbox", "Services", "Solar panels, Battery storage",
        raw_value=["Solar panels", "Battery storage"],
    ),
    *advanced_field("consent", "acceptance", "Consent", "on", required=True),
    *advanced_field("utm_source", "hidden", "", "tiktok"),
    *advanced_field("message", "textarea", "Message", ""),
    *meta("date", "Date", "March 14, 2025"),
    *meta("time", "Time", "6:20 pm"),
    *meta("page_url", "Page URL", "https://www.example.com/quote/"),
    *meta("user_agent", "User Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
    *meta("remote_ip", "Remote IP", "203.0.113.40"),
    *meta("credit", "Powered by", "Elementor"),
])

ADVANCED_EXPECTED = lead(
    firstname="Ngozi", lastname=LAST_NAME, email="ngozi.adebayo@example.com", phone="+19495550199", zip="75001",
    extras=[("Services", "Solar panels, Battery storage"), ("Consent", "on"), ("utm_source", "tiktok")],
)

# Elementor's default form (Name, Email, Message) plus a phone, a state and a
# field labelled "Date", in simple mode, with every metadata item but the date
# switched on (Elementor would overwrite a field labelled like an item it sends).
SIMPLE_COMMON = urlencode([
    ("Name", "Sam Lee"),
    ("Email", "sam.lee@example.com"),
    ("Phone Number", "+1 949 555 0142"),
    ("Date", "2025-04-02"),
    ("State", "california"),
    ("Message", "Two roofs,\r\nboth leaking."),
    ("Time", "6:20 pm"),
    ("Page URL", "https://www.example.com/"),
    ("Page Title", "Home"),
    ("User Agent", "Mozilla/5.0"),
    ("Remote IP", "203.0.113.9"),
    ("Powered by", "Elementor"),
    ("form_id", "a1b2c3d"),
    ("form_name", "New Form"),
])

SIMPLE_SPARSE = "Email=only%40example.com&form_id=a1b2c3d&form_name=New+Form"

# Simple mode: a label with brackets, HTML entities, `+` sent as %2B, a
# blank answer, a field labelled like metadata in the middle of the form.
SIMPLE_NASTY = (
    "First+Name=Ren%C3%A9e&Last+Name=D%27Amico&E-mail=renee%2Btag%40example.com"
    "&Budget+%5BUSD%5D=5%2C000%2B&Company=Fish+%26amp%3B+Chips&Time=mornings&Notes=+"
    "&No+Label+field_9f1e2d3=ref-77&form_id=f00d&form_name="
)

# Advanced mode with generated field ids, so the name is found by its label
# and email and phone by their Elementor type. It also has a password and an
# HTML block that must not travel, a select whose value is absent (raw_value
# only), an entity-encoded label, and no form or meta part.
ADVANCED_NASTY = urlencode([
    *advanced_field("field_a1b2c3", "text", "Your name", "Ana María Souza"),
    *advanced_field("field_d4e5f6", "email", "Work email", "ana+crm@example.com"),
    *advanced_field("field_0a0b0c", "email", "Confirm email", "other@example.com"),
    *advanced_field("field_778899", "tel", "Mobile", "(949) 555-0166"),
    *advanced_field("field_pw", "password", "Password", "hunter2"),
    *advanced_field("field_html", "html", "", ""),
    ("fields[field_multi][type]", "select"),
    ("fields[field_multi][title]", "Interests"),
    ("fields[field_multi][raw_value][0]", "Solar"),
    ("fields[field_multi][raw_value][1]", "Storage"),
    *advanced_field("field_note", "textarea", "Note &amp; more", "Tom &amp; Jerry\nline 2"),
])

ADVANCED_JSON = json.dumps({
    "form": {"id": "3c1f2e9", "name": "Quote Form"},
    "fields": {
        "email": {"id": "email", "type": "email", "title": "Email", "value": "json@example.com",
                  "raw_value": "json@example.com", "required": True},
        "count": {"id": "count", "type": "number", "title": "Roofs", "value": 2, "raw_value": 2, "required": False},
    },
    "meta": {"remote_ip": {"title": "Remote IP", "value": "203.0.113.1"}},
})


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        pytest.param(ADVANCED, FORM, ADVANCED_EXPECTED, id="advanced"),
        pytest.param(
            SIMPLE_COMMON, FORM,
            lead(
                firstname="Sam", lastname="Lee", email="sam.lee@example.com", phone="+19495550142", state="CA",
                extras=[("Date", "2025-04-02"), ("Message", "Two roofs,\nboth leaking.")],
            ),
            id="simple-common",
        ),
        pytest.param(SIMPLE_SPARSE, FORM, lead(email="only@example.com"), id="simple-sparse"),
        pytest.param(
            "fields%5Bemail%5D%5Bvalue%5D=adv%40example.com", FORM, lead(email="adv@example.com"),
            id="advanced-sparse",
        ),
        pytest.param(
            SIMPLE_NASTY, FORM,
            lead(
                firstname="Renée", lastname="D'Amico", email="renee+tag@example.com",
                extras=[
                    ("Budget [USD]", "5,000+"),
                    ("Company", "Fish & Chips"),
                    ("Time", "mornings"),
                    ("No Label field_9f1e2d3", "ref-77"),
                ],
            ),
            id="simple-nasty",
        ),
        pytest.param(
            ADVANCED_NASTY, FORM,
            lead(
                firstname="Ana", lastname="María Souza", email="ana+crm@example.com", phone="+19495550166",
                extras=[
                    ("Confirm email", "other@example.com"),
                    ("Interests", "Solar, Storage"),
                    ("Note & more", "Tom & Jerry\nline 2"),
                ],
            ),
            id="advanced-nasty",
        ),
        pytest.param(
            ADVANCED_JSON, "application/json", lead(email="json@example.com", extras=[("Roofs", "2")]),
            id="advanced-json",
        ),
    ],
)
def test_body_maps_to_lead(raw, content_type, expected):
    actual = map_body("elementor", raw, content_type)

    assert_lead(actual, expected)


def test_fixture_matches_expected():
    assert_fixture_maps("elementor", "elementor_pro_forms")


def test_type_candidate_in_source_fields():
    body = urlencode([
        *advanced_field("field_1", "email", "Email", "a@example.com"),
        *advanced_field("field_2", "tel", "Office", "949-555-0101"),
        *advanced_field("field_3", "tel", "Mobile", "949-555-0102"),
    ])

    actual = map_body("elementor", body, FORM, fields={"phone": ["field_3", "type:tel"]}, extras_unmapped=True)

    assert actual["phone"] == "+19495550102"
    assert list(actual["extras"].items()) == [("Office", "949-555-0101")]


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        pytest.param("Email=a%40example.com", FORM, "missing form_id and form_name", id="simple-no-envelope"),
        pytest.param("fields%5Bemail%5D=a%40example.com", FORM, "not a fields", id="advanced-scalar-field"),
        pytest.param('{"event": "ping", "data": {"email": "a@example.com"}}', "application/json",
                     "missing form_id", id="other-tool-json"),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("elementor", raw, content_type)


def test_advanced_reaches_phoneburner_always_200(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("elementor", response_mode="always_200")

    response = client.post(f"/v1/leads/landing?token={TOKEN}", data=ADVANCED, content_type=FORM)

    assert response.status_code == 200
    assert response.get_json()["status"] == "delivered"
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Ngozi"),
        ("lastname", LAST_NAME),
        ("email", "ngozi.adebayo@example.com"),
        ("phone", "9495550199"),
        ("zip", "75001"),
        ("question[0]", "Services"),
        ("answer[0]", "Solar panels, Battery storage"),
        ("question[1]", "Consent"),
        ("answer[1]", "on"),
        ("question[2]", "utm_source"),
        ("answer[2]", "tiktok"),
    ]


def test_rejected_lead_answers_200(pb):
    client = app_client("elementor", response_mode="always_200")

    response = client.post(
        f"/v1/leads/landing?token={TOKEN}", data="Name=No+Contact&form_id=a1&form_name=F", content_type=FORM
    )

    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    assert len(pb.calls) == 0
