"""The plain form adapter over the shared payloads that need no envelope."""

from __future__ import annotations

import pytest

from app.adapters import FieldSet
from tests.adapters.harness import assert_fixture_maps, map_body


@pytest.mark.parametrize("name", ["html_form", "zapier_webhooks_post", "cf7_to_webhook"])
def test_fixture_matches_expected(name):
    assert_fixture_maps("form", name, extras_unmapped=True)


def test_html_entities_and_slashes_repaired():
    lead = map_body(
        "form",
        "first_name=Zo%C3%AB&last_name=O%5C%27Brien&email=a%40example.com&note=Tom+%26amp%3B+Jerry",
        "application/x-www-form-urlencoded",
        extras_unmapped=True,
    )

    assert lead["lastname"] == "O'Brien"
    assert lead["extras"] == {"note": "Tom & Jerry"}


def test_entities_decoded_only_once():
    lead = map_body("form", '{"email": "a@example.com", "note": "&amp;lt;b&amp;gt;"}', "application/json",
                    extras_unmapped=True)

    assert lead["extras"] == {"note": "&lt;b&gt;"}


def test_big_integer_ids_kept_exact():
    lead = map_body("form", '{"email": "a@example.com", "lead_ref": 123456789012345678901}', "application/json",
                    extras_unmapped=True)

    assert lead["extras"] == {"lead_ref": "123456789012345678901"}


class TestFieldSetLookup:
    def test_exact_key_beats_loose_and_alias(self):
        fields = FieldSet()
        fields.add("email", "a@example.com")
        fields.add("E-Mail", "b@example.com")
        fields.alias("email", "E-Mail")

        assert fields.find("email").text == "a@example.com"

    def test_loose_key_found(self):
        fields = FieldSet()
        fields.add("First Name", "Ann")

        assert fields.find("first_name").text == "Ann"

    def test_alias_found_below_keys(self):
        fields = FieldSet()
        fields.add("q_8f2a", "ann@example.com")
        fields.alias("email", "q_8f2a")

        assert fields.find("Email").key == "q_8f2a"

    def test_ambiguous_alias_finds_nothing(self):
        fields = FieldSet()
        fields.add("lead__email", "a@example.com")
        fields.add("owner__email", "o@example.com")
        fields.alias("email", "lead__email")
        fields.alias("email", "owner__email")

        assert fields.find("email") is None

    def test_numbered_ids_match_exactly(self):
        fields = FieldSet()
        fields.add("13", "thirteen")

        assert fields.find("1.3") is None
        assert fields.find("13").text == "thirteen"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john%40example.com", "john@example.com"),
        ("john%252Btag%2540example.com", "john+tag@example.com"),
        ("%2B44%2020%207946%200958", "+44 20 7946 0958"),
        ("caf%C3%A9", "café"),
        ("50% off", "50% off"),
        ("%ff%fe", "%ff%fe"),
        ("a+b", "a+b"),
        ("O\\'Brien", "O'Brien"),
        ("Tom &amp;amp; Jerry", "Tom &amp; Jerry"),
    ],
)
def test_quirks_repaired(value, expected):
    from app.adapters.quirks import repair

    assert repair(value) == expected


def test_double_encoded_contact_delivered():
    lead = map_body(
        "form",
        "email=john%252Btag%2540example.com&phone=%252B44%252020%25207946%25200958",
        "application/x-www-form-urlencoded",
    )

    assert lead["email"] == "john+tag@example.com"
    assert lead["phone"] == "+442079460958"
