"""The logging path as a last line of defence: no secret, query string, email or phone survives."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import requests
from gunicorn.config import Config

from app import logs
from app.gunicorn_logging import RelayLogger

SECRET = "vendor-key-for-log-tests-01"
PUT_CONTACT = f"https://pb.example/api/vendor/put_contact?key={SECRET}&email=ada%40example.com"
EMAIL = "ada.lovelace@example.com"
PHONE = "(949) 555-0181"

FORBIDDEN = (SECRET, EMAIL, PHONE, "9495550181", "555-0181", "put_contact?key", "ada%40example.com")


def json_logger() -> logging.Logger:
    """Configure the relay's logging to the current stderr, which capsys captures only during the test itself."""
    logs.configure_logging(format="json", level="DEBUG", secrets=[SECRET])
    return logging.getLogger("relay.test")


def captured_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def assert_clean(text: str) -> None:
    for forbidden in FORBIDDEN:
        assert forbidden not in text


def test_message_and_args_redacted(capsys):
    log = json_logger()
    log.info("calling %s for %s at %s", PUT_CONTACT, EMAIL, PHONE)

    (line,) = captured_lines(capsys)
    assert line["message"] == "calling https://pb.example/api/vendor/put_contact?REDACTED for a***@example.com at ***81"


def test_extra_values_redacted(capsys):
    log = json_logger()
    extra = {"error": f"failed: {PUT_CONTACT}", "fields": [EMAIL, {"phone": PHONE}], "count": 3, "flag": True}

    log.warning("lead.failed", extra=extra)

    (line,) = captured_lines(capsys)
    assert_clean(json.dumps(line, ensure_ascii=False))
    assert line["error"] == "failed: https://pb.example/api/vendor/put_contact?REDACTED"
    assert line["fields"] == ["a***@example.com", {"phone": "***81"}]
    assert line["count"] == 3
    assert line["flag"] is True


def test_secret_in_extra_replaced(capsys):
    log = json_logger()
    log.info("config.loaded", extra={"key": SECRET})

    (line,) = captured_lines(capsys)
    assert line["key"] == "REDACTED"


def test_exception_text_redacted(capsys):
    log = json_logger()
    # requests puts the whole URL, query and vendor key included, into its messages.
    try:
        raise requests.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {PUT_CONTACT}")
    except requests.ConnectionError:
        log.exception("worker.attempt_failed")

    (line,) = captured_lines(capsys)
    assert_clean(json.dumps(line))
    assert "requests.exceptions.ConnectionError" in line["exc_info"]
    assert "put_contact?REDACTED" in line["exc_info"]


def test_stack_info_redacted(capsys):
    log = json_logger()

    def report() -> None:
        log.info("trace", stack_info=True)

    report()  # the stack shows this line: ada.lovelace@example.com

    (line,) = captured_lines(capsys)
    assert "the stack shows this line: a***@example.com" in line["stack_info"]
    assert EMAIL not in line["stack_info"]


def test_request_id_redacted(capsys):
    log = json_logger()
    # A sender chooses its X-Request-Id, and may put anything short and plain in it.
    token = logs.request_id.set("9495550181")
    try:
        log.info("request.refused")
    finally:
        logs.request_id.reset(token)

    (line,) = captured_lines(capsys)
    assert line["request_id"] == "***81"


def test_mismatched_format_string_redacted(capsys):
    log = json_logger()
    log.info("one placeholder %s", EMAIL, SECRET)

    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert_clean(err)


def test_text_format_redacted(capsys):
    logs.configure_logging(format="text", secrets=[SECRET])
    try:
        raise ValueError(f"bad value {EMAIL}")
    except ValueError:
        logging.getLogger("relay.test").exception("failed for %s", PHONE, extra={"url": PUT_CONTACT})

    err = capsys.readouterr().err
    assert_clean(err)
    assert "failed for ***81" in err
    assert "ValueError: bad value a***@example.com" in err


def test_library_warning_redacted(capsys):
    json_logger()

    logging.getLogger("some.library").warning("retrying %s for %s", PUT_CONTACT, EMAIL)
    logging.getLogger("some.library").info("below the root handler's level")

    (line,) = captured_lines(capsys)
    assert line["logger"] == "some.library"
    assert line["message"] == "retrying https://pb.example/api/vendor/put_contact?REDACTED for a***@example.com"


def test_relay_records_written_once_when_propagating(capsys):
    log = json_logger()
    logging.getLogger("relay").propagate = True

    log.warning("lead.dead")

    assert len(captured_lines(capsys)) == 1


def test_gunicorn_loggers_get_secrets():
    logs.configure_logging(format="json", secrets=[SECRET])

    for name in logs.GUNICORN_LOGGERS:
        record = logging.makeLogRecord({"msg": "Error handling request %s", "args": (f"/x?token={SECRET}",)})
        for log_filter in logging.getLogger(name).filters:
            log_filter.filter(record)
        assert record.getMessage() == "Error handling request /x?REDACTED"


def gunicorn_logger(tmp_path, monkeypatch) -> RelayLogger:
    """Build a RelayLogger as the gunicorn master does, with a secret passed through --env."""
    config = tmp_path / "relay.toml"
    config.write_text(
        '[phoneburner]\nurl = "https://pb.example/put_contact"\nvendor_key = "${LOG_TEST_KEY}"\n'
        '[customers.a]\nuser_id = "1"\nleadstreams = {default = "Y"}\n'
        '[sources.s]\ncustomer = "a"\ntokens = ["' + "t" * 16 + '"]\n'
    )
    monkeypatch.setenv("RELAY_CONFIG", str(config))
    monkeypatch.delenv("LOG_TEST_KEY", raising=False)
    cfg = Config()
    cfg.set("raw_env", [f"LOG_TEST_KEY={SECRET}"])
    cfg.set("errorlog", "-")
    cfg.set("accesslog", "-")
    cfg.set("loglevel", "debug")
    return RelayLogger(cfg)


def test_gunicorn_master_redacts_env_secret(tmp_path, monkeypatch, capsys):
    logger = gunicorn_logger(tmp_path, monkeypatch)

    logger.debug("Current configuration:\n  raw_env: %s", [f"LOG_TEST_KEY={SECRET}"])
    logger.error("Error handling request /v1/leads/form?token=%s", SECRET)

    err = capsys.readouterr().err
    assert SECRET not in err
    assert "raw_env: ['LOG_TEST_KEY=REDACTED']" in err
    assert "/v1/leads/form?REDACTED" in err


def test_gunicorn_access_line_redacted(tmp_path, monkeypatch, capsys):
    logger = gunicorn_logger(tmp_path, monkeypatch)
    request = SimpleNamespace(method="POST", path=f"/v1/leads/{EMAIL}")
    response = SimpleNamespace(status_code=404, sent=120, headers=[("X-Request-Id", "9495550181")])

    logger.access(response, request, {}, timedelta(milliseconds=3))

    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["path"] == "/v1/leads/a***@example.com"
    assert line["request_id"] == "***81"
