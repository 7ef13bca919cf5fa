"""Build the put_contact URL: parameter order, encoding and the length limit.

PhoneBurner's LeadStream route takes the whole lead, vendor key included, in
the query string of one GET. The URL is therefore a secret, and it must stay
under the URL length that common web servers accept, so long answers are cut
with a visible marker and, as a last resort, extras are dropped from the end.
"""

from __future__ import annotations

import string
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from urllib.parse import quote, urlsplit, urlunsplit

import phonenumbers

from app.leads import Extra, Lead

# Appended to every answer that was cut so the agent sees that text is missing.
TRUNCATION_MARKER = " [truncated]"

# Stands in for the vendor key in `PutContactRequest.redacted_url`.
REDACTED = "REDACTED"

# Characters that `quote(value, safe="")` leaves as they are: RFC 3986 unreserved.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


class UrlTooLong(ValueError):
    """The URL exceeds the limit even without any extras."""

    def __init__(self, *, size: int, limit: int, longest_field: str) -> None:
        super().__init__(
            f"standard fields too long: the put_contact URL needs {size} bytes "
            f"without extras, over the limit of {limit} bytes "
            f"(longest field: {longest_field})"
        )
        self.size = size
        self.limit = limit
        self.longest_field = longest_field


@dataclass(frozen=True)
class PutContactRequest:
    """A put_contact URL ready to send, and what the length limit cut from it.

    `url` contains the vendor key and `redacted_url` still contains the lead's
    personal data, so `repr()` shows neither.
    """

    url: str = field(repr=False)
    redacted_url: str = field(repr=False)
    truncated: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


def phone_for_phoneburner(e164: str) -> str:
    """Convert an E.164 number to the form PhoneBurner expects.

    Numbers of the North American Numbering Plan (country code 1) become ten
    digits, as in the vendor's own example (`9495551212`). Every other number
    stays in E.164 form. Raises ValueError if the input cannot be parsed; the
    message leaves the number out because it is personal data.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise ValueError("phone is not a parseable E.164 number") from None

    national = str(number.national_number)
    if number.country_code == 1 and len(national) == 10:
        return national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def build_put_contact(
    *,
    base_url: str,
    vendor_key: str,
    user_id: str,
    cm_id: str,
    lead: Lead,
    max_url_bytes: int = 8000,
) -> PutContactRequest:
    """Build the put_contact URL for one lead, fitted into `max_url_bytes`.

    Parameters travel as key, user_id, cm_id, the non-empty standard fields,
    then `question[i]` and `answer[i]` for each extra in order. Names and
    values are UTF-8 and percent-encoded with nothing left safe, so `+`
    travels as `%2B` and a space as `%20`. Raises UrlTooLong if the URL is
    over the limit even without extras.

    The brackets in `question[0]` travel as `question%5B0%5D`, although the
    vendor's example shows them bare. urllib3 2.x percent-encodes `[` and `]`
    in every query it sends, so encoding them here keeps `url` equal to the
    request line and its length exact. Standard query parsers, Python's
    `parse_qsl` among them, decode both forms to the same name.
    NOTE: the encoded form has not been tried against PhoneBurner's server.
    """
    base, separator = _split_base_url(base_url)
    fixed_values = [("user_id", user_id), ("cm_id", cm_id), *_standard_pairs(lead)]
    fixed_tail = "".join(f"&{name}={_encode(value)}" for name, value in fixed_values)

    fixed_size = len(base.encode("utf-8")) + len(separator) + len("key=")
    fixed_size += len(_encode(vendor_key)) + len(fixed_tail)
    if fixed_size > max_url_bytes:
        raise UrlTooLong(
            size=fixed_size,
            limit=max_url_bytes,
            longest_field=_longest_field_name(fixed_values),
        )

    fitted = _fit_extras(lead.extras, budget=max_url_bytes - fixed_size)
    extras_tail = "".join(fitted.parts)
    url = f"{base}{separator}key={_encode(vendor_key)}{fixed_tail}{extras_tail}"
    redacted_url = f"{base}{separator}key={REDACTED}{fixed_tail}{extras_tail}"
    return PutContactRequest(
        url=url,
        redacted_url=redacted_url,
        truncated=fitted.truncated,
        dropped=fitted.dropped,
    )


def _encode(value: str) -> str:
    # A lone surrogate (possible after JSON decoding) cannot be UTF-8 encoded,
    # so it travels as an encoded "?" instead of failing the delivery.
    return quote(value, safe="", encoding="utf-8", errors="replace")


def _split_base_url(base_url: str) -> tuple[str, str]:
    """Return the base URL without fragment and the separator its query needs."""
    scheme, netloc, path, query, _fragment = urlsplit(base_url)
    query = query.rstrip("&")
    base = urlunsplit((scheme, netloc, path, query, ""))
    return base, ("&" if query else "?")


def _standard_pairs(lead: Lead) -> list[tuple[str, str]]:
    pairs = []
    for name, value in lead.standard_fields():
        if name == "phone":
            value = phone_for_phoneburner(value)
        pairs.append((name, value))
    return pairs


def _longest_field_name(pairs: list[tuple[str, str]]) -> str:
    name, _value = max(pairs, key=lambda pair: len(_encode(pair[1])))
    return name


@dataclass(frozen=True)
class _FittedExtras:
    parts: list[str]
    truncated: tuple[str, ...]
    dropped: tuple[str, ...]


class _Answer:
    """One extra's answer, with the byte counts needed to cut it quickly."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.encoded = _encode(text)
        self.size = len(self.encoded)
        self._limit = limit
        self._prefix_sizes: list[int] | None = None

    def longest_prefix(self, max_bytes: int) -> tuple[int, int]:
        """Return the longest prefix that encodes into at most `max_bytes` bytes.

        The result is the prefix's length in characters and its encoded size.
        """
        if self._prefix_sizes is None:
            # No kept prefix can exceed the URL limit, and every character
            # encodes into at least one byte, so `limit` characters suffice.
            head = self.text[: self._limit]
            self._prefix_sizes = list(accumulate(_encoded_size(char) for char in head))
        kept_chars = bisect_right(self._prefix_sizes, max_bytes)
        return kept_chars, (self._prefix_sizes[kept_chars - 1] if kept_chars else 0)

    def size_at_level(self, level: int, marker_size: int) -> int:
        """Return the encoded size of this answer when cut down to `level` bytes."""
        if self.size <= level:
            return self.size
        _kept_chars, kept_size = self.longest_prefix(level - marker_size)
        return kept_size + marker_size

    def cut_to_level(self, level: int, marker_size: int) -> str:
        kept_chars, _kept_size = self.longest_prefix(level - marker_size)
        return _encode(self.text[:kept_chars]) + _encode(TRUNCATION_MARKER)


