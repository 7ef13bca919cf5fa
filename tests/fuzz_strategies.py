"""Hypothesis strategies for the fuzz tests: requests, values, bodies, credentials, mutated payloads."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

from hypothesis import strategies as st

from tests.conftest import FIXTURE_ADAPTERS, OTHER_TOKEN, TOKEN, load_fixture
from tests.fuzzing import ADMIN_TOKEN, ALLOWED_ORIGIN, BROWSER_SOURCE, SIGNED_SOURCE, SOURCES, typeform_signature

FORM_TYPE = "application/x-www-form-urlencoded"


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


# --- mutated sender payloads -------------------------------------------------------------


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
