"""Typeform: the `form_response` webhook of Typeform's Webhooks API.

Format: https://www.typeform.com/developers/webhooks/example-payload/ (one answer
per question, each pointing at its field by `id` and `ref`, the question titles in
`form_response.definition.fields`). Signing:
https://www.typeform.com/developers/webhooks/secure-your-webhooks/ (header
`Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`).

Each answer becomes one field keyed by its field's `ref`, which the form's author
can set, so a source maps `email = "work_email"`. Refs that Typeform generated
(UUIDs, ULIDs) carry no meaning, so the question's title and type also find the field:
an `email` answer counts as `email`, and a title such as "And your last name?"
as `last_name`. Hidden fields are keyed `hidden.<name>` and found by their name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.questions import QUESTION_DEFAULT_FIELDS, TitleAliases, alias_unclaimed
from app.adapters.signatures import decode_base64, hmac_digest, require_match
from app.errors import BadBody, IgnoredEvent, Unauthorized
from app.schemas.normalize import to_text

# Refs that Typeform generated rather than the form's author.
# NOTE: Typeform documents no format for them. UUIDs appear in public payloads;
# 26-character ULIDs are the form of Typeform's event ids and are treated alike.
_GENERATED_REF = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-hjkmnp-tv-z]{26}", re.IGNORECASE)

# Piped answers in titles, such as {{field:first_name}} or {{answer_60906475}}.
_PIPED = re.compile(r"\s*\{\{[^{}]*\}\}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[\s,]+([?.!:;])")

# Field types whose wording may name a standard field; a yes/no or legal question
# about "calls to this phone" must never become the phone number.
_FREE_TEXT_TYPES = {"short_text", "long_text", "dropdown"}

# Answer types that fill a standard field, whatever the question's wording.
_TYPED_ROLES = {"email": "email", "phone_number": "phone"}


def clean_title(title: Any) -> str:
    """Return a question title without piped answers, which would differ for every respondent."""
    text = to_text(title)
    if _PIPED.search(text):
        # "Thanks, {{field:first_name}}!" leaves "Thanks,!" behind, which becomes "Thanks!".
        text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _PIPED.sub("", text)).strip(" ,")
    return text.strip()


class TypeformAdapter(Adapter):
    """Unwraps a Typeform webhook's answers, hidden fields and variables."""

    name = "typeform"
    signed = True

    default_fields: ClassVar[dict[str, tuple[str, ...]]] = QUESTION_DEFAULT_FIELDS

    # Quiz scores and logic variables steer the form; [extras] can still name them.
    noise: ClassVar[tuple[str, ...]] = ("variables.*", "calculated.*")

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        response = _form_response(document)
        fields = FieldSet()
        _add_answers(fields, response)
        _add_hidden(fields, response.get("hidden"))
        _add_variables(fields, response)
        return Unwrapped(fields=fields, sender_id=_sender_id(document, response))

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        # NOTE: Typeform signs the body alone, with no timestamp, so `tolerance` has
        # nothing to check and a captured request stays valid if replayed.
        header = (headers.get("Typeform-Signature") or "").strip()
        if not header:
            raise Unauthorized("missing Typeform-Signature header: set a secret on the Typeform webhook")

        scheme, _, encoded = header.partition("=")
        if scheme != "sha256" or not encoded:
            raise Unauthorized("malformed Typeform-Signature header: expected sha256=<base64 digest>")

        # require_match compares one value with several, so the presented signature
        # is compared with the digest of every configured secret.
        return require_match(decode_base64(encoded), [hmac_digest(secret, body) for secret in secrets])


