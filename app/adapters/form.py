"""The plain adapter: flat fields from any HTML form, partner system or hook."""

from __future__ import annotations

from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped


class FormAdapter(Adapter):
    """Takes fields as posted; nested JSON keys arrive as dotted paths."""

    name = "form"

    # Matched loosely, so `First Name`, `first-name` and `FirstName` all count.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("firstname", "first_name", "fname", "first", "given_name", "your-first-name"),
        "lastname": ("lastname", "last_name", "lname", "last", "surname", "family_name", "your-last-name"),
        "fullname": ("fullname", "full_name", "name", "your-name", "contact_name"),
        "email": ("email", "email_address", "e-mail", "your-email", "mail"),
        "phone": (
            "phone", "phone_number", "phonenumber", "tel", "telephone", "mobile", "mobile_phone",
            "cell", "cell_phone", "your-tel", "your-phone",
        ),
        "address1": ("address1", "address", "address_1", "address_line_1", "street", "street_address"),
        "address2": ("address2", "address_2", "address_line_2", "apt", "suite"),
        "city": ("city", "town", "your-city"),
        "state": ("state", "province", "region", "state_province", "your-state"),
        "zip": ("zip", "zipcode", "zip_code", "postal_code", "postcode", "postalcode", "your-zip"),
        "country": ("country", "country_code", "your-country"),
    }

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        fields = FieldSet()
        for key, value in pairs:
            fields.add(key, value)
        return Unwrapped(fields=fields)
