"""Tests for the pure normalization functions in app.schemas.normalize."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.schemas.normalize import (
    clean_single_line,
    clean_text,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_state,
    split_full_name,
    to_text,
)

# --- to_text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (180, "180"),
        (-42, "-42"),
        (2**53 + 1, "9007199254740993"),
        (1029384756102938475, "1029384756102938475"),
        (19495550124, "19495550124"),
        (35.0, "35"),
        (-0.0, "0"),
        (19495550124.0, "19495550124"),
        (35.5, "35.5"),
        (0.1, "0.1"),
        (123456789.123, "123456789.123"),
        (1e20, "100000000000000000000"),
        (1.5e-5, "0.000015"),
        (1e21, "1e+21"),
        (1e-7, "1e-07"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (Decimal("35.0"), "35.0"),
        (Decimal("1E+2"), "1E+2"),
        ("35.0", "35.0"),
        ("  as sent  ", "  as sent  "),
        ("", ""),
        (["Repair", "Install"], "Repair, Install"),
        (("Solar panels", "Battery storage"), "Solar panels, Battery storage"),
        (["a", "", None, " b ", "  "], "a, b"),
        ([["x", "y"], 3, True], "x, y, 3, true"),
        ([], ""),
        ({"a": 1, "b": "é", "c": [1, None]}, '{"a":1,"b":"é","c":[1,null]}'),
        ({"price": Decimal("1.50")}, '{"price":"1.50"}'),
        ({}, "{}"),
    ],
)
def test_to_text_values(value, expected):
    assert to_text(value) == expected


def test_to_text_nested_dict_in_list():
    assert to_text([{"k": "v"}, "x"]) == '{"k":"v"}, x'


def test_to_text_rejects_bytes():
    with pytest.raises(TypeError, match="bytes"):
        to_text(b"raw")


def test_to_text_big_ids_from_json():
    payload = json.loads('{"leadgen_id": 1029384756102938475123}')
    assert to_text(payload["leadgen_id"]) == "1029384756102938475123"


# --- clean_text and clean_single_line ---------------------------------------

EMOJI_FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
CODER_WITH_SKIN_TONE = "\U0001f469\U0001f3fd\u200d\U0001f4bb"
ENGLAND_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
DEVANAGARI_WITH_ZWJ = "\u0915\u094d\u200d\u0937"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  hello  ", "hello"),
        ("Zoe\u0308", "Zo\u00eb"),
        ("a\r\nb", "a\nb"),
        ("a\rb", "a\nb"),
        ("a\u2028b\u2029c\x85d", "a\nb\nc\nd"),
        ("a\fb\vc", "a\nb\nc"),
        ("a\u00a0b", "a b"),
        ("\u3000\u5168\u89d2\u3000", "\u5168\u89d2"),
        ("a\u2009\u202fb", "a b"),
        ("a\u200bb", "ab"),
        ("\ufeffhello", "hello"),
        ("a\u202eb\u202c", "ab"),
        ("a\u200eb\u200f", "ab"),
        ("soft\u00adhyphen", "softhyphen"),
        ("a\x00b\x07c\x1bd\x7f", "abcd"),
        ("e\u200b\u0301", "\u00e9"),
        ("\ud800x", "x"),
        ("line1  \n  line2\t\tx  ", "line1\n line2 x"),
        ("a \t b", "a b"),
        ("p1\n\n\np2", "p1\n\n\np2"),
        ("\n\n  x  \n\n", "x"),
        ("a&amp;b &lt;3", "a&amp;b &lt;3"),
        (EMOJI_FAMILY, EMOJI_FAMILY),
        (RAINBOW_FLAG, RAINBOW_FLAG),
        (CODER_WITH_SKIN_TONE, CODER_WITH_SKIN_TONE),
        (ENGLAND_FLAG, ENGLAND_FLAG),
        (PERSIAN_WITH_ZWNJ, PERSIAN_WITH_ZWNJ),
        (DEVANAGARI_WITH_ZWJ, DEVANAGARI_WITH_ZWJ),
        ("a\u200db", "ab"),
        ("\u200d\U0001f308", "\U0001f308"),
        ("x\U000e0067", "x"),
        ("x\U000e0067\U000e0062", "x"),
        ("\U0001f468\u200b\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),
        ("", ""),
        (" \t\r\n ", ""),
    ],
)
def test_clean_text_cases(value, expected):
    assert clean_text(value) == expected


def test_clean_text_multiline_answer():
    answer = "1) House built in 1987.\r\n2) Bills run $280 & up.  \r\n3) Call after 9am."
    assert clean_text(answer) == ("1) House built in 1987.\n2) Bills run $280 & up.\n3) Call after 9am.")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Santa   Ana ", "Santa Ana"),
        ("Mar\u00eda ", "Mar\u00eda"),
        ("El\r\nPaso", "El Paso"),
        ("a \n\n b", "a b"),
        ("first\n  second\tthird", "first second third"),
        ("Ad\u00e9b\u00e1y\u1ecd\u0300", "Ad\u00e9b\u00e1y\u1ecd\u0300"),
        ("\u200b", ""),
    ],
)
def test_clean_single_line_cases(value, expected):
    assert clean_single_line(value) == expected


@given(st.text())
def test_clean_text_idempotent(value):
    cleaned = clean_text(value)
    assert clean_text(cleaned) == cleaned
    assert unicodedata.is_normalized("NFC", cleaned)
    assert "\r" not in cleaned
    assert cleaned == cleaned.strip()


@given(st.text())
def test_clean_single_line_no_breaks(value):
    cleaned = clean_single_line(value)
    assert "\n" not in cleaned
    assert "\t" not in cleaned
    assert "  " not in cleaned


# --- normalize_email --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zoe.obrien@example.com", "zoe.obrien@example.com"),
        ("mateo.gutierrez+web@example.com", "mateo.gutierrez+web@example.com"),
        ("dana.testperson+ub@example.com", "dana.testperson+ub@example.com"),
        ("  hiroshi.yamada@example.com \n", "hiroshi.yamada@example.com"),
        ("John.Doe+Tag@Example.COM", "John.Doe+Tag@example.com"),
        ("jos\u00e9@Example.com", "jos\u00e9@example.com"),
        ("j@M\u00fcnchen.de", "j@m\u00fcnchen.de"),
        ("john tag@example.com", "john+tag@example.com"),
        ("a b c@example.com", "a+b+c@example.com"),
        ("<john@example.com>", "john@example.com"),
        ("  <john@example.com>  ", "john@example.com"),
        ("mailto:John@Example.com", "John@example.com"),
        ("MAILTO:john%2Btag@example.com?subject=Quote", "john+tag@example.com"),
        ("<mailto:john@example.com>", "john@example.com"),
        ("John Doe <john@example.com>", "john@example.com"),
        ("john\u200b@example.com", "john@example.com"),
        ("\ufeffjohn@example.com", "john@example.com"),
    ],
)
def test_email_valid(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("john", "must have an @-sign"),
        ("john@", "something after the @-sign"),
        ("@example.com", "something before the @-sign"),
        ("john@example", "should have a period"),
        ("john@exa mple.com", "invalid characters: SPACE"),
        ("john tag@example .com", "before the @-sign: SPACE"),
        ("john,doe@example.com", "before the @-sign: ','"),
        ("john@@example.com", "invalid characters: '@'"),
        ("john..doe@example.com", "two periods in a row"),
        ("john@example.invalid", "special-use or reserved name"),
        ("john@example.com.", "cannot end with a period"),
        ("john@-example.com", "hyphen"),
    ],
)
def test_email_invalid(value, reason):
    with pytest.raises(ValueError, match=r"^not a valid email address: ") as caught:
        normalize_email(value)
    assert reason in str(caught.value)


@pytest.mark.parametrize("value", ["", "   ", "\u200b", "mailto:"])
def test_email_missing(value):
    with pytest.raises(ValueError, match=r"^missing email address"):
        normalize_email(value)


@pytest.mark.parametrize(
    "value",
    [
        "john.private@xn--ls8h.la",
        "john.private@" + "a" * 64 + ".com",
        '"Jane" Secret-Name <jane@example.com>',
        "secret@secret",
    ],
)
def test_email_error_hides_address(value):
    with pytest.raises(ValueError) as caught:
        normalize_email(value)
    message = str(caught.value)
    assert message.startswith("not a valid email address: ")
    for part in ("john.private", "aaaaaaaa", "Secret-Name", "secret@"):
        assert part not in message


def test_email_error_keeps_length_detail():
    with pytest.raises(ValueError, match=r"\(1 character too many\)"):
        normalize_email("john@" + "a" * 64 + ".com")


# --- normalize_phone --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+1 (949) 555-0181", "US", "+19495550181"),
        ("+1 (949) 555-0155", "US", "+19495550155"),
        ("+1 (949) 555-0123", "US", "+19495550123"),
        ("949-555-0199", "US", "+19495550199"),
        ("949-555-0160", "US", "+19495550160"),
        ("+19495550142", "US", "+19495550142"),
        (to_text(19495550124), "US", "+19495550124"),
        ("(949) 555-0181", "US", "+19495550181"),
        ("949.555.0181", "US", "+19495550181"),
        ("+1 949-555-0181", "US", "+19495550181"),
        ("1-949-555-0181", "US", "+19495550181"),
        ("9495550181", "us", "+19495550181"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("00 44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("949-555-0181 x123", "US", "+19495550181"),
        ("949-555-0181 ext. 123", "US", "+19495550181"),
        ("+1 949 555 0181 #12", "US", "+19495550181"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        ("tel:+1-949-555-0181", "US", "+19495550181"),
        ("\u200b+1\u00a0949\u00a0555\u00a00181", "US", "+19495550181"),
        ("(613) 555-0123", "CA", "+16135550123"),
        ("+52 55 1234 5678", None, "+525512345678"),
        ("+1 949 555 0181", None, "+19495550181"),
        ("+61 491 570 156", "US", "+61491570156"),
    ],
)
def test_phone_valid(value, region, expected):
    assert normalize_phone(value, region=region) == expected


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        (" 44 20 7946 0958", "US", "+442079460958"),
        (" 44 20 7946 0958", None, "+442079460958"),
        ("\t52 55 1234 5678", "US", "+525512345678"),
        (" 1 949 555 0181", None, "+19495550181"),
        (" 949 555 0181", "US", "+19495550181"),
        (" 9495550181", "US", "+19495550181"),
        (" 20 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phone_lost_plus(value, region, expected):
    assert normalize_phone(value, region=region) == expected


@pytest.mark.parametrize(
    ("value", "region", "reason"),
    [
        ("555-0181", "US", "too few digits"),
        ("(555) 555-1234", "US", "no such area code"),
        ("(684) 555-0100", "US", "no such area code"),
        ("+44 7700 900123", "US", "no such area code"),
        ("+1 949 555 01811234", "US", "too many digits"),
        ("949-555-0181 / 949-555-0182", "US", "too many digits"),
        ("+999 123 4567", "US", "not a country code"),
        ("(949) 555-0181", None, "start it with + and the country code"),
        ("abc", "US", "no digits"),
        ("", "US", "no digits"),
        ("+1", "US", "include the area code"),
        ("0", "US", "include the area code"),
        ("949 555 0181", "XX", "start it with + and the country code"),
    ],
)
def test_phone_invalid(value, region, reason):
    with pytest.raises(ValueError, match=r"^not a valid phone number: ") as caught:
        normalize_phone(value, region=region)
    assert reason in str(caught.value)


def test_phone_error_hides_number():
    with pytest.raises(ValueError) as caught:
        normalize_phone("(555) 555-1234", region="US")
    assert "555" not in str(caught.value)


# --- normalize_country ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("United States", "US"),
        ("united states", "US"),
        ("US", "US"),
        ("us", "US"),
        ("U.S.", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States of America", "US"),
        ("America", "US"),
        ("Estados Unidos", "US"),
        ("EE. UU.", "US"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("United Kingdom", "GB"),
        ("GBR", "GB"),
        ("Canada", "CA"),
        ("ca", "CA"),
        ("CAN", "CA"),
        ("M\u00e9xico", "MX"),
        ("mexico", "MX"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Iran", "IR"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("Turkey", "TR"),
        ("T\u00fcrkiye", "TR"),
        ("C\u00f4te d'Ivoire", "CI"),
        ("Cote d Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("St. Lucia", "LC"),
        ("Saint Kitts & Nevis", "KN"),
        ("Bosnia and Herzegovina", "BA"),
        ("Falkland Islands", "FK"),
        ("Democratic Republic of the Congo", "CD"),
        ("DRC", "CD"),
        ("Congo", "CG"),
        ("U.S. Virgin Islands", "VI"),
        ("\u00c5land Islands", "AX"),
        ("  germany ", "DE"),
        ("Deutschland", "DE"),
    ],
)
def test_country_codes(value, expected):
    assert normalize_country(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Narnia", "Narnia"),
        ("  Narnia \u200b", "Narnia"),
        ("Virgin Islands", "Virgin Islands"),
        ("Korea", "Korea"),
        ("840", "840"),
    ],
)
def test_country_unknown_kept(value, expected):
    assert normalize_country(value) == expected


@pytest.mark.parametrize("value", ["", "  ", "\u200b"])
def test_country_empty_none(value):
    assert normalize_country(value) is None


def test_country_table_built_once(monkeypatch):
    monkeypatch.setattr(pycountry, "countries", None)
    assert normalize_country("United States") == "US"


# --- normalize_state --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("new york", None, "NY"),
        ("Texas", None, "TX"),
        ("California", None, "CA"),
        ("washington", "US", "WA"),
        ("Minnesota", "US", "MN"),
        ("OR", "US", "OR"),
        ("CA", None, "CA"),
        ("ca", "US", "CA"),
        ("Ca.", None, "CA"),
        ("N.Y.", None, "NY"),
        ("US-CA", None, "CA"),
        ("us-ny", "US", "NY"),
        ("US CA", None, "CA"),
        ("Calif.", None, "CA"),
        ("Mass.", None, "MA"),
        ("W. Va.", None, "WV"),
        ("West Virginia", "USA", "WV"),
        ("Hawai'i", None, "HI"),
        ("District of Columbia", None, "DC"),
        ("Washington DC", None, "DC"),
        ("Washington, D.C.", None, "DC"),
        ("Wash. D.C.", None, "DC"),
        ("D.C.", None, "DC"),
        ("Puerto Rico", "US", "PR"),
        ("Virgin Islands, U.S.", None, "VI"),
        ("Guam", None, "GU"),
        ("Armed Forces Europe", None, "AE"),
        ("Qu\u00e9bec", "CA", "QC"),
        ("quebec", None, "QC"),
        ("QUEBEC", "Canada", "QC"),
        ("CA-QC", "CA", "QC"),
        ("Ontario", "CA", "ON"),
        ("b.c.", "CA", "BC"),
        ("P.E.I.", None, "PE"),
        ("\u00cele-du-Prince-\u00c9douard", "CA", "PE"),
        ("Newfoundland", "CA", "NL"),
        ("Yukon", "CA", "YT"),
        ("  texas ", None, "TX"),
        ("Oregon", "", "OR"),
    ],
)
def test_state_codes(value, country, expected):
    assert normalize_state(value, country=country) == expected


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("Bavaria", "DE", "Bavaria"),
        ("new york", "DE", "new york"),
        ("  Greater   London ", "GB", "Greater London"),
        ("Bayern", None, "Bayern"),
        ("US-XX", None, "US-XX"),
        ("Cali", "US", "Cali"),
        ("", None, ""),
    ],
)
def test_state_unknown_kept(value, country, expected):
    assert normalize_state(value, country=country) == expected


def test_state_all_us_codes():
    for subdivision in pycountry.subdivisions.get(country_code="US"):
        code = subdivision.code.split("-")[1]
        assert normalize_state(code.lower(), country="US") == code
        assert normalize_state(subdivision.name.upper(), country="US") == code


def test_state_all_canadian_codes():
    for subdivision in pycountry.subdivisions.get(country_code="CA"):
        code = subdivision.code.split("-")[1]
        assert normalize_state(code.lower(), country="CA") == code
        assert normalize_state(subdivision.name.lower(), country="CA") == code


# --- split_full_name --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zo\u00eb O'Brien-Smith", ("Zo\u00eb", "O'Brien-Smith")),
        ("Zoe\u0308 O'Brien-Smith", ("Zo\u00eb", "O'Brien-Smith")),
        ("O'Brien-Smith, Zo\u00eb", ("Zo\u00eb", "O'Brien-Smith")),
        ("Jos\u00e9 \u00d1\u00fa\u00f1ez-\u00c1vila", ("Jos\u00e9", "\u00d1\u00fa\u00f1ez-\u00c1vila")),
        ("Mar\u00eda Garc\u00eda L\u00f3pez", ("Mar\u00eda", "Garc\u00eda L\u00f3pez")),
        ("  Ngozi   Ad\u00e9b\u00e1y\u1ecd\u0300 ", ("Ngozi", "Ad\u00e9b\u00e1y\u1ecd\u0300")),
        ("\u611b\u5b50 \u7530\u4e2d", ("\u611b\u5b50", "\u7530\u4e2d")),
        ("Madonna", ("Madonna", None)),
        ("Smith, John Paul", ("John Paul", "Smith")),
        ("John Smith, Jr.", ("John", "Smith, Jr.")),
        ("Martin Luther King, Jr.", ("Martin", "Luther King, Jr.")),
        ("Smith, John, Jr.", ("Smith", "John, Jr.")),
        ("Smith,", ("Smith", None)),
        ("Dana\nTestperson", ("Dana", "Testperson")),
        ("", (None, None)),
        ("  \u200b ", (None, None)),
    ],
)
def test_split_name_cases(value, expected):
    assert split_full_name(value) == expected