def _encoded_size(char: str) -> int:
    if char in _UNRESERVED:
        return 1
    return 3 * len(char.encode("utf-8", errors="replace"))


def _fit_extras(extras: list[Extra], *, budget: int) -> _FittedExtras:
    """Encode the extras into at most `budget` bytes of query string.

    Answers are cut to one common level, so the longest is cut first and the
    others only once it is down to their size ("water filling"). An answer is
    cut at a character boundary and never below the marker. When even
    marker-only answers do not fit, extras are dropped from the end, which
    keeps the indexes of the remaining ones unchanged.
    """
    marker_size = len(_encode(TRUNCATION_MARKER))
    heads = [
        f"&{_encode(f'question[{index}]')}={_encode(extra.label)}"
        f"&{_encode(f'answer[{index}]')}="
        for index, extra in enumerate(extras)
    ]
    answers = [_Answer(extra.value, budget) for extra in extras]

    # Drop extras from the end until the rest fit with their answers at the minimum.
    minimum_sizes = [
        len(head) + min(answer.size, marker_size)
        for head, answer in zip(heads, answers, strict=True)
    ]
    kept_count = len(extras)
    minimum_total = sum(minimum_sizes)
    while kept_count and minimum_total > budget:
        kept_count -= 1
        minimum_total -= minimum_sizes[kept_count]
    dropped = tuple(extra.label for extra in extras[kept_count:])
    extras = extras[:kept_count]
    heads = heads[:kept_count]
    answers = answers[:kept_count]

    answer_budget = budget - sum(len(head) for head in heads)
    level = _highest_fitting_level(answers, answer_budget, marker_size)

    parts, truncated = [], []
    for head, answer, extra in zip(heads, answers, extras, strict=True):
        if answer.size <= level:
            parts.append(head + answer.encoded)
        else:
            parts.append(head + answer.cut_to_level(level, marker_size))
            truncated.append(extra.label)
    return _FittedExtras(parts=parts, truncated=tuple(truncated), dropped=dropped)


def _highest_fitting_level(answers: list[_Answer], budget: int, marker_size: int) -> int:
    """Return the largest per-answer size at which all answers fit in `budget`.

    The caller guarantees that answers cut down to the marker fit, so the
    level `marker_size` is always feasible. Each probe costs one binary
    search per answer, never a re-encoding.
    """
    highest = max((answer.size for answer in answers), default=0)
    if sum(answer.size for answer in answers) <= budget:
        return highest

    # Invariant: `low` fits and `high` does not.
    low, high = marker_size, highest
    while high - low > 1:
        middle = (low + high) // 2
        total = sum(answer.size_at_level(middle, marker_size) for answer in answers)
        if total <= budget:
            low = middle
        else:
            high = middle
    return low
