"""Intake under hostile input: tens of thousands of random requests, none answered 5xx or let through unauthenticated.

Every example goes through the whole relay (Flask test client, SQLite store, one
test on PostgreSQL, PhoneBurner mocked with `responses`) and must get a documented
answer: the JSON envelope of the OpenAPI document, or a redirect for the
browser-form source.
PhoneBurner may be called only for a request that proves its sender. The runs
are derandomized, so CI sees the same examples every time.

Run them alone with: python -m pytest tests/test_intake_fuzz.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests
import responses
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from app.openapi import DOCUMENT_PATH
from tests.conftest import PB_URL, TOKEN, build_app
from tests.fuzz_strategies import (
    CONTENT_TYPES,
    FORM_TYPE,
    HEADER_TEXT,
    SAMPLE_BODIES,
    SOURCE_NAMES,
    VALID_TEXT,
    WRONG_TOKENS,
    Post,
    any_posts,
    authenticated_posts,
    false_credentials,
    form_bodies,
    json_bodies,
    multipart_bodies,
    mutated_posts,
    proof_of_sender,
)
from tests.fuzzing import (
    ADMIN_TOKEN,
    DUPLICATE_EMAIL,
    ERROR_URL,
    SOURCES,
    SUCCESS_URL,
    UNAVAILABLE_EMAIL,
    fuzz_document,
    may_reach_phoneburner,
    phoneburner_reply,
)
from tests.stores import fresh_postgres_url, fresh_sqlite_url

# The store goes in a RAM-backed folder where the system has one, because a commit's fsync
# would otherwise take most of the run's time.
RAM_FOLDER = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a private folder inside it)

# Each test sends thousands of requests, which on a slow or busy machine can take longer than
# the suite's limit of 120 s per test. That limit is there to catch hangs.
pytestmark = pytest.mark.timeout(900)

API = schemathesis.openapi.from_path(DOCUMENT_PATH)
LEAD_OPERATIONS = {method: API["/v1/leads/{id}"][method] for method in ("POST", "GET")}
DOCUMENTED_STATUSES = {
    method: {int(code) for code in API.raw_schema["paths"]["/v1/leads/{id}"][method.lower()]["responses"]}
    for method in LEAD_OPERATIONS
}
# schemathesis rebuilds the request behind a werkzeug answer, which fails on the malformed headers
# these tests send on purpose. Only the answer is checked, so a placeholder request stands in.
PLACEHOLDER_REQUEST = requests.Request("POST", "http://relay.test/v1/leads/source").prepare()
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# Multiplies every test's number of examples: 0.1 for a quick look, 5 for a long hunt.
SCALE = float(os.environ.get("RELAY_FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    """Return the settings of one fuzz test: `max_examples` cases (times SCALE), the same ones on every run."""
    return settings(
        max_examples=max(1, round(max_examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        # Whole requests through the app take milliseconds each, and some bodies are large on purpose.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the relay and what every answer must satisfy -------------------------------------------


@dataclass
class FuzzRelay:
    """The relay under test, and the PhoneBurner mock whose calls are counted."""

    client: FlaskClient
    phoneburner: responses.RequestsMock

    def post(self, request: Post, **options) -> TestResponse:
        """Post one lead, check the answer against every invariant, and return it."""
        calls_before = len(self.phoneburner.calls)
        response = self.client.post(
            request.path, data=request.body, headers=request.headers, query_string=request.query_string, **options
        )
        calls = len(self.phoneburner.calls) - calls_before

        check_documented_answer(response, "POST", describe(request))
        assert calls <= 1
        if calls:
            seen = response.request
            assert may_reach_phoneburner(request.source, seen.headers, seen.args, request.body), describe(request)
        return response

    def get(self, path: str, **options) -> TestResponse:
        """Read a lead's status, check the answer against the document, and return it."""
        response = self.client.get(path, **options)
        check_documented_answer(response, "GET", f"{path} {options!r}")
        return response


