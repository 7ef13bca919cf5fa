"""Fault specs for the PhoneBurner simulator: their syntax and parsed form.

A fault replaces the simulator's normal reply to one put_contact request (or
to every request, when sticky). Specs are short strings so that tests, the
command line and the JSON control endpoint can all write them:

- `delay:<ms>`: wait, then reply normally.
- `hang`: keep the connection open for the settings' `hang_seconds`
  (default 600 s), then close it without a reply.
- `reset`: close the connection at once with a TCP reset and no reply.
- `hang:processed`, `reset:processed`: accept the lead first, as a normal
  request would, then hang or reset. A retry of the same e-mail then gets
  DUPLICATE EMAIL.
- `http:<code>` or `http:<code>:<seconds>`: an HTML error page with that
  status (400 to 599) and, when seconds are given, a `Retry-After` header.
- `html`: status 200 with an HTML error page.
- `empty`: status 200 with an empty body.
- `reply:<text>`: status 200 with exactly this body, which may contain
  colons, a byte order mark or CRLF (`reply:FAILURE|SOMETHING NEW`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from http import HTTPStatus

# Error page in the style of a web server or proxy in front of the vendor.
HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>The server could not handle the request.</p></body></html>\n"
)


@dataclass(frozen=True)
class Fault:
    """A parsed fault spec. `spec` is the string it was parsed from."""

    spec: str
    kind: str
    delay_ms: int = 0
    status: int = 200
    retry_after: int | None = None
    body: str = ""
    after_processing: bool = False

    def headers(self) -> list[tuple[str, str]]:
        """Return the extra response headers of a fault that sends a reply."""
        if self.retry_after is None:
            return []
        return [("Retry-After", str(self.retry_after))]


@cache
def status_line(code: int) -> str:
    """Return `<code> <reason phrase>`, with "Error" for codes that have no standard phrase."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Error"


def _parse_int(text: str, spec: str, what: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(f"invalid fault {spec!r}: {what} must be an integer from {low} to {high}")
    return int(text)


def parse_fault(spec: str) -> Fault:
    """Parse a fault spec (syntax in the module docstring). Raise ValueError if invalid."""
    kind, _, argument = spec.partition(":")

    if kind == "reply":
        return Fault(spec, kind, body=argument)

    if kind == "delay":
        return Fault(spec, kind, delay_ms=_parse_int(argument, spec, "the delay in ms", 0, 3_600_000))

    if kind in ("hang", "reset"):
        if argument not in ("", "processed"):
            raise ValueError(f"invalid fault {spec!r}: use {kind} or {kind}:processed")
        return Fault(spec, kind, after_processing=argument == "processed")

    if kind == "http":
        code_text, _, retry_text = argument.partition(":")
        code = _parse_int(code_text, spec, "the HTTP status", 400, 599)
        retry_after = None
        if retry_text:
            retry_after = _parse_int(retry_text, spec, "Retry-After", 0, 86_400)
        body = HTML_ERROR_PAGE.format(title=status_line(code))
        return Fault(spec, kind, status=code, retry_after=retry_after, body=body)

    if kind in ("html", "empty") and not argument:
        body = HTML_ERROR_PAGE.format(title="Error") if kind == "html" else ""
        return Fault(spec, kind, body=body)

    raise ValueError(
        f"invalid fault {spec!r}: expected one of delay:<ms>, hang, reset, "
        "http:<code>[:<retry-after seconds>], html, empty, reply:<text>"
    )
