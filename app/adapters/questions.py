"""Helpers for tools whose fields are questions with a title and an answer type.

Typeform and Tally key answers by ids that carry no meaning, and Elementor's
advanced mode by generated field ids, so these adapters also let a field be
found by its type, its title and the standard field its wording names. This
module defines no adapter, and the registry skips it by name.
"""

from __future__ import annotations

import re

from app.adapters.base import FieldSet

# PhoneBurner field -> names of a form tool's questions, matched against keys,
# titles and the roles that `guess_role` returns. Used by Typeform and Tally.
QUESTION_DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "firstname": ("first_name", "firstname", "given_name"),
    "lastname": ("last_name", "lastname", "surname", "family_name"),
    "fullname": ("name", "full_name", "your_name"),
    "email": ("email", "email_address", "work_email"),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "telephone"),
    "address1": ("address_line_1", "address", "street_address", "street"),
    "address2": ("address_line_2",),
    "city": ("city", "town"),
    "state": ("state", "province", "region"),
    "zip": ("zip", "zip_code", "postal_code", "postcode"),
    "country": ("country",),
}

# Standard names guessed from a question's wording, tried in order, so that
# "Email address" counts as an email and not as an address.
_WORDING_ROLES = (
    ("email", re.compile(r"\be-?mail\b")),
    ("phone", re.compile(r"\b(phone|mobile|cell|telephone)\b")),
    ("last_name", re.compile(r"\b(last|family|sur)[\s-]?name\b")),
    ("first_name", re.compile(r"\b(first|given)[\s-]?name\b")),
    ("name", re.compile(r"\b(full|your)[\s-]name\b|^name\b")),
    ("zip", re.compile(r"\b(zip|postal|post)[\s-]?code\b|\bzip\b")),
    ("city", re.compile(r"\b(city|town)\b")),
    ("state", re.compile(r"\b(state|province)\b")),
    ("country", re.compile(r"\bcountry\b")),
    ("address", re.compile(r"\baddress\b")),
)


def guess_role(wording: str) -> str | None:
    """Return the standard field a question's wording names, such as `last_name`, or None."""
    text = wording.casefold().strip()
    for role, pattern in _WORDING_ROLES:
        if pattern.search(text):
            return role
    return None


def alias_unclaimed(fields: FieldSet, name: str, key: str) -> None:
    """Alias `name` to the field `key` unless `name` already finds a field.

    The first alias of a name wins, so callers add the most reliable ones
    first. FieldSet.alias alone would make a name given to two fields find
    neither.
    """
    if fields.find(name) is None:
        fields.alias(name, key)


class TitleAliases:
    """Question titles and the roles their wording names, aliased once every answer is in.

    The first alias of a name wins, and `apply` adds titles and then guessed
    roles after the aliases an adapter adds while it reads the answers (ids,
    answer types). So those rank first, titles second and guessed roles last.
    """

    def __init__(self) -> None:
        self._titles: list[tuple[str, str]] = []
        self._roles: list[tuple[str, str]] = []

    def add(self, title: str, key: str, *, guess: bool) -> None:
        """Queue `title` as a name of the field `key`, and with `guess` also the role its wording names."""
        self._titles.append((title, key))
        role = guess_role(title) if guess else None
        if role:
            self._roles.append((role, key))

    def apply(self, fields: FieldSet) -> None:
        """Alias the queued titles, then the guessed roles, to their fields."""
        for name, key in [*self._titles, *self._roles]:
            alias_unclaimed(fields, name, key)
