"""Tests for the put_contact URL: order, encoding, phones and the length limit."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl

import pytest

from app.leads import Extra, Lead
from app.phoneburner.query import (
    TRUNCATION_MARKER,
    UrlTooLong,
    build_put_contact,
    phone_for_phoneburner,
)

BASE = "https://www.phoneburner.com/api/vendor/put_contact"
PREFIX = f"{BASE}?key=XXXX&user_id=123456&cm_id=YYYY"


def build(lead: Lead, **overrides):
    arguments = {
        "base_url": BASE,
        "vendor_key": "XXXX",
        "user_id": "123456",
        "cm_id": "YYYY",
        "lead": lead,
    }
    arguments.update(overrides)
    return build_put_contact(**arguments)


def decoded_pairs(url: str) -> list[tuple[str, str]]:
    """Decode the query strictly, so a split UTF-8 sequence raises."""
    query = url.split("?", 1)[1]
    return parse_qsl(query, keep_blank_values=True, strict_parsing=True, errors="strict")


def decoded_answers(url: str) -> dict[str, str]:
    return {name: value for name, value in decoded_pairs(url) if name.startswith("answer[")}


def url_size(url: str) -> int:
    return len(url.encode("utf-8"))


# Parameter order and skipped fields


def test_order_all_standard_fields():
    lead = Lead(
        firstname="Jeff",
        lastname="Sample",
        email="jeffsample@example.com",
        phone="+19495551212",
        address1="1 Main St",
        address2="Suite 2",
        city="Irvine",
        state="CA",
        zip="92618",
        country="US",
    )
    expected = (
        f"{PREFIX}&firstname=Jeff&lastname=Sample&email=jeffsample%40example.com"
        "&phone=9495551212&address1=1%20Main%20St&address2=Suite%202&city=Irvine"
        "&state=CA&zip=92618&country=US"
    )
    assert build(lead).url == expected


def test_order_vendor_example():
    lead = Lead(
        firstname="Jeff",
        lastname="Sample",
        email="jeffsample@example.com",
        phone="+19495551212",
    )
    expected = (
        f"{PREFIX}&firstname=Jeff&lastname=Sample"
        "&email=jeffsample%40example.com&phone=9495551212"
    )
    assert build(lead).url == expected


def test_order_empty_fields_skipped():
    lead = Lead(firstname="Jeff", lastname="", email=None, city="Irvine")
    assert build(lead).url == f"{PREFIX}&firstname=Jeff&city=Irvine"


def test_order_no_fields():
    assert build(Lead()).url == PREFIX


def test_order_extras_after_fields():
    lead = Lead(
        firstname="Jeff",
        extras=[Extra("Age", "35"), Extra("Occupation", "Teacher"), Extra("Zeta", "z")],
    )
    expected = (
        f"{PREFIX}&firstname=Jeff"
        "&question%5B0%5D=Age&answer%5B0%5D=35"
        "&question%5B1%5D=Occupation&answer%5B1%5D=Teacher"
        "&question%5B2%5D=Zeta&answer%5B2%5D=z"
    )
    assert build(lead).url == expected


def test_order_extra_with_empty_answer():
    lead = Lead(extras=[Extra("Comments", "")])
    assert build(lead).url == f"{PREFIX}&question%5B0%5D=Comments&answer%5B0%5D="


# Encoding


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a+b", "a%2Bb"),
        ("a&b", "a%26b"),
        ("a#b", "a%23b"),
        ("a=b", "a%3Db"),
        ("100%", "100%25"),
        ("two words", "two%20words"),
        ("a/b?c", "a%2Fb%3Fc"),
        ("[x]", "%5Bx%5D"),
        ("-._~", "-._~"),
        ("Hélène", "H%C3%A9l%C3%A8ne"),
        ("東京", "%E6%9D%B1%E4%BA%AC"),
        ("ok 👍", "ok%20%F0%9F%91%8D"),
        ("line1\nline2", "line1%0Aline2"),
        ("line1\r\nline2", "line1%0D%0Aline2"),
    ],
)
def test_encoding_answer(value, encoded):
    request = build(Lead(extras=[Extra("Q", value)]))
    assert request.url == f"{PREFIX}&question%5B0%5D=Q&answer%5B0%5D={encoded}"
    assert decoded_answers(request.url) == {"answer[0]": value}


def test_encoding_bracket_names_decode():
    request = build(Lead(extras=[Extra("Age", "35")]))
    assert request.url == f"{PREFIX}&question%5B0%5D=Age&answer%5B0%5D=35"
    assert decoded_pairs(request.url)[-2:] == [("question[0]", "Age"), ("answer[0]", "35")]


def test_encoding_email_plus():
    request = build(Lead(email="jeff+leads@example.com"))
    assert request.url == f"{PREFIX}&email=jeff%2Bleads%40example.com"


def test_encoding_question_label():
    request = build(Lead(extras=[Extra("Best time & day?", "Mon")]))
    assert request.url == f"{PREFIX}&question%5B0%5D=Best%20time%20%26%20day%3F&answer%5B0%5D=Mon"


def test_encoding_ids_and_key():
    request = build(Lead(), vendor_key="k+y/=", user_id="12 34", cm_id="a&b")
    assert request.url == f"{BASE}?key=k%2By%2F%3D&user_id=12%2034&cm_id=a%26b"


def test_encoding_lone_surrogate_replaced():
    request = build(Lead(extras=[Extra("Q", "a\ud800b")]))
    assert request.url == f"{PREFIX}&question%5B0%5D=Q&answer%5B0%5D=a%3Fb"


# Redaction


def test_redacted_url_hides_key():
    request = build(Lead(firstname="Jeff"), vendor_key="s3cr&t")
    assert request.url == f"{BASE}?key=s3cr%26t&user_id=123456&cm_id=YYYY&firstname=Jeff"
    assert request.redacted_url == (
        f"{BASE}?key=REDACTED&user_id=123456&cm_id=YYYY&firstname=Jeff"
    )


def test_repr_hides_url_and_lead():
    request = build(Lead(firstname="Jeff", email="jeff@example.com"), vendor_key="s3cret")
    text = repr(request)
    assert "s3cret" not in text
    assert "Jeff" not in text
    assert "example.com" not in text


# Phones


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+19495551212", "9495551212"),
        ("+14165550123", "4165550123"),
        ("+18095550123", "8095550123"),
        ("+442079460958", "+442079460958"),
        ("+33142685300", "+33142685300"),
        ("+819012345678", "+819012345678"),
    ],
)
def test_phone_format(e164, expected):
    assert phone_for_phoneburner(e164) == expected


def test_phone_unparseable_raises():
    with pytest.raises(ValueError, match=r"not a parseable E\.164 number"):
        phone_for_phoneburner("not a phone")


def test_phone_in_url_non_nanp():
    request = build(Lead(phone="+442079460958"))
    assert request.url == f"{PREFIX}&phone=%2B442079460958"


# Base URL


def test_base_url_with_query():
    request = build(Lead(firstname="Jeff"), base_url=f"{BASE}?tenant=acme")
    assert request.url == (
        f"{BASE}?tenant=acme&key=XXXX&user_id=123456&cm_id=YYYY&firstname=Jeff"
    )


def test_base_url_with_trailing_question_mark():
    request = build(Lead(), base_url=f"{BASE}?")
    assert request.url == PREFIX


def test_base_url_fragment_removed():
    request = build(Lead(), base_url=f"{BASE}?tenant=acme#top")
    assert request.url == f"{BASE}?tenant=acme&key=XXXX&user_id=123456&cm_id=YYYY"
    assert request.redacted_url == (
        f"{BASE}?tenant=acme&key=REDACTED&user_id=123456&cm_id=YYYY"
    )


# Length limit


def test_limit_exact_fit_untouched():
    lead = Lead(extras=[Extra("Comments", "x" * 500)])
    full = build(lead).url
    request = build(lead, max_url_bytes=url_size(full))
    assert request.url == full
    assert request.truncated == ()
    assert request.dropped == ()


def test_limit_one_byte_over_cuts_to_limit():
    lead = Lead(extras=[Extra("Comments", "x" * 500)])
    limit = url_size(build(lead).url) - 1
    request = build(lead, max_url_bytes=limit)
    assert url_size(request.url) == limit
    assert request.truncated == ("Comments",)
    answer = decoded_answers(request.url)["answer[0]"]
    assert answer.endswith(TRUNCATION_MARKER)
    assert answer == "x" * (500 - 1 - 18) + TRUNCATION_MARKER


def test_limit_marker_visible():
    lead = Lead(extras=[Extra("Comments", "word " * 400)])
    request = build(lead, max_url_bytes=1000)
    assert request.url.endswith("%20%5Btruncated%5D")
    assert request.redacted_url.endswith("%20%5Btruncated%5D")


def test_limit_longest_answer_cut_first():
    lead = Lead(
        extras=[
            Extra("Short", "s" * 300),
            Extra("Long", "l" * 3000),
            Extra("Medium", "m" * 1000),
        ]
    )
    limit = url_size(build(lead).url) - 1500
    request = build(lead, max_url_bytes=limit)
    answers = decoded_answers(request.url)
    assert request.truncated == ("Long",)
    assert answers["answer[0]"] == "s" * 300
    assert answers["answer[2]"] == "m" * 1000
    assert answers["answer[1]"].endswith(TRUNCATION_MARKER)
    assert url_size(request.url) == limit


def test_limit_several_answers_cut_in_turn():
    lead = Lead(
        extras=[
            Extra("A", "a" * 3000),
            Extra("B", "b" * 2000),
            Extra("C", "c" * 100),
        ]
    )
    limit = url_size(build(lead).url) - 3500
    request = build(lead, max_url_bytes=limit)
    answers = decoded_answers(request.url)
    assert request.truncated == ("A", "B")
    assert answers["answer[2]"] == "c" * 100
    # Both cut answers end at the same level, about (5000 - 3500) / 2 bytes.
    assert abs(len(answers["answer[0]"]) - len(answers["answer[1]"])) <= 1
    assert 700 <= len(answers["answer[0]"]) <= 760
    assert limit - 2 <= url_size(request.url) <= limit


@pytest.mark.parametrize("text", ["é" * 900, "東京" * 500, "👍" * 400, "aé東👍" * 200])
def test_limit_multibyte_never_split(text):
    lead = Lead(extras=[Extra("Notes", text)])
    base_size = url_size(build(Lead(extras=[Extra("Notes", "")])).url)
    for limit in range(base_size + 100, base_size + 160):
        request = build(lead, max_url_bytes=limit)
        assert url_size(request.url) <= limit
        # Every percent sign starts a whole escape.
        assert re.search(r"%(?![0-9A-F]{2})", request.url) is None
        answer = decoded_answers(request.url)["answer[0]"]
        kept_text = answer.removesuffix(TRUNCATION_MARKER)
        assert answer.endswith(TRUNCATION_MARKER)
        assert text.startswith(kept_text)


def test_limit_cut_is_tight_for_multibyte():
    # Each "é" is six encoded bytes, so at most five bytes stay unused.
    lead = Lead(extras=[Extra("Notes", "é" * 900)])
    request = build(lead, max_url_bytes=2000)
    assert 2000 - 5 <= url_size(request.url) <= 2000


def test_limit_short_answers_kept_whole():
    # Answers shorter than the marker are never cut, since that would not help.
    lead = Lead(extras=[Extra("Age", "35"), Extra("Comments", "x" * 5000)])
    request = build(lead, max_url_bytes=1000)
    answers = decoded_answers(request.url)
    assert answers["answer[0]"] == "35"
    assert request.truncated == ("Comments",)


def test_limit_drops_extras_from_end():
    extras = [Extra(f"Question {index} " + "q" * 200, "a" * 200) for index in range(10)]
    lead = Lead(firstname="Jeff", extras=extras)
    request = build(lead, max_url_bytes=1500)
    assert url_size(request.url) <= 1500
    assert request.dropped == tuple(extra.label for extra in extras[5:])
    names = [name for name, _value in decoded_pairs(request.url)]
    assert names[-2:] == ["question[4]", "answer[4]"]
    assert "question[5]" not in names


def test_limit_drop_then_answers_regrow():
    # After a long label is dropped, the remaining answer keeps more text.
    lead = Lead(extras=[Extra("Notes", "n" * 2000), Extra("L" * 3000, "x")])
    request = build(lead, max_url_bytes=1500)
    answers = decoded_answers(request.url)
    assert request.dropped == ("L" * 3000,)
    assert request.truncated == ("Notes",)
    assert len(answers["answer[0]"]) > 1000
    assert url_size(request.url) == 1500


def test_limit_all_extras_dropped():
    lead = Lead(firstname="Jeff", extras=[Extra("L" * 3000, "x")])
    request = build(lead, max_url_bytes=500)
    assert request.url == f"{PREFIX}&firstname=Jeff"
    assert request.dropped == ("L" * 3000,)
    assert request.truncated == ()


def test_limit_standard_fields_too_long():
    lead = Lead(firstname="Jeff", address1="x" * 9000)
    with pytest.raises(UrlTooLong) as caught:
        build(lead)
    message = str(caught.value)
    assert "standard fields too long" in message
    assert "8000 bytes" in message
    assert str(caught.value.size) in message
    assert caught.value.size > 9000
    assert caught.value.limit == 8000
    assert caught.value.longest_field == "address1"


def test_limit_fields_exactly_at_limit():
    lead = Lead(firstname="Jeff", extras=[Extra("Q", "a")])
    limit = url_size(f"{PREFIX}&firstname=Jeff")
    request = build(lead, max_url_bytes=limit)
    assert request.url == f"{PREFIX}&firstname=Jeff"
    assert request.dropped == ("Q",)


def test_limit_huge_answer_fast():
    lead = Lead(extras=[Extra("Notes", "é東x" * 700_000), Extra("More", "y" * 1_000_000)])
    started = time.perf_counter()
    request = build(lead)
    elapsed = time.perf_counter() - started
    assert url_size(request.url) <= 8000
    assert request.truncated == ("Notes", "More")
    # Re-encoding the answer at every search step would blow far past this bound.
    assert elapsed < 5
