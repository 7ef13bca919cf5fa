"""Settings of the abuse limits: defaults, and errors that name the key and the fix."""

from __future__ import annotations

import pytest

from app.config import parse_settings
from tests.config.test_loader import changed, problems_of
from tests.conftest import base_document


def test_defaults_apply():
    settings = parse_settings(base_document())

    assert settings.limits.per_source == "600/minute"
    assert settings.limits.per_ip == "120/minute"
    assert settings.limits.per_ip_browser == "10/minute"
    assert settings.limits.storage_url == "memory://"
    assert settings.limits.max_field_name_chars == 200
    assert settings.limits.max_extras == 100
    assert settings.limits.body_timeout == 10.0
    assert settings.phoneburner.max_concurrent == 64
    source = settings.sources["landing"]
    assert (source.rate_limit, source.ip_rate_limit, source.honeypot) == (None, None, None)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("limits__per_source", "600 a minute"),
        ("limits__per_ip", "0/minute"),
        ("limits__per_ip_browser", ""),
        ("sources__landing__rate_limit", "fast"),
        ("sources__landing__ip_rate_limit", "10/fortnight"),
    ],
)
def test_bad_rate_limit_names_key(path, value):
    problems = problems_of(changed(**{path: value}))

    key = path.replace("__", ".")
    assert len(problems) == 1
    assert problems[0].startswith(f"{key}: invalid rate limit")
    assert '"120/minute"' in problems[0]


def test_several_rate_limits_accepted():
    settings = parse_settings(changed(sources__landing__rate_limit="10/second;500/hour"))

    assert settings.sources["landing"].rate_limit == "10/second;500/hour"


@pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "127.0.0.1:6379", "valkey://host/0"])
def test_unsupported_storage_names_key(url):
    problems = problems_of(changed(limits__storage_url=url))

    assert problems[0].startswith("limits.storage_url: unsupported storage")
    assert "redis://host:6379/0" in problems[0]


def test_storage_password_never_echoed():
    document = changed(limits__storage_url="redis://:hunter2-redis-password@host:6379/0", limits__per_ip="bad")

    problems = problems_of(document)

    assert all("hunter2-redis-password" not in problem for problem in problems)


def test_storage_password_masked_in_other_errors():
    password = "hunter2-redis-password"
    document = changed(limits__storage_url=f"rediss://:{password}@host:6379/0")
    document["sources"]["landing"]["customer"] = password

    problems = problems_of(document)

    assert problems
    assert all(password not in problem for problem in problems)


def test_redis_storage_accepted():
    settings = parse_settings(changed(limits__storage_url="redis://127.0.0.1:6379/3", limits__key_prefix="relay-a"))

    assert settings.limits.storage_url == "redis://127.0.0.1:6379/3"
    assert settings.limits.key_prefix == "relay-a"


def test_bad_key_prefix_names_key():
    problems = problems_of(changed(limits__key_prefix="has space"))

    assert problems[0].startswith("limits.key_prefix:")


def test_honeypot_on_mapped_field_rejected():
    document = changed(sources__landing__honeypot="mail", sources__landing__fields={"email": ["email", "mail"]})

    problems = problems_of(document)

    assert problems == [
        "sources.landing.honeypot: 'mail' is a field this source maps, so every real lead would be dropped; "
        "name a hidden field that people leave empty"
    ]


def test_honeypot_with_space_rejected():
    problems = problems_of(changed(sources__landing__honeypot="web site"))

    assert problems[0].startswith("sources.landing.honeypot:")


@pytest.mark.parametrize("origin", ["https://www.acme.example/contact", "https://acme.example?x=1", "acme.example"])
def test_origin_with_path_rejected(origin):
    document = changed(sources__landing__auth="none", sources__landing__allowed_origins=[origin])

    problems = problems_of(document)

    assert problems[0].startswith("sources.landing.allowed_origins[0]: invalid origin")


def test_origins_kept_lowercase_without_slash():
    document = changed(sources__landing__auth="none", sources__landing__allowed_origins=["https://WWW.Acme.example/"])

    assert parse_settings(document).sources["landing"].allowed_origins == ("https://www.acme.example",)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("phoneburner__max_concurrent", 0),
        ("limits__max_extras", 0),
        ("limits__max_field_name_chars", 5),
        ("limits__body_timeout", 0),
    ],
)
def test_out_of_range_limit_names_key(path, value):
    problems = problems_of(changed(**{path: value}))

    assert problems[0].startswith(path.replace("__", ".") + ":")
