"""Nothing changes where put_contact goes or which key it carries: neither sender input nor a redirect."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.leads import Extra, Lead
from app.phoneburner.client import PhoneBurnerClient, make_session
from app.phoneburner.query import build_put_contact
from tests.conftest import PB_URL, SUCCESS, VENDOR_KEY, auth, base_document, build_app

BASE = "https://www.phoneburner.com/api/vendor/put_contact"
KEY = "vk-4f9c2e7a1b"

# Text that would end a value, start a parameter, a fragment or a header if it travelled unencoded.
HOSTILE = [
    "a&key=stolen-key",
    "x#fragment",
    "x?user_id=999",
    "x=y",
    "line\r\nHost: evil.example",
    "line\nX-Injected: 1",
    "%26key%3Dstolen",
    "/../../other/path",
    "@evil.example",
    "x y+z",
    "\x00\x1f\x7f",
]

# Every character but lone surrogates, which no UTF-8 body can carry.
TEXT = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from(list("&=#?%+/@\r\n[]")),
    min_size=1,
    max_size=40,
)
TEXT_FIELDS = ("firstname", "lastname", "email", "address1", "address2", "city", "state", "zip", "country")


def assert_fixed_target(url: str, base: str, key: str) -> list[tuple[str, str]]:
    """Assert the URL goes to `base` with `key` once, and return its decoded parameters."""
    parts, expected = urlsplit(url), urlsplit(base)
    assert (parts.scheme, parts.netloc, parts.path) == (expected.scheme, expected.netloc, expected.path)
    assert parts.fragment == ""
    assert not any(char in url for char in "\r\n \t#")

    params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    assert [name for name, _value in params].count("key") == 1
    assert params[0] == ("key", key)
    return params


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.fixed_dictionaries({name: TEXT for name in TEXT_FIELDS}),
    extras=st.lists(st.tuples(TEXT, TEXT), max_size=5),
)
def test_any_values_keep_target_and_key(values, extras):
    lead = Lead(**values, extras=[Extra(label, value) for label, value in extras])

    request = build_put_contact(base_url=BASE, vendor_key=KEY, user_id="123456", cm_id="YYYY", lead=lead)

    params = assert_fixed_target(request.url, BASE, KEY)
    sent = dict(params)
    for name, value in values.items():
        assert sent[name] == value
    for index, (label, value) in enumerate(extras):
        assert sent[f"question[{index}]"] == label
        assert sent[f"answer[{index}]"] == value


@pytest.mark.parametrize("value", HOSTILE)
@responses.activate
def test_hostile_value_sent_to_configured_host(value):
    responses.add(responses.GET, BASE, body=SUCCESS)
    client = PhoneBurnerClient(
        url=BASE, vendor_key=KEY, session=make_session(1, user_agent="test"), connect_timeout=1, read_timeout=1
    )
    lead = Lead(firstname=value, city=value, extras=[Extra(value, value)])

    client.put_contact(lead=lead, user_id="123456", cm_id="YYYY")

    assert len(responses.calls) == 1
    params = assert_fixed_target(responses.calls[0].request.url, BASE, KEY)
    assert ("firstname", value) in params
    assert ("question[0]", value) in params
    assert ("answer[0]", value) in params


def test_sender_input_cannot_redirect_intake(pb):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    app = build_app(document)
    body = {
        "first_name": "a&key=stolen-key#frag",
        "last_name": "b\r\nHost: evil.example",
        "email": "hostile@example.com",
        "city": "?user_id=999&cm_id=ZZZZ",
        "note&key=x": "answer#1",
        "key": "stolen-key",
        "user_id": "999",
        "cm_id": "ZZZZ",
    }
    headers = {**auth(), "Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Original-URL": "/x"}

    response = app.test_client().post("/v1/leads/landing?key=stolen-key&user_id=999", json=body, headers=headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    params = assert_fixed_target(pb.calls[0].request.url, PB_URL, VENDOR_KEY)
    assert params[1:3] == [("user_id", "123456"), ("cm_id", "YYYY")]
    assert ("firstname", "a&key=stolen-key#frag") in params
    # Names are single-line fields, so the line break is cleaned to a space before it is encoded.
    assert ("lastname", "b Host: evil.example") in params
    # Transport fields a sender posts are never forwarded, not even as extras.
    assert "stolen-key" not in [value for _name, value in params]


def test_redirect_reply_fails_lead_without_following(client, pb):
    elsewhere = f"https://collector.test/put_contact?key={VENDOR_KEY}"
    pb.get(PB_URL, status=302, headers={"Location": elsewhere})
    pb.get("https://collector.test/put_contact", body=SUCCESS)

    response = client.post("/v1/leads/landing", data={"email": "moved@example.com"}, headers=auth())

    assert response.status_code == 502
    document = response.get_json()
    assert document["status"] == "failed"
    assert document["phoneburner"]["reason"] == "redirect"
    assert len(pb.calls) == 1
    assert "collector.test" not in response.get_data(as_text=True)
