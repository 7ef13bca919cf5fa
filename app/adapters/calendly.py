"""Calendly: the `invitee.created` event of Calendly's webhook subscriptions (API v2).

Format: the Webhook Payload object of
https://developer.calendly.com/api-docs/calendly-api/webhooks/get-sample-webhook-data
(`{event, created_at, created_by, payload}`; an invitee payload carries `uri`,
`email`, `name`, `first_name`, `last_name`, `text_reminder_number`,
`questions_and_answers`, `tracking` and `scheduled_event`). Signing:
https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures and
https://developer.calendly.com/docs/webhooks/overview: the header
`Calendly-Webhook-Signature: t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
keyed with the subscription's signing key.

The invitee's own fields keep Calendly's names (`email`, `first_name`,
`text_reminder_number`). A booking question is keyed by its text, so a source
maps `phone = "Best number to reach you"`. UTM parameters are keyed by their
names. The meeting's name and start time and the invitee's time zone become
extras too, labelled "Event", "Start time" and "Time zone", because they tell
the caller what the lead booked. Nothing else of the payload becomes a field,
so there is no transport noise to filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.signatures import decode_hex, hmac_digest, require_fresh, require_match
from app.errors import BadBody, IgnoredEvent, Unauthorized
from app.schemas.normalize import to_text

_CONTACT_KEYS = ("email", "name", "first_name", "last_name", "text_reminder_number")
_TRACKING_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "salesforce_uuid")

# When the host calls the invitee, Calendly stores the number the invitee gave
# as the meeting's location, with location type "outbound_call".
OUTBOUND_CALL_KEY = "scheduled_event.location.location"

# Labels that extras show for Calendly's own keys. The keys stay as they are,
# because a source's [fields] and [extras] name them.
_LABELS = {
    "email": "Email",
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "text_reminder_number": "Text reminder number",
    OUTBOUND_CALL_KEY: "Number to call",
    "scheduled_event.name": "Event",
    "scheduled_event.start_time": "Start time",
    "timezone": "Time zone",
}

_MALFORMED = "malformed Calendly-Webhook-Signature header: expected t=<Unix seconds>,v1=<hex digest>"


class CalendlyAdapter(Adapter):
    """Unwraps the invitee of a Calendly `invitee.created` event."""

    name = "calendly"
    signed = True

    # Booking questions match loosely, so a question "Phone number" is found as phone_number.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("first_name",),
        "lastname": ("last_name",),
        "fullname": ("name",),
        "email": ("email",),
        "phone": (
            OUTBOUND_CALL_KEY, "text_reminder_number", "phone", "phone_number", "mobile", "mobile_number",
            "mobile_phone", "cell_phone", "telephone",
        ),
        "address1": ("address", "street_address", "address_line_1"),
        "address2": ("address_line_2",),
        "city": ("city",),
        "state": ("state", "province"),
        "zip": ("zip", "zip_code", "postal_code", "postcode"),
        "country": ("country",),
    }

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        invitee = _invitee(document)
        fields = FieldSet()
        for key in _CONTACT_KEYS:
            _add_scalar(fields, key, invitee.get(key))

        scheduled_event = invitee.get("scheduled_event")
        scheduled_event = scheduled_event if isinstance(scheduled_event, dict) else {}
        location = scheduled_event.get("location")
        if isinstance(location, dict) and location.get("type") == "outbound_call":
            _add_scalar(fields, OUTBOUND_CALL_KEY, location.get("location"))

        _add_questions(fields, invitee.get("questions_and_answers"))
        _add_scalar(fields, "scheduled_event.name", scheduled_event.get("name"))
        _add_scalar(fields, "scheduled_event.start_time", scheduled_event.get("start_time"))
        _add_scalar(fields, "timezone", invitee.get("timezone"))

        tracking = invitee.get("tracking")
        for key in _TRACKING_KEYS if isinstance(tracking, dict) else ():
            _add_scalar(fields, key, tracking.get(key))

        uri = invitee.get("uri")
        sender_id = to_text(uri).strip() if isinstance(uri, str) and uri.strip() else None
        return Unwrapped(fields=fields, sender_id=sender_id)

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        header = (headers.get("Calendly-Webhook-Signature") or "").strip()
        if not header:
            raise Unauthorized(
                "missing Calendly-Webhook-Signature header: create the webhook subscription with a signing_key"
            )

        timestamp, signatures = _parse_signature_header(header)
        signed_payload = timestamp.encode("ascii") + b"." + body
        matched = _require_any_match(signatures, [hmac_digest(secret, signed_payload) for secret in secrets])
        require_fresh(float(timestamp), now=now, tolerance=tolerance)
        return matched


def _invitee(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("event"), str):
        raise BadBody("expected Calendly's JSON webhook body: an object with an event name and a payload")

    event = document["event"]
    if event != "invitee.created":
        raise IgnoredEvent(
            f"ignored Calendly event {event[:60]!r}: only invitee.created carries a new lead; "
            "subscribe the webhook to invitee.created"
        )

    invitee = document.get("payload")
    if not isinstance(invitee, dict):
        raise BadBody("expected Calendly's invitee.created body with a payload object")
    if isinstance(invitee.get("invitee"), dict):
        # Webhooks v1, which Calendly retired, nested the invitee one level deeper.
        raise BadBody("this is a Calendly v1 webhook body; create a v2 webhook subscription")
    if invitee.get("old_invitee"):
        # A reschedule cancels the old invitee and creates a new one. The first
        # booking already delivered this lead, so sending it again would end in
        # DUPLICATE EMAIL (409), which Calendly retries for 24 hours.
        raise IgnoredEvent("ignored a rescheduled Calendly booking: the first booking already carried this lead")
    return invitee


def _add_scalar(fields: FieldSet, key: str, value: Any) -> None:
    if value is not None and not isinstance(value, (dict, list)):
        fields.add(key, to_text(value), _LABELS.get(key))


def _add_questions(fields: FieldSet, questions: Any) -> None:
    for item in questions if isinstance(questions, list) else []:
        if not isinstance(item, dict) or item.get("answer") is None or isinstance(item["answer"], (dict, list)):
            continue
        question = to_text(item.get("question")).strip()
        position = to_text(item.get("position"))
        key = question or f"question {position}"

        # A question worded exactly like an invitee field ("email") must not merge into it.
        existing = fields.find(key)
        if existing is not None and existing.key == key:
            key = f"{key} ({position})"
        fields.add(key, to_text(item["answer"]), question or key)


def _parse_signature_header(header: str) -> tuple[str, list[bytes]]:
    """Return the signed timestamp, as sent, and the decoded v1 signatures."""
    timestamp: str | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        name, separator, value = part.strip().partition("=")
        if not separator:
            raise Unauthorized(_MALFORMED)
        if name == "t":
            if timestamp is not None:
                raise Unauthorized(f"{_MALFORMED}; it has more than one t")
            timestamp = value.strip()
        elif name == "v1":
            signatures.append(decode_hex(value))

    # isdigit alone accepts characters such as "²", which float() cannot read.
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or not signatures:
        raise Unauthorized(_MALFORMED)
    return timestamp, signatures


def _require_any_match(signatures: list[bytes], digests: list[bytes]) -> bytes:
    """Return the presented signature that equals one secret's digest, else raise Unauthorized."""
    # require_match compares one value with several, so each presented signature
    # is compared with the digest of every configured secret.
    for signature in signatures[:-1]:
        try:
            return require_match(signature, digests)
        except Unauthorized:
            continue
    return require_match(signatures[-1], digests)
