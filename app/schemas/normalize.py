"""Normalize the values of an inbound lead before they go to PhoneBurner.

Every function here is pure. The email and phone functions raise ValueError
with a message that the relay can show to the sender. Those messages never
repeat the whole email address or phone number, because they can end up in
logs.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import urllib.parse
from decimal import Decimal

import email_validator
import phonenumbers
import pycountry

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


# --- Text -------------------------------------------------------------------


def to_text(value: object) -> str:
    """Convert one decoded JSON or form value to text.

    None becomes "", booleans "true"/"false", ints their exact decimal text, and
    integral floats drop the ".0" (35.0 gives "35"). Lists and tuples join their
    non-empty items with ", ", and dicts become compact JSON. Strings and
    Decimals keep the text the sender wrote. Raise TypeError for other types.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_to_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = (to_text(item).strip() for item in value)
        return ", ".join(item for item in items if item)
    if isinstance(value, dict):
        # json.dumps cannot write a Decimal as a number, so a nested one
        # becomes a JSON string.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    raise TypeError(f"cannot convert a {type(value).__name__} to text")


def _float_to_text(number: float) -> str:
    # Match JavaScript's Number#toString, the way browser and Node.js senders
    # print numbers: positional notation from 1e-6 up to 1e21, and exponent
    # notation (in Python's spelling, "1e-07") outside that range.
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    shortest = repr(number)
    if "e" in shortest and 1e-6 <= abs(number) < 1e21:
        return format(Decimal(shortest), "f")
    return shortest


# Line breaks: CR, LF, CRLF, VT, FF, NEL and the Unicode line and paragraph
# separators. CRLF comes first so that it becomes one "\n".
_LINE_BREAK_RE = re.compile("\r\n|[\r\v\f\x85\u2028\u2029]")
_SPACE_RUN_RE = re.compile("[ \t]+")
_ZERO_WIDTH_JOINER = "\u200d"
_ZERO_WIDTH_NON_JOINER = "\u200c"
_EMOJI_VARIATION_SELECTOR = "\ufe0f"
_WAVING_BLACK_FLAG = "\U0001f3f4"


def clean_text(value: str) -> str:
    """Clean free text and keep its inner line breaks.

    Line breaks become "\\n". Control characters other than "\\n" and "\\t"
    are removed, and so are invisible format characters (zero-width spaces,
    byte order marks, bidirectional controls). The joiners that emoji and
    some scripts need are kept. Unicode spaces become " ", runs of spaces and
    tabs become one space, and the result is in NFC with no spaces at line
    ends and no whitespace around it. HTML entities are left as they are.
    """
    text = _LINE_BREAK_RE.sub("\n", value)
    text = _drop_invisible_characters(text)
    text = unicodedata.normalize("NFC", text)

    lines = [_SPACE_RUN_RE.sub(" ", line).rstrip(" ") for line in text.split("\n")]
    return "\n".join(lines).strip()


def clean_single_line(value: str) -> str:
    """Clean text like clean_text and join its lines with single spaces."""
    lines = (line.strip(" ") for line in clean_text(value).split("\n"))
    return " ".join(line for line in lines if line)


def _drop_invisible_characters(text: str) -> str:
    """Remove control and format characters and turn Unicode spaces into " "."""
    kept: list[str] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if char in "\n\t":
            kept.append(char)
        elif category == "Zs":
            kept.append(" ")
        elif category in ("Cc", "Cs"):
            continue
        elif category == "Cf":
            before = kept[-1] if kept else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if _is_meaningful_format_character(char, before, after):
                kept.append(char)
        else:
            kept.append(char)
    return "".join(kept)


def _is_meaningful_format_character(char: str, before: str, after: str) -> bool:
    """Return whether a format character changes what its neighbors show.

    `before` is the last character kept so far and `after` the next one.
    A zero-width joiner inside an emoji sequence builds one emoji (a family,
    a rainbow flag). Both joiners between letters of Arabic, Persian or Indic
    text select letter forms. Tag characters after a black flag spell a
    subdivision flag such as England's.
    """
    if char == _ZERO_WIDTH_JOINER and _is_emoji_part(before) and _is_emoji_start(after):
        return True
    if char in (_ZERO_WIDTH_JOINER, _ZERO_WIDTH_NON_JOINER):
        return _is_joining_script_letter(before) and _is_joining_script_letter(after)
    if "\U000e0020" <= char <= "\U000e007f":
        return before == _WAVING_BLACK_FLAG or "\U000e0020" <= before <= "\U000e007e"
    return False


def _is_emoji_start(char: str) -> bool:
    return bool(char) and unicodedata.category(char) == "So"


