"""Configuration: the [admin] table's console keys, session_secret and session_hours."""

from __future__ import annotations

import pytest

from app.cli import describe
from app.config import ConfigError, parse_settings
from tests.conftest import base_document

ADMIN_TOKEN = "admin-token-for-tests-0001"
SESSION_SECRET = "session-secret-for-tests-0123456789abcdef"


def with_admin(**admin) -> dict:
    document = base_document()
    document["admin"] = admin
    return document


def test_session_defaults():
    settings = parse_settings(with_admin(token=ADMIN_TOKEN))

    assert settings.admin_session_secret is None
    assert settings.admin_session_hours == 12


def test_session_keys_load():
    settings = parse_settings(with_admin(token=ADMIN_TOKEN, session_secret=SESSION_SECRET, session_hours=1.5))

    assert settings.admin_session_secret == SESSION_SECRET
    assert settings.admin_session_hours == 1.5
    assert SESSION_SECRET not in repr(settings)


def test_empty_session_secret_means_none():
    settings = parse_settings(with_admin(token=ADMIN_TOKEN, session_secret=""))

    assert settings.admin_session_secret is None


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ({"session_secret": "too-short-secret"}, "admin.session_secret: use at least 32 characters"),
        ({"session_hours": 0}, "admin.session_hours: use a number of hours from 0.25 to 720"),
        ({"session_hours": 1000}, "admin.session_hours: use a number of hours from 0.25 to 720"),
        ({"session_hour": 3}, "admin.session_hour: unknown key (did you mean 'session_hours'?)"),
    ],
)
def test_invalid_session_keys_named(admin, expected):
    with pytest.raises(ConfigError) as raised:
        parse_settings(with_admin(token=ADMIN_TOKEN, **admin))

    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_short_session_secret_masked_in_error():
    with pytest.raises(ConfigError) as raised:
        parse_settings(with_admin(token=ADMIN_TOKEN, session_secret="short-secret-1234"))

    assert "short-secret-1234" not in str(raised.value)


def test_check_config_masks_session_secret():
    text = describe(parse_settings(with_admin(token=ADMIN_TOKEN, session_secret=SESSION_SECRET)))

    assert SESSION_SECRET not in text
    assert "console session:   12 hours, signed with [admin].session_secret ****(41 chars)" in text


def test_check_config_console_off_without_token():
    text = describe(parse_settings(base_document()))

    assert "console session:   off (set [admin].token to open /console/)" in text
