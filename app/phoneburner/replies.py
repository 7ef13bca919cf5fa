"""Parse PhoneBurner's plain-text replies and classify every outcome.

The vendor's document writes replies three ways (`SUCCESS | <url>`,
`FAILURE|REASON` and `ERROR|REASON`), so the parser accepts any case, spaces
around the bar, CR/LF line ends and a byte order mark. Transport failures,
which the client detects, use the same `Reply` type with a machine reason.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit


class ReplyClass(StrEnum):
    """Outcome category of a put_contact attempt, which decides the lead's next step."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    LEAD_REJECTED = "lead_rejected"
    CONFIG_FAULT = "config_fault"
    UNREACHABLE = "unreachable"
    AMBIGUOUS = "ambiguous"
    UNAVAILABLE = "unavailable"
    UNRECOGNIZED = "unrecognized"


# Classes worth another attempt. UNRECOGNIZED is among them, but the caller
# should give it a smaller retry budget, because an unparseable reply rarely
# changes on its own. A CONFIG_FAULT needs an operator's fix and then a replay.
_RETRYABLE = frozenset(
    {
        ReplyClass.UNREACHABLE,
        ReplyClass.AMBIGUOUS,
        ReplyClass.UNAVAILABLE,
        ReplyClass.UNRECOGNIZED,
    }
)

# Every reason in the vendor's document, normalized, and its class.
_REASON_CLASSES: dict[str, ReplyClass] = {
    "DUPLICATE EMAIL": ReplyClass.DUPLICATE,
    "INVALID EMAIL": ReplyClass.LEAD_REJECTED,
    "UNKNOWN USER": ReplyClass.CONFIG_FAULT,
    "CANCELLED USER": ReplyClass.CONFIG_FAULT,
    "CM_ID IS REQUIRED": ReplyClass.CONFIG_FAULT,
    "CM_ID IS INVALID": ReplyClass.CONFIG_FAULT,
    "IDNUMBER IS REQUIRED": ReplyClass.CONFIG_FAULT,
    "BAD RESPONSE TYPE": ReplyClass.CONFIG_FAULT,
}

# The outcome word, then optionally a bar and the rest of the line.
_REPLY_LINE = re.compile(r"(SUCCESS|FAILURE|ERROR)\s*(?:\|(.*))?", re.IGNORECASE)

EXCERPT_MAX_CHARS = 120

# Enough of a body to fill an excerpt even after whitespace runs collapse.
_EXCERPT_SCAN_CHARS = 4096


@dataclass(frozen=True)
class Reply:
    """The classified outcome of one put_contact attempt.

    `reason` is the vendor's reason, upper-cased with whitespace collapsed
    (`DUPLICATE EMAIL`), or a lower_snake machine reason for anything else
    (`read_timeout`, `http_503`, `unrecognized_reply`, `redirect`).
    """

    reply_class: ReplyClass
    outcome: str | None = None
    reason: str | None = None
    lead_url: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    excerpt: str | None = None
    elapsed_ms: float | None = None

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed without an operator's help."""
        return self.reply_class in _RETRYABLE


def parse_reply(*, status: int, body: bytes, headers: Mapping[str, str]) -> Reply:
    """Classify an HTTP response from put_contact.

    A 5xx or 429 status means UNAVAILABLE whatever the body contains, with
    `retry_after` taken from the Retry-After header. A 3xx is UNRECOGNIZED
    with reason `redirect`, because put_contact never redirects a valid
    request. Any other status is classified by its body when the body is a
    known reply. Otherwise the result is UNRECOGNIZED with reason
    `unrecognized_reply` (status 200) or `http_<status>`, plus an excerpt.
    """
    if status >= 500 or status == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        return Reply(
            reply_class=ReplyClass.UNAVAILABLE,
            reason=f"http_{status}",
            http_status=status,
            retry_after=retry_after,
        )

    if 300 <= status < 400:
        # No excerpt: a redirect page may echo the request URL, vendor key included.
        return Reply(reply_class=ReplyClass.UNRECOGNIZED, reason="redirect", http_status=status)

    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    reply = _parse_reply_text(text, status)
    if reply is not None:
        return reply

    return Reply(
        reply_class=ReplyClass.UNRECOGNIZED,
        outcome=_outcome_word(text),
        reason="unrecognized_reply" if status == 200 else f"http_{status}",
        http_status=status,
        excerpt=make_excerpt(text),
    )


def _parse_reply_text(text: str, status: int) -> Reply | None:
    """Return the Reply for a known vendor reply, or None for anything else."""
    match = _REPLY_LINE.fullmatch(_first_line(text))
    if match is None:
        return None

    outcome = match.group(1).upper()
    rest = match.group(2) or ""
    if outcome == "SUCCESS":
        lead_url = rest.strip()
        return Reply(
            reply_class=ReplyClass.DELIVERED,
            outcome=outcome,
            lead_url=lead_url if _is_http_url(lead_url) else None,
            http_status=status,
        )

    reason = " ".join(rest.split()).upper()
    reply_class = _REASON_CLASSES.get(reason)
    if reply_class is None:
        return None
    return Reply(reply_class=reply_class, outcome=outcome, reason=reason, http_status=status)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            return stripped
    return ""


def _outcome_word(text: str) -> str | None:
    """Return SUCCESS, FAILURE or ERROR if an unknown reply starts with one."""
    match = _REPLY_LINE.fullmatch(_first_line(text))
    return match.group(1).upper() if match else None


def _is_http_url(text: str) -> bool:
    # Control characters such as NUL are no part of a URL, and PostgreSQL cannot store NUL.
    if not text or any(char.isspace() or not char.isprintable() for char in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up by name in any case, even in a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Convert a Retry-After value to seconds from `now`, never below zero.

    Both forms of RFC 9110 are accepted: delta-seconds (`120`) and an
    HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`). `now` is a Unix time that
    defaults to the current time. Returns None for a missing or invalid value.
    """
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return _clamp_retry_after(float(value))

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        # RFC 9110 dates are always GMT; parsedate leaves "-0000" naive.
        moment = moment.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return _clamp_retry_after(moment.timestamp() - current)


# A vendor asking for more than a day is treated as asking for a day.
MAX_RETRY_AFTER = 86_400.0


def _clamp_retry_after(seconds: float) -> float:
    # float() turns hundreds of digits into inf, which min() also clamps.
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def make_excerpt(text: str) -> str | None:
    """Return up to 120 characters of `text` that are safe to log.

    Control and format characters (line breaks, escape sequences, bidi
    overrides) become spaces and whitespace runs collapse, so an excerpt
    cannot forge log lines. Returns None when nothing printable is left.
    """
    head = text[:_EXCERPT_SCAN_CHARS]
    cleaned = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in head)
    collapsed = " ".join(cleaned.split())
    return collapsed[:EXCERPT_MAX_CHARS] or None