@pytest.fixture(scope="module")
def relay():
    """The relay with a source of every kind, on its own SQLite store, PhoneBurner mocked."""
    folder = tempfile.mkdtemp(prefix="relay-fuzz-", dir=RAM_FOLDER if RAM_FOLDER.is_dir() else None)
    try:
        yield from _fuzz_relay(fresh_sqlite_url(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgresql_relay():
    """The same relay on PostgreSQL, which rejects some text that SQLite keeps.

    Skipped without a server, except in CI.
    """
    yield from _fuzz_relay(fresh_postgres_url())


def _fuzz_relay(store_url: str):
    document = fuzz_document()
    document["storage"] = {"url": store_url}
    # Warnings and errors are still logged. A line for every request would cost a tenth of the run.
    document["logging"] = {"level": "WARNING", "format": "json"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, PB_URL, callback=phoneburner_reply)
        yield FuzzRelay(build_app(document).test_client(), mock)


def check_documented_answer(response: TestResponse, method: str, request: str) -> None:
    """Assert the answer is no 5xx, and is the documented JSON envelope or redirect for its status.

    `request` describes the request in assertion messages, since a failure must show what was sent.
    """
    answer = f"{response.status_code} {response.get_data()[:300]!r} to {request}"
    assert response.status_code < 500, answer
    assert response.status_code in DOCUMENTED_STATUSES[method], answer
    assert REQUEST_ID.match(response.headers.get("X-Request-Id", "")), answer

    if response.status_code == 303:
        assert response.location.startswith((SUCCESS_URL + "?", ERROR_URL + "?")), answer
        return

    assert response.mimetype == "application/json", answer
    assert isinstance(response.get_json(), dict), answer
    documented = schemathesis.Response(
        status_code=response.status_code,
        headers={name.lower(): response.headers.getlist(name) for name in response.headers.keys()},  # noqa: SIM118
        content=response.get_data(),
        request=PLACEHOLDER_REQUEST,
        elapsed=0.0,
        verify=False,
    )
    try:
        LEAD_OPERATIONS[method].validate_response(documented)
    except Exception as error:  # schemathesis raises a group of failures, each naming a violation
        pytest.fail(f"answer not as documented: {answer}\n{error}")


def describe(request: Post) -> str:
    return f"{request.path}?{request.query_string} headers={request.headers!r} body={request.body[:200]!r}"



# --- the fuzz tests ------------------------------------------------------------------------


@fuzz(8000)
@given(
    source=SOURCE_NAMES,
    # The body matters only to the signed source, which checks its signature before parsing it.
    body=st.binary(max_size=500),
    content_type=CONTENT_TYPES,
    credentials=false_credentials(),
)
def test_unauthenticated_posts_never_reach_phoneburner(relay, source, body, content_type, credentials):
    headers, query = credentials
    request = Post(source=source, body=body, headers={**headers, "Content-Type": content_type}, query=query)
    calls_before = len(relay.phoneburner.calls)

    response = relay.post(request)

    assert len(relay.phoneburner.calls) == calls_before, describe(request)
    assert response.status_code in (401, 404), describe(request)


@fuzz(5000)
@given(request=authenticated_posts(bodies=st.binary(max_size=3000)), content_type=CONTENT_TYPES)
def test_random_bytes_never_fail(relay, request, content_type):
    relay.post(Post(request.source, request.body, {**request.headers, "Content-Type": content_type}, request.query))


@fuzz(4000)
@given(
    request=authenticated_posts(bodies=json_bodies()),
    media_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "application/vnd.api+json"]),
)
def test_random_json_never_fails(relay, request, media_type):
    relay.post(Post(request.source, request.body, {**request.headers, "Content-Type": media_type}, request.query))


@fuzz(2500)
@given(request=authenticated_posts(bodies=form_bodies()))
def test_random_form_fields_never_fail(relay, request):
    headers = {**request.headers, "Content-Type": FORM_TYPE}

    relay.post(Post(request.source, request.body, headers, request.query))


@fuzz(2500)
@given(data=st.data(), source=st.sampled_from(SOURCES))
def test_random_multipart_never_fails(relay, data, source):
    body, content_type = data.draw(multipart_bodies())
    headers, query = data.draw(proof_of_sender(source, body))

    relay.post(Post(source, body, {**headers, "Content-Type": content_type}, query))



@fuzz(2500)
@given(request=mutated_posts())
def test_mutated_sender_payloads_never_fail(relay, request):
    relay.post(request)


