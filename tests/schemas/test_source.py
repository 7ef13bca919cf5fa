"""Source schemas: field maps, full names, extras, required fields and custom classes."""

from __future__ import annotations

import copy

import pytest

from app.adapters import FieldSet, FormAdapter
from app.config import parse_settings
from app.errors import InvalidLead
from app.leads import Extra
from app.relay import build_handler
from tests.conftest import base_document


def schema_for(**source_changes):
    document = copy.deepcopy(base_document())
    document["sources"]["landing"].update(source_changes)
    source = parse_settings(document).sources["landing"]
    return build_handler(source).schema


def fields_of(*pairs: tuple[str, str]) -> FieldSet:
    fields = FieldSet()
    for key, value in pairs:
        fields.add(key, value)
    return fields


def test_default_names_map_loosely():
    lead = schema_for().load_lead(
        fields_of(("First Name", "Ann"), ("LAST-NAME", "Lee"), ("E-mail", "ann@example.com"), ("Zip Code", "10001"))
    )

    assert (lead.firstname, lead.lastname, lead.email, lead.zip) == ("Ann", "Lee", "ann@example.com", "10001")


def test_configured_candidates_tried_in_order():
    schema = schema_for(fields={"phone": ["mobile_phone", "home_phone"]})

    lead = schema.load_lead(fields_of(("home_phone", "212-555-0100"), ("mobile_phone", "212-555-0199")))

    assert lead.phone == "+12125550199"


def test_empty_candidate_skipped():
    schema = schema_for(fields={"phone": ["mobile_phone", "home_phone"]})

    lead = schema.load_lead(fields_of(("mobile_phone", "  "), ("home_phone", "212-555-0100")))

    assert lead.phone == "+12125550100"


def test_full_name_split_when_parts_missing():
    lead = schema_for().load_lead(fields_of(("name", "Zoë O'Brien-Smith"), ("email", "z@example.com")))

    assert lead.firstname == "Zoë"
    assert lead.lastname == "O'Brien-Smith"


def test_full_name_kept_as_extra_when_parts_present():
    lead = schema_for().load_lead(
        fields_of(("name", "Someone Else"), ("first_name", "Ann"), ("email", "a@example.com"))
    )

    assert lead.firstname == "Ann"
    assert lead.lastname is None
    assert lead.extras == [Extra("name", "Someone Else")]


def test_explicit_extras_first_then_unmapped_in_order():
    schema = schema_for(extras={"Age": "age", "Budget": ["budget", "price"]})

    lead = schema.load_lead(
        fields_of(("email", "a@example.com"), ("note", "call me"), ("price", "100"), ("age", "35"))
    )

    assert lead.extras == [Extra("Age", "35"), Extra("Budget", "100"), Extra("note", "call me")]


def test_unmapped_extras_off_forwards_only_mapped():
    schema = schema_for(extras_unmapped=False, extras={"Age": "age"})

    lead = schema.load_lead(fields_of(("email", "a@example.com"), ("note", "x"), ("age", "35")))

    assert lead.extras == [Extra("Age", "35")]


@pytest.mark.parametrize(
    "key",
    ["token", "g-recaptcha-response", "_wpcf7_unit_tag", "cm_id", "user_id", "key", "customer", "leadstream"],
)
def test_transport_noise_not_forwarded(key):
    lead = schema_for().load_lead(fields_of(("email", "a@example.com"), (key, "value")))

    assert lead.extras == []


def test_ignore_patterns_not_forwarded():
    schema = schema_for(ignore=["meta__*", "gclid"])

    lead = schema.load_lead(
        fields_of(("email", "a@example.com"), ("meta__zap_id", "1"), ("GCLID", "x"), ("utm_source", "g"))
    )

    assert lead.extras == [Extra("utm_source", "g")]


def test_empty_values_not_forwarded():
    lead = schema_for().load_lead(fields_of(("email", "a@example.com"), ("website", ""), ("note", "  ")))

    assert lead.extras == []


def test_multi_values_joined():
    lead = schema_for().load_lead(
        fields_of(("email", "a@example.com"), ("interest", "solar"), ("interest", ""), ("interest", "battery"))
    )

    assert lead.extras == [Extra("interest", "solar, battery")]


def test_answers_keep_inner_newlines():
    lead = schema_for().load_lead(fields_of(("email", "a@example.com"), ("message", "  line one\r\nline two  ")))

    assert lead.extras == [Extra("message", "line one\nline two")]


def test_state_and_country_normalized():
    lead = schema_for().load_lead(
        fields_of(("email", "a@example.com"), ("state", "new york"), ("country", "United States"))
    )

    assert lead.state == "NY"
    assert lead.country == "US"


def test_canadian_province_with_country():
    lead = schema_for().load_lead(fields_of(("email", "a@example.com"), ("state", "Québec"), ("country", "Canada")))

    assert lead.state == "QC"
    assert lead.country == "CA"


def test_phone_parsed_in_lead_country():
    lead = schema_for().load_lead(fields_of(("phone", "020 7946 0958"), ("country", "United Kingdom")))

    assert lead.phone == "+442079460958"


def test_phone_parsed_in_default_region():
    lead = schema_for(default_region="GB").load_lead(fields_of(("phone", "020 7946 0958")))

    assert lead.phone == "+442079460958"


def test_unicode_normalized_to_nfc():
    lead = schema_for().load_lead(fields_of(("first_name", "Zoe\u0308"), ("email", "a@example.com")))

    assert lead.firstname == "Zo\u00eb"


def test_missing_contact_rejected_on_both_fields():
    with pytest.raises(InvalidLead) as raised:
        schema_for().load_lead(fields_of(("first_name", "Ann")))

    assert set(raised.value.errors) == {"email", "phone"}


def test_required_field_enforced():
    with pytest.raises(InvalidLead) as raised:
        schema_for(required=["lastname", "zip"]).load_lead(fields_of(("email", "a@example.com")))

    assert set(raised.value.errors) == {"lastname", "zip"}


def test_invalid_value_names_sender_field():
    schema = schema_for(fields={"email": "your-mail"})

    with pytest.raises(InvalidLead) as raised:
        schema.load_lead(fields_of(("your-mail", "nobody@"), ("phone", "2125550100")))

    message = raised.value.errors["email"][0]
    assert message.startswith("not a valid email address")
    assert "'your-mail'" in message


def test_overlong_name_rejected():
    with pytest.raises(InvalidLead) as raised:
        schema_for().load_lead(fields_of(("first_name", "x" * 300), ("email", "a@example.com")))

    assert "longer than 255" in raised.value.errors["firstname"][0]


def test_custom_schema_class_used():
    schema = schema_for(schema="tests.schemas.custom:ReferralSchema")

    lead = schema.load_lead(fields_of(("email", "a@example.com"), ("ref", "PARTNER-7")))

    assert type(schema).__name__ == "ReferralSchema"
    assert lead.extras == [Extra("Referral code", "PARTNER-7")]


def test_form_adapter_keeps_payload_order():
    unwrapped = FormAdapter().unwrap(None, [("b", "1"), ("a", "2"), ("b", "3")])

    assert [(field.key, field.values) for field in unwrapped.fields] == [("b", ["1", "3"]), ("a", ["2"])]
