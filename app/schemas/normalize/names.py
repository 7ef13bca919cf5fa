"""Split a full name into first and last name."""

from __future__ import annotations

import re

from app.schemas.normalize.text import clean_single_line

# Suffixes that follow a comma after a full name, as in "John Smith, Jr.", and
# so do not mark the "Last, First" order.
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "md", "phd", "esq", "dds", "dvm", "cpa", "rn", "jd", "mba"})


def split_full_name(value: str) -> tuple[str | None, str | None]:
    """Split a full name into (first name, last name).

    The first word is the first name and the rest the last name, so a single
    word has no last name and an empty value gives (None, None). A name with
    exactly one comma is read as "Last, First", unless a suffix such as "Jr."
    follows the comma.
    """
    text = clean_single_line(value)
    if not text:
        return None, None

    if text.count(",") == 1:
        before, after = (part.strip() for part in text.split(","))
        if before and after and not _is_name_suffix(after):
            return after, before

    first, _, last = text.partition(" ")
    first = first.rstrip(",") or first
    return first, last or None


def _is_name_suffix(text: str) -> bool:
    words = re.findall(r"[^\W_]+", text.casefold().replace(".", ""))
    return bool(words) and all(word in _NAME_SUFFIXES for word in words)
