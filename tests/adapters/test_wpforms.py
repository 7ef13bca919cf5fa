"""The wpforms adapter: entries posted by the WPForms Webhooks addon, and its signature."""

from __future__ import annotations

import pytest

from tests.adapters.harness import NOW, app_client, assert_lead, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, sent_params

JSON = "application/json; charset=utf-8"
FORM = "application/x-www-form-urlencoded; charset=utf-8"

SECRET = "wpforms-webhook-secret-for-tests"
OLD_SECRET = "wpforms-webhook-secret-being-rotated"


# A Request Body the site owner mapped: a Name field, Email, Phone, an
# Address field and a Checkbox field (their lines joined with `||`), a Date
# field, and the smart tags {entry_id}, {form_name} and {page_url}. PHP's
# json_encode writes `/` as `\/`.
COMMON_JSON = (
    b'{"name":"Jane Q Doe","email":"jane.doe@example.com","phone":"(303) 555-0182",'
    b'"address":"1200 Pearl St||Suite 300||Boulder, Colorado||80302||United States",'
    b'"services":"Solar panels||Battery storage",'
    b'"preferred_date":{"value":"04\\/02\\/2025","unix":1743552000},'
    b'"entry_id":"318","form_name":"Get a Quote","page_url":"https:\\/\\/www.example.com\\/quote\\/"}'
)

# The same request with Request Format "FORM": WordPress writes the nested
# Date value in PHP's bracket syntax.
COMMON_FORM = (
    b"name=Jane+Q+Doe&email=jane.doe%40example.com&phone=%28303%29+555-0182"
    b"&address=1200+Pearl+St%7C%7CSuite+300%7C%7CBoulder%2C+Colorado%7C%7C80302%7C%7CUnited+States"
    b"&services=Solar+panels%7C%7CBattery+storage"
    b"&preferred_date%5Bvalue%5D=04%2F02%2F2025&preferred_date%5Bunix%5D=1743552000"
    b"&entry_id=318&form_name=Get+a+Quote&page_url=https%3A%2F%2Fwww.example.com%2Fquote%2F"
)

COMMON_LEAD = lead(
    firstname="Jane",
    lastname="Q Doe",
    email="jane.doe@example.com",
    phone="+13035550182",
    extras=[
        ("address", "1200 Pearl St, Suite 300, Boulder, Colorado, 80302, United States"),
        ("services", "Solar panels, Battery storage"),
        ("preferred_date.value", "04/02/2025"),
    ],
    sender_id="318",
)

# A form body with a `+` tag sent as %2B, non-ASCII names, an entity, a
# Checkbox with empty choices between the separators, a File Upload's two
# links as files[0] and files[1], the {user_ip} tag, an empty answer, and an
# entry id above 2^53.
NASTY_FORM = (
    b"first_name=Jos%C3%A9&last_name=%C3%91%C3%BA%C3%B1ez+Garc%C3%ADa&email=jose%2Bsolar%40example.com"
    b"&mobile=%2B52+55+1234+5678&interests=A%7C%7C%7C%7CB%7C%7C&notes=Tom+%26amp%3B+Jerry"
    b"&files%5B0%5D=https%3A%2F%2Fexample.com%2Fa.png&files%5B1%5D=https%3A%2F%2Fexample.com%2Fb.png"
    b"&user_ip=203.0.113.8&company=&entry_id=9007199254740993"
)

# A filter on the addon's body (wpforms_webhooks_process_fill_http_body_params_value)
# can put numbers, booleans and lists into the JSON.
NASTY_JSON = (
    b'{"your-email":"ana@example.com","budget":1.50,"agree":true,"entry_id":12345678901234567891,'
    b'"notes":"Line one\\nLine two","tags":["a||b","c"]}'
)

