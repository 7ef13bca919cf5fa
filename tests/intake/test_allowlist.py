"""Per-source IP allowlists: checked first, through trusted proxies only, 403 for everyone else."""

from __future__ import annotations

import pytest

from tests.conftest import PB_URL, SUCCESS, TOKEN, auth, base_document, build_app
from tests.intake.signing import MAX_BODY_BYTES

ALLOWED_IPS = ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"]
PROXY = "10.0.0.2"
LEAD = {"email": "ann@example.com", "phone": "(949) 555-0123"}


def make_client(pb, *, trusted_proxies=(), allowed_ips=ALLOWED_IPS):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["server"] = {"trusted_proxies": list(trusted_proxies)}
    document["sources"]["partner"] = {"customer": "acme", "tokens": [TOKEN], "allowed_ips": list(allowed_ips)}
    document["limits"] = {"max_body_bytes": MAX_BODY_BYTES}
    return build_app(document).test_client()


def post_from(client, peer, *, forwarded=None, headers=None, data=None):
    headers = {**auth(), **(headers or {})}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return client.post(
        "/v1/leads/partner", data=LEAD if data is None else data, headers=headers, environ_base={"REMOTE_ADDR": peer}
    )


def assert_forbidden(response, pb) -> None:
    assert response.status_code == 403, response.get_json()
    document = response.get_json()
    assert document["status"] == "error"
    assert document["reason"] == "forbidden"
    assert "allowed_ips" in document["message"]
    assert TOKEN not in document["message"]
    assert len(pb.calls) == 0


@pytest.mark.parametrize("peer", ["203.0.113.44", "192.0.2.7", "2001:db8:1::5", "::ffff:203.0.113.44"])
def test_allowed_address_delivers(pb, peer):
    response = post_from(make_client(pb), peer)

    assert response.status_code == 201


@pytest.mark.parametrize("peer", ["198.51.100.1", "192.0.2.8", "2001:db9::1", "::ffff:198.51.100.1", "127.0.0.1"])
def test_other_address_answers_403(pb, peer):
    response = post_from(make_client(pb), peer)

    assert_forbidden(response, pb)


def test_403_names_the_address(pb):
    response = post_from(make_client(pb), "198.51.100.1")

    assert "198.51.100.1" in response.get_json()["message"]


@pytest.mark.parametrize("peer", ["", "not-an-address"])
def test_unknown_address_answers_403(pb, peer):
    response = post_from(make_client(pb), peer)

    assert_forbidden(response, pb)


def test_empty_allowlist_lets_anyone_post(pb):
    response = post_from(make_client(pb, allowed_ips=[]), "198.51.100.1")

    assert response.status_code == 201


def test_forged_forwarded_header_ignored_without_trusted_proxies(pb):
    response = post_from(make_client(pb), "198.51.100.1", forwarded="203.0.113.44")

    assert_forbidden(response, pb)


def test_forged_forwarded_header_ignored_from_untrusted_peer(pb):
    client = make_client(pb, trusted_proxies=["10.0.0.0/8"])

    response = post_from(client, "198.51.100.1", forwarded="203.0.113.44")

    assert_forbidden(response, pb)


def test_trusted_proxy_forwards_allowed_client(pb):
    client = make_client(pb, trusted_proxies=["10.0.0.0/8"])

    response = post_from(client, PROXY, forwarded="203.0.113.44")

    assert response.status_code == 201


def test_trusted_proxy_forwards_other_client(pb):
    client = make_client(pb, trusted_proxies=["10.0.0.0/8"])

    response = post_from(client, PROXY, forwarded="198.51.100.1")

    assert_forbidden(response, pb)


def test_forged_hop_through_proxy_rejected(pb):
    client = make_client(pb, trusted_proxies=["10.0.0.0/8"])

    # The client wrote 203.0.113.44 itself; the proxy appended the address it really saw.
    response = post_from(client, PROXY, forwarded="203.0.113.44, 198.51.100.1")

    assert_forbidden(response, pb)


def test_proxy_without_forwarded_header_is_the_client(pb):
    client = make_client(pb, trusted_proxies=["10.0.0.0/8"])

    response = post_from(client, PROXY)

    assert_forbidden(response, pb)


def test_forbidden_before_token_check(pb):
    response = post_from(make_client(pb), "198.51.100.1", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"})

    assert_forbidden(response, pb)


def test_forbidden_before_body_is_read(pb):
    # Reading a body over the limit would answer 413.
    oversized = {"note": "x" * (MAX_BODY_BYTES + 1)}

    response = post_from(make_client(pb), "198.51.100.1", data=oversized)

    assert_forbidden(response, pb)


def test_allowed_client_still_needs_its_token(pb):
    response = post_from(make_client(pb), "203.0.113.44", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"})

    assert response.status_code == 401
