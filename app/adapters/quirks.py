"""Repairs for the ways senders mangle values, applied to every adapter's output."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

# A character reference such as &amp; &#39; or &#x27;, the sign that a tool HTML-encoded a value.
_ENTITY = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# PHP's addslashes escapes ' " and \ with a backslash; WordPress applies it to $_POST.
_WORDPRESS_SLASH = re.compile(r"\\(['\"\\])")

# A value that still looks percent-encoded after the body was decoded: every "%" starts an escape.
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

# Senders that encode a body twice need two more passes at most.
_MAX_DECODES = 2


def repair(value: str) -> str:
    """Undo double percent-encoding and WordPress slashing, then decode HTML entities once."""
    value = _undo_double_encoding(value)
    if "\\" in value:
        value = _WORDPRESS_SLASH.sub(r"\1", value)
    if "&" in value and _ENTITY.search(value):
        value = html.unescape(value)
    return value


def _undo_double_encoding(value: str) -> str:
    # "john%40example.com" after the body's own decoding means the sender encoded it twice.
    # Text with a bare "%" ("50% off") is left alone, and "+" stays a plus sign.
    for _ in range(_MAX_DECODES):
        if not _ESCAPE.search(value) or _BARE_PERCENT.search(value):
            break
        try:
            value = unquote(value, errors="strict")
        except UnicodeDecodeError:
            break
    return value