def _form_response(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise BadBody("expected Typeform's JSON webhook body with a form_response object")

    event_type = document.get("event_type") or "form_response"
    if event_type == "form_response_partial":
        raise IgnoredEvent(
            "ignored a Typeform partial response: the respondent has not submitted yet; "
            "only form_response events carry a lead"
        )
    if event_type != "form_response":
        event_name = to_text(event_type)[:60]
        raise IgnoredEvent(f"ignored Typeform event {event_name!r}: only form_response events carry a lead")

    response = document.get("form_response")
    if not isinstance(response, dict) or not isinstance(response.get("answers") or [], list):
        raise BadBody("expected Typeform's webhook body: a form_response object with an answers list")
    return response


def _add_answers(fields: FieldSet, response: dict[str, Any]) -> None:
    definitions = _definitions(response.get("definition"))
    titles = TitleAliases()

    for answer in response.get("answers") or []:
        reference = answer.get("field") if isinstance(answer, dict) else None
        if not isinstance(reference, dict):
            continue
        field_id = to_text(reference.get("id"))
        ref = to_text(reference.get("ref"))
        key = ref or field_id
        if not key:
            continue

        definition = definitions.get(field_id, {})
        title = clean_title(definition.get("title"))
        values = _answer_values(answer)
        for value in values:
            fields.add(key, value, title or key)
        if not any(value.strip() for value in values):
            # An unanswered field must not take an alias that a later answer needs.
            continue

        # Reliable names first: the field id, the answer's type, a contact block's sub-field.
        answer_type = answer.get("type")
        typed_role = _TYPED_ROLES.get(answer_type) if isinstance(answer_type, str) else None
        for alias in (field_id, typed_role, definition.get("subfield_key")):
            if isinstance(alias, str):
                alias_unclaimed(fields, alias, key)

        field_type = to_text(reference.get("type") or definition.get("type"))
        generated = not ref or _GENERATED_REF.fullmatch(ref) is not None
        titles.add(title, key, guess=generated and field_type in _FREE_TEXT_TYPES)

    titles.apply(fields)


def _definitions(definition: Any) -> dict[str, dict[str, Any]]:
    """Index field definitions by id, with the sub-fields of groups, matrices and contact blocks."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(definition.get("fields") or []) if isinstance(definition, dict) else []
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        if item.get("id") is not None:
            found[to_text(item["id"])] = item
        properties = item.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get("fields"), list):
            pending.extend(properties["fields"])
    return found


def _answer_values(answer: dict[str, Any]) -> list[str]:
    """Return an answer's values as text; each answer type keeps its value under its own name."""
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None

    if kind == "choice" and isinstance(value, dict):
        return [to_text(value.get("label") or value.get("other"))]
    if kind == "choices" and isinstance(value, dict):
        labels = value.get("labels") if isinstance(value.get("labels"), list) else []
        return [to_text(label) for label in [*labels, value.get("other")] if label is not None]
    if kind == "payment" and isinstance(value, dict):
        # The card holder's name and card digits are payment data, not lead data.
        return [to_text(value.get("amount"))]
    if kind == "multi_format" and isinstance(value, dict):
        return _recording_values(value)
    if isinstance(value, (dict, list)):
        return []
    return [to_text(value)]


# Keys of a recording answer, tried in order: the respondent's words, then the recording's URL.
_RECORDING_TEXT_KEYS = ("transcript", "text")
_RECORDING_URL_KEYS = ("url", "file_url", "audio_url", "video_url")


def _recording_values(recording: dict[str, Any]) -> list[str]:
    """Return a recorded answer's transcript or text, or else its URL.

    NOTE: the pages read (Typeform's webhook example payload and Responses API
    explanation) do not show a `multi_format` answer, so its keys are a guess
    from the answer's purpose.
    """
    for keys in (_RECORDING_TEXT_KEYS, _RECORDING_URL_KEYS):
        for key in keys:
            value = recording.get(key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and to_text(value).strip():
                return [to_text(value)]
    return []


def _add_hidden(fields: FieldSet, hidden: Any) -> None:
    # Keyed apart from the answers, so an answered `email` outranks a prefilled one.
    if not isinstance(hidden, dict):
        return
    for name, value in hidden.items():
        if not isinstance(value, (dict, list)):
            fields.add(f"hidden.{name}", to_text(value), label=str(name))
            alias_unclaimed(fields, str(name), f"hidden.{name}")


def _add_variables(fields: FieldSet, response: dict[str, Any]) -> None:
    variables = response.get("variables")
    for variable in variables if isinstance(variables, list) else []:
        if isinstance(variable, dict) and variable.get("key") is not None:
            value = variable.get(to_text(variable.get("type")))
            if not isinstance(value, (dict, list)):
                name = to_text(variable["key"])
                fields.add(f"variables.{name}", to_text(value), label=name)

    calculated = response.get("calculated")
    if isinstance(calculated, dict) and "score" in calculated:
        fields.add("calculated.score", to_text(calculated["score"]), label="score")


def _sender_id(document: dict[str, Any], response: dict[str, Any]) -> str | None:
    # event_id names the delivery; the response token is the fallback for hand-built bodies.
    for candidate in (document.get("event_id"), response.get("token")):
        if isinstance(candidate, (str, int)) and not isinstance(candidate, bool) and to_text(candidate).strip():
            return to_text(candidate).strip()
    return None
