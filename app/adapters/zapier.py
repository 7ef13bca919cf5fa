"""Zapier: the "Webhooks by Zapier" action (POST, PUT or Custom Request).

The Zap author types the keys, so there is no fixed envelope: the body is flat
key/value pairs, form-urlencoded or JSON as the action's Payload Type sets.
Zapier flattens nested trigger data into double-underscore keys
(`lead__first_name`). With the POST/PUT option "Unflatten" on, Zapier turns
those keys into nested JSON objects before sending, and the relay reads them
as dotted paths (`lead.first_name`). Line items arrive joined with commas, and
POST and PUT leave out empty values.

Documented at help.zapier.com "Send webhooks in Zaps" (article 8496326446989)
and, for the double-underscore rule, zapier.com/developer/documentation/v2/action-fields.
Zapier does not sign these requests: the token goes in a header the action sets.
Zapier sends no id of its own in the body, so `sender_id` is always None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from app.adapters import form
from app.adapters.base import Adapter, FieldSet, Unwrapped, loose_key

# Nesting separators: Zapier's flattened "__" and the relay's dotted JSON paths.
_LEVEL = re.compile(r"__|\.")

# Routing reads these names from the fields, so no trailing path is aliased to
# them. A nested `deal__customer` must not pick the customer.
_EXACT_ONLY = frozenset({"customer", "leadstream"})


def path_fields(
    pairs: list[tuple[str, str]], *, skip_suffix: Callable[[str, str], bool] | None = None
) -> FieldSet:
    """Build fields from the pairs, each labelled with its key and also found by its trailing paths.

    `lead__address__city` (or `lead.address.city`) is also found as `city` and
    as `address__city`, so a field map's usual names reach nested keys. A
    trailing path that two keys share (`lead__email` and `owner__email`) finds
    neither of them: guessing could send the wrong person's email, so such
    payloads need an entry in the source's [fields]. `skip_suffix(key, suffix)`
    returns true for a trailing path that must not find its key.
    """
    fields = FieldSet()
    for key, value in pairs:
        fields.add(key, value)
        segments = [segment for segment in _LEVEL.split(key) if segment]
        # Start at 1: the whole key is already found exactly or loosely.
        for start in range(1, len(segments)):
            suffix = "__".join(segments[start:])
            if loose_key(suffix) in _EXACT_ONLY or (skip_suffix is not None and skip_suffix(key, suffix)):
                continue
            fields.alias(suffix, key)
    return fields


class ZapierAdapter(Adapter):
    """Adapter that keeps the Zap's pairs as posted and finds nested keys by their last segments."""

    name = "zapier"

    # The Zap author picks the keys, so the usual form names apply, at any depth.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = form.FormAdapter.default_fields

    # A top-level `meta` object and Zapier's "Zap Meta" values describe the Zap run, not the lead.
    noise: ClassVar[tuple[str, ...]] = ("meta__*", "meta.*", "zap_meta_*", "zap_meta.*")

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        return Unwrapped(fields=path_fields(pairs))
