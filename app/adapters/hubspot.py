"""HubSpot workflows: the body of the "Send a webhook" action (POST) for an enrolled record.

Read for this module: developers.hubspot.com/docs/methods/workflows/webhook_information
("Using webhooks in workflows"), the knowledge-base article "Use webhooks with HubSpot
workflows", and developers.hubspot.com/docs/api/webhooks/validating-requests.

HubSpot posts the enrolled record as the record API returns it. Contact workflows send
the classic contact format, `{"vid", "portal-id", "properties": {"email": {"value",
"versions": [...]}, ...}, "identity-profiles": [...], ...}`; other object types send
`{"objectId", "properties": {name: {"value", ...}}, ...}`. A webhook with a customized
request body sends a flat object of the chosen property names. Keys here are HubSpot's
internal property names (`firstname`, `mobilephone`, `how_did_you_hear`); the body
carries no labels. Multiple checkbox values arrive joined with ";".

Signature: `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256 of `method + URI + raw body
+ timestamp`, keyed by the app's client secret, with the timestamp in
`X-HubSpot-Request-Timestamp` (Unix milliseconds). HubSpot's documentation tells receivers to reject
requests older than 5 minutes. See verify_v3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.signatures import (
    decode_base64,
    hmac_digest,
    parse_timestamp,
    require_fresh,
    require_match,
)
from app.errors import BadBody, Unauthorized
from app.schemas.normalize import to_text

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"

# The record's id and portal are kept under this prefix, so a source can map them
# into an extra without a collision with a property name.
ENVELOPE_PREFIX = "hubspot."

# HubSpot decodes these percent-escapes in the URI before signing it (v3 scheme).
_SIGNED_URI_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


class HubSpotAdapter(Adapter):
    """The adapter for HubSpot workflow webhooks, keyed by internal property names."""

    name = "hubspot"

    signed = True

    # The v3 scheme signs the method and the URL HubSpot called, so intake passes both.
    signs_url = True

    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("firstname",),
        "lastname": ("lastname",),
        "fullname": ("full_name", "name"),
        "email": ("email", "work_email"),
        "phone": ("phone", "mobilephone"),
        "address1": ("address",),
        "address2": ("address2",),
        "city": ("city",),
        "state": ("state",),
        "zip": ("zip",),
        "country": ("country",),
    }

    # HubSpot's own bookkeeping properties, which "include all properties" sends too.
    noise: ClassVar[tuple[str, ...]] = (
        f"{ENVELOPE_PREFIX}*",
        "hs_*",
        "ip_*",
        "createdate",
        "lastmodifieddate",
        "lifecyclestage",
        "hubspot_owner_*",
        "hubspot_team_id",
        "associatedcompanyid",
        "associatedcompanylastupdated",
        "currentlyinworkflow",
        "num_*",
        "first_conversion_*",
        "recent_conversion_*",
        "notes_*",
        "vid",
        "canonical-vid",
        "portal-id",
        "portalid",
        "objectid",
    )

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        if not isinstance(document, dict):
            raise BadBody("expected the JSON body of a HubSpot workflow's 'Send a webhook' action")
        if "subscriptionType" in document and "eventId" in document:
            raise BadBody(
                f"HubSpot Webhooks API event {to_text(document['subscriptionType'])!r} carries no contact "
                "properties: post from a workflow's 'Send a webhook' action instead"
            )

        properties = document.get("properties", document)
        if not isinstance(properties, dict):
            raise BadBody("the HubSpot record's 'properties' must be an object of property name -> value")

        fields = FieldSet()
        for key, entry in properties.items():
            _add_property(fields, str(key), _property_value(entry))
        email = fields.find("email")
        if email is None or not email.text.strip():
            _add_identity_email(fields, document)

        record_id = _first_text(document, ("vid", "canonical-vid", "objectId", "id"))
        record_id = record_id or _first_text(properties, ("hs_object_id",))
        portal_id = _first_text(document, ("portal-id", "portalId"))
        for key, value in (("object_id", record_id), ("portal_id", portal_id)):
            if value:
                fields.add(ENVELOPE_PREFIX + key, value)
        return Unwrapped(fields=fields, sender_id=_sender_id(record_id, properties, document))

    def verify_signature(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secrets: tuple[str, ...],
        tolerance: float,
        now: float,
        url: str | None = None,
        method: str = "POST",
    ) -> bytes:
        if url is None:
            raise Unauthorized("HubSpot signs the request URL, and none was given to check it against")
        return verify_v3(
            method=method, uri=url, body=body, headers=headers, secrets=secrets, tolerance=tolerance, now=now
        )


def verify_v3(
    *,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    secrets: tuple[str, ...],
    tolerance: float,
    now: float,
) -> bytes:
    """Return the verified X-HubSpot-Signature-v3, or raise Unauthorized unless it signs this request.

    The signature covers the method, URI, body and time. `uri` is the full URL
    HubSpot called, scheme, host and query included.
    """
    timestamp_text = _ascii_header(headers, TIMESTAMP_HEADER)
    timestamp = parse_timestamp(timestamp_text, milliseconds=True)
    require_fresh(timestamp, now=now, tolerance=tolerance)

    presented = decode_base64(_ascii_header(headers, SIGNATURE_HEADER))
    signed = f"{method.upper()}{signed_uri(uri)}".encode() + body + timestamp_text.strip().encode("ascii")
    # require_match compares one value with a list: the digest under each secret.
    return require_match(presented, [hmac_digest(secret, signed) for secret in secrets])


def signed_uri(uri: str) -> str:
    """Return the URI as HubSpot signs it: no fragment, and the listed escapes decoded."""
    without_fragment = uri.split("#", 1)[0]
    return _SIGNED_URI_ESCAPES.sub(lambda match: bytes.fromhex(match.group(1)).decode("ascii"), without_fragment)


def _property_value(entry: Any) -> Any:
    # Record formats wrap each value as {"value": ..., "versions"/"timestamp": ...}.
    if isinstance(entry, dict):
        return entry.get("value")
    return entry


def _add_property(fields: FieldSet, key: str, value: Any) -> None:
    text = to_text(value)
    for part in _checkbox_options(text):
        fields.add(key, part)


def _checkbox_options(text: str) -> list[str]:
    """Split a checkbox property's ";"-joined options, and keep any other text whole.

    HubSpot joins options with a bare ";". Free text ("busy; call later"), empty
    options and URLs do not have that shape, so each stays one value.
    """
    parts = text.split(";")
    if len(parts) < 2 or "://" in text:
        return [text]
    if all(part and part == part.strip() for part in parts):
        return parts
    return [text]


def _add_identity_email(fields: FieldSet, document: dict[str, Any]) -> None:
    """Add the contact's primary EMAIL identity, for bodies whose properties lack `email`."""
    profiles = document.get("identity-profiles")
    for profile in profiles if isinstance(profiles, list) else []:
        identities = profile.get("identities") if isinstance(profile, dict) else None
        for identity in identities if isinstance(identities, list) else []:
            if isinstance(identity, dict) and identity.get("type") == "EMAIL" and identity.get("value"):
                fields.add("email", to_text(identity["value"]))
                return


def _first_text(document: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _property_value(document.get(key))
        if value not in (None, "") and not isinstance(value, (dict, list)):
            return to_text(value)
    return None


def _sender_id(record_id: str | None, properties: dict[str, Any], document: dict[str, Any]) -> str | None:
    """Return the record id and its last modification time, as `<id>:<time>`.

    A retry repeats both. A later enrollment of the same record, after a new form
    submission, has a new modification time, so it is not taken for a re-delivery.
    """
    if record_id is None:
        return None
    modified = _first_text(properties, ("lastmodifieddate", "hs_lastmodifieddate"))
    modified = modified or _first_text(document, ("updatedAt",))
    # NOTE: without a modification time, two enrollments of one record share this id.
    return f"{record_id}:{modified}" if modified else record_id


def _ascii_header(headers: Mapping[str, str], name: str) -> str:
    """Return a header's value, raising Unauthorized when it is missing or not ASCII."""
    value = headers.get(name)
    # Header bytes decode as Latin-1, so "²" or "é" can arrive. Rejecting non-ASCII
    # here gives every malformed header the same 401, which names the header.
    if value is None or not value.strip() or not value.isascii():
        raise Unauthorized(f"missing or malformed {name} header: send HubSpot's signed request unchanged")
    return value
