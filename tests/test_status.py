"""GET /v1/leads/<lead_id>: a source's token reads its leads only from its allowed_ips; the admin token anywhere."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_TOKEN, PB_URL, SUCCESS, TOKEN, auth, base_document, build_app

ADMIN_TOKEN = "admin-token-for-tests-0001"
ALLOWED = "203.0.113.44"
OTHER = "198.51.100.1"
PROXY = "10.0.0.2"
LEAD = {"email": "ann@example.com", "phone": "(949) 555-0123"}


@pytest.fixture
def client(pb):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["admin"] = {"token": ADMIN_TOKEN}
    document["server"] = {"trusted_proxies": ["10.0.0.0/8"]}
    document["sources"]["partner"] = {"customer": "acme", "tokens": [TOKEN], "allowed_ips": ["203.0.113.0/24"]}
    return build_app(document).test_client()


@pytest.fixture
def lead_id(client) -> str:
    """The id of a lead posted to the partner source from an allowed address."""
    response = client.post("/v1/leads/partner", data=LEAD, headers=auth(), environ_base={"REMOTE_ADDR": ALLOWED})
    assert response.status_code == 201
    return response.get_json()["lead_id"]


def get_from(client, lead_id, peer, *, token=TOKEN, forwarded=None):
    headers = auth(token)
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return client.get(f"/v1/leads/{lead_id}", headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_source_token_reads_from_allowed_address(client, lead_id):
    response = get_from(client, lead_id, ALLOWED)

    assert response.status_code == 200
    assert response.get_json()["lead_id"] == lead_id
    assert response.get_json()["status"] == "delivered"


def test_source_token_from_other_address_answers_403(client, lead_id):
    response = get_from(client, lead_id, OTHER)

    assert response.status_code == 403
    document = response.get_json()
    assert document["reason"] == "forbidden"
    assert OTHER in document["message"]
    assert "allowed_ips" in document["message"]
    assert "lead_id" not in document


@pytest.mark.parametrize("peer", ["", "not-an-address"])
def test_source_token_from_unknown_address_answers_403(client, lead_id, peer):
    response = get_from(client, lead_id, peer)

    assert response.status_code == 403
    assert response.get_json()["reason"] == "forbidden"


def test_source_token_through_proxy_checks_client(client, lead_id):
    allowed = get_from(client, lead_id, PROXY, forwarded=ALLOWED)
    other = get_from(client, lead_id, PROXY, forwarded=OTHER)

    assert allowed.status_code == 200
    assert other.status_code == 403


def test_admin_token_reads_from_any_address(client, lead_id):
    response = get_from(client, lead_id, OTHER, token=ADMIN_TOKEN)

    assert response.status_code == 200
    assert response.get_json()["lead_id"] == lead_id


def test_other_token_answers_404_from_any_address(client, lead_id):
    # OTHER_TOKEN belongs to the landing source only, so the partner's lead does not exist for it.
    for peer in (ALLOWED, OTHER):
        response = get_from(client, lead_id, peer, token=OTHER_TOKEN)

        assert response.status_code == 404


def test_source_without_allowlist_reads_from_any_address(client):
    posted = client.post("/v1/leads/landing", data=LEAD, headers=auth(), environ_base={"REMOTE_ADDR": OTHER})

    response = get_from(client, posted.get_json()["lead_id"], OTHER)

    assert response.status_code == 200