CASES = {
    "common-json": (COMMON_JSON, JSON, COMMON_LEAD),
    "common-form": (COMMON_FORM, FORM, COMMON_LEAD),
    "sparse": (b'{"email":"only@example.com"}', JSON, lead(email="only@example.com")),
    "nasty-form": (
        NASTY_FORM,
        FORM,
        lead(
            firstname="José",
            lastname="Ñúñez García",
            email="jose+solar@example.com",
            phone="+525512345678",
            extras=[
                ("interests", "A, B"),
                ("notes", "Tom & Jerry"),
                ("files", "https://example.com/a.png, https://example.com/b.png"),
            ],
            sender_id="9007199254740993",
        ),
    ),
    "nasty-json": (
        NASTY_JSON,
        JSON,
        lead(
            email="ana@example.com",
            extras=[
                ("budget", "1.50"),
                ("agree", "true"),
                ("notes", "Line one\nLine two"),
                ("tags", "a, b, c"),
            ],
            sender_id="12345678901234567891",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_maps(case):
    body, content_type, expected = CASES[case]

    assert_lead(map_body("wpforms", body, content_type), expected)


def sign(body: bytes, *, timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    digest = hmac_hex(secret, f"{timestamp}.".encode() + body)
    return {"X-WPForms-Webhook-Signature": f"t={timestamp},v={digest}", "X-WPForms-Webhook-Id": "1"}


@pytest.fixture
def signed_client(frozen, pb):
    return app_client("wpforms", auth="signature", signing_secret=[OLD_SECRET, SECRET])


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET], ids=["current", "rotated"])
def test_signed_request_delivered(signed_client, pb, secret):
    pb.get(PB_URL, body=SUCCESS)

    response = signed_client.post(
        "/v1/leads/landing", data=COMMON_JSON, headers=sign(COMMON_JSON, secret=secret), content_type=JSON
    )

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Jane"),
        ("lastname", "Q Doe"),
        ("email", "jane.doe@example.com"),
        ("phone", "3035550182"),
        ("question[0]", "address"),
        ("answer[0]", "1200 Pearl St, Suite 300, Boulder, Colorado, 80302, United States"),
        ("question[1]", "services"),
        ("answer[1]", "Solar panels, Battery storage"),
        ("question[2]", "preferred_date.value"),
        ("answer[2]", "04/02/2025"),
    ]


VALID = sign(COMMON_JSON)["X-WPForms-Webhook-Signature"]
DIGEST = VALID.split(",v=")[1]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (COMMON_JSON + b" ", sign(COMMON_JSON)),
        (COMMON_JSON, sign(COMMON_JSON, secret="wrong-secret")),
        (COMMON_JSON, sign(COMMON_JSON, timestamp=NOW - 301)),
        (COMMON_JSON, sign(COMMON_JSON, timestamp=NOW + 301)),
        (COMMON_JSON, {}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": "garbage"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"sha256={DIGEST}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"v={DIGEST},t={NOW}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"v={DIGEST}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"t={NOW},v={'z' * 64}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": VALID[:-2]}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": VALID[:-1]}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"t={NOW},v=ü{DIGEST[1:]}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"t=١٧٤١٩٧٦٤٠٠,v={DIGEST}"}),
        (COMMON_JSON, {"X-WPForms-Webhook-Signature": f"t=²,v={DIGEST}"}),
    ],
    ids=[
        "tampered", "wrong-secret", "stale", "future", "missing", "garbage", "wrong-prefix", "swapped",
        "no-timestamp", "not-hex", "truncated", "odd-length", "non-ascii", "non-ascii-digits", "superscript",
    ],
)
def test_bad_signature_rejected(signed_client, pb, body, headers):
    response = signed_client.post("/v1/leads/landing", data=body, headers=headers, content_type=JSON)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0


def test_signed_form_body_rejected(signed_client, pb):
    # The addon signs a form request over a JSON copy of its fields, not the bytes sent.
    response = signed_client.post(
        "/v1/leads/landing", data=COMMON_FORM, headers=sign(COMMON_FORM), content_type=FORM
    )

    assert response.status_code == 401
    assert "Request Format to JSON" in response.get_json()["message"]
    assert len(pb.calls) == 0
