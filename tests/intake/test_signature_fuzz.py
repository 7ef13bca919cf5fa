"""Random signature headers for every signing scheme: always a 4xx envelope, never a 5xx, nothing sent."""

from __future__ import annotations

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.adapters import clickfunnels, hubspot, meta_lead_ads, webflow, wpforms
from tests.conftest import PB_URL, SUCCESS, build_app
from tests.intake.signing import JSON, LEAD_BODY, hmac_source, signed_document, webhook_source

# Source name -> (its source table, the headers its scheme reads).
SCHEMES = {
    "hmac-hex": (hmac_source(), ("X-Signature", "X-Timestamp")),
    "hmac-base64": (
        hmac_source(encoding="base64", prefix=None, timestamp_header=None, header="X-Body-Signature"),
        ("X-Body-Signature",),
    ),
    "standard-webhooks": (webhook_source(), ("webhook-id", "webhook-timestamp", "webhook-signature")),
    "typeform": ({"adapter": "typeform"}, ("Typeform-Signature",)),
    "tally": ({"adapter": "tally"}, ("Tally-Signature",)),
    "calendly": ({"adapter": "calendly"}, ("Calendly-Webhook-Signature",)),
    "clickfunnels": ({"adapter": "clickfunnels"}, (clickfunnels.SIGNATURE_HEADER, clickfunnels.TIMESTAMP_HEADER)),
    "hubspot": ({"adapter": "hubspot"}, (hubspot.SIGNATURE_HEADER, hubspot.TIMESTAMP_HEADER)),
    "meta": ({"adapter": "meta_lead_ads"}, (meta_lead_ads.SIGNATURE_HEADER, meta_lead_ads.LEGACY_SIGNATURE_HEADER)),
    "webflow": ({"adapter": "webflow"}, (webflow.SIGNATURE_HEADER, webflow.TIMESTAMP_HEADER)),
    "wpforms": ({"adapter": "wpforms"}, (wpforms.SIGNATURE_HEADER,)),
}

TOOL_SOURCE = {"customer": "acme", "auth": "signature", "signing_secret": ["tool-secret-old", "tool-secret-new"]}

# What a client can put in a header once HTTP parsing is done: Latin-1 text without line breaks.
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF) | st.just("\t"), max_size=120
)
SIGNATURE_LIKE = st.builds(
    str.__add__,
    st.sampled_from(["", "sha256=", "sha1=", "SHA256=", "v1,", "v1a,", "v2,", "t=1741976400,v1=", "v1,x v1,"]),
    st.text(alphabet="0123456789abcdefABCDEF+/=_-, .", max_size=130),
)
TIMESTAMP_LIKE = st.integers(min_value=-(10**20), max_value=10**20).map(str) | st.sampled_from(
    ["", "1741976400", "1741976400000", "1741976400.5", "1e9", "nan", "inf", "²³", "0x10"]
)
HEADER_VALUES = st.lists(HEADER_TEXT | SIGNATURE_LIKE | TIMESTAMP_LIKE, min_size=0, max_size=2)
BODIES = st.sampled_from([LEAD_BODY, b"", b"\xff\xfe\xfd", b"{}", b"[]"]) | st.binary(max_size=300)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz():
    """One app with a source per scheme; PhoneBurner accepts anything, so a call would show a bypass."""
    sources = {name: {**TOOL_SOURCE, **table} if "adapter" in table else table for name, (table, _) in SCHEMES.items()}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(PB_URL, body=SUCCESS)
        yield build_app(signed_document(**sources)).test_client(), mock


@pytest.mark.parametrize("scheme", SCHEMES)
@FUZZ
@given(data=st.data(), body=BODIES)
def test_random_signature_headers_answer_4xx(fuzz, scheme, data, body):
    client, mock = fuzz
    _, names = SCHEMES[scheme]
    headers = [(name, value) for name in names for value in data.draw(HEADER_VALUES, label=name)]

    response = client.post(f"/v1/leads/{scheme}", data=body, headers=headers, content_type=JSON)

    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["reason"] == "unauthorized"
    assert len(mock.calls) == 0
