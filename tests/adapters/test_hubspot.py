"""The HubSpot adapter: workflow webhook bodies, and the v3 request signature."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import Headers

from app.adapters.hubspot import HubSpotAdapter, signed_uri, verify_v3
from app.errors import BadBody, Unauthorized
from tests.adapters.harness import (
    NOW,
    app_client,
    assert_lead,
    freeze_clock,
    hmac_base64,
    lead,
    map_body,
    source_document,
)
from tests.conftest import PB_URL, SUCCESS, build_app, sent_params


def versioned(value) -> dict:
    """Return a property in the classic contact format, with one version entry."""
    return {
        "value": value,
        "versions": [{"value": value, "source-type": "FORM", "source-id": "a1b2", "source-label": None,
                      "timestamp": 1741976395000, "selected": False}],
    }


def classic_contact(properties: dict, **envelope) -> str:
    body = {
        "vid": 3234574,
        "canonical-vid": 3234574,
        "merged-vids": [],
        "portal-id": 62515,
        "is-contact": True,
        "profile-url": "https://app.hubspot.com/contacts/62515/contact/3234574",
        "properties": {name: versioned(value) for name, value in properties.items()},
        "form-submissions": [{"conversion-id": "f1e2", "timestamp": 1741976395000, "form-id": "abc-123",
                              "portal-id": 62515, "page-url": "https://www.example.com/quote"}],
        "list-memberships": [],
        "identity-profiles": [{"vid": 3234574, "identities": [
            {"type": "EMAIL", "value": "identity@example.com", "timestamp": 1741976395000, "is-primary": True},
            {"type": "LEAD_GUID", "value": "5c1e7a3b-0000-4000-8000-000000000001", "timestamp": 1741976395000},
        ]}],
        "merge-audits": [],
    }
    body.update(envelope)
    return json.dumps(body, ensure_ascii=False)


CASES = {
    "classic contact": (
        classic_contact({
            "firstname": "Codey",
            "lastname": "Huang",
            "email": "codey@example.com",
            "phone": "949-555-0110",
            "company": "Acme Solar",
            "products_of_interest": "solar_panels;home_battery",
            "message": "Please call; mornings are best",
            "lastmodifieddate": "1741976395000",
            "createdate": "1741976390000",
            "hs_object_id": "3234574",
            "hs_analytics_source": "ORGANIC_SEARCH",
            "lifecyclestage": "lead",
            "ip_city": "Seattle",
            "num_conversion_events": "1",
        }),
        lead(
            {
                "company": "Acme Solar",
                "products_of_interest": "solar_panels, home_battery",
                "message": "Please call; mornings are best",
            },
            sender_id="3234574:1741976395000",
            firstname="Codey", lastname="Huang", email="codey@example.com", phone="+19495550110",
        ),
    ),
    "sparse flat body": (
        json.dumps({"email": "only@example.com"}),
        lead({}, sender_id=None, email="only@example.com"),
    ),
    "flat body with ids": (
        json.dumps({
            "hs_object_id": "901", "lastmodifieddate": "1741976399000", "firstname": "Ana",
            "mobilephone": "+1 (949) 555-0111", "email": "", "budget": 5000, "vid": 901, "portal-id": 62515,
        }),
        lead({"budget": "5000"}, sender_id="901:1741976399000", firstname="Ana", phone="+19495550111"),
    ),
    "object format, nasty values": (
        json.dumps({
            "objectId": 123456789012345678901,
            "objectType": "CONTACT",
            "portalId": 62515,
            "properties": {
                "firstname": {"value": " Zoë ", "timestamp": 1741976395000, "source": "FORM"},
                "lastname": {"value": "O'Brien &amp; Ñúñez"},
                "email": {"value": "zoe+hubspot@Example.com"},
                "phone": {"value": None},
                "mobilephone": {"value": "+44 20 7946 0958"},
                "address": {"value": "12 Rue Saint-Denis"},
                "city": {"value": "Montréal"},
                "state": {"value": "Quebec"},
                "zip": {"value": "H2X 1Y4"},
                "country": {"value": "Canada"},
                "services": {"value": "Install;Repair;Yearly check"},
                "website": {"value": "https://example.com/a;b"},
                "notes": {"value": "line one\nline two"},
                "consent": {"value": True},
                "empty_answer": {"value": ""},
                "no_value": {"versions": []},
                "hs_lastmodifieddate": {"value": "1741976399999"},
            },
            "version": 7,
            "isDeleted": False,
        }, ensure_ascii=False),
        lead(
            {
                "services": "Install, Repair, Yearly check",
                "website": "https://example.com/a;b",
                "notes": "line one\nline two",
                "consent": "true",
            },
            sender_id="123456789012345678901:1741976399999",
            firstname="Zoë", lastname="O'Brien & Ñúñez", email="zoe+hubspot@example.com",
            phone="+442079460958", address1="12 Rue Saint-Denis", city="Montréal", state="QC",
            zip="H2X 1Y4", country="CA",
        ),
    ),
    "email only in identity profile": (
        classic_contact({"firstname": "Ida", "email": ""}),
        lead({}, sender_id="3234574", firstname="Ida", email="identity@example.com"),
    ),
    "id only in properties": (
        json.dumps({"properties": {"email": {"value": "deal@example.com"}, "hs_object_id": {"value": "77"}}}),
        lead({}, sender_id="77", email="deal@example.com"),
    ),
    "v3 api object": (
        json.dumps({
            "id": "512", "properties": {"email": "v3@example.com", "firstname": "Vee", "hs_object_id": "512"},
            "createdAt": "2025-03-14T18:19:00Z", "updatedAt": "2025-03-14T18:19:55Z", "archived": False,
        }),
        lead({}, sender_id="512:2025-03-14T18:19:55Z", firstname="Vee", email="v3@example.com"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("hubspot", raw, "application/json")

    assert_lead(mapped, expected)


def test_envelope_mappable_as_extra():
    raw = classic_contact({"email": "a@example.com"})

    mapped = map_body("hubspot", raw, "application/json",
                      extras={"HubSpot contact": "hubspot.object_id", "Portal": "hubspot.portal_id"},
                      extras_unmapped=True)

    assert list(mapped["extras"].items()) == [("HubSpot contact", "3234574"), ("Portal", "62515")]


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        ("email=a%40example.com", "application/x-www-form-urlencoded", "JSON body"),
        ('{"properties": ["email"]}', "application/json", "'properties' must be an object"),
        (
            '[{"eventId": 1, "subscriptionId": 2, "portalId": 62515, "occurredAt": 1741976400000, '
            '"subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123}]',
            "application/json",
            "contact.creation",
        ),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("hubspot", raw, content_type)


def test_token_source_delivers(pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = CASES["classic contact"][0]
    client = app_client("hubspot")

    response = client.post("/v1/leads/landing", data=raw, content_type="application/json",
                           headers={"X-Relay-Token": "token-for-tests-aaaaaaaa"})

    assert response.status_code == 201
    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
        ("firstname", "Codey"), ("lastname", "Huang"), ("email", "codey@example.com"), ("phone", "9495550110"),
        ("question[0]", "company"), ("answer[0]", "Acme Solar"),
        ("question[1]", "products_of_interest"), ("answer[1]", "solar_panels, home_battery"),
        ("question[2]", "message"), ("answer[2]", "Please call; mornings are best"),
    ]


# --- The v3 signature, through intake: the URL checked is the one HubSpot called -----

RELAY_SECRET = "client-secret-for-tests"
RELAY_BODY = b'{"vid": 3234574, "properties": {"email": {"value": "codey@example.com"}}}'


def relay_client(monkeypatch, **changes):
    freeze_clock(monkeypatch)
    document = source_document("hubspot", auth="signature", signing_secret=RELAY_SECRET)
    document.update(changes)
    return build_app(document).test_client()


def relay_headers(uri: str) -> dict[str, str]:
    return {**sign(uri=uri, body=RELAY_BODY, secret=RELAY_SECRET), "Content-Type": "application/json"}


def test_signature_checked_against_public_url(monkeypatch, pb):
    pb.get(PB_URL, body=SUCCESS)
    client = relay_client(monkeypatch, server={"public_url": "https://relay.example.com/"})

    response = client.post(
        "/v1/leads/landing?utm=1", data=RELAY_BODY, headers=relay_headers("https://relay.example.com/v1/leads/landing?utm=1")
    )

    assert response.status_code == 201


def test_signature_checked_against_request_url(monkeypatch, pb):
    pb.get(PB_URL, body=SUCCESS)
    client = relay_client(monkeypatch)

    response = client.post(
        "/v1/leads/landing", data=RELAY_BODY, headers=relay_headers("http://localhost/v1/leads/landing")
    )

    assert response.status_code == 201


def test_signature_for_other_url_rejected(monkeypatch, pb):
    client = relay_client(monkeypatch, server={"public_url": "https://relay.example.com"})

    response = client.post(
        "/v1/leads/landing", data=RELAY_BODY, headers=relay_headers("https://evil.example/v1/leads/landing")
    )

    assert response.status_code == 401
    assert len(pb.calls) == 0


# --- The v3 signature, checked directly -----------------------------------------

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
NOW_MS = NOW * 1000
URL = "https://relay.example.com/v1/leads/hubspot-contacts?token=abc"
BODY = b'{"vid":3234574,"properties":{"email":{"value":"codey@example.com"}}}'


def sign(method="POST", uri=URL, body=BODY, stamp=str(NOW_MS), secret=SECRET) -> Headers:
    signature = hmac_base64(secret, f"{method}{uri}".encode() + body + stamp.encode())
    return Headers({"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp})


def check(headers, *, method="POST", uri=URL, body=BODY, secrets=(SECRET,)):
    verify_v3(method=method, uri=uri, body=body, headers=headers, secrets=secrets, tolerance=300,
              now=NOW_MS / 1000)


def test_v3_valid_signature_accepted():
    check(sign())


def test_v3_second_secret_accepted():
    check(sign(secret="new-client-secret"), secrets=(SECRET, "new-client-secret"))


def test_v3_escaped_uri_matches_decoded():
    signed = "https://relay.example.com/v1/leads/hs?ref=a:b/c@d!e$f'g(h)i*j,k;l"
    escaped = "https://relay.example.com/v1/leads/hs?ref=a%3Ab%2Fc%40d%21e%24f%27g%28h%29i%2aj%2Ck%3Bl#frag"

    check(sign(uri=signed), uri=escaped)


def test_signed_uri_keeps_other_escapes():
    assert signed_uri("https://x.example/p?q=a%20b%26c%3a") == "https://x.example/p?q=a%20b%26c:"


def _without(name):
    headers = sign()
    headers.remove(name)
    return headers


def _replace(name, value):
    headers = sign()
    headers[name] = value
    return headers


REJECTED = {
    "tampered body": (sign(), {"body": BODY.replace(b"codey", b"eve")}),
    "other url": (sign(), {"uri": URL.replace("abc", "abd")}),
    "other method": (sign(), {"method": "PUT"}),
    "wrong secret": (sign(secret="not-the-secret"), {}),
    "stale timestamp": (sign(stamp=str(NOW_MS - 301_000)), {}),
    "future timestamp": (sign(stamp=str(NOW_MS + 301_000)), {}),
    "missing signature": (_without("X-HubSpot-Signature-v3"), {}),
    "missing timestamp": (_without("X-HubSpot-Request-Timestamp"), {}),
    "garbage signature": (_replace("X-HubSpot-Signature-v3", "not base64!"), {}),
    "hex signature": (_replace("X-HubSpot-Signature-v3", "ab" * 32), {}),
    "prefixed signature": (_replace("X-HubSpot-Signature-v3", "sha256=" + sign()["X-HubSpot-Signature-v3"]), {}),
    "truncated signature": (_replace("X-HubSpot-Signature-v3", sign()["X-HubSpot-Signature-v3"][:-4]), {}),
    "non-ascii signature": (_replace("X-HubSpot-Signature-v3", "é" * 44), {}),
    "garbage timestamp": (_replace("X-HubSpot-Request-Timestamp", "now"), {}),
    "superscript timestamp": (_replace("X-HubSpot-Request-Timestamp", "²"), {}),
}


@pytest.mark.parametrize("name", REJECTED)
def test_v3_bad_signature_rejected(name):
    headers, changes = REJECTED[name]

    with pytest.raises(Unauthorized):
        check(headers, **changes)


def test_verify_signature_needs_url():
    adapter = HubSpotAdapter()

    with pytest.raises(Unauthorized, match="signs the request URL"):
        adapter.verify_signature(body=BODY, headers=sign(), secrets=(SECRET,), tolerance=300, now=NOW_MS / 1000)


def test_verify_signature_with_url():
    adapter = HubSpotAdapter()

    adapter.verify_signature(body=BODY, headers=sign(), secrets=(SECRET,), tolerance=300, now=NOW_MS / 1000,
                             url=URL, method="POST")


def test_signature_keeps_percent_escapes(monkeypatch, pb):
    pb.get(PB_URL, body=SUCCESS)
    client = relay_client(monkeypatch, server={"public_url": "https://relay.example.com"})
    target = "/v1/leads/landing?n=%C3%A9"

    response = client.post(target, data=RELAY_BODY, headers=relay_headers("https://relay.example.com" + target))

    assert response.status_code == 201
