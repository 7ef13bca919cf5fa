"""Parse phone numbers into E.164 form.

The ValueError messages never repeat the whole phone number, because they
can end up in logs.
"""

from __future__ import annotations

import re

import phonenumbers

from app.schemas.normalize.text import clean_single_line

# A form decoder turns an unencoded "+" into a space, so " 44 20 7946 0958"
# arrives where the sender wrote "+44 20 7946 0958".
_LOST_PLUS_RE = re.compile(r"\s\d")
_INTERNATIONAL_PREFIX_RE = re.compile(r"00\s*[1-9]")
_HAS_DIGIT_RE = re.compile(r"\d")


def normalize_phone(value: str, *, region: str | None) -> str:
    """Parse a phone number and return it in E.164 form ("+19495550181").

    `region` is the ISO 3166-1 alpha-2 code that numbers without a "+" belong
    to. None, or a code phonenumbers does not know, means that every number
    must start with "+". Extensions are dropped, because PhoneBurner has no
    field for them, and letters map to digits ("1-800-FLOWERS").

    Two sender habits are repaired. A value that starts with a space before
    a digit lost its "+" in form encoding, so " 44 20 7946 0958" is read as
    "+44 20 7946 0958", unless it already is a valid ten-digit North American
    number. A leading "00" is taken as the international prefix used in most
    of the world even where the region dials another one.
    Raise ValueError unless phonenumbers rates the result a valid number.
    """
    text = clean_single_line(value)
    if not _HAS_DIGIT_RE.search(text):
        raise ValueError(
            "not a valid phone number: it contains no digits, so send digits with the "
            "area code, or the country code with a leading +"
        )
    region_code = region.upper() if region else None

    number, parse_error = _parse_phone(text, region_code)
    # NOTE: outside North America, a national number typed after a stray
    # space is read as international whenever that also gives a valid number.
    if _LOST_PLUS_RE.match(value) and not _is_national_nanp_number(number):
        with_plus, _ = _parse_phone("+" + text, None)
        if with_plus is not None and phonenumbers.is_valid_number(with_plus):
            number = with_plus
    if _INTERNATIONAL_PREFIX_RE.match(text) and not _is_valid_phone(number):
        with_plus, _ = _parse_phone("+" + text[2:], None)
        if with_plus is not None and phonenumbers.is_valid_number(with_plus):
            number = with_plus

    if number is None:
        raise ValueError(f"not a valid phone number: {_parse_error_reason(text, parse_error)}")
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {_invalid_number_reason(number)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_phone(
    text: str, region: str | None
) -> tuple[phonenumbers.PhoneNumber | None, phonenumbers.NumberParseException | None]:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=True), None
    except phonenumbers.NumberParseException as error:
        return None, error


def _is_valid_phone(number: phonenumbers.PhoneNumber | None) -> bool:
    return number is not None and phonenumbers.is_valid_number(number)


def _is_national_nanp_number(number: phonenumbers.PhoneNumber | None) -> bool:
    """Return whether the number is a valid NANP number typed without a country code."""
    if not _is_valid_phone(number):
        return False
    source = number.country_code_source
    return number.country_code == 1 and source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY


def _parse_error_reason(text: str, error: phonenumbers.NumberParseException | None) -> str:
    error_type = error.error_type if error is not None else None
    if error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        if text.startswith("+"):
            return "the digits after + are not a country code"
        return "it has no country code, so start it with + and the country code"
    if error_type == phonenumbers.NumberParseException.TOO_LONG:
        return "too many digits, so send a single phone number"
    return "include the area code, or the country code with a leading +"


def _invalid_number_reason(number: phonenumbers.PhoneNumber) -> str:
    country_code = number.country_code
    reason = phonenumbers.is_possible_number_with_reason(number)
    result = phonenumbers.ValidationResult
    if reason == result.INVALID_COUNTRY_CODE:
        return f"+{country_code} is not a country code, so check the digits after the +"
    if reason in (result.TOO_SHORT, result.IS_POSSIBLE_LOCAL_ONLY):
        return "too few digits, so include the area code, or the country code with a leading +"
    if reason == result.TOO_LONG:
        return f"too many digits for country code +{country_code}, so send a single phone number"
    if reason == result.INVALID_LENGTH:
        return f"wrong number of digits for country code +{country_code}"
    return (
        f"no such area code or number range for country code +{country_code}, so check "
        "the area code, or start a number from another country with + and its country code"
    )
