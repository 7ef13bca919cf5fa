"""[alerts] and the shutdown times: defaults, errors naming the key, and the webhook URL kept secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.config import parse_settings
from tests.config.test_loader import changed, problems_of
from tests.conftest import VENDOR_KEY

ROOT = Path(__file__).resolve().parents[2]
SECRET_PATH = "services/T0000/B0000/webhook-secret-path-0001"
SLACK_URL = f"https://hooks.slack.com/{SECRET_PATH}"


def test_alerts_off_by_default():
    settings = parse_settings(changed(), "relay.toml")

    assert settings.alerts.webhook_url is None
    assert settings.alerts.oldest_queued_minutes == 15
    assert settings.alerts.min_interval_minutes == 30
    assert settings.alerts.allow_insecure_url is False


def test_empty_webhook_url_turns_alerts_off():
    settings = parse_settings(changed(alerts__webhook_url=""), "relay.toml")

    assert settings.alerts.webhook_url is None


def test_https_webhook_url_accepted():
    settings = parse_settings(changed(alerts__webhook_url=SLACK_URL), "relay.toml")

    assert settings.alerts.webhook_url == SLACK_URL


def test_http_webhook_url_rejected():
    [problem] = problems_of(changed(alerts__webhook_url=f"http://hooks.slack.com/{SECRET_PATH}"))

    assert problem.startswith("alerts.webhook_url: must use https://")
    assert "allow_insecure_url = true" in problem


def test_local_webhook_url_rejected():
    [problem] = problems_of(changed(alerts__webhook_url="https://127.0.0.1/hook"))

    assert problem.startswith("alerts.webhook_url: 127.0.0.1 is a local address")


def test_local_webhook_allowed_when_insecure():
    document = changed(alerts__webhook_url="http://127.0.0.1:9/hook", alerts__allow_insecure_url=True)

    assert parse_settings(document, "relay.toml").alerts.webhook_url == "http://127.0.0.1:9/hook"


def test_invalid_webhook_url_masked_in_error():
    [problem] = problems_of(changed(alerts__webhook_url=f"hooks.slack.com/{SECRET_PATH}"))

    assert problem.startswith("alerts.webhook_url: invalid URL")
    assert SECRET_PATH not in problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alerts__oldest_queued_minutes", 0),
        ("alerts__min_interval_minutes", -5),
        ("alerts__allow_insecure_url", "sometimes"),
        ("delivery__shutdown_grace", -1),
        ("delivery__shutdown_grace", 601),
        ("storage__pool_size", 0),
        ("storage__pool_size", "many"),
        ("storage__pool_size", 1.5),
        ("delivery__max_attempts", 2.5),
    ],
)
def test_invalid_value_names_key(key, value):
    [problem] = problems_of(changed(**{key: value}))

    assert problem.startswith(key.replace("__", ".") + ":")


def test_misspelled_alerts_key_suggests_fix():
    [problem] = problems_of(changed(alerts__webhook=SLACK_URL))

    assert problem.startswith("alerts.webhook: unknown key (did you mean 'webhook_url'?)")
    assert SECRET_PATH not in problem


def test_pool_size_default_and_set():
    default = parse_settings(changed(), "relay.toml")
    chosen = parse_settings(changed(storage__pool_size=3), "relay.toml")

    assert default.storage.pool_size == 10
    assert chosen.storage.pool_size == 3


@pytest.mark.parametrize("value", [1.5, "2.5", "many"])
def test_pool_size_fraction_rejected(value):
    [problem] = problems_of(changed(storage__pool_size=value))

    assert problem.startswith("storage.pool_size: expected a whole number")


def test_pool_size_text_or_float_read():
    from_text = parse_settings(changed(storage__pool_size="4"), "relay.toml")
    from_float = parse_settings(changed(storage__pool_size=4.0), "relay.toml")

    assert from_text.storage.pool_size == 4
    assert from_float.storage.pool_size == 4


def test_worker_grace_defaults_to_whole_call():
    # The base document's timeouts: connect 2 s, read 5 s.
    settings = parse_settings(changed(), "relay.toml")

    assert settings.delivery.shutdown_grace is None
    assert settings.worker_shutdown_grace == 2 + 5 + 2


def test_worker_grace_set_explicitly():
    settings = parse_settings(changed(delivery__shutdown_grace=40), "relay.toml")

    assert settings.worker_shutdown_grace == 40


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [({}, 8 + 10), ({"inline_budget": 3}, 3 + 10), ({"inline_budget": 1, "repeat_wait": 5}, 5 + 10)],
)
def test_web_graceful_timeout_covers_longest_wait(delivery, expected):
    settings = parse_settings(changed(delivery=delivery), "relay.toml")

    assert settings.web_graceful_timeout == expected


def test_check_config_masks_webhook_url(tmp_path, capsys):
    path = tmp_path / "relay.toml"
    path.write_text(
        f'[phoneburner]\nurl = "https://phoneburner.test/api/vendor/put_contact"\nvendor_key = "{VENDOR_KEY}"\n'
        f'[alerts]\nwebhook_url = "{SLACK_URL}"\noldest_queued_minutes = 20\n'
        '[customers.acme]\nuser_id = "1"\n[customers.acme.leadstreams]\ndefault = "Y"\n'
        '[sources.landing]\ncustomer = "acme"\ntokens = ["token-for-tests-aaaaaaaa"]\n'
    )

    status = main(["check-config", "--config", str(path)])

    output = capsys.readouterr().out
    assert status == 0
    assert "https://hooks.slack.com/****" in output
    assert SECRET_PATH not in output
    assert "oldest queued    20 min; one alert per 30 min" in output
    assert "worker           15.05 s for attempts in flight" in output


def test_gunicorn_graceful_timeout_read_from_config(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text(
        '[phoneburner]\nurl = "https://phoneburner.test/api/vendor/put_contact"\nvendor_key = "k"\n'
        "[delivery]\ninline_budget = 4.5\nrepeat_wait = 1\n"
        '[customers.acme]\nuser_id = "1"\n[customers.acme.leadstreams]\ndefault = "Y"\n'
        '[sources.landing]\ncustomer = "acme"\ntokens = ["token-for-tests-aaaaaaaa"]\n'
    )
    # A child process, because the configuration module patches the standard library for gevent.
    script = "import runpy; print(runpy.run_path('config/gunicorn.conf.py')['graceful_timeout'])"

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "RELAY_CONFIG": str(path)},
        capture_output=True, text=True, timeout=60, check=True,
    )

    # Rounded up to whole seconds, which is all gunicorn takes.
    assert result.stdout.strip() == str(5 + 10)
