"""Shared sender payloads posted to the running relay, checked at the simulator."""

from __future__ import annotations

import pytest

from app.leads import STANDARD_FIELDS
from tests.conftest import load_fixture
from tests.e2e.conftest import VENDOR_KEY

# Fixture name -> the relay source that receives it.
FLAT_SENDERS = {
    "html_form": "form",
    "zapier_webhooks_post": "form",
    "zapier_webhooks_post_json": "zapier-json",
    "cf7_to_webhook": "form",
}


def expected_params(expected: dict) -> list[tuple[str, str]]:
    """Return the put_contact parameters a fixture's expected lead must produce."""
    params = [("key", VENDOR_KEY), ("user_id", "123456"), ("cm_id", "YYYY")]
    for name in STANDARD_FIELDS:
        value = expected[name]
        if value is None:
            continue
        if name == "phone" and value.startswith("+1"):
            value = value[2:]
        params.append((name, value))

    for index, (label, answer) in enumerate(expected["extras"].items()):
        params += [(f"question[{index}]", label), (f"answer[{index}]", answer)]
    return params


@pytest.mark.parametrize("name", sorted(FLAT_SENDERS))
def test_fixture_delivered_as_expected(relay, simulator, name):
    raw, meta = load_fixture(name)

    response = relay.post(FLAT_SENDERS[name], raw, meta["content_type"], meta["headers"])

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "delivered"
    assert simulator.params() == [expected_params(meta["expected"])]


def test_repeat_of_fixture_is_duplicate(relay, simulator):
    raw, meta = load_fixture("html_form")

    first = relay.post("form", raw, meta["content_type"])
    second = relay.post("form", raw, meta["content_type"])

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["phoneburner"]["reason"] == "DUPLICATE EMAIL"
