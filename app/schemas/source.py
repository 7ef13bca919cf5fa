"""The source schema: one sender's fields mapped, cleaned and validated into a Lead."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, post_load, validates_schema

from app.adapters import TRANSPORT_NOISE, Adapter, FieldSet, loose_key
from app.config.model import Source
from app.errors import InvalidLead
from app.leads import STANDARD_FIELDS, Extra, Lead
from app.schemas import normalize
from app.schemas.fields import Email, Extras, Phone, SingleLine


@dataclass
class Mapped:
    """The outcome of the field map: PhoneBurner field -> text, where each came from, extras."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    extras: list[tuple[str, str]] = field(default_factory=list)


class SourceSchema(Schema):
    """Maps a source's flat fields onto a Lead.

    The field map comes from the source's config over its adapter's defaults.
    Senders that need code subclass this, override `map_fields` or add
    marshmallow hooks, and name the class in the source's `schema` key.
    """

    class Meta:
        # `map_fields` emits only declared keys, so anything else is a bug worth seeing.
        unknown = RAISE

    firstname = SingleLine(allow_none=True)
    lastname = SingleLine(allow_none=True)
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    address1 = SingleLine(allow_none=True)
    address2 = SingleLine(allow_none=True)
    city = SingleLine(allow_none=True)
    state = SingleLine(allow_none=True)
    zip = SingleLine(allow_none=True)
    country = SingleLine(allow_none=True)
    extras = Extras(load_default=list)

    def __init__(self, *, source: Source, adapter: Adapter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.default_region = source.default_region
        self.field_map = {**adapter.default_fields, **source.fields}
        self.noise = (*TRANSPORT_NOISE, *adapter.noise, *source.ignore)
        self._noise_pattern = _one_pattern(self.noise)

    def load_lead(self, fields: FieldSet) -> Lead:
        """Map, clean and validate one request's fields, or raise InvalidLead."""
        mapped = self.map_fields(fields)
        try:
            return self.load({**mapped.values, "extras": mapped.extras})
        except ValidationError as error:
            raise InvalidLead(
                "the lead's fields are invalid; fix the fields listed in errors",
                errors=_name_origins(error.normalized_messages(), mapped.origins),
            ) from None

    def map_fields(self, fields: FieldSet) -> Mapped:
        """Pick each PhoneBurner field from its candidate sender fields, then the extras."""
        mapped = Mapped()
        used: set[str] = set()

        for name, candidates in self.field_map.items():
            found = _first_present(fields, candidates)
            if found is not None:
                mapped.values[name] = found.text
                mapped.origins[name] = found.key
                used.add(found.key)

        if not self._split_full_name(mapped):
            # A full name next to first and last names is kept as an answer, not dropped.
            used.discard(mapped.origins.pop("fullname", None) or "")
        mapped.values.pop("fullname", None)

        for label, candidates in self.source.extras.items():
            found = _first_present(fields, candidates)
            if found is not None:
                mapped.extras.append((label, found.text))
                used.add(found.key)

        if self.source.extras_unmapped:
            mapped.extras += [(item.label, item.text) for item in fields if self._is_unmapped(item.key, used)]
        return mapped

    def _split_full_name(self, mapped: Mapped) -> bool:
        """Fill first and last name from the full name when both are missing; return whether it did."""
        full_name = mapped.values.get("fullname")
        if full_name is None or "firstname" in mapped.values or "lastname" in mapped.values:
            return False

        origin = mapped.origins.pop("fullname", None)
        first, last = normalize.split_full_name(full_name)
        for name, part in (("firstname", first), ("lastname", last)):
            if part:
                mapped.values[name] = part
                mapped.origins[name] = origin or "fullname"
        return True

    def _is_unmapped(self, key: str, used: set[str]) -> bool:
        if key in used:
            return False
        return self._noise_pattern is None or self._noise_pattern.match(key.casefold()) is None

    @validates_schema
    def require_contact(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Reject a lead PhoneBurner could not reach, and one missing a required field."""
        errors: dict[str, list[str]] = {}
        if not data.get("email") and not data.get("phone"):
            message = "missing: a lead needs an email address or a phone number"
            errors = {"email": [message], "phone": [message]}

        for name in self.source.required:
            if not data.get(name) and name not in errors:
                errors[name] = [f"missing: this source requires {name}"]

        if errors:
            raise ValidationError(errors)

    @post_load
    def make_lead(self, data: dict[str, Any], **kwargs: Any) -> Lead:
        """Build the Lead, with country and state in their standard codes."""
        country = normalize.normalize_country(data["country"]) if data.get("country") else None
        state = data.get("state")
        if state:
            state = normalize.normalize_state(state, country=country)

        standard = {name: data.get(name) for name in STANDARD_FIELDS}
        standard.update(country=country, state=state)
        extras = [Extra(label, value) for label, value in data["extras"]]
        return Lead(**standard, extras=extras)


def _first_present(fields: FieldSet, candidates: tuple[str, ...]):
    for candidate in candidates:
        found = fields.find(candidate)
        if found is not None and found.text.strip():
            return found
    return None


def _one_pattern(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    """Compile shell-style patterns into one regular expression that matches a casefolded key matching any."""
    if not globs:
        return None
    return re.compile("|".join(fnmatch.translate(glob.casefold()) for glob in globs))


def _name_origins(messages: dict[str, Any], origins: dict[str, str]) -> dict[str, list[str]]:
    """Add the sender's field name to each message, so the sender can find what to fix."""
    named: dict[str, list[str]] = {}
    for name, value in messages.items():
        texts = value if isinstance(value, list) else [str(value)]
        origin = origins.get(name)
        if origin and loose_key(origin) != loose_key(name):
            texts = [f"{text} (sender field {origin!r})" for text in texts]
        named[name] = [str(text) for text in texts]
    return named
