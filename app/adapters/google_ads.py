"""Google Ads lead forms: the lead form webhook (payload api_version "1.0").

Read for this module: developers.google.com/google-ads/webhook/docs/implementation (the
POST schema), .../webhook/docs/testing (the sample test lead) and .../webhook/docs/faq.

Body: `{"lead_id", "api_version", "form_id", "campaign_id", "google_key", "is_test",
"gcl_id", "adgroup_id", "creative_id", "asset_group_id", "user_column_data":
[{"column_name", "string_value", "column_id"}]}`. A field's key is its `column_id`
(`FULL_NAME`, `EMAIL`, `PHONE_NUMBER`, `POSTAL_CODE`, `COMPANY_NAME`, ... and an id for
each custom question). Its label is `column_name`, which Google documents as not always
filled. Ids are 64-bit integers and may exceed 2^53; they are kept as exact text.

Authentication: no signature. The body carries `google_key`, the key the advertiser
typed next to the webhook URL; verify_signature compares it with the source's
signing secrets. The key is never turned into a field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.signatures import require_match
from app.errors import BadBody, Unauthorized
from app.schemas.normalize import to_text

KEY_FIELD = "google_key"

# Envelope values are kept under this prefix, so a source can map one (the campaign
# id, the click id) into an extra without a collision with a column id.
ENVELOPE_PREFIX = "google_ads."

# Test leads (Google's "Send test data" button, or is_test) get this extra.
TEST_LEAD_KEY = "is_test"
TEST_LEAD_LABEL = "Test lead"


class GoogleAdsAdapter(Adapter):
    """The adapter for Google Ads lead form webhooks, keyed by column_id."""

    name = "google_ads"
    signed = True

    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("FIRST_NAME",),
        "lastname": ("LAST_NAME",),
        "fullname": ("FULL_NAME",),
        "email": ("EMAIL", "WORK_EMAIL"),
        "phone": ("PHONE_NUMBER", "WORK_PHONE"),
        "address1": ("STREET_ADDRESS",),
        "city": ("CITY",),
        "state": ("REGION",),
        "zip": ("POSTAL_CODE",),
        "country": ("COUNTRY",),
    }

    noise: ClassVar[tuple[str, ...]] = (f"{ENVELOPE_PREFIX}*",)

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        if not isinstance(document, dict):
            raise BadBody("expected the JSON body of a Google Ads lead form webhook")
        columns = document.get("user_column_data")
        if not isinstance(columns, list):
            raise BadBody("not a Google Ads lead: expected a 'user_column_data' list of form fields")

        fields = FieldSet()
        for column in columns:
            _add_column(fields, column)
        if document.get("is_test") is True:
            fields.add(TEST_LEAD_KEY, "true", label=TEST_LEAD_LABEL)
        for key, value in document.items():
            if key not in ("user_column_data", "is_test") and _key_name(key) != KEY_FIELD:
                _add_envelope(fields, key, value)

        lead_id = document.get("lead_id")
        sender_id = to_text(lead_id) if lead_id not in (None, "") else None
        return Unwrapped(fields=fields, sender_id=sender_id)

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> None:
        presented = _google_key(body).encode("utf-8")
        # require_match compares one value with a list: the configured keys, so any
        # of them may match while a key is being rotated.
        require_match(presented, [secret.encode("utf-8") for secret in secrets])


def _add_column(fields: FieldSet, column: Any) -> None:
    if not isinstance(column, dict):
        raise BadBody("every entry of 'user_column_data' must be an object with column_id and string_value")

    column_id = to_text(column.get("column_id")).strip()
    column_name = to_text(column.get("column_name")).strip()
    key = column_id or column_name
    if not key:
        return
    fields.add(key, to_text(column.get("string_value")), label=column_name or column_id)


def _add_envelope(fields: FieldSet, key: str, value: Any) -> None:
    if not isinstance(value, (dict, list)):
        fields.add(ENVELOPE_PREFIX + str(key), to_text(value))


def _key_name(key: str) -> str:
    # Key names compare without case, so a "Google_key" spelling neither fails
    # authentication nor leaks the key into an extra.
    return str(key).casefold()


def _google_key(body: bytes) -> str:
    """Return the google_key of a raw body, raising Unauthorized for any body without one."""
    try:
        document = json.loads(body.decode("utf-8").lstrip("\ufeff"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unauthorized("missing google_key: the body is not Google's JSON lead") from None

    # A sender may wrap the lead in a one-item array, as the body reader allows.
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        raise Unauthorized("missing google_key: the body is not Google's JSON lead")

    key = document.get(KEY_FIELD)
    if key is None:
        key = next((value for name, value in document.items() if _key_name(name) == KEY_FIELD), None)
    if not isinstance(key, str) or not key:
        raise Unauthorized("missing google_key: set the key in the lead form's webhook settings")
    return key
