"""Configuration loading: interpolation, validation, and errors that name key and fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings, loader, parse_settings
from app.config.interpolate import UnresolvedVariable, interpolate
from tests.conftest import TOKEN, VENDOR_KEY, base_document

EXAMPLE = str(Path(__file__).resolve().parents[2] / "config" / "relay.example.toml")


def problems_of(document) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(document, "relay.toml")
    assert "relay.toml" in str(raised.value)
    return raised.value.problems


def changed(**tables):
    document = copy.deepcopy(base_document())
    for path, value in tables.items():
        node = document
        *parents, last = path.split("__")
        for parent in parents:
            node = node.setdefault(parent, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return document


class TestInterpolation:
    def test_variable_replaced(self):
        assert interpolate({"a": "x-${V}-y"}, {"V": "1"}) == {"a": "x-1-y"}

    def test_default_used_when_unset(self):
        assert interpolate({"a": "${V:-fallback}"}, {}) == {"a": "fallback"}

    def test_default_used_when_empty(self):
        assert interpolate({"a": "${V:-fallback}"}, {"V": ""}) == {"a": "fallback"}

    def test_escape_kept_literal(self):
        assert interpolate({"a": "$${V}"}, {"V": "1"}) == {"a": "${V}"}

    def test_lists_and_nested_tables(self):
        document = {"s": {"t": {"tokens": ["${A}", "b"]}}}
        assert interpolate(document, {"A": "a"}) == {"s": {"t": {"tokens": ["a", "b"]}}}

    def test_non_strings_untouched(self):
        assert interpolate({"n": 3, "b": True}, {}) == {"n": 3, "b": True}

    def test_unset_variable_names_it_and_key(self):
        with pytest.raises(UnresolvedVariable) as raised:
            interpolate({"phoneburner": {"vendor_key": "${PB_KEY}"}}, {})
        assert raised.value.path == "phoneburner.vendor_key"
        assert "PB_KEY" in raised.value.message

    def test_malformed_reference_rejected(self):
        with pytest.raises(UnresolvedVariable):
            interpolate({"a": "${not closed"}, {})


class TestValidation:
    def test_valid_document_builds_settings(self):
        settings = parse_settings(base_document())

        assert settings.phoneburner.vendor_key == VENDOR_KEY
        assert settings.phoneburner.connect_timeout == 2
        assert settings.phoneburner.read_timeout == 5
        assert settings.customers["acme"].leadstreams["spanish"] == "ZZZZ"
        source = settings.sources["landing"]
        assert source.leadstream == "default"
        assert source.tokens == (TOKEN, "token-for-tests-bbbbbbbb")
        assert source.response_mode == "api"

    def test_defaults_applied(self):
        settings = parse_settings(changed(phoneburner__connect_timeout=None, phoneburner__read_timeout=None))

        assert settings.phoneburner.connect_timeout == 3.05
        assert settings.phoneburner.read_timeout == 10
        assert settings.phoneburner.max_url_bytes == 8000
        assert settings.limits.max_body_bytes == 1_048_576

    def test_secrets_hidden_from_repr(self):
        settings = parse_settings(base_document())

        assert VENDOR_KEY not in repr(settings)
        assert TOKEN not in repr(settings)

    def test_integer_user_id_accepted(self):
        settings = parse_settings(changed(customers__acme__user_id=123456))

        assert settings.customers["acme"].user_id == "123456"

    def test_boolean_from_interpolated_string(self):
        document = changed(phoneburner__url="http://127.0.0.1:8081/put_contact", phoneburner__allow_insecure_url="true")

        assert parse_settings(document).phoneburner.allow_insecure_url is True

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"phoneburner__vendor_key": None}, "phoneburner.vendor_key: missing"),
            ({"phoneburner__vendor_kye": "x"}, "did you mean 'vendor_key'"),
            ({"phoneburner__read_timeout": -1}, "phoneburner.read_timeout"),
            ({"phoneburner__url": "ftp://x"}, "phoneburner.url: invalid URL"),
            ({"phoneburner__url": "http://phoneburner.example/p"}, "must use https://"),
            ({"phoneburner__url": "https://127.0.0.1/p"}, "local address"),
            ({"phoneburner__url": "https://localhost/p"}, "local address"),
            ({"customers__acme__leadstreams": {}}, "customers.acme.leadstreams: define at least one"),
            ({"customers__acme__user_id": ""}, "customers.acme.user_id: must not be empty"),
            ({"customers__bad name": {"user_id": "1", "leadstreams": {"a": "b"}}}, "invalid name 'bad name'"),
            ({"sources__landing__customer": "nobody"}, "unknown customer 'nobody'"),
            ({"sources__landing__leadstream": "nope"}, "has no LeadStream 'nope'"),
            ({"sources__landing__tokens": ["short"]}, "sources.landing.tokens[0]: every token needs at least 16"),
            ({"sources__landing__tokens": []}, "sources.landing.tokens: list at least one token"),
            ({"sources__landing__auth": "none"}, "sources.landing.allowed_origins"),
            ({"sources__landing__auth": "magic"}, "sources.landing.auth"),
            ({"sources__landing__adapter": "fax"}, "unknown adapter 'fax'"),
            ({"sources__landing__response_mode": "redirect"}, "needs success_url"),
            ({"sources__landing__fields": {"favourite_colour": "c"}}, "sources.landing.fields"),
            ({"sources__landing__required": ["age"]}, "sources.landing.required[0]"),
            ({"sources__landing__default_region": "XX"}, "two-letter region code"),
            ({"sources__landing__schema": "no.such.module:Thing"}, "sources.landing.schema: cannot load"),
            ({"sources__landing__schema": "app.leads:Lead"}, "not a subclass"),
            (
                {"sources__landing__schema": "tests.config.failing_schema:Thing"},
                "sources.landing.schema: importing 'tests.config.failing_schema:Thing' failed: RuntimeError",
            ),
            ({"storage__url": "oracle:///relay"}, "storage.url: unsupported database 'oracle'"),
            ({"storage__url": "relay.db"}, "storage.url: not a database URL"),
            ({"storage__url": "postgresql+psycopg://relay@db:abc/relay"}, "storage.url: not a database URL"),
            ({"storage__url": "postgresql+asyncpg://relay@db/relay"}, "storage.url: the driver of"),
            ({"sources__landing__customers": ["acme"]}, "either customer"),
            ({"sources": {}}, "define at least one [sources.NAME]"),
        ],
    )
    def test_error_names_key_and_fix(self, change, expected):
        problems = problems_of(changed(**change))

        assert any(expected in problem for problem in problems), problems

    def test_every_problem_reported_at_once(self):
        problems = problems_of(changed(phoneburner__vendor_key=None, sources__landing__tokens=["short"]))

        assert len(problems) == 2

    def test_secrets_never_in_errors(self):
        document = changed(phoneburner__url="ftp://x", sources__landing__auth="magic")

        with pytest.raises(ConfigError) as raised:
            parse_settings(document)

        assert VENDOR_KEY not in str(raised.value)
        assert TOKEN not in str(raised.value)

    def test_insecure_url_allowed_when_enabled(self):
        document = changed(phoneburner__url="http://127.0.0.1:8081/p", phoneburner__allow_insecure_url=True)

        assert parse_settings(document).phoneburner.url.startswith("http://127.0.0.1")

    def test_extras_unmapped_defaults_on_without_field_map(self):
        document = changed(sources__landing__extras_unmapped=None)

        assert parse_settings(document).sources["landing"].extras_unmapped is True

    def test_extras_unmapped_defaults_off_with_field_map(self):
        document = changed(sources__landing__extras_unmapped=None, sources__landing__fields={"email": "mail"})

        assert parse_settings(document).sources["landing"].extras_unmapped is False

    def test_tokens_stripped(self):
        document = changed(sources__landing__tokens=[f"  {TOKEN}\n"])

        assert parse_settings(document).sources["landing"].tokens == (TOKEN,)

    def test_key_in_wrong_table_named(self):
        problems = problems_of(changed(sources__landing__vendor_key="x" * 20))

        assert any("belongs in another table" in problem for problem in problems)


class TestFiles:
    def test_missing_file_named(self, tmp_path):
        with pytest.raises(ConfigError) as raised:
            load_settings(str(tmp_path / "absent.toml"), {})
        assert "absent.toml" in str(raised.value)
        assert "file not found" in str(raised.value)

    def test_toml_syntax_error_named(self, tmp_path):
        path = tmp_path / "broken.toml"
        path.write_text("[phoneburner\nurl = 1\n")

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {})
        assert "not valid TOML" in str(raised.value)

    def test_unset_variable_names_file_and_key(self, tmp_path):
        path = tmp_path / "relay.toml"
        path.write_text('[phoneburner]\nurl = "https://x.example"\nvendor_key = "${PB_KEY}"\n')

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {})
        message = str(raised.value)
        assert "relay.toml" in message
        assert "phoneburner.vendor_key" in message
        assert "PB_KEY" in message

    def test_example_loads_with_its_variables(self):
        environ = {
            "PHONEBURNER_VENDOR_KEY": "k",
            "ACME_LANDING_TOKEN": "a" * 24,
            "ACME_ZAPIER_TOKEN": "b" * 24,
            "RELAY_ADMIN_TOKEN": "c" * 43,
        }

        settings = load_settings(EXAMPLE, environ)

        assert settings.phoneburner.url == "https://www.phoneburner.com/api/vendor/put_contact"
        assert settings.phoneburner.allow_insecure_url is False
        assert set(settings.sources) == {"acme-landing", "acme-zapier", "acme-browser"}
        # scripts/run-demo sets RELAY_ADMIN_TOKEN, which turns the console on.
        assert settings.admin_token == "c" * 43

    def test_example_without_admin_token_leaves_console_off(self):
        settings = load_settings(
            EXAMPLE, {"PHONEBURNER_VENDOR_KEY": "k", "ACME_LANDING_TOKEN": "a" * 24, "ACME_ZAPIER_TOKEN": "b" * 24}
        )

        assert settings.admin_token is None

    def test_pinned_config_loaded_after_files_changed(self, tmp_path, monkeypatch):
        monkeypatch.setattr(loader, "_pinned", {})
        path = tmp_path / "relay.toml"
        key_file = tmp_path / "key.txt"
        path.write_text(Path(EXAMPLE).read_text().replace('"${PHONEBURNER_VENDOR_KEY}"', f'"${{file:{key_file}}}"'))
        key_file.write_text("vendor-key-from-file")
        environ = {"ACME_LANDING_TOKEN": "a" * 24, "ACME_ZAPIER_TOKEN": "b" * 24}
        _settings, resolved = loader.load_resolved(str(path), environ)
        loader.pin(str(path), resolved)

        path.write_text("[phoneburner\n")
        key_file.unlink()
        settings = load_settings(str(path), environ)

        assert settings.phoneburner.vendor_key == "vendor-key-from-file"
        with pytest.raises(ConfigError, match="not valid TOML"):
            loader.load_resolved(str(path), environ)

    def test_example_needs_vendor_key(self):
        with pytest.raises(ConfigError) as raised:
            load_settings(EXAMPLE, {"ACME_LANDING_TOKEN": "a" * 24, "ACME_ZAPIER_TOKEN": "b" * 24})
        assert "PHONEBURNER_VENDOR_KEY" in str(raised.value)


class TestSecretsInErrors:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [("${SECRET}", "phoneburner.url: invalid URL"), ("https://x.example/p", "sources.s: unknown customer")],
    )
    def test_value_from_environment_masked(self, tmp_path, url, expected):
        path = tmp_path / "relay.toml"
        path.write_text(
            f'[phoneburner]\nurl = "{url}"\nvendor_key = "k"\n'
            '[customers.a]\nuser_id = "1"\nleadstreams = {default = "Y"}\n'
            '[sources.s]\ncustomer = "${SECRET}"\ntokens = ["' + "t" * 16 + '"]\n'
        )

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {"SECRET": "sekrit-value"})

        message = str(raised.value)
        assert "sekrit" not in message
        assert expected in message

    def test_vendor_key_in_url_rejected(self):
        problems = problems_of(changed(phoneburner__url=f"https://x.example/put_contact?key={VENDOR_KEY}"))

        assert any("remove the key from the URL" in problem for problem in problems)
        assert all(VENDOR_KEY not in problem for problem in problems)

    def test_non_utf8_file_named(self, tmp_path):
        path = tmp_path / "latin1.toml"
        path.write_bytes(b'[phoneburner]\nurl = "caf\xe9"\n')

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {})
        assert "not UTF-8" in str(raised.value)


class TestTrustedProxies:
    def test_networks_and_addresses_load(self):
        settings = parse_settings(changed(server__trusted_proxies=["10.0.0.0/8", "192.0.2.7"]))

        assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "192.0.2.7/32"]

    def test_malformed_network_names_the_key(self):
        problems = problems_of(changed(server__trusted_proxies=["10.0.0.0/33"]))

        assert any("server.trusted_proxies" in problem and "10.0.0.0/33" in problem for problem in problems)
