"""Normalize the values of an inbound lead before they go to PhoneBurner.

Every function here is pure. The email and phone functions raise ValueError
with a message that the relay can show to the sender. Those messages never
repeat the whole email address or phone number, because they can end up in
logs.
"""

from app.schemas.normalize.emails import normalize_email
from app.schemas.normalize.names import split_full_name
from app.schemas.normalize.phones import normalize_phone
from app.schemas.normalize.places import normalize_country, normalize_state
from app.schemas.normalize.text import clean_single_line, clean_text, to_text

__all__ = [
    "clean_single_line",
    "clean_text",
    "normalize_country",
    "normalize_email",
    "normalize_phone",
    "normalize_state",
    "split_full_name",
    "to_text",
]
