"""Security headers on every response of the app: leads, errors, health, and pages with their own policy."""

from __future__ import annotations

import pytest
from flask import Response

from tests.conftest import PB_URL, SUCCESS, auth, build_app

API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

LEAD = {"first_name": "Jeff", "email": "jeff@example.com"}


def answers(client):
    return {
        "delivered": client.post("/v1/leads/landing", data=LEAD, headers=auth()),
        "unauthorized": client.post("/v1/leads/landing", data=LEAD),
        "not_found": client.get("/nothing-here"),
        "method_not_allowed": client.put("/v1/leads/landing"),
        "health": client.get("/healthz"),
    }


def test_every_response_has_api_headers(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    for name, response in answers(client).items():
        for header, value in API_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)


def test_no_hsts_without_https_public_url(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    for name, response in answers(client).items():
        assert "Strict-Transport-Security" not in response.headers, name


@pytest.mark.parametrize(
    ("public_url", "expected"), [("https://relay.example.com", True), ("http://relay.local", False)]
)
def test_hsts_follows_public_url(document, pb, public_url, expected):
    document["server"] = {"public_url": public_url}
    pb.get(PB_URL, body=SUCCESS)

    responses = answers(build_app(document).test_client())

    for name, response in responses.items():
        assert ("Strict-Transport-Security" in response.headers) is expected, name
        if expected:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_page_keeps_its_own_policy(document):
    app = build_app(document)
    page_policy = "default-src 'self'; frame-ancestors 'none'"

    @app.get("/console-like")
    def console_like():
        response = Response("<html></html>", mimetype="text/html")
        response.headers["Content-Security-Policy"] = page_policy
        return response

    response = app.test_client().get("/console-like")

    assert response.headers["Content-Security-Policy"] == page_policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
