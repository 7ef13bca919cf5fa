"""Tally (tally.so): the FORM_RESPONSE webhook sent for each form submission.

Format and signing: https://tally.so/help/webhooks ("Example webhook event", "Add
a signing secret"). The body is `{eventId, eventType, createdAt, data: {responseId,
submissionId, respondentId, formId, formName, createdAt, fields: [...]}}` with
each field `{key, label, type, value, options?}`. With a signing secret set, the
`Tally-Signature` header carries the base64 HMAC-SHA256 of the body.

Fields are keyed by Tally's `key` (`question_3EKz4n`), which stays the same when
a question is reworded. Those keys carry no meaning, so a field is also found by its
type (INPUT_EMAIL counts as `email`), its label ("Phone number" matches
`phone_number`) and the role its wording names ("What's your last name?" counts
as `last_name`). Choice answers arrive as option ids and leave as option texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.questions import QUESTION_DEFAULT_FIELDS, TitleAliases, alias_unclaimed
from app.adapters.signatures import decode_base64, hmac_digest, require_match
from app.errors import BadBody, IgnoredEvent, Unauthorized
from app.schemas.normalize import to_text

# Field types that fill a standard field, whatever the label's wording.
_TYPED_ROLES = {"INPUT_EMAIL": "email", "INPUT_PHONE_NUMBER": "phone"}

# Field types whose wording may name a standard field; a checkbox labelled
# "Call my phone" must never become the phone number.
_FREE_TEXT_TYPES = {"INPUT_TEXT", "TEXTAREA", "DROPDOWN"}


class TallyAdapter(Adapter):
    """Unwraps the fields of a Tally FORM_RESPONSE event."""

    name = "tally"
    signed = True

    default_fields: ClassVar[dict[str, tuple[str, ...]]] = QUESTION_DEFAULT_FIELDS

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        data = _response_data(document)
        items = [item for item in data["fields"] if isinstance(item, dict) and isinstance(item.get("key"), str)]
        checkbox_groups = {item["key"] for item in items if item.get("type") == "CHECKBOXES"}

        fields = FieldSet()
        labels = TitleAliases()
        for item in items:
            if _is_option_flag(item, checkbox_groups):
                continue
            key = item["key"]
            label = to_text(item.get("label")).strip()
            values = _values(item)
            for value in values:
                fields.add(key, value, label or key)
            if not any(value.strip() for value in values):
                # An unanswered field must not take an alias that a later answer needs.
                continue

            # The first alias of a name wins, so types go first, then labels, then guessed roles.
            field_type = to_text(item.get("type"))
            if field_type in _TYPED_ROLES:
                alias_unclaimed(fields, _TYPED_ROLES[field_type], key)
            labels.add(label, key, guess=field_type in _FREE_TEXT_TYPES)

        labels.apply(fields)
        return Unwrapped(fields=fields, sender_id=_sender_id(document, data))

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        # NOTE: Tally signs the body alone, with no timestamp, so `tolerance` has
        # nothing to check and a captured request stays valid if replayed.
        header = (headers.get("Tally-Signature") or "").strip()
        if not header:
            raise Unauthorized("missing Tally-Signature header: add a signing secret to the Tally webhook")

        # require_match compares one value with several, so the presented signature
        # is compared with the digest of every configured secret.
        return require_match(decode_base64(header), [hmac_digest(secret, body) for secret in secrets])


def _response_data(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise BadBody("expected Tally's JSON webhook body with a data.fields list")

    event_type = document.get("eventType") or "FORM_RESPONSE"
    if event_type != "FORM_RESPONSE":
        event_name = to_text(event_type)[:60]
        raise IgnoredEvent(f"ignored Tally event {event_name!r}: only FORM_RESPONSE events carry a lead")

    data = document.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
        raise BadBody("expected Tally's webhook body: a data object with a fields list")
    return data


def _is_option_flag(item: dict[str, Any], checkbox_groups: set[str]) -> bool:
    """Tell whether a field is one option of a checkbox group that is also sent whole.

    Tally follows a CHECKBOXES field holding the checked option ids with one
    true/false field per option, keyed `<group key>_<option id>`; forwarding
    both would repeat every answer.
    """
    if item.get("type") != "CHECKBOXES" or not isinstance(item.get("value"), bool):
        return False
    return any(item["key"].startswith(f"{group}_") for group in checkbox_groups if group != item["key"])


def _values(item: dict[str, Any]) -> list[str]:
    """Return a field's answers as text, with option ids replaced by the options' texts."""
    value = item.get("value")
    if item.get("type") == "PAYMENT" or _is_payment(value):
        return _payment_values(value)
    if item.get("type") == "MATRIX" or _is_matrix(value):
        return _matrix_values(item, value)

    options = _option_texts(item.get("options"))
    entries = value if isinstance(value, list) else [value]

    texts = []
    for entry in entries:
        if isinstance(entry, dict):
            # File uploads and signatures arrive as {id, name, url, mimeType, size}.
            entry = entry.get("url") or entry.get("name")
        if entry is None or isinstance(entry, (dict, list)):
            continue
        text = to_text(entry)
        texts.append(options.get(text, text))
    return texts


def _option_texts(options: Any) -> dict[str, str]:
    """Return a map of option id to text, empty unless `options` is a list of {id, text} objects."""
    if not isinstance(options, list):
        return {}
    return {
        to_text(option["id"]): to_text(option.get("text"))
        for option in options
        if isinstance(option, dict) and isinstance(option.get("id"), (str, int)) and not isinstance(option["id"], bool)
    }


def _is_payment(value: Any) -> bool:
    return isinstance(value, dict) and "currency" in value and ("price" in value or "amount" in value)


def _payment_values(value: Any) -> list[str]:
    """Return a payment's amount and currency, such as "20 EUR".

    The payer's name and email and the payment link are payment data, not
    answers, so they are never forwarded.
    NOTE: the pages read (tally.so/help/webhooks, developers.tally.so) do not
    document a PAYMENT value, so `price` or `amount` beside `currency` is assumed.
    """
    if not isinstance(value, dict):
        return []
    amount = value.get("price") if value.get("price") is not None else value.get("amount")
    currency = value.get("currency")
    if amount is None or isinstance(amount, (dict, list, bool)):
        return []
    if isinstance(currency, (dict, list, bool)):
        currency = None
    return [f"{to_text(amount)} {to_text(currency)}".strip()]


def _is_matrix(value: Any) -> bool:
    # A file upload sent as one object has scalar values, a matrix answer a list per row.
    return isinstance(value, dict) and bool(value) and all(isinstance(cells, list) for cells in value.values())


def _matrix_values(item: dict[str, Any], value: Any) -> list[str]:
    """Return a matrix answer as one text: "row: column, column; row: column".

    NOTE: Tally's pages (tally.so/help/webhooks, developers.tally.so) do not
    document the webhook value of a MATRIX field. The value is read as an object
    of row -> selected columns, and ids become texts through the field's `rows`
    and `columns` (or `options`) lists when it carries them.
    """
    if not isinstance(value, dict):
        return []
    row_texts = _option_texts(item.get("rows"))
    column_texts = {**_option_texts(item.get("options")), **_option_texts(item.get("columns"))}

    answered_rows = []
    for row, cells in value.items():
        cells = cells if isinstance(cells, list) else [cells]
        columns = [to_text(cell).strip() for cell in cells if cell is not None and not isinstance(cell, (dict, list))]
        columns = [column_texts.get(column) or column for column in columns if column]
        if columns:
            answered_rows.append(f"{row_texts.get(row) or row}: {', '.join(columns)}")
    return ["; ".join(answered_rows)] if answered_rows else []


def _sender_id(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    # responseId names the submission itself, so every delivery of one submission
    # carries it: a retry, or a second webhook on the same form. eventId, which
    # names one event, is the fallback.
    for candidate in (data.get("responseId"), data.get("submissionId"), document.get("eventId")):
        if isinstance(candidate, (str, int)) and not isinstance(candidate, bool) and to_text(candidate).strip():
            return to_text(candidate).strip()
    return None
