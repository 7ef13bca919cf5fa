"""ClickFunnels: ClickFunnels 2.0 workspace webhooks and Classic funnel webhooks.

ClickFunnels 2.0 posts JSON events `{event_id, event_type, subject_id,
subject_type, created_at, page_id, funnel_id, data}`, where `data` is the
subject: a Contact (`email_address`, `first_name`, `last_name`,
`phone_number`, `custom_attributes`, `tags`, `visits`) for `contact.*` events,
or a FormSubmission (`contact_id`, `page_id`, and `data`, the submitted HTML
input names and values) for `form_submission.created`. It signs every event:
`X-Webhook-ClickFunnels-Signature` is the hex HMAC-SHA256, keyed with the
endpoint's webhook secret, of "<X-Webhook-ClickFunnels-Timestamp>.<raw body>",
where the timestamp is in Unix seconds.

Documented at developers.myclickfunnels.com: docs/webhooks (envelope and the
contact.identified example), docs/webhook-event-types, docs/signature-verification,
and the FormSubmission and Contact API references.

ClickFunnels Classic posts the contact itself: `email`, `phone`, `first_name`,
`last_name`, `name`, address fields, `contact_profile` and `additional_info`
(custom fields), sometimes inside a `contact` object, and purchases with
`products`. NOTE: Classic's documentation was not reachable; its shape comes
from the task description and public receiver code, and Classic signs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped, loose_key
from app.adapters.signatures import decode_hex, hmac_digest, parse_timestamp, require_fresh, require_match
from app.errors import BadBody, IgnoredEvent, Unauthorized
from app.schemas.normalize import to_text

SIGNATURE_HEADER = "X-Webhook-ClickFunnels-Signature"
TIMESTAMP_HEADER = "X-Webhook-ClickFunnels-Timestamp"

# contact.updated fires on every edit and contact.deleted carries no lead.
# contact.identified means the contact gave an email or a phone.
_CONTACT_EVENTS = frozenset({"contact.created", "contact.identified"})
_SUBMISSION_EVENT = "form_submission.created"
_SUBSCRIBE = "subscribe the ClickFunnels webhook to contact.identified or form_submission.created"

# A contact's first visit carries its UTM parameters. The other visit data is transport (IP, user agent).
_FIRST_VISIT_UTM = re.compile(r"visits\.first_visit\.(utm_[a-z]+)")
_TAG_NAME = re.compile(r"tags\.\d+\.name")

# Classic's `event` values for changes that bring no new opt-in.
_CLASSIC_NON_LEAD_EVENTS = frozenset({"updated", "deleted", "destroyed"})
_CLASSIC_CONTACT_KEYS = frozenset(
    loose_key(name) for name in ("email", "phone", "first_name", "last_name", "name", "contact_profile")
)


class ClickFunnelsAdapter(Adapter):
    """Adapter that unwraps a 2.0 event's subject, or a Classic contact, into flat fields."""

    name = "clickfunnels"
    signed = True

    # 2.0 contacts use email_address and phone_number, while Classic and 2.0 form inputs use email and phone.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("first_name", "contact.first_name", "contact_profile.first_name"),
        "lastname": ("last_name", "contact.last_name", "contact_profile.last_name"),
        "fullname": ("name", "full_name", "contact.name", "contact_profile.name"),
        "email": ("email_address", "email", "contact.email_address", "contact.email", "contact_profile.email"),
        "phone": ("phone_number", "phone", "contact.phone_number", "contact.phone", "contact_profile.phone"),
        "address1": ("address", "address1", "street_address", "shipping_address", "contact.address"),
        "address2": ("address2", "address_2"),
        "city": ("city", "shipping_city", "contact.city", "contact_profile.city"),
        "state": ("state", "shipping_state", "contact.state", "contact_profile.state"),
        "zip": ("zip", "zip_code", "postal_code", "shipping_zip", "contact.zip", "contact_profile.zip"),
        "country": ("country", "shipping_country", "contact.country", "contact_profile.country"),
    }

    noise: ClassVar[tuple[str, ...]] = (
        "id",
        "uuid",
        "public_id",
        "workspace_id",
        "contact_id",
        "page_id",
        "funnel_id",
        "funnel_step_id",
        "anonymous",
        "is_active",
        "created_at",
        "updated_at",
        "unsubscribed_at",
        "last_notification_email_sent_at",
        "email_suppression_reason",
        "*time_zone",
        "ip",
        "*cf_uvid",
        "url",
        "event",
        # Classic's profile repeats the contact's own fields and ClickFunnels' bookkeeping.
        "contact_profile.*",
        # Purchase history, webinar and affiliate tracking: ClickFunnels fills these, not the visitor.
        "orders_count",
        "total_spent",
        "webinar_ext",
        "aff_sub",
        "aff_sub2",
        "purchase",
        "purchase.*",
    )

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        if isinstance(document, dict) and "event_type" in document:
            return _unwrap_event(document, pairs)
        return Unwrapped(fields=_unwrap_classic(document, pairs))

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes:
        signature = headers.get(SIGNATURE_HEADER)
        timestamp_text = (headers.get(TIMESTAMP_HEADER) or "").strip()
        if not signature:
            raise Unauthorized(
                f"missing {SIGNATURE_HEADER} header: ClickFunnels 2.0 signs every event, Classic signs none "
                "(use auth = \"token\" and ?token= for Classic)"
            )
        # isdigit() accepts non-ASCII digits such as "²", which float() and the signed bytes cannot take.
        if not timestamp_text.isascii():
            raise Unauthorized(f"malformed {TIMESTAMP_HEADER} header: expected Unix seconds")

        timestamp = parse_timestamp(timestamp_text)
        require_fresh(timestamp, now=now, tolerance=tolerance)
        presented = decode_hex(signature)

        message = timestamp_text.encode("ascii") + b"." + body
        return require_match(presented, [hmac_digest(secret, message) for secret in secrets])


