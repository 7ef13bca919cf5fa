"""Make (formerly Integromat): the HTTP app's "Make a request" module.

The scenario author builds the body, so there is no fixed envelope: JSON (a raw
body or a data structure, often nested, with arrays), form-urlencoded or
multipart fields, under whatever keys the author chose. Nested JSON keys reach
the relay as dotted paths (`contact.email`), lists of plain values as repeated
keys that the relay joins with ", ", and lists of objects as indexed paths
(`contact.phones.0.number`). The one phone or email such a list carries is
found as `phone` or `email`.

Documented at apps.make.com/http (HTTP app, "Make a request": URL, method,
headers, query string, body type and content type). Make does not sign these
requests; the token goes in a header the module sets, or in the URL. Make adds
no id of its own to the body, so `sender_id` is always None.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.adapters import form, zapier
from app.adapters.base import Adapter, FieldSet, Unwrapped, loose_key

# An item of an array of objects, as the relay flattens it: `contact.phones.0.number`.
_ARRAY_ITEM = re.compile(r"(?:.*\.)?(?P<array>[^.]+)\.\d+\.(?P<leaf>[^.]+)")

# Standard field -> (array names, names of the item key that contains the value), compared loosely.
# `value` covers arrays such as `phone: [{value, label, primary}]`.
_ARRAY_CONTACTS = {
    "phone": (
        frozenset(loose_key(name) for name in ("phone", "phones", "phone_numbers")),
        frozenset(loose_key(name) for name in ("number", "phone", "phone_number", "value")),
    ),
    "email": (
        frozenset(loose_key(name) for name in ("email", "emails", "email_addresses")),
        frozenset(loose_key(name) for name in ("email", "address", "email_address", "value")),
    ),
}


class MakeAdapter(Adapter):
    """Adapter that keeps the module's fields as posted and finds nested keys by their last segments."""

    name = "make"

    # The scenario author picks the keys, so the usual form names apply, at any depth.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = form.FormAdapter.default_fields

    # Make adds no metadata of its own, so a scenario's bookkeeping keys belong in the source's `ignore`.
    noise: ClassVar[tuple[str, ...]] = ()

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        # Nested keys work as in Zapier's Unflatten mode: `contact.email` is also found as `email`.
        fields = zapier.path_fields(pairs, skip_suffix=_is_email_address_leaf)
        _alias_array_contacts(fields)
        return Unwrapped(fields=fields)


def _is_email_address_leaf(key: str, suffix: str) -> bool:
    # `emails.0.address` is an email address, so its last segment must not find it as the street address.
    array_names, leaf_names = _ARRAY_CONTACTS["email"]
    return loose_key(suffix) == "address" and _is_array_contact(key, array_names, leaf_names)


def _alias_array_contacts(fields: FieldSet) -> None:
    """Let `phone` and `email` find the one phone or email that an array of objects carries.

    `contact.phones.0.number` becomes the phone when no other key is named
    phone and no other array item contains a phone. Guessing between two
    numbers could dial the wrong person, so such bodies need an entry in [fields].
    """
    for name, (array_names, leaf_names) in _ARRAY_CONTACTS.items():
        if fields.find(name) is not None:
            continue
        candidates = [field.key for field in fields if _is_array_contact(field.key, array_names, leaf_names)]
        if len(candidates) == 1:
            fields.alias(name, candidates[0])


def _is_array_contact(key: str, array_names: frozenset[str], leaf_names: frozenset[str]) -> bool:
    match = _ARRAY_ITEM.fullmatch(key)
    return match is not None and loose_key(match["array"]) in array_names and loose_key(match["leaf"]) in leaf_names