def _is_emoji_part(char: str) -> bool:
    # Skin-tone modifiers (U+1F3FB to U+1F3FF) and the emoji variation
    # selector may end the emoji before a joiner.
    if not char:
        return False
    if char == _EMOJI_VARIATION_SELECTOR or "\U0001f3fb" <= char <= "\U0001f3ff":
        return True
    return unicodedata.category(char) == "So"


def _is_joining_script_letter(char: str) -> bool:
    # Letters and marks from U+0590 (Hebrew) upward count. The range takes in
    # Arabic, Persian and the Indic scripts but leaves out Latin, Greek and
    # Cyrillic, where a joiner between letters is only noise.
    if not char or char < "\u0590":
        return False
    return unicodedata.category(char)[0] in ("L", "M")


def _lookup_key(text: str) -> str:
    """Fold a name for table lookups.

    The key ignores case, accents, punctuation, spacing and a leading "the",
    and it spells "&" as "and" and "St" as "saint". So "U.S.A." and "usa"
    share a key, and so do "Québec" and "QUEBEC", or "St. Lucia" and "Saint
    Lucia".
    """
    folded = unicodedata.normalize("NFKD", text.casefold().replace("&", " and "))
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    folded = re.sub(r"[.'\u2019]", "", folded)
    words = re.findall(r"[^\W_]+", folded)
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return "".join("saint" if word == "st" else word for word in words)


def _add_lookup_key(table: dict[str, str], name: str, code: str) -> None:
    key = _lookup_key(name)
    if not key:
        return
    existing = table.setdefault(key, code)
    if existing != code:
        raise ValueError(f"lookup key {key!r} for {name!r} maps to both {existing} and {code}")


# --- Email ------------------------------------------------------------------


def normalize_email(value: str) -> str:
    """Validate an email address and return it in email_validator's normalized form.

    The domain is lower-cased, while the case and "+" tags of the local part
    are kept. A surrounding "<...>", a display name before it, or a "mailto:"
    prefix is removed. When a sender posted a "+" without encoding it, the
    form decoder turned it into a space ("john tag@example.com"), so spaces
    in the local part become "+" again if that makes the address valid.
    Raise ValueError for an invalid address, without repeating the address.
    """
    address = _unwrap_email(_clean_email_text(value))
    if not address:
        raise ValueError("missing email address: send it in the form name@example.com")

    try:
        return _validate_email(address)
    except email_validator.EmailNotValidError as error:
        repaired = _restore_lost_plus(address)
        if repaired is not None:
            try:
                return _validate_email(repaired)
            except email_validator.EmailNotValidError:
                pass
        raise ValueError(f"not a valid email address: {_email_error_reason(error, address)}") from None


def _clean_email_text(value: str) -> str:
    # Like clean_text but keeps each space, because every space in the local
    # part may stand for a lost "+".
    text = _LINE_BREAK_RE.sub("\n", value)
    text = _drop_invisible_characters(text)
    return unicodedata.normalize("NFC", text).strip()


def _unwrap_email(text: str) -> str:
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text[:7].casefold() == "mailto:":
        # A mailto URI is percent-encoded and may carry "?subject=..." (RFC 6068).
        text = urllib.parse.unquote(text[7:].split("?", 1)[0]).strip()
    return text


def _validate_email(address: str) -> str:
    result = email_validator.validate_email(address, check_deliverability=False, allow_display_name=True)
    return result.normalized


def _restore_lost_plus(address: str) -> str | None:
    if "<" in address or address.count("@") != 1:
        return None
    local_part, domain = address.split("@")
    if " " not in local_part or " " in domain:
        return None
    return local_part.replace(" ", "+") + "@" + domain


# email_validator appends details in brackets. Only its length details are
# kept, because others can quote labels of the domain.
_BRACKETED_DETAIL_RE = re.compile(r"\s+\(([^()]*)\)")
_LENGTH_DETAIL_RE = re.compile(r"\d+ (character|byte)s? too many")
_MAX_LISTED_CHARACTERS = 3


def _email_error_reason(error: email_validator.EmailNotValidError, address: str) -> str:
    """Return email_validator's reason for the error with the address left out.

    Most reasons name single bad characters, which are safe to show. A few
    quote domain labels or a run of the address, and those parts are removed.
    """
    reason = _BRACKETED_DETAIL_RE.sub(_keep_length_detail, str(error)).strip()

    head, separator, listed = reason.rpartition(": ")
    if separator and len(listed.split(", ")) > _MAX_LISTED_CHARACTERS:
        reason = head

    local_part, _, domain = address.rpartition("@")
    for part in (local_part, domain, address):
        if len(part) >= 3 and part.casefold() in reason.casefold():
            return "it should look like name@example.com"

    reason = reason.rstrip(".")
    if reason[:2] != reason[:2].upper():
        reason = reason[0].lower() + reason[1:]
    return reason


