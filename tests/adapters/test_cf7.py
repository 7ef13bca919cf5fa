"""The cf7 adapter: Contact Form 7 submissions posted by the CF7 to Webhook plugin."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody
from tests.adapters.harness import app_client, assert_fixture_maps, assert_lead, lead, map_body, post_fixture
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

JSON = "application/json; charset=UTF-8"
FORM = "application/x-www-form-urlencoded"


def test_fixture_matches_expected():
    assert_fixture_maps("cf7", "cf7_to_webhook")


# A form made of CF7's standard tags plus a checkbox, an acceptance box, a
# tag renamed with `webhook:company`, and special mail tags that describe the
# request (noise) next to `_raw_budget`, the label of a piped choice (an answer).
COMMON = json.dumps({
    "_remote_ip": "203.0.113.7",
    "_url": "https://www.example.com/contact/",
    "_date": "March 14, 2025",
    "_post_title": "Contact",
    "_serial_number": "42",
    "_raw_budget": "Over $10k",
    "your-name": "Maria Garcia Lopez",
    "your-email": "maria@example.com",
    "your-tel": "(949) 555-0123",
    "your-address": "12 Main St",
    "your-city": "Austin",
    "your-state": "Texas",
    "your-zip": "73301-0001",
    "your-country": "United States",
    "company": "Acme Roofing",
    "your-subject": "Quote",
    "budget": "tier-3",
    "services": ["Repair"],
    "acceptance-terms": "1",
    "your-message": "Call after 5.\nThanks!",
})

SPARSE = '{"your-email":"solo@example.com"}'

# PHP json_encode escapes, a slashed value from a plugin before 2.1.1, HTML
# entities, a `+` tag, a number above 2^53 from an unquoted custom-body
# placeholder, empty and blank answers, an empty checkbox item, and a file
# sent as base64 content.
NASTY = (
    '{"your-name":"Jos\\u00e9 O\\\\\'Brien","your-email":"jose+leads@example.com",'
    '"your-tel":"+44 20 7946 0958","your-country":"GB","your-company":"Smith &amp; Sons",'
    '"order-id":123456789012345678901,"services":["Roof","","Gutters"],"your-site":"https:\\/\\/example.com\\/a",'
    '"your-city":"","note":"   ","your-file":{"filename":"plan.pdf","content":"JVBERi0xLjQK"},'
    '"photos":[{"filename":"a.jpg","content":"AAAA"},{"filename":"b.jpg","content":"BBBB"}],'
    '"brochure":"https:\\/\\/www.example.com\\/wp-content\\/uploads\\/cf7-to-zapier\\/9\\/abc\\/brochure.pdf"}'
)

# Another CF7 webhook plugin forwarding the whole `$_POST` as a form: CF7's
# hidden fields, a captcha answer, checkbox groups as `name[]`, `+` sent as %2B.
WHOLE_POST = (
    "_wpcf7=123&_wpcf7_version=5.9.3&_wpcf7_locale=en_US&_wpcf7_unit_tag=wpcf7-f123-p45-o1"
    "&_wpcf7_container_post=45&_wpcf7_posted_data_hash=&_wpcf7_recaptcha_response=03AFcWeA"
    "&your-name=Li+Wei&your-email=li%2Bweb%40example.com&your-tel=949.555.0177"
    "&services%5B%5D=Solar&services%5B%5D=Battery&g-recaptcha-response=03AFcWeA"
)

# A custom body template: nested keys, reached by dotted paths in the field map.
CUSTOM_BODY = '{"contact":{"email":"nested@example.com","phone":"9495550111"},"source":"cf7"}'


@pytest.mark.parametrize(
    ("raw", "content_type", "changes", "expected"),
    [
        pytest.param(
            COMMON, JSON, {},
            lead(
                firstname="Maria", lastname="Garcia Lopez", email="maria@example.com", phone="+19495550123",
                address1="12 Main St", city="Austin", state="TX", zip="73301-0001", country="US",
                extras=[
                    ("_raw_budget", "Over $10k"),
                    ("company", "Acme Roofing"),
                    ("your-subject", "Quote"),
                    ("budget", "tier-3"),
                    ("services", "Repair"),
                    ("acceptance-terms", "1"),
                    ("your-message", "Call after 5.\nThanks!"),
                ],
            ),
            id="common",
        ),
        pytest.param(SPARSE, JSON, {}, lead(email="solo@example.com"), id="sparse"),
        pytest.param(
            NASTY, JSON, {},
            lead(
                firstname="José", lastname="O'Brien", email="jose+leads@example.com", phone="+442079460958",
                country="GB",
                extras=[
                    ("your-company", "Smith & Sons"),
                    ("order-id", "123456789012345678901"),
                    ("services", "Roof, Gutters"),
                    ("your-site", "https://example.com/a"),
                    ("your-file", "plan.pdf"),
                    ("photos", "a.jpg, b.jpg"),
                    ("brochure", "https://www.example.com/wp-content/uploads/cf7-to-zapier/9/abc/brochure.pdf"),
                ],
            ),
            id="nasty",
        ),
        pytest.param(
            WHOLE_POST, FORM, {},
            lead(
                firstname="Li", lastname="Wei", email="li+web@example.com", phone="+19495550177",
                extras=[("services", "Solar, Battery")],
            ),
            id="whole-post-form",
        ),
        pytest.param(
            CUSTOM_BODY, JSON,
            {"fields": {"email": "contact.email", "phone": "contact.phone"}, "extras_unmapped": True},
            lead(email="nested@example.com", phone="+19495550111", extras=[("source", "cf7")]),
            id="custom-body",
        ),
    ],
)
def test_body_maps_to_lead(raw, content_type, changes, expected):
    actual = map_body("cf7", raw, content_type, **changes)

    assert_lead(actual, expected)


def test_json_read_as_form_rejected():
    with pytest.raises(BadBody, match="application/json"):
        map_body("cf7", '{"your-email":"a@example.com"}', FORM)


def test_fixture_reaches_phoneburner(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("cf7")

    response = post_fixture(client, "cf7_to_webhook", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Zoë"),
        ("lastname", "O'Brien-Smith"),
        ("email", "zoe.obrien@example.com"),
        ("phone", "9495550155"),
        ("city", "Portland"),
        ("state", "OR"),
        ("zip", "97201"),
        ("question[0]", "services"),
        ("answer[0]", "Repair, Install"),
        ("question[1]", "acceptance-call"),
        ("answer[1]", "1"),
        ("question[2]", "utm_source"),
        ("answer[2]", "newsletter"),
        ("question[3]", "your-message"),
        ("answer[3]", "Please call before 10am. Photos: https://example.com/my-house"),
    ]


def test_plain_text_template_gets_415(pb):
    client = app_client("cf7")

    response = client.post(
        "/v1/leads/landing", data="name: [your-name]", content_type="text/plain; charset=UTF-8",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 415
    assert response.get_json()["reason"] == "unsupported_content_type"
    assert len(pb.calls) == 0
