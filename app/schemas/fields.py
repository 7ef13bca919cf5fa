"""Marshmallow fields that clean and validate one lead value each."""

from __future__ import annotations

from typing import Any

import phonenumbers
from marshmallow import ValidationError, fields

from app.schemas import normalize

# PhoneBurner documents no field lengths; longer values are almost always pasted junk.
MAX_FIELD_CHARS = 255
MAX_LABEL_CHARS = 200


class SingleLine(fields.String):
    """Text on one line: NFC, spaces folded, at most MAX_FIELD_CHARS characters."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = normalize.clean_single_line(normalize.to_text(value))
        if len(text) > MAX_FIELD_CHARS:
            raise ValidationError(f"longer than {MAX_FIELD_CHARS} characters; shorten it")
        return text or None


class Email(fields.String):
    """An email address, syntax-checked without DNS lookups."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = normalize.clean_single_line(normalize.to_text(value))
        if not text:
            return None
        try:
            return normalize.normalize_email(text)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class Phone(fields.String):
    """A phone number, parsed in the lead's country or the source's default region."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        # Cleaning first would drop the leading space that stands for a lost "+".
        raw = normalize.to_text(value)
        if not raw.strip():
            return None
        try:
            return normalize.normalize_phone(raw, region=self._region(data))
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def _region(self, data: Any) -> str:
        country = data.get("country") if isinstance(data, dict) else None
        if country:
            code = normalize.normalize_country(normalize.clean_single_line(normalize.to_text(country)))
            if code in phonenumbers.SUPPORTED_REGIONS:
                return code
        return getattr(self.parent, "default_region", "US")


class Extras(fields.Field):
    """Question and answer pairs: labels on one line, answers keep inner newlines."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[tuple[str, str]]:
        if not isinstance(value, list):
            raise ValidationError("expected a list of [label, answer] pairs")

        pairs = []
        for item in value:
            label, answer = item
            label = normalize.clean_single_line(normalize.to_text(label))[:MAX_LABEL_CHARS]
            answer = normalize.clean_text(normalize.to_text(answer))
            if label and answer:
                pairs.append((label, answer))
        return pairs
