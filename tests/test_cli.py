"""The operator's command line: check-config and its masking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "relay.example.toml"
ENVIRON = {
    "PHONEBURNER_VENDOR_KEY": "vendor-key-never-printed",
    "ACME_LANDING_TOKEN": "landing-token-never-printed",
    "ACME_ZAPIER_TOKEN": "zapier-token-never-printed",
}


@pytest.fixture
def example_environ(monkeypatch):
    """Set the variables the example configuration needs."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)


def test_check_config_prints_summary_masked(example_environ, capsys):

    status = main(["check-config", "--config", str(EXAMPLE)])

    output = capsys.readouterr().out
    assert status == 0
    assert "OK" in output
    assert "acme-landing: POST /v1/leads/acme-landing" in output
    assert "default (cm_id YYYY)" in output
    for secret in ENVIRON.values():
        assert secret not in output
    assert "****(24 chars)" in output


LIMITED_CONFIG = """
[phoneburner]
url = "https://phoneburner.test/api/vendor/put_contact"
vendor_key = "vendor-key-never-printed"

[limits]
storage_url = "redis://:redis-password-never-printed@cache:6379/2"

[customers.acme]
user_id = "1"
leadstreams = { default = "YYYY" }

[sources.form]
customer = "acme"
auth = "none"
allowed_origins = ["https://www.acme.example"]
honeypot = "hp_field"
"""


def test_check_config_shows_limits_masked(capsys, tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text(LIMITED_CONFIG)

    status = main(["check-config", "--config", str(path)])

    output = capsys.readouterr().out
    assert status == 0
    assert "counted in redis://:****@cache:6379/2" in output
    assert "redis-password-never-printed" not in output
    assert "rate limits    600/minute per source, 10/minute per client IP; honeypot field 'hp_field'" in output


def test_check_config_fails_with_message(monkeypatch, capsys, tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text('[phoneburner]\nurl = "https://x.example"\nvendor_key = "k"\n')

    status = main(["check-config", "--config", str(path)])

    error = capsys.readouterr().err
    assert status == 1
    assert "customers: missing" in error


def test_check_config_uses_relay_config(example_environ, monkeypatch):
    monkeypatch.setenv("RELAY_CONFIG", str(EXAMPLE))

    assert main(["check-config"]) == 0


def test_module_entry_point_runs():
    completed = subprocess.run(
        [sys.executable, "-m", "app", "check-config", "--config", str(ROOT / "absent.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert completed.returncode == 1
    assert "file not found" in completed.stderr


def test_check_config_without_metrics_directory(tmp_path):
    # In multiprocess mode prometheus_client opens a file in this directory when a metric without labels is created.
    path = tmp_path / "relay.toml"
    path.write_text(LIMITED_CONFIG)
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}

    completed = subprocess.run(
        [sys.executable, "-m", "app", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert "10/minute per client IP" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_preview_shows_request_without_sending(example_environ, capsys):
    fixture = ROOT / "tests" / "fixtures" / "payloads" / "html_form.form"

    status = main(["preview", "acme-landing", str(fixture), "--config", str(EXAMPLE)])

    output = capsys.readouterr().out
    assert status == 0
    assert "key=REDACTED" in output
    assert ENVIRON["PHONEBURNER_VENDOR_KEY"] not in output
    assert "phone = '9495550181'" in output
    assert "answer[0] = 'solar, battery'" in output
    assert "nothing was sent." in output


def test_preview_reports_rejected_lead(example_environ, capsys, tmp_path):
    payload = tmp_path / "lead.json"
    payload.write_text('{"first_name": "Ann", "email": "not-an-email"}')

    status = main(["preview", "acme-landing", str(payload), "--config", str(EXAMPLE)])

    assert status == 1
    assert "rejected (422)" in capsys.readouterr().out


def test_preview_multipart_fixture_reads_boundary(example_environ, capsys):
    fixture = ROOT / "tests" / "fixtures" / "payloads" / "jotform.multipart.txt"

    main(["preview", "acme-landing", str(fixture), "--config", str(EXAMPLE)])

    assert "fields as unwrapped" in capsys.readouterr().out


def test_preview_unknown_content_type_fails(example_environ, capsys, tmp_path):
    payload = tmp_path / "lead.bin"
    payload.write_bytes(b"x")

    status = main(["preview", "acme-landing", str(payload), "--config", str(EXAMPLE)])

    assert status == 1
    assert "--content-type" in capsys.readouterr().err


def test_check_config_hides_storage_password(example_environ, monkeypatch, capsys):
    monkeypatch.setenv("RELAY_STORAGE_URL", "postgresql+psycopg://relay:db-password-never-printed@db.internal/relay")

    status = main(["check-config", "--config", str(EXAMPLE)])

    output = capsys.readouterr().out
    assert status == 0
    assert "storage:           postgresql+psycopg://relay:***@db.internal/relay, at most 10 connections" in output
    assert "db-password-never-printed" not in output
    assert "request_id_header X-Request-Id" in output
