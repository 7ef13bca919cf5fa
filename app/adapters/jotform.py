"""Jotform webhooks: one multipart/form-data POST per form submission.

Jotform's webhook integration (Form Settings > Integrations > WebHooks) posts
about twenty envelope parts (`formID`, `submissionID`, `formTitle`, `ip`,
`username`, `pretty`, ...) plus `rawRequest`, a JSON string with the answers:

* answers are keyed `q<N>_<name>`, where `<name>` is the question's unique
  name (a slug of its label, such as `fullName` or `email`), which the n8n
  JotFormTrigger node also uses to look questions up;
* a Full Name answer is `{"first", "last"}` (prefix, middle and suffix when
  enabled, trailing spaces as typed), a Phone answer `{"area", "phone"}` or
  `{"full"}` with an input mask, an Address answer `{"addr_line1",
  "addr_line2", "city", "state", "postal", "country"}`, a Date answer
  `{"month", "day", "year"}`, checkboxes an array;
* the JSON is PHP-encoded (`\\/`, `\\uXXXX`) and text answers keep HTML
  entities such as `&amp;` and `&quot;`, which FieldSet decodes;
* the other `rawRequest` keys are bookkeeping (`slug`, `jsExecutionTracker`,
  `event_id`, `temp_upload`, ...) or links to uploaded files, repeated
  without the `q<N>_` prefix; the relay forwards no files, so all are skipped.

`pretty` repeats the answers as `Label:Value, ...` and loses structure (a
comma inside an answer is ambiguous), so it is not read.

NOTE: Jotform publishes no description of this body that could be read for
this module. The format comes from recorded deliveries: the fixtures of
github.com/zulip/zulip (zerver/webhooks/jotform/fixtures/*.multipart) and the
n8n JotFormTrigger node (packages/nodes-base/nodes/JotForm). Jotform does not
sign its webhooks.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.errors import BadBody
from app.schemas.normalize import to_text

# `q3_fullName` -> `fullName`.
_ANSWER_KEY = re.compile(r"q\d+_(?P<name>.+)", re.DOTALL)

# Envelope parts become fields under this prefix, so they never collide with
# an answer named `subject` or `type`, and a source can still forward one with
# [extras] "Form" = "jotform.formTitle".
ENVELOPE_PREFIX = "jotform."

# `rawRequest` is unpacked into answers and `pretty` repeats them. `webhookURL`
# echoes the URL Jotform posts to, which carries the relay's ?token=, so it
# must never reach PhoneBurner or a log.
_UNCOPIED_PARTS = frozenset({"rawRequest", "pretty", "webhookURL"})

_NAME_PARTS = frozenset({"prefix", "first", "middle", "last", "suffix"})
_PHONE_PARTS = frozenset({"area", "phone", "full"})
_DATE_PARTS = ("year", "month", "day")


class JotformAdapter(Adapter):
    """Unwraps Jotform's multipart envelope; answers are keyed by question name."""

    name = "jotform"

    # Jotform's default question names for its Full Name, Email, Phone and
    # Address elements, then names that short-text questions commonly get.
    # Matched loosely, so `first_name` also finds `firstName`.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("fullName.first", "name.first", "yourName.first", "contactName.first", "firstName"),
        "lastname": ("fullName.last", "name.last", "yourName.last", "contactName.last", "lastName"),
        "fullname": ("fullName", "name", "yourName", "contactName"),
        "email": ("email", "emailAddress", "yourEmail", "workEmail"),
        "phone": ("phoneNumber", "phone", "mobileNumber", "mobile", "cellPhone", "yourPhone"),
        "address1": ("address.addr_line1", "streetAddress"),
        "address2": ("address.addr_line2",),
        "city": ("address.city", "city"),
        "state": ("address.state", "state"),
        "zip": ("address.postal", "zipCode", "zip", "postalCode"),
        "country": ("address.country", "country"),
    }

    # Every envelope part: form and submission ids, IP, account name, titles.
    noise: ClassVar[tuple[str, ...]] = (f"{ENVELOPE_PREFIX}*",)

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        envelope = _envelope(document, pairs)
        answers = _raw_request(envelope.get("rawRequest"))

        fields = FieldSet()
        for key, value in answers.items():
            match = _ANSWER_KEY.fullmatch(key)
            if match is not None:
                _add_answer(fields, match["name"], value)

        for key, value in envelope.items():
            if key not in _UNCOPIED_PARTS:
                fields.add(f"{ENVELOPE_PREFIX}{key}", to_text(value))

        sender_id = to_text(envelope.get("submissionID")).strip() or None
        return Unwrapped(fields=fields, sender_id=sender_id)


def _envelope(document: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Return the envelope parts by name. A JSON body, such as a re-posted delivery, is used as it is."""
    if isinstance(document, dict):
        return document
    envelope: dict[str, Any] = {}
    for key, value in pairs:
        envelope.setdefault(key, value)
    return envelope


def _raw_request(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise BadBody(
            "expected Jotform's webhook body: multipart/form-data with a rawRequest part "
            "holding the answers as a JSON object"
        )

    try:
        # Decimal text stays as written, the same rule the relay's JSON reader follows.
        answers = json.loads(raw, parse_float=str)
    except ValueError as error:
        raise BadBody(f"Jotform's rawRequest part is not valid JSON: {error}") from None
    if not isinstance(answers, dict):
        raise BadBody("Jotform's rawRequest part must be a JSON object of answers")
    return answers


def _add_answer(fields: FieldSet, name: str, value: Any) -> None:
    """Add one answer: name and address parts as `<name>.<part>`, others as one field."""
    if isinstance(value, dict):
        # A Full Name answer has `first` or `last`, an Address answer `addr_line1`.
        if _NAME_PARTS & value.keys() or "addr_line1" in value:
            for part, text in value.items():
                fields.add(f"{name}.{part}", to_text(text))
        else:
            fields.add(name, _composite_text(value))
    elif isinstance(value, list):
        # A checkbox answer: one value per ticked box, joined by FieldSet.
        for item in value or [""]:
            fields.add(name, to_text(item))
    else:
        fields.add(name, to_text(value))


def _composite_text(value: dict[str, Any]) -> str:
    """Write a Phone, Date or other composite answer as one text."""
    parts = {key: to_text(item).strip() for key, item in value.items()}

    if parts.keys() <= _PHONE_PARTS:
        # `{"area": "949", "phone": "5550166"}` -> "949 5550166", which the
        # relay's phone parser reads in the lead's region.
        return " ".join(text for text in parts.values() if text)

    if all(parts.get(part) for part in _DATE_PARTS):
        date = "-".join(parts.pop(part) for part in _DATE_PARTS)
        rest = [text for text in parts.values() if text]
        return " ".join([date, *rest])

    # A date left empty, or partly empty, falls through to here too.
    return ", ".join(text for text in parts.values() if text)
