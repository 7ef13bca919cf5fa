"""Unbounce: the form-submit webhook of a landing page, popup or sticky bar.

The default body is form-urlencoded with `page_url`, `page_name`, `page_id`,
`variant`, `data.json` and `data.xml`. The answers are only inside `data.json`,
a JSON string keyed by the form's field ids in which every value is an array,
even a single answer (checkbox groups are several items). Unbounce adds
`ip_address`, `page_uuid`, `variant`, `time_submitted`, `date_submitted`,
`page_url` and `page_name` to it. The webhook can also send JSON or XML.

Documented at documentation.unbounce.com "Using a Webhook" (article 203510044),
read in a capture of that page; the body observed in snowplow/enrich's
Unbounce adapter has the same shape. Unbounce signs nothing (it publishes its
source IP addresses instead) and sends no submission id, so `sender_id` is None.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from app.adapters import form
from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.errors import BadBody
from app.schemas.normalize import to_text

# PHP-based receivers see `data_json`, because PHP turns dots in field names into underscores.
_ANSWER_KEYS = ("data.json", "data_json")
_SKIPPED_KEYS = frozenset({*_ANSWER_KEYS, "data.xml", "data_xml"})

_EXPECTED = (
    "expected Unbounce's webhook fields page_id, page_url, variant and data.json "
    "(a JSON object of form field ids); check that the webhook points at an Unbounce source"
)


class UnbounceAdapter(Adapter):
    """Adapter that unwraps `data.json` into one field per form field id, labelled with that id."""

    name = "unbounce"

    # Field ids are the form builder's names (first_name, email, phone_number, zip_code), like a form's.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = form.FormAdapter.default_fields

    noise: ClassVar[tuple[str, ...]] = (
        "page_id",
        "page_uuid",
        "page_url",
        "page_name",
        "variant",
        "ip_address",
        "time_submitted",
        "date_submitted",
    )

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        if document is None:
            return Unwrapped(fields=_from_form(pairs))
        if any(key in document for key in _ANSWER_KEYS):
            return Unwrapped(fields=_from_json_envelope(document))

        # NOTE: the docs read do not show the JSON payload option's body; this
        # reads a JSON body without `data.json` as the answers object itself.
        fields = FieldSet()
        for key, value in pairs:
            fields.add(key, value)
        return Unwrapped(fields=fields)


def _from_form(pairs: list[tuple[str, str]]) -> FieldSet:
    raw = next((value for key, value in pairs if key in _ANSWER_KEYS), None)
    if raw is None:
        raise BadBody(f"the form has no data.json field: {_EXPECTED}")

    envelope = [(key, value) for key, value in pairs if key not in _SKIPPED_KEYS]
    return _fields(envelope, _parse_answers(raw))


def _from_json_envelope(document: dict[str, Any]) -> FieldSet:
    raw = next(document[key] for key in _ANSWER_KEYS if key in document)
    answers = raw if isinstance(raw, dict) else _parse_answers(to_text(raw))

    envelope = [
        (key, to_text(value))
        for key, value in document.items()
        if key not in _SKIPPED_KEYS and not isinstance(value, (dict, list))
    ]
    return _fields(envelope, answers)


def _parse_answers(raw: str) -> dict[str, Any]:
    if not raw.strip():
        raise BadBody(f"data.json is empty: {_EXPECTED}")
    try:
        answers = json.loads(raw, parse_float=str)
    except ValueError as error:
        raise BadBody(f"data.json is not valid JSON ({error}): {_EXPECTED}") from None
    except RecursionError:
        raise BadBody(f"data.json is nested too deeply: {_EXPECTED}") from None

    if not isinstance(answers, dict):
        raise BadBody(f"data.json is not a JSON object: {_EXPECTED}")
    return answers


def _fields(envelope: list[tuple[str, str]], answers: dict[str, Any]) -> FieldSet:
    """Return the page fields, then one field per answer, each array item one value."""
    fields = FieldSet()
    for key, value in envelope:
        fields.add(key, value)

    # data.json repeats page_url, page_name and variant, which the envelope already contains.
    envelope_keys = {key for key, _ in envelope}
    for key, value in answers.items():
        if key in envelope_keys:
            continue
        for item in value if isinstance(value, list) else [value]:
            fields.add(str(key), to_text(item))
    return fields
