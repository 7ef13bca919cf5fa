"""The lead: a sender's payload mapped onto PhoneBurner's fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# PhoneBurner's standard contact fields, in the order they travel in put_contact.
STANDARD_FIELDS: tuple[str, ...] = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "country",
)


@dataclass(frozen=True)
class Extra:
    """A question and answer pair that PhoneBurner stores beside the contact."""

    label: str
    value: str


@dataclass
class Lead:
    """A normalized lead: standard fields plus ordered extras.

    `phone` is in E.164 form (`+19495550181`); the PhoneBurner client turns it
    into the vendor's format. Empty fields are None, never "".
    """

    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    extras: list[Extra] = field(default_factory=list)

    # The sending tool's own id for this submission, used to recognize re-deliveries.
    sender_id: str | None = None

    def standard_fields(self) -> list[tuple[str, str]]:
        """Return the non-empty standard fields in PhoneBurner's order."""
        pairs = []
        for name in STANDARD_FIELDS:
            value = getattr(self, name)
            if value:
                pairs.append((name, value))
        return pairs

    def to_dict(self) -> dict[str, Any]:
        """Return the lead as plain data for the store: standard fields, extras, sender id."""
        data: dict[str, Any] = {name: getattr(self, name) for name in STANDARD_FIELDS}
        data["extras"] = [[extra.label, extra.value] for extra in self.extras]
        data["sender_id"] = self.sender_id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lead:
        """Rebuild a lead from `to_dict`'s output."""
        standard = {name: data.get(name) for name in STANDARD_FIELDS}
        extras = [Extra(label, value) for label, value in data.get("extras", [])]
        return cls(**standard, extras=extras, sender_id=data.get("sender_id"))
