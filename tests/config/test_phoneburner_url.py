"""The `[phoneburner].url` check: a fixed https host, with no credentials, query or fragment of its own."""

from __future__ import annotations

import pytest

from app.config import ConfigError, parse_settings
from tests.config.test_loader import changed

LOCAL_HOSTS = [
    "127.0.0.1",
    "127.8.9.10",
    "localhost",
    "LocalHost.",
    "api.localhost",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 - a URL host to reject, not an address to bind
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    # Legacy IPv4 forms that the resolver reads as 127.0.0.1.
    "127.1",
    "2130706433",
    "0x7f.0.0.1",
    "017700000001",
]


def url_problems(url: str, *, insecure: bool = False) -> list[str]:
    document = changed(phoneburner__url=url, phoneburner__allow_insecure_url=insecure)
    try:
        parse_settings(document, "relay.toml")
    except ConfigError as error:
        return [problem for problem in error.problems if problem.startswith("phoneburner.url")]
    return []


@pytest.mark.parametrize(
    "url",
    [
        "https://www.phoneburner.com/api/vendor/put_contact",
        "https://www.phoneburner.com:8443/api/vendor/put_contact",
        "https://8.8.8.8/api/vendor/put_contact",
        "https://[2001:4860:4860::8888]/put_contact",
    ],
)
def test_public_https_url_accepted(url):
    assert url_problems(url) == []


def test_http_rejected():
    problems = url_problems("http://www.phoneburner.com/api/vendor/put_contact")

    assert problems == [
        "phoneburner.url: must use https://; set allow_insecure_url = true only for a local simulator"
    ]


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_host_rejected(host):
    problems = url_problems(f"https://{host}/api/vendor/put_contact")

    assert len(problems) == 1
    assert "is a local address" in problems[0]
    assert "allow_insecure_url = true" in problems[0]


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_local_host_allowed_when_insecure(host):
    assert url_problems(f"http://{host}:8081/api/vendor/put_contact", insecure=True) == []


def test_public_name_not_mistaken_for_address():
    assert url_problems("https://0x7f.example/put_contact") == []
    assert url_problems("https://127.0.0.1.nip.example/put_contact") == []


@pytest.mark.parametrize("insecure", [False, True])
def test_userinfo_rejected(insecure):
    problems = url_problems("https://relay:pa55word-xyz@www.phoneburner.com/put_contact", insecure=insecure)

    assert len(problems) == 1
    assert "remove the user name and password" in problems[0]
    assert "pa55word-xyz" not in problems[0]


@pytest.mark.parametrize("insecure", [False, True])
@pytest.mark.parametrize("url", ["https://pb.example/put_contact?user_id=1", "https://pb.example/put_contact?"])
def test_query_rejected(url, insecure):
    problems = url_problems(url, insecure=insecure)

    assert problems == [
        "phoneburner.url: remove the query string; the relay builds the whole query for each lead"
    ]


@pytest.mark.parametrize("insecure", [False, True])
@pytest.mark.parametrize("url", ["https://pb.example/put_contact#top", "https://pb.example/put_contact#"])
def test_fragment_rejected(url, insecure):
    problems = url_problems(url, insecure=insecure)

    assert problems == ["phoneburner.url: remove the fragment (the part from '#')"]


def test_key_in_query_named_and_masked():
    problems = url_problems("https://pb.example/put_contact?key=vendor-key-in-url-1234")

    assert len(problems) == 1
    assert "set it in vendor_key" in problems[0]
    assert "vendor-key-in-url-1234" not in problems[0]


@pytest.mark.parametrize("url", ["https://pb.example/put contact", "https://pb.example/p\r\nHost: evil.example"])
def test_whitespace_rejected(url):
    problems = url_problems(url)

    assert len(problems) == 1
    assert "whitespace or control characters" in problems[0]


def test_invalid_port_rejected():
    problems = url_problems("https://pb.example:99999/put_contact")

    assert problems == ["phoneburner.url: the port is not a number from 0 to 65535"]


def test_every_url_problem_reported_at_once():
    problems = url_problems("https://user@pb.example/put_contact?a=1#b", insecure=True)

    assert len(problems) == 3