def _keep_length_detail(match: re.Match[str]) -> str:
    if _LENGTH_DETAIL_RE.fullmatch(match.group(1)):
        return match.group(0)
    return ""


# --- Phone ------------------------------------------------------------------

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


# --- Country ----------------------------------------------------------------

# Names in common use that pycountry 26.2.16 lacks. pycountry already has
# "South Korea", "Iran", "Vietnam", "Czech Republic", "Laos" and "Syria".
# The Spanish names cover US forms written in Spanish.
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": (
        "America",
        "U.S. of A.",
        "Estados Unidos",
        "Estados Unidos de América",
        "EE. UU.",
        "EUA",
    ),
    "GB": (
        "UK",
        "Great Britain",
        "Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Reino Unido",
    ),
    "RU": ("Russia",),
    "NL": ("Holland", "Nederland"),
    "TR": ("Turkey",),
    "CI": ("Ivory Coast",),
    "CV": ("Cape Verde",),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "MM": ("Burma",),
    "TL": ("East Timor",),
    "BN": ("Brunei",),
    "VA": ("Vatican", "Vatican City"),
    "CD": ("DRC", "DR Congo", "Democratic Republic of Congo", "Congo-Kinshasa"),
    "CG": ("Republic of Congo", "Congo-Brazzaville"),
    "AE": ("UAE", "Emirates"),
    "FM": ("Micronesia",),
    "PS": ("Palestine",),
    "IE": ("Republic of Ireland", "Éire"),
    "MO": ("Macau",),
    "BA": ("Bosnia",),
    "VI": ("USVI",),
    "VG": ("BVI",),
    "DE": ("Deutschland",),
    "ES": ("España",),
    "BR": ("Brasil",),
    "MX": ("Méjico",),
}


def _name_variants(name: str) -> list[str]:
    """List the ways people write an ISO name that has a comma or brackets.

    "Korea, Republic of" is also written "Republic of Korea", and "Falkland
    Islands (Malvinas)" also "Falkland Islands".
    """
    variants = []
    without_brackets = re.sub(r"\s*\([^)]*\)", "", name)
    if without_brackets != name:
        variants.append(without_brackets)
    head, separator, tail = name.partition(", ")
    if separator:
        variants.append(f"{tail} {head}")
    return variants


def _build_country_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        names = [country.alpha_2, country.alpha_3, country.name]
        for attribute in ("official_name", "common_name"):
            name = getattr(country, attribute, None)
            if name:
                names.append(name)
        for name in list(names):
            names.extend(_name_variants(name))
        for name in names:
            _add_lookup_key(table, name, country.alpha_2)

    for code, aliases in _COUNTRY_ALIASES.items():
        for alias in aliases:
            _add_lookup_key(table, alias, code)
    return table


_COUNTRY_CODES = _build_country_table()


def normalize_country(value: str) -> str | None:
    """Return the ISO 3166-1 alpha-2 code for a country name or code.

    Names, official and common names, alpha-2 and alpha-3 codes match in any
    case and with or without accents, and so do common aliases such as "USA",
    "UK" and "Holland". An unknown value is returned cleaned but otherwise as
    the sender typed it, and an empty one gives None.
    """
    text = clean_single_line(value)
    if not text:
        return None
    return _COUNTRY_CODES.get(_lookup_key(text), text)


# --- State and province -----------------------------------------------------

# US Postal Service state codes that are not ISO 3166-2 subdivisions of the
# US: the armed forces and the freely associated states.
_USPS_EXTRA_CODES: dict[str, tuple[str, ...]] = {
    "AA": ("Armed Forces Americas",),
    "AE": (
        "Armed Forces Europe",
        "Armed Forces Africa",
        "Armed Forces Canada",
        "Armed Forces Middle East",
    ),
    "AP": ("Armed Forces Pacific",),
    "FM": ("Federated States of Micronesia", "Micronesia"),
    "MH": ("Marshall Islands",),
    "PW": ("Palau",),
}

