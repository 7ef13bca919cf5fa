"""Webflow form submissions: the `form_submission` webhook of the Webflow Data API v2.

Read for this module: developers.webflow.com/data/reference/webhooks/events/form-submission
and "Working with webhooks" (developers.webflow.com/data/docs/working-with-webhooks).

Body: `{"triggerType": "form_submission", "payload": {"name", "siteId", "data": {field
name: value}, "schema": [...], "submittedAt", "id", "formId", "formElementId"}}`. `data`
is keyed by each field's name in the Designer, which is also its label. Values are
strings, but Webflow's own example sends a phone number as a JSON number. Webhooks made
with the retired v1 API post `{"name", "site", "data", "d", "_id"}` with no triggerType,
and are read the same way.

Signature: `x-webflow-timestamp` (Unix milliseconds) and `x-webflow-signature`, the hex
HMAC-SHA256 of `"<timestamp>:<raw body>"`. The key is the OAuth app's client secret, or
the webhook's own secret for webhooks created with a site token after 2025-04-14.
Webhooks created in the site dashboard before then carry no signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.signatures import (
    decode_hex,
    hmac_digest,
    parse_timestamp,
    require_fresh,
    require_match,
)
from app.errors import BadBody, IgnoredEvent, Unauthorized
from app.schemas.normalize import to_text

FORM_SUBMISSION = "form_submission"
TIMESTAMP_HEADER = "x-webflow-timestamp"
SIGNATURE_HEADER = "x-webflow-signature"

# Envelope values get this prefix, so they stay apart from form fields called "name"
# or "id", and a source can still map one into an extra.
ENVELOPE_PREFIX = "webflow."

# Envelope key -> the key it gets in the FieldSet, for v2 and for v1 bodies.
_ENVELOPE_V2 = {
    "id": "submission_id",
    "name": "form_name",
    "formId": "form_id",
    "formElementId": "form_element_id",
    "siteId": "site_id",
    "submittedAt": "submitted_at",
}
_ENVELOPE_V1 = {"_id": "submission_id", "name": "form_name", "site": "site_id", "d": "submitted_at"}


class WebflowAdapter(Adapter):
    """The adapter for Webflow's `form_submission` webhook, keyed by Designer field names."""

    name = "webflow"
    signed = True

    # Webflow names fields after their labels and numbers repeats ("Email 2" is the
    # email field of a second form element, as in Webflow's newsletter example).
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("First Name", "First", "fname", "Given Name"),
        "lastname": ("Last Name", "Last", "lname", "Surname", "Family Name"),
        "fullname": ("Name", "Full Name", "Your Name", "Name 2"),
        "email": ("Email", "Email Address", "Your Email", "E-mail", "Work Email", "Email 2"),
        "phone": ("Phone", "Phone Number", "Telephone", "Tel", "Mobile", "Mobile Phone", "Cell", "Phone 2"),
        "address1": ("Address", "Street Address", "Address Line 1", "Street"),
        "address2": ("Address 2", "Address Line 2", "Apt", "Suite"),
        "city": ("City", "Town"),
        "state": ("State", "Province", "Region", "State/Province"),
        "zip": ("Zip", "Zip Code", "Postal Code", "Postcode"),
        "country": ("Country",),
    }

    noise: ClassVar[tuple[str, ...]] = (f"{ENVELOPE_PREFIX}*",)

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        payload, envelope_keys = _submission(document)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise BadBody("the Webflow form submission has no 'data' object with the form's fields")

        fields = FieldSet()
        for key, value in data.items():
            _add_value(fields, str(key), value)
        for source_key, key in envelope_keys.items():
            if source_key in payload and not isinstance(payload[source_key], (dict, list)):
                fields.add(ENVELOPE_PREFIX + key, to_text(payload[source_key]))

        submission_id = payload.get("id", payload.get("_id"))
        sender_id = to_text(submission_id) if submission_id not in (None, "") else None
        return Unwrapped(fields=fields, sender_id=sender_id)

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        timestamp_text = _ascii_header(headers, TIMESTAMP_HEADER)
        timestamp = parse_timestamp(timestamp_text, milliseconds=True)
        require_fresh(timestamp, now=now, tolerance=tolerance)

        presented = decode_hex(_ascii_header(headers, SIGNATURE_HEADER))
        message = timestamp_text.strip().encode("ascii") + b":" + body
        # require_match compares one value with a list. The list contains the digest
        # under each configured secret, so any of them may match.
        return require_match(presented, [hmac_digest(secret, message) for secret in secrets])


def _submission(document: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the submission object and its envelope key map, or raise for other events."""
    if not isinstance(document, dict):
        raise BadBody("expected Webflow's JSON webhook body with triggerType 'form_submission'")

    trigger = document.get("triggerType")
    if trigger is None and "data" in document and ("_id" in document or "site" in document):
        return document, _ENVELOPE_V1
    if trigger is None:
        raise BadBody("not a Webflow webhook: expected a JSON object with triggerType and payload")
    if trigger != FORM_SUBMISSION:
        raise IgnoredEvent(
            f"ignored Webflow {to_text(trigger)!r} event, which carries no lead: "
            f"subscribe this webhook to {FORM_SUBMISSION} only"
        )

    payload = document.get("payload")
    if not isinstance(payload, dict):
        raise BadBody("the Webflow form_submission event has no 'payload' object")
    return payload, _ENVELOPE_V2


def _add_value(fields: FieldSet, key: str, value: Any) -> None:
    # Field.text joins the items of a list (a multi-select) with ", ".
    items = value if isinstance(value, list) else [value]
    for item in items:
        fields.add(key, to_text(item))
    if not items:
        fields.add(key, "")


def _ascii_header(headers: Mapping[str, str], name: str) -> str:
    """Return a header's value, raising Unauthorized when it is missing or not ASCII."""
    value = headers.get(name)
    # Header bytes decode as Latin-1, so "²" or "é" can arrive. Rejecting non-ASCII
    # here gives every malformed header the same 401, which names the header.
    if value is None or not value.strip() or not value.isascii():
        raise Unauthorized(f"missing or malformed {name} header: send Webflow's signed webhook unchanged")
    return value
