"""GET /v1/leads/<lead_id>: a lead's current status, for its source's token or the admin token."""

from __future__ import annotations

import pytest

from tests.conftest import PB_URL, SUCCESS, TOKEN, auth, base_document, build_app

ADMIN_TOKEN = "admin-token-for-tests-dddddddd"


@pytest.fixture
def relay_client(store_url, pb):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["storage"] = {"url": store_url}
    document["admin"] = {"token": ADMIN_TOKEN}
    return build_app(document).test_client()


@pytest.fixture
def lead_id(relay_client):
    response = relay_client.post("/v1/leads/landing", json={"email": "status@example.com"}, headers=auth())
    return response.get_json()["lead_id"]


@pytest.mark.parametrize("token", [TOKEN, ADMIN_TOKEN], ids=["source-token", "admin-token"])
def test_read_lead_returns_status(relay_client, lead_id, token):
    response = relay_client.get(f"/v1/leads/{lead_id}", headers=auth(token))

    assert response.status_code == 200
    document = response.get_json()
    assert document["lead_id"] == lead_id
    assert document["status"] == "delivered"
    assert document["attempts"] == 1


def test_read_with_other_token_answers_404(relay_client, lead_id):
    response = relay_client.get(f"/v1/leads/{lead_id}", headers=auth("token-of-nobody-xxxxxxxx"))

    assert response.status_code == 404


def test_read_without_token_answers_401(relay_client, lead_id):
    response = relay_client.get(f"/v1/leads/{lead_id}")

    assert response.status_code == 401


@pytest.mark.parametrize("lead_path", ["%00", "a%00b", "x" * 64, "%C3%A9" * 16, "0" * 31 + "%0A"])
def test_read_malformed_id_answers_404(relay_client, lead_path):
    # PostgreSQL rejects text with NUL, so such an id must not reach the store, where it fails as an outage (503).
    response = relay_client.get(f"/v1/leads/{lead_path}", headers=auth())

    assert response.status_code == 404
    assert response.get_json()["reason"] == "not_found"
