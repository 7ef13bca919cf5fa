"""Gravity Forms through its official Webhooks Add-On.

The add-on (docs.gravityforms.com/triggering-webhooks-form-submissions/ and
/webhooks-feed-meta/) sends one request per submission, as JSON or as a form
("Request Format" FORM), with a Request Body of either:

* "All Fields": the whole entry object, flat, every value a string or null.
  Answers are keyed by field id: `2` for a single-input field, `N.M` for the
  inputs of a multi-input field. A Name field has `N.2` prefix, `N.3` first,
  `N.4` middle, `N.6` last and `N.8` suffix; an Address field `N.1` street to
  `N.6` country; a Checkbox field one input per choice (`N.1`, `N.2`, ...,
  "" when unticked); a Consent field `N.1` ("1" when ticked), `N.2` the
  consent text and `N.3` its revision id. Entry metadata travels beside them
  (`id`, `form_id`, `date_created`, `ip`, `source_url`, `user_agent`, ...).
* "Select Fields": only the keys the site owner typed in "Field Values".

The add-on sends neither the form's field types nor its labels, so field ids
mean nothing without the form: `default_fields` follows the layout where
field 1 is the Name, 2 the Email, 3 the Phone and 4 the Address, and any
other form needs a `[fields]` table keyed by field id. Multi-input fields
are told apart by the input ids the entry carries, which differ per type:
Name and Address inputs stay separate fields (`1.3`, `4.5`) for the field
map, Checkbox choices join into one answer under the field id (`5`), and a
Consent field becomes its consent text under the field id when ticked. A
Multi Select field's value, which the entry stores as a JSON array of
strings (`["Choice A","Choice B"]`), becomes one answer joined with ", ".

The add-on does not sign its requests; its Request Headers setting can send
the relay's token.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.form import FormAdapter
from app.errors import BadBody

# `4.5`: input 5 of field 4.
_INPUT_ID = re.compile(r"(?P<field>\d+)\.(?P<input>\d+)")

_NAME_INPUTS = frozenset({"2", "3", "4", "6", "8"})
_ADDRESS_INPUTS = frozenset({"1", "2", "3", "4", "5", "6"})
_ADDRESS_REQUIRED_INPUTS = _ADDRESS_INPUTS - {"2"}
_CONSENT_INPUTS = frozenset({"1", "2", "3"})

_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def _defaults(field_ids: tuple[str, ...], name: str) -> tuple[str, ...]:
    # The form adapter's usual names cover "Select Fields" feeds whose keys
    # the site owner typed, such as `email` or `first_name`.
    return (*field_ids, *FormAdapter.default_fields[name])


class GravityFormsAdapter(Adapter):
    """Unwraps the Webhooks Add-On's entry object; answers are keyed by field id."""

    name = "gravity_forms"

    # Field ids of the layout named in the module docstring. Other forms set
    # [fields], for example firstname = "7.3".
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": _defaults(("1.3",), "firstname"),
        "lastname": _defaults(("1.6",), "lastname"),
        "fullname": _defaults((), "fullname"),
        "email": _defaults(("2",), "email"),
        "phone": _defaults(("3",), "phone"),
        "address1": _defaults(("4.1",), "address1"),
        "address2": _defaults(("4.2",), "address2"),
        "city": _defaults(("4.3",), "city"),
        "state": _defaults(("4.4",), "state"),
        "zip": _defaults(("4.5",), "zip"),
        "country": _defaults(("4.6",), "country"),
    }

    # The entry object's metadata that "All Fields" sends beside the answers,
    # and the links Gravity PDF adds as `gpdf_<id>`.
    noise: ClassVar[tuple[str, ...]] = (
        "id",
        "entry_id",
        "status",
        "form_id",
        "post_id",
        "ip",
        "source_url",
        "source_id",
        "user_agent",
        "currency",
        "date_created",
        "date_updated",
        "is_starred",
        "is_read",
        "is_fulfilled",
        "created_by",
        "payment_*",
        "transaction_*",
        "gpdf_*",
    )

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        _reject_nested(document)

        # FieldSet matches numbered ids such as `1.3` exactly, so `1.3` never finds field `13`.
        fields = FieldSet()
        for key, item in _entry_items(pairs):
            if isinstance(item, list):
                _add_multi_input(fields, key, item)
            else:
                for value in _choices(item):
                    fields.add(key, value)

        return Unwrapped(fields=fields, sender_id=_entry_id(fields))