def _unwrap_event(document: dict[str, Any], pairs: list[tuple[str, str]]) -> Unwrapped:
    event_type = to_text(document["event_type"]).strip()
    data = document.get("data")
    if not isinstance(data, dict):
        raise BadBody(f"ClickFunnels event {event_type!r} has no data object: expected {{event_type, event_id, data}}")

    if event_type in _CONTACT_EVENTS:
        # An anonymous contact is a tracked visitor with no email or phone yet.
        if to_text(data.get("anonymous")).strip().lower() in ("1", "true"):
            raise IgnoredEvent(f"ignored {event_type} for an anonymous contact: {_SUBSCRIBE}")
        fields = _contact_fields(pairs)
    elif event_type == _SUBMISSION_EVENT:
        if not isinstance(data.get("data"), dict):
            raise BadBody("ClickFunnels form_submission.created has no data.data object of submitted inputs")
        fields = _prefixed_fields(pairs, "data.data.")
    else:
        raise IgnoredEvent(f"ignored ClickFunnels event {event_type!r}, which carries no new lead: {_SUBSCRIBE}")

    event_id = to_text(document.get("event_id")).strip()
    return Unwrapped(fields=fields, sender_id=event_id or None)


def _contact_fields(pairs: list[tuple[str, str]]) -> FieldSet:
    """Return a 2.0 Contact's fields, keyed by their path inside `data`."""
    fields = FieldSet()
    for key, value in pairs:
        if not key.startswith("data."):
            continue
        path = key.removeprefix("data.")

        utm = _FIRST_VISIT_UTM.fullmatch(path)
        if utm:
            fields.add(utm.group(1), value)
        elif _TAG_NAME.fullmatch(path):
            fields.add("tags", value)
        elif path.startswith(("visits.", "tags.")):
            continue
        elif path.startswith("custom_attributes."):
            # The attribute's name is the label a person reads.
            fields.add(path, value, path.removeprefix("custom_attributes."))
        else:
            fields.add(path, value)
    return fields


def _prefixed_fields(pairs: list[tuple[str, str]], prefix: str) -> FieldSet:
    """Return the pairs under `prefix`, keyed by the rest of their path."""
    fields = FieldSet()
    for key, value in pairs:
        if key.startswith(prefix):
            path = key.removeprefix(prefix)
            # Classic's additional_info contains custom form fields, whose names are what a person reads.
            fields.add(path, value, path.removeprefix("additional_info."))
    return fields


def _unwrap_classic(document: Any, pairs: list[tuple[str, str]]) -> FieldSet:
    """Return a Classic contact's fields, or raise for purchases and non-lead events."""
    top = dict(pairs)
    event = top.get("event", "").strip().lower()
    if isinstance(document, dict) and "products" in document:
        raise IgnoredEvent("ignored a ClickFunnels Classic purchase: subscribe the funnel webhook to contact events")
    if event in _CLASSIC_NON_LEAD_EVENTS:
        raise IgnoredEvent(f"ignored a ClickFunnels Classic contact {event!r} event: subscribe to contact created")

    nested = isinstance(document, dict) and isinstance(document.get("contact"), dict)
    fields = _prefixed_fields(pairs, "contact.") if nested else _prefixed_fields(pairs, "")
    if not any(_is_contact_key(item.key) for item in fields):
        raise BadBody(
            "expected a ClickFunnels 2.0 event {event_type, event_id, data} "
            "or a Classic contact with email, phone or contact_profile"
        )
    return fields


def _is_contact_key(key: str) -> bool:
    return loose_key(key.split(".", 1)[0]) in _CLASSIC_CONTACT_KEYS
