"""Intake under hostile input: random bytes, wrong content types, deep and huge JSON."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PB_URL, SUCCESS, auth, base_document, build_app

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/xml",
        "",
        "application/vnd.api+json",
        "multipart/form-data; boundary=",
    ]
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_client():
    """One app for every example; PhoneBurner always accepts, so only intake can fail."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(PB_URL, body=SUCCESS)
        document = base_document()
        # Every example comes from one address, and the rate limits have tests of their own.
        document["limits"] = {"per_ip": "1000000/minute", "per_source": "1000000/minute"}
        yield build_app(document).test_client()


def assert_answered_cleanly(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    assert "status" in response.get_json()


@FUZZ
@given(body=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_random_bytes_never_fail(fuzz_client, body, content_type):
    response = fuzz_client.post("/v1/leads/landing", data=body, headers={**auth(), "Content-Type": content_type})

    assert_answered_cleanly(response)


@FUZZ
@given(document=JSON_VALUES)
def test_random_json_never_fails(fuzz_client, document):
    response = fuzz_client.post("/v1/leads/landing", data=json.dumps(document), headers=auth(),
                                content_type="application/json")

    assert_answered_cleanly(response)


@FUZZ
@given(pairs=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=80)), max_size=30))
def test_random_form_fields_never_fail(fuzz_client, pairs):
    response = fuzz_client.post(
        "/v1/leads/landing", data=urlencode(pairs), headers=auth(), content_type="application/x-www-form-urlencoded"
    )

    assert_answered_cleanly(response)


@FUZZ
@given(
    email=st.text(max_size=60),
    phone=st.text(alphabet="0123456789 +-().xext#*", max_size=30),
    state=st.text(max_size=30),
    country=st.text(max_size=30),
    name=st.text(max_size=60),
)
def test_random_lead_values_never_fail(fuzz_client, email, phone, state, country, name):
    body = {"name": name, "email": email, "phone": phone, "state": state, "country": country}

    response = fuzz_client.post("/v1/leads/landing", json=body, headers=auth())

    assert_answered_cleanly(response)
    assert response.status_code in (201, 422)


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        json.dumps({f"k{index}": "v" for index in range(5_000)}),
        json.dumps({"note": "x" * 30_000, "email": "a@example.com"}),
        json.dumps([{"email": "a@example.com"}] * 2),
    ],
    ids=["unclosed-arrays", "deep-objects", "many-keys", "long-value", "two-leads"],
)
def test_hostile_json_answers_4xx(fuzz_client, raw):
    response = fuzz_client.post("/v1/leads/landing", data=raw, headers=auth(), content_type="application/json")

    assert 400 <= response.status_code < 500
    assert_answered_cleanly(response)


def test_huge_body_answers_413(fuzz_client):
    response = fuzz_client.post(
        "/v1/leads/landing", data=b"a" * (2 * 1_048_576), headers=auth(), content_type="application/json"
    )

    assert response.status_code == 413


def test_many_multipart_parts_answers_413(fuzz_client):
    parts = {f"field{index}": "v" for index in range(700)}

    response = fuzz_client.post("/v1/leads/landing", data=parts, headers=auth(), content_type="multipart/form-data")

    assert response.status_code == 413
