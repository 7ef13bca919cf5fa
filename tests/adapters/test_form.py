"""The plain form adapter over the shared payloads that need no envelope."""

from __future__ import annotations

import pytest

from tests.adapters.harness import map_body, map_fixture


@pytest.mark.parametrize("name", ["html_form", "zapier_webhooks_post", "cf7_to_webhook"])
def test_fixture_matches_expected(name):
    lead, expected = map_fixture("form", name, extras_unmapped=True)

    assert lead.pop("sender_id") is None
    assert list(lead["extras"].items()) == list(expected.pop("extras").items())
    lead.pop("extras")
    assert lead == expected


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
