"""Make (formerly Integromat): the HTTP app's "Make a request" module.

The scenario author builds the body, so there is no fixed envelope: JSON (a raw
body or a data structure, often nested, with arrays), form-urlencoded or
multipart fields, under whatever keys the author chose. Nested JSON keys reach
the relay as dotted paths (`contact.email`), lists of plain values as repeated
keys that the relay joins with ", ".

Documented at apps.make.com/http (HTTP app, "Make a request": URL, method,
headers, query string, body type and content type). Make does not sign these
requests; the token goes in a header the module sets, or in the URL. Make adds
no id of its own to the body, so `sender_id` is always None.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.adapters import form, zapier
from app.adapters.base import Adapter, Unwrapped


class MakeAdapter(Adapter):
    """Adapter that keeps the module's fields as posted and finds nested keys by their last segments."""

    name = "make"

    # The scenario author picks the keys, so the usual form names apply, at any depth.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = form.FormAdapter.default_fields

    # Make adds no metadata of its own, so a scenario's bookkeeping keys belong in the source's `ignore`.
    noise: ClassVar[tuple[str, ...]] = ()

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        # Nested keys work as in Zapier's Unflatten mode: `contact.email` is also found as `email`.
        return Unwrapped(fields=zapier.path_fields(pairs))
