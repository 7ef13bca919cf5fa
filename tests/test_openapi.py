"""The OpenAPI document: valid, served to anyone, and true to the relay under schemathesis."""

from __future__ import annotations

import json

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.openapi import DOCUMENT_PATH
from tests.conftest import PB_URL, TOKEN, build_app
from tests.fuzzing import (
    ADMIN_TOKEN,
    ALLOWED_ORIGIN,
    ALWAYS_200_SOURCE,
    BROWSER_SOURCE,
    DUPLICATE_EMAIL,
    SOURCES,
    UNAVAILABLE_EMAIL,
    fuzz_document,
    may_reach_phoneburner,
    phoneburner_reply,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Built at import, because schemathesis' pytest integration reads the schema while collecting tests.
# Its fixture-based loader, schemathesis.pytest.from_fixture, fails under pytest 9 (nodes have no _nodeid).
RELAY_APP = build_app(fuzz_document())
api = schemathesis.openapi.from_wsgi("/openapi.json", RELAY_APP)

# The source name the document gives as its example.
DOCUMENTED_SOURCE = api.raw_schema["components"]["parameters"]["SourceName"]["example"]

# Ids of the leads the `phoneburner` fixture stores, so reading a lead can find one.
STORED_LEAD_IDS: list[str] = []


@pytest.fixture(scope="module")
def phoneburner():
    """PhoneBurner mocked for RELAY_APP, which gets a few leads stored first."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, PB_URL, callback=phoneburner_reply)
        client = RELAY_APP.test_client()
        for source in ("form-source", "zapier-source"):
            answer = client.post(f"/v1/leads/{source}", json={"email": f"{source}@example.com"}, headers={
                "X-Relay-Token": TOKEN,
            })
            STORED_LEAD_IDS.append(answer.get_json()["lead_id"])
        yield mock
    STORED_LEAD_IDS.clear()


@api.hook
def map_case(context, case):
    # The coverage phase builds its cases on the document's example source name, which the test
    # relay does not have. Pointed at a real source with a valid token, their edge cases reach
    # the body parser and the store instead of stopping at 404.
    if (case.path_parameters or {}).get("id") == DOCUMENTED_SOURCE:
        case.path_parameters = {**case.path_parameters, "id": "form-source"}
        case.headers = {"X-Relay-Token": TOKEN, **(case.headers or {})}
    return case


@api.hook
def flatmap_path_parameters(context, path_parameters):
    # Random names would only ever find 404, so configured sources and stored leads are mixed in.
    known = STORED_LEAD_IDS if context.operation.method.upper() == "GET" else list(SOURCES)
    return st.sampled_from([path_parameters, *({"id": name} for name in known)])


@api.hook
def flatmap_headers(context, headers):
    # Random tokens would only ever find 401, so valid ones in each header and the allowed origin are mixed in.
    headers = headers or {}
    return st.sampled_from(
        [
            headers,
            {**headers, "Authorization": f"Bearer {TOKEN}"},
            {**headers, "X-Relay-Token": TOKEN},
            {**headers, "Authorization": f"Bearer {ADMIN_TOKEN}"},
            {**headers, "Origin": ALLOWED_ORIGIN},
        ]
    )


@api.hook
def flatmap_query(context, query):
    # The third way to send a token.
    query = query or {}
    return st.sampled_from([query, {**query, "token": TOKEN}])


@api.hook
def flatmap_body(context, body):
    # Random fields rarely hold a valid email, so leads PhoneBurner accepts, calls duplicates, or misses are mixed in.
    if not isinstance(body, dict):
        return st.just(body)
    emails = st.sampled_from(["lead@example.com", DUPLICATE_EMAIL, UNAVAILABLE_EMAIL])
    return st.one_of(st.just(body), emails.map(lambda email: {**body, "email": email}))


def test_document_is_valid_openapi():
    schema = schemathesis.openapi.from_path(DOCUMENT_PATH)

    schema.validate()
    assert schema.raw_schema["openapi"].startswith("3.1.")


def test_document_is_served_without_token():
    response = RELAY_APP.test_client().get("/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


def test_document_lists_every_route():
    documented = set(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))["paths"])
    # Flask's /v1/leads/<source_name> and /v1/leads/<lead_id> are one path in the document.
    served = {
        rule.rule.replace("<source_name>", "{id}").replace("<lead_id>", "{id}")
        for rule in RELAY_APP.url_map.iter_rules()
        # The operators' console is HTML pages behind a login, not part of the API.
        if rule.endpoint != "static" and not rule.rule.startswith("/console")
    }

    assert served <= documented


@api.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_relay_conforms_to_document(case, phoneburner):
    calls_before = len(phoneburner.calls)

    response = case.call_and_validate(checks=CHECKS)

    calls = len(phoneburner.calls) - calls_before
    assert calls <= 1
    if calls:
        request = response.request
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        assert may_reach_phoneburner(case.path_parameters["id"], request.headers, case.query or {}, body)


TOKEN_HEADERS = {"X-Relay-Token": TOKEN}

# One request for every answer the relay can give with PhoneBurner mocked, so each documented
# status code is checked against the document even when the random run above misses it.
ANSWERS = [
    ("delivered", "POST", "/v1/leads/form-source", {"json": {"email": "answers@example.com"}}, 201),
    ("queued", "POST", "/v1/leads/form-source", {"json": {"email": UNAVAILABLE_EMAIL}}, 202),
    ("duplicate", "POST", "/v1/leads/form-source", {"json": {"email": DUPLICATE_EMAIL}}, 409),
    ("rejected", "POST", "/v1/leads/form-source", {"json": {"first_name": "Ada"}}, 422),
    ("ignored", "POST", "/v1/leads/typeform-source", {"json": {"event_type": "form_deleted"}}, 200),
    ("always-200", "POST", f"/v1/leads/{ALWAYS_200_SOURCE}", {"data": {"form_id": "1", "form_name": "Quote"}}, 200),
    ("redirect", "POST", f"/v1/leads/{BROWSER_SOURCE}", {"data": {"email": "browser@example.com"}, "auth": None,
                                                    "headers": {"Origin": ALLOWED_ORIGIN}}, 303),
    ("unparseable", "POST", "/v1/leads/form-source", {"data": b"{", "content_type": "application/json"}, 400),
    ("bad-key", "POST", "/v1/leads/form-source", {"json": {}, "headers": {"Idempotency-Key": "k" * 256}}, 400),
    ("no-token", "POST", "/v1/leads/form-source", {"json": {}, "auth": None}, 401),
    ("unknown-source", "POST", "/v1/leads/nowhere", {"json": {}}, 404),
    ("too-large", "POST", "/v1/leads/form-source", {"json": {"note": "x" * 1_100_000}}, 413),
    ("plain-text", "POST", "/v1/leads/form-source", {"data": b"email=a", "content_type": "text/plain"}, 415),
    ("preflight", "OPTIONS", f"/v1/leads/{BROWSER_SOURCE}", {"headers": {"Origin": ALLOWED_ORIGIN}}, 204),
    ("foreign-preflight", "OPTIONS", f"/v1/leads/{BROWSER_SOURCE}", {"headers": {"Origin": "https://x.test"}}, 401),
    ("read-lead", "GET", "/v1/leads/{stored}", {}, 200),
    ("read-lead-as-admin", "GET", "/v1/leads/{stored}", {"headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}, 200),
    ("read-unknown-lead", "GET", "/v1/leads/0123456789abcdef", {}, 404),
    ("read-without-token", "GET", "/v1/leads/{stored}", {"auth": None}, 401),
    ("health", "GET", "/healthz", {}, 200),
    ("ready", "GET", "/readyz", {}, 200),
    ("version", "GET", "/version", {}, 200),
    ("metrics", "GET", "/metrics", {"auth": None, "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}, 200),
    ("metrics-without-token", "GET", "/metrics", {"auth": None}, 401),
    ("document", "GET", "/openapi.json", {}, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "request_options", "expected_status"),
    [answer[1:] for answer in ANSWERS],
    ids=[answer[0] for answer in ANSWERS],
)
def test_each_answer_conforms(phoneburner, method, path, request_options, expected_status):
    options = dict(request_options)
    headers = {**({} if options.pop("auth", TOKEN_HEADERS) is None else TOKEN_HEADERS), **options.pop("headers", {})}
    url = path.format(stored=STORED_LEAD_IDS[0])

    response = RELAY_APP.test_client().open(url, method=method, headers=headers, **options)

    assert response.status_code == expected_status, response.get_data(as_text=True)
    _documented_case(method, url).validate_response(response, checks=CHECKS)


def _documented_case(method: str, url: str):
    """Return a schemathesis case of the documented operation that `method` and `url` call."""
    if url.startswith("/v1/leads/"):
        return api["/v1/leads/{id}"][method].Case(path_parameters={"id": url.removeprefix("/v1/leads/")})
    return api[url][method].Case()
