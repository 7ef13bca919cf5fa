"""Shared sender payloads posted to the running relay, checked at the simulator."""

from __future__ import annotations

import pytest

from app.leads import STANDARD_FIELDS
from tests.conftest import FIXTURE_ADAPTERS, load_fixture
from tests.e2e.conftest import VENDOR_KEY

# Fixture name -> the relay source that receives it; each tool's source is named after its adapter.
SENDERS = FIXTURE_ADAPTERS

# Fixtures a plain form source with a field map also reads, as a partner system would post them.
FLAT_SENDERS = {"zapier_webhooks_post": "form", "zapier_webhooks_post_json": "zapier-json", "cf7_to_webhook": "form"}


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
        # The relay sends line breaks as LF, whatever the sender used.
        params += [(f"question[{index}]", label), (f"answer[{index}]", answer.replace("\r\n", "\n"))]
    return params


@pytest.mark.parametrize("name", sorted(SENDERS))
def test_fixture_delivered_by_its_adapter(relay, simulator, name):
    raw, meta = load_fixture(name)
    headers = {**meta["headers"], "Content-Type": meta["content_type"]}

    response = relay.post(SENDERS[name], raw, meta["content_type"], headers)

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "delivered"
    assert simulator.calls_for(meta["expected"]["email"]) == [expected_params(meta["expected"])]


@pytest.mark.parametrize("name", sorted(FLAT_SENDERS))
def test_fixture_delivered_by_field_map(relay, simulator, name):
    raw, meta = load_fixture(name)

    response = relay.post(FLAT_SENDERS[name], raw, meta["content_type"], meta["headers"])

    assert response.status_code == 201, response.text
    assert simulator.calls_for(meta["expected"]["email"]) == [expected_params(meta["expected"])]


def test_repeat_of_fixture_is_replayed(relay, simulator):
    raw, meta = load_fixture("html_form")
    # An explicit key outranks the fingerprint an earlier test's post of this payload left.
    headers = {"Idempotency-Key": "fixture-repeat-1"}

    first = relay.post("form", raw, meta["content_type"], headers)
    second = relay.post("form", raw, meta["content_type"], headers)

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(simulator.calls_for(meta["expected"]["email"])) == 1
