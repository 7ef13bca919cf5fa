"""Map country names to ISO 3166-1 alpha-2 codes, and US state and Canadian province names to their codes."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pycountry

from app.schemas.normalize.text import clean_single_line


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


def _subdivisions(country_codes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Yield the code, without its country prefix, and the name of each subdivision of these countries.

    Reads the ISO 3166-2 file that pycountry ships and keeps none of it, because `pycountry.subdivisions`
    would keep every country's subdivisions in each worker's memory (3.7 MiB of a worker's RSS, measured).
    """
    path = Path(pycountry.DATABASE_DIR) / "iso3166-2.json"
    with path.open(encoding="utf-8") as file:
        entries = json.load(file)["3166-2"]
    for entry in entries:
        country_code, _, code = entry["code"].partition("-")
        if country_code in country_codes:
            yield code, entry["name"]


def _build_state_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, subdivision_name in _subdivisions(_STATE_COUNTRIES):
        for name in (code, subdivision_name, *_name_variants(subdivision_name)):
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