# Traditional US abbreviations ("Calif.", "Mass."), the older Canadian ones,
# French province names, and other common spellings. Two-letter forms such as
# "Ga." or "N.Y." need no entry, because their key equals the code's key.
_STATE_ALIASES: dict[str, tuple[str, ...]] = {
    "AL": ("Ala.",),
    "AZ": ("Ariz.",),
    "AR": ("Ark.",),
    "CA": ("Calif.", "Cal."),
    "CO": ("Colo.",),
    "CT": ("Conn.",),
    "DC": ("Washington D.C.", "Wash. D.C.", "Washington District of Columbia"),
    "DE": ("Del.",),
    "FL": ("Fla.",),
    "IL": ("Ill.",),
    "IN": ("Ind.",),
    "KS": ("Kan.", "Kans."),
    "MA": ("Mass.",),
    "MI": ("Mich.",),
    "MN": ("Minn.",),
    "MS": ("Miss.",),
    "MT": ("Mont.",),
    "NE": ("Neb.", "Nebr."),
    "NV": ("Nev.",),
    "NM": ("N. Mex.",),
    "NY": ("New York State",),
    "ND": ("N. Dak.",),
    "OK": ("Okla.",),
    "OR": ("Ore.", "Oreg."),
    "PA": ("Penn.", "Penna."),
    "SD": ("S. Dak.",),
    "TN": ("Tenn.",),
    "TX": ("Tex.",),
    "WA": ("Wash.", "Washington State"),
    "WV": ("W. Va.",),
    "WI": ("Wis.", "Wisc."),
    "WY": ("Wyo.",),
    "VI": ("U.S. Virgin Islands", "Virgin Islands", "USVI"),
    "MP": ("CNMI",),
    "AB": ("Alta.",),
    "BC": ("Colombie-Britannique",),
    "MB": ("Man.",),
    "NB": ("Nouveau-Brunswick",),
    "NL": ("Nfld.", "NF", "Newfoundland", "Terre-Neuve-et-Labrador"),
    "NS": ("Nouvelle-Écosse",),
    "NT": ("N.W.T.", "Territoires du Nord-Ouest"),
    "ON": ("Ont.",),
    "PE": ("P.E.I.", "Île-du-Prince-Édouard"),
    "QC": ("Que.", "PQ"),
    "SK": ("Sask.",),
    "YT": ("Yukon Territory",),
}

_STATE_COUNTRIES = ("US", "CA")
# ISO 3166-2 form such as "US-CA" or "CA-QC".
_ISO_SUBDIVISION_RE = re.compile(r"(US|CA)[\s_-]+([A-Z]{2})", re.IGNORECASE)


def _build_state_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country_code in _STATE_COUNTRIES:
        for subdivision in pycountry.subdivisions.get(country_code=country_code):
            code = subdivision.code.split("-", 1)[1]
            names = [code, subdivision.name, *_name_variants(subdivision.name)]
            for name in names:
                _add_lookup_key(table, name, code)

    for aliases_by_code in (_USPS_EXTRA_CODES, _STATE_ALIASES):
        for code, aliases in aliases_by_code.items():
            _add_lookup_key(table, code, code)
            for alias in aliases:
                _add_lookup_key(table, alias, code)
    return table


_STATE_CODES = _build_state_table()


def normalize_state(value: str, *, country: str | None) -> str:
    """Return the two-letter code of a US state or Canadian province.

    This applies when `country` is None, "US" or "CA", or another spelling of
    those countries. Names match in any case and without accents ("quebec"),
    and so do codes ("ca", "Ca."), the ISO form "US-CA" and the traditional
    abbreviations ("Calif.", "Wash. D.C."). "CA" means California. Any other
    value, or a state of another country, is returned cleaned but otherwise
    unchanged, and an empty value gives "".
    """
    text = clean_single_line(value)
    if not text:
        return ""
    country_code = normalize_country(country) if country else None
    if country_code is not None and country_code not in _STATE_COUNTRIES:
        return text

    iso_match = _ISO_SUBDIVISION_RE.fullmatch(text)
    if iso_match:
        code = iso_match.group(2).upper()
        if _STATE_CODES.get(_lookup_key(code)) == code:
            return code
    return _STATE_CODES.get(_lookup_key(text), text)


# --- Names ------------------------------------------------------------------

# Suffixes that follow a comma after a full name, as in "John Smith, Jr.", and
# so do not mark the "Last, First" order.
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "md", "phd", "esq", "dds", "dvm", "cpa", "rn", "jd", "mba"})


def split_full_name(value: str) -> tuple[str | None, str | None]:
    """Split a full name into (first name, last name).

    The first word is the first name and the rest the last name, so a single
    word has no last name and an empty value gives (None, None). A name with
    exactly one comma is read as "Last, First", unless a suffix such as "Jr."
    follows the comma.
    """
    text = clean_single_line(value)
    if not text:
        return None, None

    if text.count(",") == 1:
        before, after = (part.strip() for part in text.split(","))
        if before and after and not _is_name_suffix(after):
            return after, before

    first, _, last = text.partition(" ")
    first = first.rstrip(",") or first
    return first, last or None


def _is_name_suffix(text: str) -> bool:
    words = re.findall(r"[^\W_]+", text.casefold().replace(".", ""))
    return bool(words) and all(word in _NAME_SUFFIXES for word in words)