@fuzz(2500)
@given(
    data=st.data(),
    content_type=CONTENT_TYPES,
    content_length=st.none() | st.integers(0, 5000).map(str) | st.sampled_from(["", "abc", "-1", "1e3", "99999999999"]),
    extra_headers=st.dictionaries(
        st.sampled_from(
            [
                "Idempotency-Key", "X-Request-Id", "Origin", "Authorization", "X-Relay-Token", "Typeform-Signature",
                "webhook-id", "webhook-timestamp", "webhook-signature", "X-Forwarded-For", "Content-Encoding",
                "Transfer-Encoding", "Expect",
            ]
        ),
        HEADER_TEXT,
        max_size=5,
    ),
)
def test_random_headers_never_fail(relay, data, content_type, content_length, extra_headers):
    request = data.draw(authenticated_posts(bodies=SAMPLE_BODIES.map(lambda sample: sample[0])))
    headers = {**request.headers, **extra_headers, "Content-Type": content_type}
    overrides = {} if content_length is None else {"CONTENT_LENGTH": content_length}

    relay.post(Post(request.source, request.body, headers, request.query), environ_overrides=overrides)


@fuzz(1500)
@given(
    data=st.data(),
    source=SOURCE_NAMES,
    raw_query=st.lists(
        st.one_of(
            st.sampled_from(["token=", "&", "=", "customer=globex", "customer=acme", "leadstream=spanish", "%ff", "%"]),
            HEADER_TEXT.map(lambda text: quote(text, safe="=&%+")),
        ),
        max_size=8,
    ).map("".join),
)
def test_random_query_and_source_names_never_fail(relay, data, source, raw_query):
    body, content_type = data.draw(SAMPLE_BODIES)
    headers, query = data.draw(proof_of_sender(source, body))
    query_string = "&".join(filter(None, [raw_query, urlencode(query)]))

    relay.post(Post(source, body, {**headers, "Content-Type": content_type}, query_string))


@fuzz(1000)
@given(
    data=st.data(),
    email=st.one_of(st.emails(), st.sampled_from([DUPLICATE_EMAIL, UNAVAILABLE_EMAIL]), VALID_TEXT),
    phone=st.text(alphabet="0123456789 +-().xext#*", max_size=30),
    state=VALID_TEXT,
    country=VALID_TEXT,
    name=VALID_TEXT,
)
def test_random_lead_values_answer_2xx_or_4xx(relay, data, email, phone, state, country, name):
    fields = {"name": name, "email": email, "phone": phone, "state": state, "country": country}
    body = json.dumps(fields).encode()
    headers, query = data.draw(proof_of_sender("form-source", body))

    response = relay.post(Post("form-source", body, {**headers, "Content-Type": "application/json"}, query))

    assert response.status_code in (201, 202, 409, 422), response.get_data(as_text=True)


@fuzz(2000)
@given(
    lead_id=st.one_of(st.text(max_size=70), st.sampled_from(["0" * 32, "f" * 64, "a" * 65, "%00", "..", "%2F"])),
    token=st.one_of(st.sampled_from([TOKEN, ADMIN_TOKEN, ""]), WRONG_TOKENS),
    place=st.sampled_from(["bearer", "header", "query"]),
)
def test_random_lead_reads_never_fail(relay, lead_id, token, place):
    headers = {"Authorization": f"Bearer {token}"} if place == "bearer" else {}
    headers |= {"X-Relay-Token": token} if place == "header" else {}
    query = {"token": token} if place == "query" else {}

    response = relay.get("/v1/leads/" + quote(lead_id, safe="%"), headers=headers, query_string=query)

    assert response.status_code in (200, 401, 404)



@fuzz(400)
@given(request=any_posts() | mutated_posts(), lead_id=st.text(max_size=40))
def test_postgresql_store_takes_any_post(postgresql_relay, request, lead_id):
    postgresql_relay.post(request)

    response = postgresql_relay.get("/v1/leads/" + quote(lead_id, safe=""), headers={"X-Relay-Token": TOKEN})

    assert response.status_code in (200, 404)


# --- hostile bodies, one each --------------------------------------------------------------


def auth_headers(content_type: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}


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
def test_hostile_json_answers_4xx(relay, raw):
    response = relay.post(Post("form-source", raw.encode(), auth_headers("application/json")))

    assert 400 <= response.status_code < 500


def test_huge_body_answers_413(relay):
    response = relay.post(Post("form-source", b"a" * (2 * 1_048_576), auth_headers("application/json")))

    assert response.status_code == 413


def test_many_multipart_parts_answers_413(relay):
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="field%d"\r\n\r\nv\r\n' % index for index in range(700)
    )

    response = relay.post(Post("form-source", parts + b"--b--\r\n", auth_headers("multipart/form-data; boundary=b")))

    assert response.status_code == 413
