"""Remove secrets and personal data from text bound for logs and terminals.

The relay's code logs ids, counts and reason codes, never a lead's values,
a token or the put_contact URL. This module is the last line of defence for
what slips through anyway: an exception's message, a library's log line, or
a header a sender filled with a phone number. It replaces

- every configured secret, as written and percent-encoded, with `REDACTED`;
- every URL query string (`?name=value...`) with `?REDACTED`, so neither a
  put_contact URL with its `key=` nor a sender's `?token=` survives;
- every email address with its first character and domain (`j***@example.com`);
- every phone number with its last two digits (`***42`).

A phone number here is 9 to 15 digits, optionally after a `+` and split by
spaces, dots, dashes, slashes or parentheses, and not glued to a letter or
digit. So other long numbers (a Unix time such as 1741976400) are masked
too, while dates, times, IP addresses, decimal numbers, a port followed by a
process id and the digits inside ids are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "REDACTED"

# Shorter values would mask ordinary words. Tokens need 16 characters by the configuration's rules.
# NOTE: a vendor key or signing secret shorter than this is not redacted.
MIN_SECRET_CHARS = 4

# A query string: "?" then text with an "=" in it, up to whitespace or a quote.
_QUERY = re.compile(r"\?[^\s\"'=]*=[^\s\"']*")

# The local part is RFC 5322 atext without "/", "=" and "?". In logs those characters more often
# end a path or a parameter name than belong to an address. "%40" is an "@" percent-encoded.
_EMAIL = re.compile(r"([\w.!#$%&'*+^`{|}~-]+)(@|%40)([\w-]+(?:\.[\w-]+)+)")

_SEPARATOR = r"(?:[ \t().\-/]|%20|%28|%29)"
_PHONE = re.compile(
    # Not glued to a letter or digit, nor inside a dotted or dashed token (a UUID), unless after a percent escape.
    r"(?:(?<![^\W_])(?<![^\W_][.-])|(?<=%[0-9A-Fa-f]{2}))"
    r"(?:\+|%2[Bb])?\(?"
    r"\d(?:" + _SEPARATOR + r"{0,3}\d){8,14}"
    # Not followed by a letter or digit, a time's colon, or a dotted or dashed continuation.
    r"(?![^\W_]|:|[.-][^\W_])"
)

# Digit runs the phone pattern matches that are something else: IPv4 addresses and decimal numbers.
_NOT_PHONE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d+\.\d+")

# A port and a process id in parentheses after a URL's host, as in gunicorn's
# "Listening at: http://127.0.0.1:8080 (12345)": the phone pattern matches "8080 (12345".
_PORT_AND_PID = re.compile(r"\d{1,5} \(\d{1,7}")
_URL_HOST_BEFORE = re.compile(r"://[\w.\-\[\]:]{1,255}:\Z")


class Redactor:
    """Replaces known secrets, query strings, emails and phone numbers in text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                forms |= {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
        # Sorted by length, longest first, so a secret that contains a shorter one is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact_secrets(self, text: str) -> str:
        """Return `text` with every configured secret replaced by REDACTED."""
        if self._secrets is None:
            return text
        return self._secrets.sub(REDACTED, text)

    def redact(self, text: str) -> str:
        """Return `text` without secrets, query strings, emails or phone numbers."""
        text = self.redact_secrets(text)
        if "?" in text:
            text = _QUERY.sub(f"?{REDACTED}", text)
        if "@" in text or "%40" in text:
            text = _EMAIL.sub(_mask_email, text)
        return _PHONE.sub(_mask_phone, text)


def _mask_email(match: re.Match[str]) -> str:
    local, at, domain = match.groups()
    return f"{local[0]}***{at}{domain}"


def _mask_phone(match: re.Match[str]) -> str:
    number = match.group(0)
    if _NOT_PHONE.fullmatch(number):
        return number
    if _PORT_AND_PID.fullmatch(number) and _after_url_host(match):
        return number
    digits = re.sub(r"\D", "", number)
    return f"***{digits[-2:]}"


def _after_url_host(match: re.Match[str]) -> bool:
    """Return whether the match follows a URL's host and colon, and a ")" closes it."""
    before = match.string[max(0, match.start() - 300) : match.start()]
    return match.string[match.end() : match.end() + 1] == ")" and _URL_HOST_BEFORE.search(before) is not None
