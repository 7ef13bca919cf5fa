"""Convert decoded JSON and form values to text, and clean text of invisible and control characters."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from decimal import Decimal


def to_text(value: object) -> str:
    """Convert one decoded JSON or form value to text.

    None becomes "", booleans "true"/"false", ints their exact decimal text, and
    integral floats drop the ".0" (35.0 gives "35"). Lists and tuples join their
    non-empty items with ", ", and dicts become compact JSON. Strings and
    Decimals keep the text the sender wrote. Raise TypeError for other types.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_to_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = (to_text(item).strip() for item in value)
        return ", ".join(item for item in items if item)
    if isinstance(value, dict):
        # json.dumps cannot write a Decimal as a number, so a nested one
        # becomes a JSON string.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    raise TypeError(f"cannot convert a {type(value).__name__} to text")


def _float_to_text(number: float) -> str:
    # Match JavaScript's Number#toString, the way browser and Node.js senders
    # print numbers: positional notation from 1e-6 up to 1e21, and exponent
    # notation (in Python's spelling, "1e-07") outside that range.
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    shortest = repr(number)
    if "e" in shortest and 1e-6 <= abs(number) < 1e21:
        return format(Decimal(shortest), "f")
    return shortest


# Line breaks: CR, LF, CRLF, VT, FF, NEL and the Unicode line and paragraph
# separators. CRLF comes first so that it becomes one "\n".
_LINE_BREAK_RE = re.compile("\r\n|[\r\v\f\x85\u2028\u2029]")
_SPACE_RUN_RE = re.compile("[ \t]+")
_ZERO_WIDTH_JOINER = "\u200d"
_ZERO_WIDTH_NON_JOINER = "\u200c"
_EMOJI_VARIATION_SELECTOR = "\ufe0f"
_WAVING_BLACK_FLAG = "\U0001f3f4"


def clean_text(value: str) -> str:
    """Clean free text and keep its inner line breaks.

    Line breaks become "\\n". Control characters other than "\\n" and "\\t"
    are removed, and so are invisible format characters (zero-width spaces,
    byte order marks, bidirectional controls). The joiners that emoji and
    some scripts need are kept. Unicode spaces become " ", runs of spaces and
    tabs become one space, and the result is in NFC with no spaces at line
    ends and no whitespace around it. HTML entities are left as they are.
    """
    text = _LINE_BREAK_RE.sub("\n", value)
    text = _drop_invisible_characters(text)
    text = unicodedata.normalize("NFC", text)

    lines = [_SPACE_RUN_RE.sub(" ", line).rstrip(" ") for line in text.split("\n")]
    return "\n".join(lines).strip()


def clean_single_line(value: str) -> str:
    """Clean text like clean_text and join its lines with single spaces."""
    lines = (line.strip(" ") for line in clean_text(value).split("\n"))
    return " ".join(line for line in lines if line)


def _drop_invisible_characters(text: str) -> str:
    """Remove control and format characters and turn Unicode spaces into " "."""
    kept: list[str] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if char in "\n\t":
            kept.append(char)
        elif category == "Zs":
            kept.append(" ")
        elif category in ("Cc", "Cs"):
            continue
        elif category == "Cf":
            before = kept[-1] if kept else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if _is_meaningful_format_character(char, before, after):
                kept.append(char)
        else:
            kept.append(char)
    return "".join(kept)


def _is_meaningful_format_character(char: str, before: str, after: str) -> bool:
    """Return whether a format character changes what its neighbors show.

    `before` is the last character kept so far and `after` the next one.
    A zero-width joiner inside an emoji sequence builds one emoji (a family,
    a rainbow flag). Both joiners between letters of Arabic, Persian or Indic
    text select letter forms. Tag characters after a black flag spell a
    subdivision flag such as England's.
    """
    if char == _ZERO_WIDTH_JOINER and _is_emoji_part(before) and _is_emoji_start(after):
        return True
    if char in (_ZERO_WIDTH_JOINER, _ZERO_WIDTH_NON_JOINER):
        return _is_joining_script_letter(before) and _is_joining_script_letter(after)
    if "\U000e0020" <= char <= "\U000e007f":
        return before == _WAVING_BLACK_FLAG or "\U000e0020" <= before <= "\U000e007e"
    return False


def _is_emoji_start(char: str) -> bool:
    return bool(char) and unicodedata.category(char) == "So"


def _is_emoji_part(char: str) -> bool:
    # Skin-tone modifiers (U+1F3FB to U+1F3FF) and the emoji variation
    # selector may end the emoji before a joiner.
    if not char:
        return False
    if char == _EMOJI_VARIATION_SELECTOR or "\U0001f3fb" <= char <= "\U0001f3ff":
        return True
    return unicodedata.category(char) == "So"


def _is_joining_script_letter(char: str) -> bool:
    # Letters and marks from U+0590 (Hebrew) upward count. The range takes in
    # Arabic, Persian and the Indic scripts but leaves out Latin, Greek and
    # Cyrillic, where a joiner between letters is only noise.
    if not char or char < "\u0590":
        return False
    return unicodedata.category(char)[0] in ("L", "M")
