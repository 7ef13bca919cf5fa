"""A deadline on reading the request body, so a client trickling its body cannot hold a connection forever.

Gunicorn's gevent worker bounds the wait for a request's headers (its
keepalive setting) but not the body, which the app reads. This WSGI
middleware gives every read of `wsgi.input` the time left until
`[limits].body_timeout` seconds after the request started. Past it the read
raises BodyTimeout, and the response is 408. Gunicorn marks a body whose
read raised as failed and closes the connection after the response.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from app.errors import BodyTimeout


def gevent_patched() -> bool:
    """Return whether gevent has patched the socket module, as gunicorn.conf.py does in every worker."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


class BodyDeadline:
    """WSGI middleware: reads of the request body fail with BodyTimeout once `seconds` have passed."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, seconds: float, enabled: bool | None = None) -> None:
        self.app = app
        self.seconds = seconds
        # NOTE: the deadline needs gevent. Under thread or sync workers no deadline applies to the body.
        self.enabled = gevent_patched() if enabled is None else enabled

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.enabled and environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = DeadlineInput(environ["wsgi.input"], seconds=self.seconds)
        return self.app(environ, start_response)


class DeadlineInput:
    """A request body stream whose reads must all finish within `seconds` of its creation."""

    def __init__(self, stream: Any, *, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds

    def read(self, *args: Any) -> bytes:
        return self._within(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._within(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._within(self._stream.readlines, *args)

    def __iter__(self) -> DeadlineInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _within(self, method: Callable[..., Any], *args: Any) -> Any:
        import gevent

        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise self._timeout()
        with gevent.Timeout(remaining, self._timeout()):
            return method(*args)

    def _timeout(self) -> BodyTimeout:
        return BodyTimeout(
            f"the body did not arrive within {self._seconds:g} seconds ([limits].body_timeout); "
            "send the whole body at once"
        )
