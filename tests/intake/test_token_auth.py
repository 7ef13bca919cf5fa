"""Token auth: rotation with several tokens, and a query-string token kept out of logs and the store."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from app.gunicorn_logging import RelayLogger
from tests.conftest import OTHER_TOKEN, PB_URL, SUCCESS, TOKEN, base_document, build_app

LEAD = {"email": "ann@example.com", "phone": "(949) 555-0123"}
NEW_TOKEN = "token-for-tests-cccccccc"


def rotation_client(pb, tokens):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["sources"]["landing"]["tokens"] = list(tokens)
    return build_app(document)


def post_with(client, token, place, lead=LEAD):
    if place == "bearer":
        return client.post("/v1/leads/landing", data=lead, headers={"Authorization": f"Bearer {token}"})
    if place == "header":
        return client.post("/v1/leads/landing", data=lead, headers={"X-Relay-Token": token})
    return client.post(f"/v1/leads/landing?token={token}", data=lead)


@pytest.mark.parametrize("place", ["bearer", "header", "query"])
def test_rotation_accepts_old_and_new_token(pb, place):
    client = rotation_client(pb, [TOKEN, NEW_TOKEN]).test_client()

    old = post_with(client, TOKEN, place)
    new = post_with(client, NEW_TOKEN, place, lead={"email": "bo@example.com"})

    assert old.status_code == 201
    assert new.status_code == 201
    assert len(pb.calls) == 2


def test_removed_token_answers_401(pb):
    client = rotation_client(pb, [NEW_TOKEN]).test_client()

    response = post_with(client, TOKEN, "bearer")

    assert response.status_code == 401
    assert len(pb.calls) == 0


def _everything_logged(caplog) -> str:
    return "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)


def test_query_token_not_logged(pb, caplog):
    caplog.set_level(logging.DEBUG)
    client = rotation_client(pb, [TOKEN, OTHER_TOKEN]).test_client()

    accepted = client.post(f"/v1/leads/landing?token={TOKEN}", data=LEAD)
    refused = client.post("/v1/leads/landing?token=wrong-token-zzzzzzzz", data=LEAD)

    assert accepted.status_code == 201
    assert refused.status_code == 401
    logged = _everything_logged(caplog)
    assert "lead.relayed" in logged
    assert TOKEN not in logged
    assert "wrong-token-zzzzzzzz" not in logged


def test_query_token_not_stored(pb):
    app = rotation_client(pb, [TOKEN])
    client = app.test_client()

    response = client.post(f"/v1/leads/landing?token={TOKEN}&customer=acme", data=LEAD)

    row = app.extensions["relay"].store.get(response.get_json()["lead_id"])
    assert row is not None
    for column, value in row.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        assert TOKEN not in text, column


def _gunicorn_request(target: bytes):
    raw = b"POST " + target + b" HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 0\r\n\r\n"
    return next(RequestParser(Config(), iter([raw]), ("127.0.0.1", 40000)))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def gunicorn_logger():
    config = Config()
    config.set("accesslog", "-")
    logger = RelayLogger(config)
    capture = _Capture()
    logger.access_log.addHandler(capture)
    logger.error_log.addHandler(capture)
    yield logger, capture
    logger.access_log.removeHandler(capture)
    logger.error_log.removeHandler(capture)


def test_gunicorn_access_line_leaves_out_query(gunicorn_logger):
    logger, capture = gunicorn_logger
    request = _gunicorn_request(f"/v1/leads/landing?token={TOKEN}".encode())
    response = SimpleNamespace(status_code=201, sent=120, headers=[("X-Request-Id", "req-1")])

    logger.access(response, request, {}, timedelta(milliseconds=5))

    line = json.loads(capture.lines[-1])
    assert line["path"] == "/v1/leads/landing"
    assert TOKEN not in capture.lines[-1]


def test_gunicorn_error_line_redacts_query(gunicorn_logger):
    logger, capture = gunicorn_logger

    logger.error("Error handling request %s", f"/v1/leads/landing?customer=acme&token={TOKEN}")

    assert TOKEN not in capture.lines[-1]
    assert "?REDACTED" in capture.lines[-1]
