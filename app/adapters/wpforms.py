"""WPForms through its Webhooks addon (an Elite-licence addon of WPForms Pro).

The addon posts each entry as JSON or as a form ("Request Format"), from a
background task after the entry is saved. The site owner builds the body
in "Request Body": each row is a key they type and either a form field or a
custom value with smart tags such as `{entry_id}`. So keys are the owner's
own, and the addon adds no envelope.

Values are WPForms' formatted field values, with these exceptions:

* Address, Checkbox, Dropdown, Likert Scale and the payment choice fields
  have their line breaks replaced with `||`, so "Solar||Battery" is two
  choices and an address is "Street||City, State||Postcode||Country";
  the adapter splits at `||` and the answer reads "Solar, Battery";
* a Date / Time field is an object `{"value", "unix"}` (`date[value]` and
  `date[unix]` in a form body); the Unix time repeats the value and is noise;
* a File Upload field is a list of file links.

A Name field arrives formatted as one value ("Jane Q Doe"), which maps as a
full name.

Signature: when the webhook has a Secret, every request carries
`X-WPForms-Webhook-Signature: t=<unix time>,v=<hex HMAC-SHA256>` over
`"<t>.<body>"` (the scheme Stripe uses), and `X-WPForms-Webhook-Id`, the
webhook's number in the form settings. For a JSON body the HMAC covers the
exact bytes sent. For a form body it covers a JSON encoding of the fields
that the relay cannot rebuild from the form bytes, so only JSON requests can
be verified.

NOTE: wpforms.com's page on the addon could not be read for this module.
The format and the signature come from the addon's source, class
WPFormsWebhooks\\Process (methods delivery, format,
maybe_has_multiple_delimiter and generate_signature) and
WPFormsWebhooks\\Admin\\FormBuilder, read in a public copy of version 1.x.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.form import FormAdapter
from app.adapters.signatures import decode_hex, hmac_digest, parse_timestamp, require_fresh, require_match
from app.errors import Unauthorized

SIGNATURE_HEADER = "X-WPForms-Webhook-Signature"

# Separator the addon writes between the choices of a multi-value field.
MULTI_VALUE_SEPARATOR = "||"

# `t=1741976400,v=9f86d0...`: PHP's %d for the time, hash_hmac's lowercase hex.
_SIGNATURE = re.compile(r"t=(?P<timestamp>[0-9]{1,20}),v=(?P<digest>[^,]*)")

# PHP bracket syntax in a form body: `date[value]` -> `date.value`, `files[0]` -> `files`.
_LIST_INDEX = re.compile(r"\[\d*\]")
_SUBKEY = re.compile(r"\[([^\[\]]+)\]")


class WpformsAdapter(Adapter):
    """Takes the body keys the site owner chose, splitting multi-value answers at `||`."""

    name = "wpforms"

    # The owner picks the keys, so the usual names apply, matched loosely.
    # `address` is left out because a WPForms Address field keyed so contains
    # the whole address ("Street, City, State, ..."), which reads better as
    # an extra than as the street line.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        **FormAdapter.default_fields,
        "address1": tuple(name for name in FormAdapter.default_fields["address1"] if name != "address"),
    }

    # Keys owners give the metadata smart tags ({entry_id}, {form_name},
    # {page_url}, {user_ip}, ...), and the Unix time of a Date / Time field.
    noise: ClassVar[tuple[str, ...]] = (
        "entry_id",
        "entry_date",
        "form_id",
        "form_name",
        "page_id",
        "page_title",
        "page_url",
        "url_referer",
        "referer",
        "user_ip",
        "ip",
        "ip_address",
        "user_agent",
        "*.unix",
    )

    signed = True

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        fields = FieldSet()
        for key, value in pairs:
            name = _dotted_key(key) if document is None else key
            for choice in value.split(MULTI_VALUE_SEPARATOR):
                fields.add(name, choice)

        entry_id = fields.find("entry_id")
        sender_id = entry_id.text.strip() if entry_id is not None else ""
        return Unwrapped(fields=fields, sender_id=sender_id or None)

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        _require_json(headers)
        timestamp_text, digest_text = _parse_signature(headers.get(SIGNATURE_HEADER))

        timestamp = parse_timestamp(timestamp_text)
        require_fresh(timestamp, now=now, tolerance=tolerance)

        presented = decode_hex(digest_text)
        message = timestamp_text.encode("ascii") + b"." + body
        return require_match(presented, [hmac_digest(secret, message) for secret in secrets])


def _dotted_key(key: str) -> str:
    """Write a form body's PHP bracket key the way a JSON body's key is flattened."""
    return _SUBKEY.sub(r".\1", _LIST_INDEX.sub("", key))


def _require_json(headers: Mapping[str, str]) -> None:
    mimetype = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        raise Unauthorized(
            "WPForms signs a form-format request over a JSON copy of its fields, which the relay cannot "
            "rebuild. Set the webhook's Request Format to JSON, or use auth = \"token\""
        )


def _parse_signature(header: str | None) -> tuple[str, str]:
    """Return the time and the hex digest of the signature header, or raise Unauthorized."""
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header: set a Secret in the WPForms webhook")

    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        raise Unauthorized(f"malformed {SIGNATURE_HEADER} header: expected t=<unix time>,v=<hex digest>")
    return match["timestamp"], match["digest"]
