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

import copy
import functools
import itertools
import json
import random
import re
import shutil
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import requests
import responses
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from app.openapi import DOCUMENT_PATH
from tests.conftest import FIXTURE_ADAPTERS, OTHER_TOKEN, PB_URL, TOKEN, build_app, load_fixture
from tests.fuzzing import (
    ADMIN_TOKEN,
    ALLOWED_ORIGIN,
    BROWSER_SOURCE,
    DUPLICATE_EMAIL,
    ERROR_URL,
    SIGNED_SOURCE,
    SOURCES,
    SUCCESS_URL,
    UNAVAILABLE_EMAIL,
    fuzz_document,
    may_reach_phoneburner,
    phoneburner_reply,
    typeform_signature,
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
FORM_TYPE = "application/x-www-form-urlencoded"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def fuzz(max_examples: int) -> settings:
    """Return the settings of one fuzz test: `max_examples` cases, the same ones on every run."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        # Whole requests through the app take milliseconds each, and some bodies are large on purpose.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the relay and what every answer must satisfy -------------------------------------------


@dataclass(frozen=True)
class Post:
    """One request to POST /v1/leads/<source>, as the fuzz tests build it."""

    source: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Pairs to encode, or a raw query string sent as it is.
    query: list[tuple[str, str]] | str = field(default_factory=list)

    @property
    def path(self) -> str:
        return "/v1/leads/" + quote(self.source, safe="")

    @property
    def query_string(self) -> str:
        return self.query if isinstance(self.query, str) else urlencode(self.query)


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


# --- values --------------------------------------------------------------------------------


def _adapter_keys() -> list[str]:
    """Return the field and envelope names the adapters look for, so random JSON reaches deep into them."""
    names: set[str] = set()
    for module in Path(__file__).resolve().parent.parent.joinpath("app", "adapters").glob("*.py"):
        names |= set(re.findall(r'"([A-Za-z_][A-Za-z0-9_.\-\[\]]{0,40})"', module.read_text(encoding="utf-8")))
    return sorted(names)


ADAPTER_KEYS = _adapter_keys()

# Strings senders really send, and strings that often break parsers.
AWKWARD_TEXT = [
    "", " ", "\t", "null", "true", "0", "-0", "1e999", "9" * 40, "x" * 300,
    "john%40example.com", "john%2540example.com", "jeff+tag@example.com", "jeff tag@example.com",
    "O\\'Brien", "&amp;lt;b&amp;gt;", "&#x0;", "+1 (949) 555-0123", "949.555.0123 ext 7", "+44 20 7946 0958",
    "a@b", "@", "@@", "a@example.com", "Texas", "tx", "Deutschland", "United States of America",
    "\u0000", "\ufeff", "\u200b", "\u202e", "e\u0301", "\ud800", "\udfff", "\U0001f600", "\r\n", "%", "%ff",
]

SURROGATE = re.compile("[\ud800-\udfff]")

# Text that UTF-8 can carry, and text with lone surrogates, which only JSON escapes can carry.
VALID_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from([text for text in AWKWARD_TEXT if not SURROGATE.search(text)]),
    st.sampled_from(ADAPTER_KEYS),
)
TEXT = st.one_of(
    VALID_TEXT,
    st.sampled_from([text for text in AWKWARD_TEXT if SURROGATE.search(text)]),
    st.text(st.characters(codec=None, categories=["Cs", "Co", "Cc", "Zs"]), max_size=8),
)
KEYS = st.one_of(st.sampled_from(ADAPTER_KEYS), st.text(max_size=12), st.sampled_from(AWKWARD_TEXT))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53 - 2, max_value=2**70),
    st.floats(),
    TEXT,
)


def json_containers(children: st.SearchStrategy) -> st.SearchStrategy:
    """Draw JSON arrays and objects of `children`."""
    return st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6)


JSON_VALUES = st.recursive(JSON_SCALARS, json_containers, max_leaves=12)

# Characters that survive in an HTTP header value as a WSGI server passes it on (latin-1, no line breaks).
HEADER_ALPHABET = "".join(chr(code) for code in range(256) if chr(code) not in "\r\n")
HEADER_TEXT = st.text(HEADER_ALPHABET, max_size=40)


def seeded_texts(alphabet: str, *, count: int = 500, max_size: int = 40) -> list[str]:
    """Return `count` random strings from a fixed seed, the same on every run.

    The widest tests draw from such lists: picking one costs a fraction of generating
    text in every example, which is what lets them send tens of thousands of requests.
    """
    seeded = random.Random(alphabet)  # noqa: S311 (test data, not a secret)
    return ["".join(seeded.choices(alphabet, k=seeded.randint(0, max_size))) for _ in range(count)]


SEEDED_HEADER_TEXT = st.sampled_from(seeded_texts(HEADER_ALPHABET))


def mostly(values: list[str], others: st.SearchStrategy) -> st.SearchStrategy:
    """Draw one of `values` three times in four, else from `others`."""
    known = st.sampled_from(values)
    return st.one_of(known, known, known, others)


# Tokens that must not authenticate: near misses of real ones, the admin's, noise.
WRONG_TOKENS = mostly(
    [TOKEN[:-1], TOKEN + "x", TOKEN.upper(), TOKEN[1:], ADMIN_TOKEN, "", " ", "Bearer"], SEEDED_HEADER_TEXT
)

MEDIA_TYPES = mostly(
    [
        "application/json", FORM_TYPE, "multipart/form-data", "text/plain",
        "application/vnd.api+json", "application/json-patch+json", "APPLICATION/JSON", "application/xml",
        "multipart/mixed", "application/", "/", "*/*", "", ";", "json", "+json", "application/+json",
    ],
    SEEDED_HEADER_TEXT,
)
MEDIA_TYPE_PARAMETERS = st.tuples(
    st.sampled_from(["charset", "boundary", "Charset", "q", ""]) | SEEDED_HEADER_TEXT,
    st.sampled_from(["utf-8", "UTF-8", "latin-1", "utf-16", "ascii", '"utf-8"', '""', "x" * 100]) | SEEDED_HEADER_TEXT,
)
COMMON_CONTENT_TYPES = st.sampled_from(
    [
        "application/json; charset=utf-8", "application/json; charset=latin-1", "application/json; charset=utf-16",
        "application/x-www-form-urlencoded; charset=UTF-8", "application/x-www-form-urlencoded; charset=iso-8859-1",
        "multipart/form-data; boundary=b", "multipart/form-data; boundary=", 'multipart/form-data; boundary="b"',
        "text/plain; charset=utf-8", "application/json;", "application/json; charset", "application/json; ;;",
    ]
)
# Half are common types with awkward parameters, a quarter bare media types, a quarter built at random.
CONTENT_TYPES = st.one_of(
    COMMON_CONTENT_TYPES,
    COMMON_CONTENT_TYPES,
    MEDIA_TYPES,
    st.builds(
        lambda media_type, parameters: media_type + "".join(f"; {name}={value}" for name, value in parameters),
        MEDIA_TYPES,
        st.lists(MEDIA_TYPE_PARAMETERS, max_size=3),
    ),
)

# Source names: the configured ones, near misses, and text that needs escaping in a path.
SOURCE_NAMES = st.one_of(
    st.sampled_from(SOURCES),
    st.sampled_from(SOURCES).map(str.upper),
    st.sampled_from(SOURCES).map(lambda name: name + " "),
    # Letters of many scripts, symbols, controls, path separators and percent signs.
    st.sampled_from(seeded_texts("".join(map(chr, range(1, 0x3000))) + "/%?#", max_size=30)),
)


# --- bodies --------------------------------------------------------------------------------


@st.composite
def json_bodies(draw) -> bytes:
    """Draw a JSON body: random shapes and depths, large numbers, escapes of lone surrogates."""
    objects = st.dictionaries(KEYS, JSON_SCALARS | JSON_VALUES, max_size=8)
    document = draw(st.one_of(JSON_VALUES, objects, nested_json()))
    if draw(st.integers(0, 5)) == 0:
        document = [document] * draw(st.integers(1, 2))
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


def nested_json() -> st.SearchStrategy:
    """Draw objects and arrays nested up to 80 levels, past the relay's limit of 32."""
    def nest(depth: int, leaf: object, use_lists: bool) -> object:
        document = {"email": leaf}
        for level in range(1, depth):
            document = [document] if use_lists and level % 2 else {"a": document}
        return document

    return st.builds(nest, st.integers(1, 80), JSON_SCALARS, st.booleans())


@st.composite
def form_bodies(draw) -> bytes:
    """Draw an urlencoded body: random keys and values, repeated keys, and raw percent-escapes."""
    pairs = draw(st.lists(st.tuples(KEYS, TEXT), max_size=12))
    encoded = urlencode([(key, value) for key, value in pairs], encoding="utf-8", errors="surrogatepass")
    raw_pieces = st.one_of(
        st.sampled_from(["%", "%2", "%zz", "%ff", "%c3%28", "%e2%82", "%00", "+", "&", "=", "&&", "%26", "%3D", "%25"]),
        st.text(string.ascii_letters + string.digits + "@.-_", max_size=6),
    )
    raw = draw(st.lists(raw_pieces, max_size=10).map("".join))
    return (encoded + draw(st.sampled_from(["", "&"])) + raw).encode()


# Boundaries as tools write them, and ones that need quoting or break parsers.
BOUNDARIES = st.one_of(
    st.sampled_from(["b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "x" * 70, "a b", "a;b", 'a"b', "é", "--", "="]),
    st.text(string.ascii_letters + string.digits + "'()+_,-./:=? ", min_size=1, max_size=70),
)
PART_CONTENT = st.one_of(
    TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.sampled_from(["Zoë".encode("latin-1"), b"\xff\xfe", b"\x00", b"--b--", b"\r\n\r\n"]),
)
FILE_NAMES = st.sampled_from(["", "lead.csv", "../../etc/passwd", 'a"b.txt', "résumé.pdf", "\x00"])
PART_TYPES = st.sampled_from(["text/plain", "text/plain; charset=latin-1", "application/octet-stream", "", "x"])


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    """Draw a multipart body and its Content-Type: random boundaries, parts, file names, truncations."""
    boundary = draw(BOUNDARIES)
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    delimiter = b"--" + boundary.encode("utf-8") + newline

    parts = []
    for _ in range(draw(st.integers(0, 5))):
        disposition = f'Content-Disposition: form-data; name="{draw(KEYS)}"'
        if draw(st.integers(0, 3)) == 0:
            disposition += f'; filename="{draw(FILE_NAMES)}"'
        headers = [disposition.encode("utf-8", "surrogatepass")]
        if draw(st.integers(0, 3)) == 0:
            headers.append(b"Content-Type: " + draw(PART_TYPES).encode())
        parts.append(delimiter + newline.join(headers) + newline + newline + draw(PART_CONTENT) + newline)
    body = b"".join(parts) + b"--" + boundary.encode("utf-8") + b"--" + newline
    if draw(st.integers(0, 3)) == 0:
        body = body[: draw(st.integers(0, len(body)))]

    declared = draw(st.sampled_from([boundary, f'"{boundary}"', boundary + "x", ""]))
    return body, f"multipart/form-data; boundary={declared}"


RANDOM_BODIES = st.one_of(
    st.binary(max_size=3000),
    json_bodies(),
    form_bodies(),
    multipart_bodies().map(lambda body_and_type: body_and_type[0]),
)


# --- credentials ---------------------------------------------------------------------------


@st.composite
def proof_of_sender(draw, source: str, body: bytes) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Draw headers and query pairs that authenticate a post of `body` to `source`."""
    if source == BROWSER_SOURCE:
        return draw(st.sampled_from([{}, {"Origin": ALLOWED_ORIGIN}, {"Origin": ALLOWED_ORIGIN + "/"}])), []
    if source == SIGNED_SOURCE:
        return {"Typeform-Signature": typeform_signature(body)}, []

    token = draw(st.sampled_from([TOKEN, OTHER_TOKEN]))
    place = draw(st.sampled_from(["bearer", "header", "query"]))
    if place == "query":
        return {}, [("token", token)]
    if place == "header":
        return {"X-Relay-Token": token}, []
    return {"Authorization": draw(st.sampled_from(["Bearer ", "bearer ", "BEARER   "])) + token}, []


# Where a request can put a credential, and every combination of them: a false one may go anywhere.
CREDENTIAL_PLACES = ("Authorization", "X-Relay-Token", "token", "Typeform-Signature")
CREDENTIAL_COMBINATIONS = [
    places for size in range(len(CREDENTIAL_PLACES) + 1) for places in itertools.combinations(CREDENTIAL_PLACES, size)
]
AUTHORIZATION_SCHEMES = st.sampled_from(["Bearer ", "bearer ", "Basic ", "Token ", "", "Bearer"])
# The browser-form source takes any post without an Origin, so a false request sends a foreign one.
FOREIGN_ORIGINS = mostly(
    ["null", "https://evil.example", ALLOWED_ORIGIN + ".evil.example", "http://forms.example.com", ""],
    SEEDED_HEADER_TEXT,
)


@st.composite
def false_credentials(draw) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Draw headers and query pairs that prove nothing: wrong tokens and schemes, bad signatures, foreign origins."""
    places = draw(st.sampled_from(CREDENTIAL_COMBINATIONS))
    token = draw(WRONG_TOKENS)
    headers = {"Origin": draw(FOREIGN_ORIGINS)}
    query = []
    for place in places:
        if place == "token":
            query.append((place, token))
        elif place == "Authorization":
            headers[place] = draw(AUTHORIZATION_SCHEMES) + token
        else:
            headers[place] = token
    return headers, query


@st.composite
def authenticated_posts(draw, bodies=RANDOM_BODIES) -> Post:
    """Draw a post that proves its sender, to a configured source, with a body from `bodies`."""
    source = draw(st.sampled_from(SOURCES))
    body = draw(bodies)
    headers, query = draw(proof_of_sender(source, body))
    return Post(source=source, body=body, headers=headers, query=query)


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


def json_paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Return the path of every member of a JSON document, the root's empty path first."""
    paths = [prefix]
    if isinstance(node, dict):
        members = list(node.items())
    elif isinstance(node, list):
        members = list(enumerate(node))
    else:
        members = []
    for key, member in members:
        paths += json_paths(member, (*prefix, key))
    return paths


@st.composite
def mutated_json(draw, document: object) -> object:
    """Draw a copy of a JSON document with one to three members dropped, replaced or retyped."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(json_paths(document)))
        action = draw(st.sampled_from(["drop", "replace", "retype"]))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        old = parent[path[-1]] if path else document

        if action == "retype":
            new = draw(st.sampled_from([None, "", [], {}, 0, [old], {"value": old}]))
        else:
            new = draw(JSON_VALUES)
        if not path:
            document = new
        elif action == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
    return document


@st.composite
def mutated_bytes(draw, raw: bytes) -> bytes:
    """Draw a byte-level mutation of a body: truncated, with bytes replaced or inserted."""
    position = draw(st.integers(0, len(raw)))
    action = draw(st.sampled_from(["truncate", "replace", "insert"]))
    if action == "truncate":
        return raw[:position]
    patch = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"%", b"\xff", b"\r\n", b"--", b"\x00", b"&"]))
    skip = len(patch) if action == "replace" else 0
    return raw[:position] + patch + raw[position + skip:]


@functools.cache
def seed_payload(name: str) -> tuple[bytes, str, object]:
    """Return a shared sender payload: its body, its Content-Type, and its JSON document or form pairs."""
    raw, meta = load_fixture(name)
    content_type = meta["content_type"]
    if content_type.startswith("application/json"):
        return raw, content_type, json.loads(raw)
    if content_type.startswith(FORM_TYPE):
        return raw, content_type, [list(pair) for pair in parse_qsl(raw.decode(), keep_blank_values=True)]
    return raw, content_type, None


@st.composite
def mutated_payloads(draw) -> tuple[str, bytes, str]:
    """Draw a real sender's payload, mutated: returns the adapter's source, the body and its Content-Type."""
    name = draw(st.sampled_from(sorted(FIXTURE_ADAPTERS)))
    raw, content_type, parsed = seed_payload(name)

    if parsed is None or draw(st.integers(0, 3)) == 0:
        body = draw(mutated_bytes(raw))
    elif content_type.startswith("application/json"):
        body = json.dumps(draw(mutated_json(parsed)), ensure_ascii=False).encode("utf-8", "surrogatepass")
    else:
        mutated = draw(mutated_json(parsed))
        pairs = [_form_pair(item) for item in (mutated if isinstance(mutated, list) else [mutated])]
        body = urlencode(pairs, errors="surrogatepass").encode()
    return f"{FIXTURE_ADAPTERS[name]}-source", body, content_type


def _form_pair(item: object) -> tuple[str, str]:
    """Return a form field from a mutated [key, value] pair, whatever it became."""
    def text(value: object) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    if isinstance(item, list) and len(item) == 2:
        return text(item[0]), text(item[1])
    return "field", text(item)


# Whole bodies with their content types, for the tests whose random part is elsewhere.
SAMPLE_BODIES = st.sampled_from(
    [seed_payload(name)[:2] for name in sorted(FIXTURE_ADAPTERS)]
    + [(b'{"email": "sample@example.com"}', "application/json"), (b"email=sample%40example.com", FORM_TYPE)]
)


@st.composite
def mutated_posts(draw) -> Post:
    """Draw an authenticated post of a mutated sender payload to the source of its adapter."""
    source, body, content_type = draw(mutated_payloads())
    headers, query = draw(proof_of_sender(source, body))
    return Post(source, body, {**headers, "Content-Type": content_type}, query)


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


@st.composite
def any_posts(draw) -> Post:
    """Draw an authenticated post of a JSON, form or multipart body, with random Content-Type parameters."""
    body, media_type = draw(
        st.one_of(
            json_bodies().map(lambda body: (body, "application/json")),
            form_bodies().map(lambda body: (body, FORM_TYPE)),
            multipart_bodies(),
        )
    )
    source = draw(st.sampled_from(SOURCES))
    headers, query = draw(proof_of_sender(source, body))
    content_type = media_type + draw(st.just("") | HEADER_TEXT.map(lambda text: "; note=" + text))
    return Post(source, body, {**headers, "Content-Type": content_type}, query)


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