def _reject_nested(document: Any) -> None:
    if not isinstance(document, dict):
        return
    for key, value in document.items():
        if isinstance(value, (dict, list)):
            raise BadBody(
                f"key {key[:100]!r} contains a nested object or list; expected the flat entry object "
                "that the Gravity Forms Webhooks Add-On sends, keyed by field id"
            )


def _entry_items(pairs: list[tuple[str, str]]) -> list[tuple[str, str | list[tuple[str, str]]]]:
    """Group the inputs of each multi-input field, at the place its first input appears."""
    items: list[tuple[str, str | list[tuple[str, str]]]] = []
    inputs_by_field: dict[str, list[tuple[str, str]]] = {}

    for key, value in pairs:
        match = _INPUT_ID.fullmatch(key)
        if match is None:
            items.append((key, value))
            continue

        field_id = match["field"]
        if field_id not in inputs_by_field:
            inputs_by_field[field_id] = []
            items.append((field_id, inputs_by_field[field_id]))
        inputs_by_field[field_id].append((match["input"], value))
    return items


def _choices(value: str) -> list[str]:
    """Return the choices of a Multi Select value, which the entry stores as a JSON array of strings.

    Any other value is one answer, kept as sent.
    """
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return [value]
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: a form body can carry "[[[...]]]" nested deeper than the parser goes.
        return [value]
    if not isinstance(decoded, list) or not all(isinstance(choice, str) for choice in decoded):
        return [value]
    return decoded or [""]


def _add_multi_input(fields: FieldSet, field_id: str, inputs: list[tuple[str, str]]) -> None:
    input_ids = {input_id for input_id, _ in inputs}
    values = dict(inputs)

    if _is_consent(input_ids, values):
        fields.add(field_id, values["2"] if values["1"] == "1" else "")
    elif _is_name(input_ids) or _is_address(input_ids):
        for input_id, value in inputs:
            fields.add(f"{field_id}.{input_id}", value)
    else:
        # Checkbox choices: one answer, the ticked choices joined with ", ".
        for _, value in inputs:
            fields.add(field_id, value)


def _is_consent(input_ids: set[str], values: dict[str, str]) -> bool:
    # A Checkbox field with three choices has the same input ids. A Consent
    # field differs in its values: `.1` is "1" or "", `.2` the consent text
    # and `.3` a revision id.
    # NOTE: a three-choice Checkbox whose first choice is "1" or unticked, second
    # a text and third a number still reads as a Consent field.
    return (
        input_ids == _CONSENT_INPUTS
        and values["1"] in ("1", "")
        and _is_text(values["2"])
        and values["3"].isdecimal()
    )


def _is_text(value: str) -> bool:
    """Tell whether a value is words rather than empty or a number such as "2" or "2.5"."""
    return bool(value.strip()) and _NUMBER.fullmatch(value.strip()) is None


def _is_address(input_ids: set[str]) -> bool:
    # A "Select Fields" feed may leave out line 2 (`.2`), so every other input decides.
    # NOTE: a six-choice Checkbox field has the same input ids, so its choices stay apart.
    return _ADDRESS_REQUIRED_INPUTS <= input_ids <= _ADDRESS_INPUTS


def _is_name(input_ids: set[str]) -> bool:
    # An "All Fields" entry carries every Checkbox choice, input 1 included,
    # while a Name field has no input 1.
    return input_ids <= _NAME_INPUTS and bool(input_ids & {"3", "6"})


def _entry_id(fields: FieldSet) -> str | None:
    # "All Fields" sends `id`. A "Select Fields" feed carries the id only when
    # the site owner adds Entry ID, commonly keyed `entry_id`.
    for name in ("id", "entry_id"):
        found = fields.find(name)
        if found is not None and found.text.strip():
            return found.text.strip()
    return None
