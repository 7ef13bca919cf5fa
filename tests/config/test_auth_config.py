"""Configuration of sender authentication: the hmac table, Standard Webhooks secrets, allowed_ips, masking."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from app.cli import describe
from app.config import ConfigError, parse_settings
from app.config.model import HmacSettings
from tests.config.test_loader import changed, problems_of
from tests.conftest import build_app
from tests.intake.signing import HMAC_SECRET, WEBHOOK_KEY, WEBHOOK_SECRET, hmac_source, webhook_source


def with_source(**source):
    document = changed()
    document["sources"]["signed"] = {"customer": "acme", **source}
    return document


def problems(**source) -> list[str]:
    return problems_of(with_source(**source))


def assert_named(found: list[str], key: str, text: str) -> None:
    assert any(problem.startswith(key) and text in problem for problem in found), found


class TestHmac:
    def test_defaults_applied(self):
        settings = parse_settings(with_source(auth="hmac", signing_secret=HMAC_SECRET, hmac={"header": "X-Sig"}))

        source = settings.sources["signed"]
        assert source.hmac == HmacSettings(header="X-Sig", algorithm="sha256", encoding="hex", prefix="")
        assert source.hmac.timestamp_header is None
        assert source.signing_secrets == (HMAC_SECRET,)

    def test_every_key_loaded(self):
        settings = parse_settings(with_source(**hmac_source(algorithm="sha512", encoding="base64")))

        assert settings.sources["signed"].hmac == HmacSettings(
            header="X-Signature",
            algorithm="sha512",
            encoding="base64",
            prefix="sha256=",
            timestamp_header="X-Timestamp",
        )

    @pytest.mark.parametrize(
        ("table", "key", "text"),
        [
            ({}, "sources.signed.hmac.header", "missing"),
            ({"header": "X Sig"}, "sources.signed.hmac.header", "invalid header name"),
            ({"header": "X-Sig", "algorithm": "md5"}, "sources.signed.hmac.algorithm", "sha256"),
            ({"header": "X-Sig", "encoding": "base32"}, "sources.signed.hmac.encoding", "hex"),
            ({"header": "X-Sig", "prefix": " sha256="}, "sources.signed.hmac.prefix", "printable ASCII"),
            ({"header": "X-Sig", "timestamp_header": "X:Time"}, "sources.signed.hmac.timestamp_header", "invalid"),
            ({"header": "X-Sig", "algoritm": "sha1"}, "sources.signed.hmac.algoritm", "did you mean 'algorithm'"),
        ],
    )
    def test_bad_table_names_key(self, table, key, text):
        assert_named(problems(auth="hmac", signing_secret=HMAC_SECRET, hmac=table), key, text)

    def test_auth_hmac_needs_table(self):
        assert_named(problems(auth="hmac", signing_secret=HMAC_SECRET), "sources.signed.hmac", "[sources.NAME.hmac]")

    @pytest.mark.parametrize("auth", ["token", "signature", "standard_webhooks"])
    def test_table_needs_auth_hmac(self, auth):
        found = problems(auth=auth, tokens=["t" * 16], signing_secret=WEBHOOK_SECRET, hmac={"header": "X-Sig"})

        assert_named(found, "sources.signed.hmac", 'only with auth = "hmac"')

    def test_auth_hmac_needs_secret(self):
        assert_named(problems(auth="hmac", hmac={"header": "X-Sig"}), "sources.signed.signing_secret", "needs")


class TestStandardWebhooks:
    def test_rotation_list_loaded(self):
        settings = parse_settings(with_source(**webhook_source()))

        assert len(settings.sources["signed"].signing_secrets) == 2

    def test_unpadded_key_accepted(self):
        secret = "whsec_" + WEBHOOK_KEY.rstrip("=")

        assert parse_settings(with_source(auth="standard_webhooks", signing_secret=secret))

    def test_needs_secret(self):
        assert_named(problems(auth="standard_webhooks"), "sources.signed.signing_secret", "needs")

    @pytest.mark.parametrize(
        "secret",
        ["whsec_not*base64!", "whsec_", "whsec_abcde", WEBHOOK_KEY, "plain-shared-secret-0001"],
        ids=["not-base64", "empty-key", "bad-length", "no-prefix", "plain"],
    )
    def test_invalid_secret_names_key_without_echoing_it(self, secret):
        found = problems(auth="standard_webhooks", signing_secret=["whsec_" + WEBHOOK_KEY, secret])

        assert_named(found, "sources.signed.signing_secret", "secret 2 is not a Standard Webhooks secret")
        assert all(secret not in problem for problem in found)


class TestAllowedIps:
    def test_networks_and_addresses_loaded(self):
        settings = parse_settings(
            with_source(tokens=["t" * 16], allowed_ips=["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"])
        )

        assert settings.sources["signed"].allowed_ips == (
            ipaddress.ip_network("203.0.113.0/24"),
            ipaddress.ip_network("2001:db8::/32"),
            ipaddress.ip_network("192.0.2.7/32"),
        )

    def test_default_allows_anyone(self):
        assert parse_settings(with_source(tokens=["t" * 16])).sources["signed"].allowed_ips == ()

    @pytest.mark.parametrize("value", ["203.0.113.0/33", "example.com", 7])
    def test_invalid_entry_names_key(self, value):
        assert_named(problems(tokens=["t" * 16], allowed_ips=[value]), "sources.signed.allowed_ips[0]", "")


class TestMasking:
    def test_check_config_masks_signing_secrets(self):
        document = with_source(**hmac_source(), allowed_ips=["203.0.113.0/24"])
        document["sources"]["hooks"] = {"customer": "acme", **webhook_source()}

        text = describe(parse_settings(document))

        assert HMAC_SECRET not in text
        assert WEBHOOK_KEY not in text
        assert "HMAC-SHA256 (hex) in X-Signature, timestamp in X-Timestamp, 2 secret(s)" in text
        assert "Standard Webhooks signature, 2 secret(s)" in text
        assert "client IPs     203.0.113.0/24" in text

    def test_error_messages_mask_bare_webhook_key(self):
        # An invalid LeadStream name is echoed in its message, so the key would show unmasked.
        document = with_source(**webhook_source(), leadstream=WEBHOOK_KEY)

        with pytest.raises(ConfigError) as raised:
            parse_settings(document)

        assert "invalid name '****'" in str(raised.value)
        assert WEBHOOK_KEY not in str(raised.value)

    def test_logs_redact_bare_webhook_key(self, capsys):
        build_app(with_source(**webhook_source()))

        logging.getLogger("relay.test").warning("leaked %s and %s", WEBHOOK_KEY, WEBHOOK_SECRET)

        err = capsys.readouterr().err
        assert "leaked" in err
        assert WEBHOOK_KEY not in err
