"""Meta (Facebook, Instagram) Lead Ads: the Graph API lead object, posted by a fetcher.

Read for this module: developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving
and the Lead fields of Meta's facebook-python-business-sdk (adobjects/lead.py).

Meta's `leadgen` webhook carries only ids (`entry[].changes[].value.leadgen_id`). The
lead's field values must be read with `GET /{leadgen_id}`, which needs a Page access
token the relay does not hold. So an integration (Zapier, Make, your own fetcher) reads the lead and
posts the object it got: `{"id", "created_time", "ad_id", "form_id", "field_data":
[{"name", "values": [...]}], "custom_disclaimer_responses": [{"checkbox_key",
"is_checked"}], "is_organic", "platform", ...}`. A field's key and label are its `name`:
a standard key (`full_name`, `email`, `phone_number`, `zip_code`) or the slug Meta
made from a custom question. Ids are numbers that can exceed 2^53 and stay exact text.

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed by the
app secret, as Meta signs its own webhooks (or the legacy `X-Hub-Signature: sha1=...`).
A fetcher that posts the lead object must sign it the same way with a shared secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.signatures import decode_hex, hmac_digest, require_match
from app.errors import BadBody, Unauthorized
from app.schemas.normalize import to_text

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"

# Envelope values are kept under this prefix, so a source can map one (the campaign
# or form name) into an extra without a collision with a question's name.
ENVELOPE_PREFIX = "meta."

_NOTIFICATION_MESSAGE = (
    "this is Meta's leadgen notification, which contains only the lead's id. The relay cannot "
    "read leads from the Graph API, so post the lead object of GET /{leadgen_id} with its field_data"
)


class MetaLeadAdsAdapter(Adapter):
    """The adapter for Graph API lead objects, keyed by field_data names."""

    name = "meta_lead_ads"
    signed = True

    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("first_name",),
        "lastname": ("last_name",),
        "fullname": ("full_name",),
        "email": ("email", "work_email"),
        "phone": ("phone_number", "work_phone_number"),
        "address1": ("street_address",),
        "city": ("city",),
        "state": ("state", "province"),
        "zip": ("zip_code", "post_code", "postal_code"),
        "country": ("country",),
    }

    noise: ClassVar[tuple[str, ...]] = (f"{ENVELOPE_PREFIX}*",)

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        field_data = _field_data(document)

        fields = FieldSet()
        for entry in field_data:
            _add_answer(fields, entry)
        consents = document.get("custom_disclaimer_responses")
        for consent in consents if isinstance(consents, list) else []:
            _add_consent(fields, consent)
        for key, value in document.items():
            if not isinstance(value, (dict, list)):
                fields.add(ENVELOPE_PREFIX + str(key), to_text(value))

        lead_id = document.get("id")
        sender_id = to_text(lead_id) if lead_id not in (None, "") and not isinstance(lead_id, (dict, list)) else None
        return Unwrapped(fields=fields, sender_id=sender_id)

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        # Only the SHA-256 header is read when it is present, so a request cannot
        # fall back to SHA-1 by sending a broken SHA-256 header next to it.
        header = headers.get(SIGNATURE_HEADER)
        algorithm = "sha256"
        if header is None:
            header = headers.get(LEGACY_SIGNATURE_HEADER)
            algorithm = "sha1"
        if header is None:
            raise Unauthorized(f"missing {SIGNATURE_HEADER} header: sign the body as 'sha256=<hex HMAC-SHA256>'")

        prefix, separator, digest = header.strip().partition("=")
        if not separator or prefix != algorithm:
            raise Unauthorized(f"malformed signature header: expected '{algorithm}=<hex digest>'")
        presented = decode_hex(digest)
        # require_match compares one value with a list: the digest under each secret.
        return require_match(presented, [hmac_digest(secret, body, algorithm) for secret in secrets])


def _field_data(document: Any) -> list[Any]:
    """Return the lead's field_data, or raise BadBody naming what was posted instead."""
    if not isinstance(document, dict):
        raise BadBody("expected the Graph API lead object as JSON, with 'field_data'")
    if document.get("object") == "page" or "entry" in document or "leadgen_id" in document:
        raise BadBody(_NOTIFICATION_MESSAGE)

    field_data = document.get("field_data")
    if not isinstance(field_data, list):
        raise BadBody(
            "not a Graph API lead object: expected 'field_data' as a list of {name, values}. "
            'A flat body of answers can use adapter = "form"'
        )
    return field_data


def _add_answer(fields: FieldSet, entry: Any) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BadBody("every entry of 'field_data' must be an object with a 'name' and a 'values' list")

    values = entry.get("values")
    items = values if isinstance(values, list) else [values]
    for item in items or [""]:
        fields.add(entry["name"], to_text(item))


def _add_consent(fields: FieldSet, consent: Any) -> None:
    # Meta sends is_checked as "1" or a boolean, and the extra keeps the sent form.
    if isinstance(consent, dict) and consent.get("checkbox_key"):
        fields.add(to_text(consent["checkbox_key"]), to_text(consent.get("is_checked")))
