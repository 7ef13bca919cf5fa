"""The deadline on reading a request body, with a body that arrives through gevent's sleeps."""

from __future__ import annotations

import io

import gevent
import pytest
from werkzeug.test import Client

from app.errors import BodyTimeout
from app.intake.body_deadline import BodyDeadline, DeadlineInput
from tests.conftest import auth, build_app

BODY = b"email=ann%40example.com"


class TricklingStream:
    """A body whose every read waits `pause` seconds in gevent before returning its next few bytes."""

    def __init__(self, data: bytes, *, pause: float, chunk: int = 4) -> None:
        self.data = io.BytesIO(data)
        self.pause = pause
        self.chunk = chunk

    def read(self, size: int = -1) -> bytes:
        gevent.sleep(self.pause)
        return self.data.read(self.chunk if size is None or size < 0 else min(size, self.chunk))

    def readline(self, size: int = -1) -> bytes:
        gevent.sleep(self.pause)
        return self.data.readline(self.chunk)

    def tell(self) -> int:
        return self.data.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.data.seek(offset, whence)


def test_slow_read_times_out():
    stream = DeadlineInput(TricklingStream(BODY, pause=5), seconds=0.05)

    with pytest.raises(BodyTimeout) as raised:
        stream.read(10)

    assert "[limits].body_timeout" in raised.value.message


def test_deadline_covers_all_reads():
    # Each read is quick, but together they outlast the deadline, as a client sending a byte at a time does.
    stream = DeadlineInput(TricklingStream(BODY * 100, pause=0.01, chunk=1), seconds=0.1)

    with pytest.raises(BodyTimeout):
        while stream.read(1):
            pass


def test_prompt_body_read_whole():
    stream = DeadlineInput(io.BytesIO(BODY + b"\nsecond line"), seconds=5)

    assert stream.readline() == BODY + b"\n"
    assert list(stream) == [b"second line"]


def test_expired_deadline_fails_without_reading():
    now = [100.0]
    stream = DeadlineInput(io.BytesIO(BODY), seconds=1, clock=lambda: now[0])
    now[0] = 101.5

    with pytest.raises(BodyTimeout):
        stream.read()


def test_app_responds_408(document):
    app = build_app(document)
    slow_app = BodyDeadline(app.wsgi_app.app, seconds=0.05, enabled=True)

    response = Client(slow_app).post(
        "/v1/leads/landing",
        input_stream=TricklingStream(BODY, pause=5),
        content_length=len(BODY),
        content_type="application/x-www-form-urlencoded",
        headers=auth(),
    )

    assert response.status_code == 408
    assert response.headers["Connection"] == "close"
    assert response.get_json()["reason"] == "body_timeout"


def test_off_without_gevent_patching(document):
    app = build_app(document)

    assert isinstance(app.wsgi_app, BodyDeadline)
    assert app.wsgi_app.enabled is False
