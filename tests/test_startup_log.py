"""The `config.loaded` start-up record: the effective configuration, with no secret in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config.summary import storage_location
from tests.conftest import OTHER_TOKEN, TOKEN, VENDOR_KEY, base_document, build_app
from tests.stores import fresh_sqlite_url

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "admin-token-never-logged-0001"
SIGNING_SECRET = "signing-secret-never-logged-0001"
DATABASE_PASSWORD = "database-password-never-logged"
FORBIDDEN = (VENDOR_KEY, TOKEN, OTHER_TOKEN, ADMIN_TOKEN, SIGNING_SECRET, DATABASE_PASSWORD)


def document_with_every_secret() -> dict:
    document = base_document()
    document["admin"] = {"token": ADMIN_TOKEN}
    document["sources"]["typeform"] = {"customer": "globex", "adapter": "typeform", "auth": "signature",
                                       "signing_secret": SIGNING_SECRET}
    # Nothing connects at start-up, so the server need not exist.
    document["storage"] = {"url": f"postgresql+psycopg://relay:{DATABASE_PASSWORD}@127.0.0.1:1/relay?sslmode=require"}
    return document


def loaded_record(stderr: str) -> dict:
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    matching = [record for record in records if record.get("message") == "config.loaded"]
    assert len(matching) == 1, stderr
    return matching[0]


def test_web_start_logs_config_without_secrets(capsys):
    build_app(document_with_every_secret())

    stderr = capsys.readouterr().err
    record = loaded_record(stderr)
    for secret in FORBIDDEN:
        assert secret not in stderr
    assert record["role"] == "web"


def test_web_start_logs_effective_config(capsys):
    build_app(document_with_every_secret())

    settings = loaded_record(capsys.readouterr().err)["settings"]
    assert settings["sources"]["landing"]["adapter"] == "form"
    assert settings["sources"]["landing"]["auth"] == "token"
    assert settings["sources"]["landing"]["customers"] == ["acme"]
    assert settings["sources"]["landing"]["credentials"] == ["****(24 chars)", "****(24 chars)"]
    assert settings["sources"]["typeform"]["auth"] == "signature"
    assert settings["customers"]["acme"]["leadstreams"] == {"default": "YYYY", "spanish": "ZZZZ"}
    assert settings["storage"]["driver"] == "postgresql+psycopg"
    # The log's redaction masks the query string too, on top of the summary's own masking.
    assert settings["storage"]["url"].startswith("postgresql+psycopg://relay:")
    assert settings["storage"]["url"].endswith("@127.0.0.1:1/relay?REDACTED")
    assert settings["limits"]["max_body_bytes"] == 1_048_576
    assert settings["admin_token"] == "****(29 chars)"
    assert settings["phoneburner"]["vendor_key"] == "****(25 chars)"


def test_start_record_carries_build(capsys):
    build_app(base_document())

    build = loaded_record(capsys.readouterr().err)["build"]
    assert set(build) == {"version", "commit", "python"}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///var/relay.db", "sqlite:///var/relay.db"),
        ("postgresql+psycopg://user:secret@db.internal/relay", "postgresql+psycopg://user:***@db.internal/relay"),
        ("postgresql+psycopg://user@db/relay?password=secret", "postgresql+psycopg://user@db/relay?password=****"),
        ("not a url", "(not a valid URL)"),
    ],
)
def test_storage_location_hides_passwords(url, shown):
    assert storage_location(url) == shown


def worker_environment(tmp_path: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    return {**environment, "TMPDIR": str(tmp_path), "ADMIN": ADMIN_TOKEN, "TOKEN": TOKEN, "KEY": VENDOR_KEY}


def write_worker_config(tmp_path: Path, log_format: str) -> Path:
    config = tmp_path / "relay.toml"
    config.write_text(f"""
[phoneburner]
url = "https://phoneburner.test/api/vendor/put_contact"
vendor_key = "${{KEY}}"
[storage]
url = "{fresh_sqlite_url()}"
[admin]
token = "${{ADMIN}}"
[logging]
format = "{log_format}"
[customers.acme]
user_id = "1"
[customers.acme.leadstreams]
default = "YYYY"
[sources.landing]
customer = "acme"
tokens = ["${{TOKEN}}"]
""")
    return config


def run_worker_once(tmp_path: Path, log_format: str) -> subprocess.CompletedProcess:
    config = write_worker_config(tmp_path, log_format)
    return subprocess.run(
        [sys.executable, "-m", "app", "worker", "--once", "--config", str(config)],
        cwd=ROOT, env=worker_environment(tmp_path), capture_output=True, text=True, timeout=60,
    )


def test_worker_start_logs_json_without_secrets(tmp_path):
    completed = run_worker_once(tmp_path, "auto")

    assert completed.returncode == 0, completed.stderr
    record = loaded_record(completed.stderr)
    assert record["role"] == "worker"
    for secret in (ADMIN_TOKEN, TOKEN, VENDOR_KEY):
        assert secret not in completed.stderr


def test_worker_text_format_logs_lines(tmp_path):
    completed = run_worker_once(tmp_path, "text")

    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if "config.loaded" in line]
    assert len(lines) == 1
    assert not lines[0].startswith("{")
    assert "INFO" in lines[0]
    assert TOKEN not in completed.stderr
