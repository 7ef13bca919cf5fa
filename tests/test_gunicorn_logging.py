"""Gunicorn's access lines: JSON by default, readable text when [logging].format selects it."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

from gunicorn.config import Config

from app.gunicorn_logging import RelayLogger


def access_line(capsys, log_format: str | None) -> str:
    config = Config()
    config.set("accesslog", "-")
    logger = RelayLogger(config)
    if log_format is not None:
        logger.use_format(log_format)
    response = SimpleNamespace(status_code=201, sent=120, headers=[("X-Request-Id", "req-0001")])
    request = SimpleNamespace(method="POST", path="/v1/leads/landing\n")

    logger.access(response, request, {}, datetime.timedelta(milliseconds=12.5))

    return capsys.readouterr().out.strip()


def test_access_line_json_by_default(capsys):
    line = json.loads(access_line(capsys, None))

    assert line["path"] == "/v1/leads/landing\n"
    assert line["request_id"] == "req-0001"


def test_access_line_json_when_auto_not_terminal(capsys):
    assert json.loads(access_line(capsys, "auto"))["status"] == 201


def test_access_line_text_when_asked(capsys):
    line = access_line(capsys, "text")

    assert line == "POST /v1/leads/landing\\n 201 120 bytes 12.5 ms request_id=req-0001"
