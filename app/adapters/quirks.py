"""Repairs for the ways senders mangle values, applied to every adapter's output."""

from __future__ import annotations

import html
import re

# A character reference such as &amp; &#39; or &#x27;, the sign that a tool HTML-encoded a value.
_ENTITY = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# PHP's addslashes escapes ' " and \ with a backslash; WordPress applies it to $_POST.
_WORDPRESS_SLASH = re.compile(r"\\(['\"\\])")


def repair(value: str) -> str:
    """Undo WordPress slashing, then decode HTML entities once."""
    if "\\" in value:
        value = _WORDPRESS_SLASH.sub(r"\1", value)
    if "&" in value and _ENTITY.search(value):
        value = html.unescape(value)
    return value
