"""Secrets read from files: `${file:/path}` and the NAME_FILE convention of container images."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings
from app.config.interpolate import MAX_SECRET_FILE_BYTES, UnresolvedVariable, interpolate

SECRET = "vendor-key-from-a-file-0001"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "vendor_key"
    path.write_text(SECRET + "\n")
    return path


def resolve(text: str, environ: dict[str, str] | None = None, substituted: set[str] | None = None) -> str:
    return interpolate({"phoneburner": {"vendor_key": text}}, environ or {}, substituted=substituted)[
        "phoneburner"
    ]["vendor_key"]


def unresolved(text: str, environ: dict[str, str] | None = None) -> UnresolvedVariable:
    with pytest.raises(UnresolvedVariable) as raised:
        resolve(text, environ)
    assert raised.value.path == "phoneburner.vendor_key"
    return raised.value


class TestFileReference:
    def test_content_replaces_reference(self, secret_file):
        assert resolve(f"${{file:{secret_file}}}") == SECRET

    def test_only_trailing_line_breaks_stripped(self, tmp_path):
        path = tmp_path / "key"
        path.write_bytes(b"  inner space kept \r\n\n")

        assert resolve(f"${{file:{path}}}") == "  inner space kept "

    def test_embedded_in_longer_string(self, secret_file):
        assert resolve(f"prefix-${{file:{secret_file}}}-suffix") == f"prefix-{SECRET}-suffix"

    def test_value_counted_as_substituted(self, secret_file):
        substituted: set[str] = set()

        resolve(f"${{file:{secret_file}}}", substituted=substituted)

        assert substituted == {SECRET}

    def test_missing_file_names_path(self, tmp_path):
        missing = tmp_path / "absent"

        error = unresolved(f"${{file:{missing}}}")

        assert str(missing) in error.message
        assert "No such file" in error.message

    def test_unreadable_file_names_path(self, tmp_path):
        # Reading a directory fails even as root, which ignores file modes.
        error = unresolved(f"${{file:{tmp_path}}}")

        assert str(tmp_path) in error.message
        assert "cannot read the secret file" in error.message
        assert "Is a directory" in error.message

    def test_relative_path_rejected(self):
        error = unresolved("${file:run/secrets/key}")

        assert "absolute path" in error.message

    def test_empty_file_rejected(self, tmp_path):
        path = tmp_path / "empty"
        path.write_text("\n")

        error = unresolved(f"${{file:{path}}}")

        assert "is empty" in error.message

    def test_oversized_file_rejected(self, tmp_path):
        path = tmp_path / "big"
        path.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))

        error = unresolved(f"${{file:{path}}}")

        assert f"over {MAX_SECRET_FILE_BYTES} bytes" in error.message

    def test_non_utf8_error_quotes_no_byte(self, tmp_path):
        path = tmp_path / "latin1"
        path.write_bytes(b"zq\xe9xv")

        error = unresolved(f"${{file:{path}}}")

        assert "not UTF-8" in error.message
        assert "xe9" not in error.message
        assert "zq" not in error.message

    def test_variable_named_file_keeps_default_syntax(self):
        assert resolve("${file:-fallback}") == "fallback"
        assert resolve("${file}", {"file": "from-env"}) == "from-env"


class TestNameFileConvention:
    def test_file_read_when_variable_unset(self, secret_file):
        assert resolve("${PB_KEY}", {"PB_KEY_FILE": str(secret_file)}) == SECRET

    def test_file_read_when_variable_empty(self, secret_file):
        assert resolve("${PB_KEY}", {"PB_KEY": "", "PB_KEY_FILE": str(secret_file)}) == SECRET

    def test_file_wins_over_default(self, secret_file):
        assert resolve("${PB_KEY:-fallback}", {"PB_KEY_FILE": str(secret_file)}) == SECRET

    def test_variable_alone_still_used(self):
        assert resolve("${PB_KEY}", {"PB_KEY": "from-env"}) == "from-env"

    def test_both_set_rejected(self, secret_file):
        error = unresolved("${PB_KEY}", {"PB_KEY": "from-env", "PB_KEY_FILE": str(secret_file)})

        assert "both PB_KEY and PB_KEY_FILE are set" in error.message
        assert "from-env" not in error.message

    def test_missing_file_names_variable_and_path(self, tmp_path):
        missing = tmp_path / "absent"

        error = unresolved("${PB_KEY}", {"PB_KEY_FILE": str(missing)})

        assert str(missing) in error.message
        assert "named by PB_KEY_FILE" in error.message

    def test_unset_message_mentions_file_variable(self):
        error = unresolved("${PB_KEY}")

        assert "PB_KEY_FILE" in error.message

    def test_file_value_counted_as_substituted(self, secret_file):
        substituted: set[str] = set()

        resolve("${PB_KEY}", {"PB_KEY_FILE": str(secret_file)}, substituted)

        assert substituted == {SECRET}

    def test_default_not_counted_as_substituted(self):
        substituted: set[str] = set()

        resolve("${PB_KEY:-fallback}", {}, substituted)

        assert substituted == set()


class TestLoadSettings:
    def write_config(self, tmp_path, vendor_key: str, customer: str = "a"):
        path = tmp_path / "relay.toml"
        path.write_text(
            f'[phoneburner]\nurl = "https://x.example/p"\nvendor_key = "{vendor_key}"\n'
            '[customers.a]\nuser_id = "1"\nleadstreams = {default = "Y"}\n'
            f'[sources.s]\ncustomer = "{customer}"\ntokens = ["' + "t" * 16 + '"]\n'
        )
        return path

    def test_vendor_key_from_file(self, tmp_path, secret_file):
        path = self.write_config(tmp_path, f"${{file:{secret_file}}}")

        assert load_settings(str(path), {}).phoneburner.vendor_key == SECRET

    def test_file_error_names_key_and_path(self, tmp_path):
        missing = tmp_path / "absent"
        path = self.write_config(tmp_path, f"${{file:{missing}}}")

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {})

        message = str(raised.value)
        assert "relay.toml" in message
        assert "phoneburner.vendor_key" in message
        assert str(missing) in message

    def test_file_value_masked_in_errors(self, tmp_path):
        # The customer name comes from the file, so the unknown-customer message would quote it.
        name_file = tmp_path / "customer"
        name_file.write_text("secret-customer-name\n")
        path = self.write_config(tmp_path, "k", customer="${CUSTOMER}")

        with pytest.raises(ConfigError) as raised:
            load_settings(str(path), {"CUSTOMER_FILE": str(name_file)})

        message = str(raised.value)
        assert "unknown customer" in message
        assert "secret-customer-name" not in message
