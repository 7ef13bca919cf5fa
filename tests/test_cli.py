"""The operator's command line: check-config and its masking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "relay.example.toml"
ENVIRON = {
    "PHONEBURNER_VENDOR_KEY": "vendor-key-never-printed",
    "ACME_LANDING_TOKEN": "landing-token-never-printed",
    "ACME_ZAPIER_TOKEN": "zapier-token-never-printed",
}


def test_check_config_prints_summary_masked(monkeypatch, capsys):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)

    status = main(["check-config", "--config", str(EXAMPLE)])

    output = capsys.readouterr().out
    assert status == 0
    assert "OK" in output
    assert "acme-landing: POST /v1/leads/acme-landing" in output
    assert "default (cm_id YYYY)" in output
    for secret in ENVIRON.values():
        assert secret not in output
    assert "****(24 chars)" in output


def test_check_config_fails_with_message(monkeypatch, capsys, tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text('[phoneburner]\nurl = "https://x.example"\nvendor_key = "k"\n')

    status = main(["check-config", "--config", str(path)])

    error = capsys.readouterr().err
    assert status == 1
    assert "customers: missing" in error


def test_check_config_uses_relay_config(monkeypatch, capsys):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
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
