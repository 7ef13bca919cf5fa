"""Browser forms (auth = "none"): allowed origins, CORS, preflights and the honeypot."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY

from tests.conftest import PB_URL, SUCCESS, build_app

ORIGIN = "https://www.acme.example"
LEAD = {"first_name": "Jeff", "email": "jeff@example.com"}


@pytest.fixture
def browser_document(document):
    document["sources"]["form"] = {"customer": "acme", "auth": "none", "allowed_origins": [ORIGIN]}
    return document


def post_form(client, headers, data=None):
    return client.post("/v1/leads/form", data=LEAD if data is None else data, headers=headers)


class TestOrigin:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Origin": ORIGIN},
            {"Origin": ORIGIN + "/"},
            {"Origin": "https://WWW.ACME.example"},
            {"Referer": ORIGIN + "/contact?utm_source=ad"},
            {"Referer": "HTTPS://www.acme.example/"},
        ],
        ids=["origin", "origin-slash", "origin-case", "referer", "referer-case"],
    )
    def test_allowed(self, browser_document, pb, headers):
        pb.get(PB_URL, body=SUCCESS)

        response = post_form(build_app(browser_document).test_client(), headers)

        assert response.status_code == 201

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": "https://www.acme.example.evil.example"},
            {"Origin": "http://www.acme.example"},
            {"Referer": "https://evil.example/www.acme.example"},
            {"Referer": "not a url"},
            {"Referer": "file:///tmp/form.html"},
            # Origin decides when both are sent, so an allowed Referer cannot vouch for a foreign Origin.
            {"Origin": "https://evil.example", "Referer": ORIGIN + "/contact"},
        ],
        ids=["neither", "foreign", "null", "suffix", "scheme", "referer-foreign", "referer-garbage", "referer-file",
             "foreign-origin-allowed-referer"],
    )
    def test_rejected(self, browser_document, pb, headers):
        response = post_form(build_app(browser_document).test_client(), headers)

        assert response.status_code == 401
        assert response.get_json()["reason"] == "unauthorized"
        assert len(pb.calls) == 0

    def test_missing_headers_message_names_fix(self, browser_document):
        response = post_form(build_app(browser_document).test_client(), {})

        assert "Origin or Referer" in response.get_json()["message"]


class TestCors:
    def test_preflight_for_allowed_origin(self, browser_document):
        response = build_app(browser_document).test_client().options(
            "/v1/leads/form", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )

        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
        assert response.headers["Access-Control-Max-Age"] == "600"
        assert {"Origin", "Access-Control-Request-Method"} <= {
            value.strip() for value in response.headers["Vary"].split(",")
        }

    @pytest.mark.parametrize("origin", ["https://evil.example", None])
    def test_preflight_for_foreign_origin(self, browser_document, origin):
        headers = {"Origin": origin} if origin else {}

        response = build_app(browser_document).test_client().options("/v1/leads/form", headers=headers)

        assert response.status_code == 401
        assert "Access-Control-Allow-Origin" not in response.headers

    def test_preflight_for_token_source(self, browser_document):
        response = build_app(browser_document).test_client().options("/v1/leads/landing", headers={"Origin": ORIGIN})

        assert response.status_code == 401

    def test_error_answer_readable_by_allowed_origin(self, browser_document):
        response = post_form(build_app(browser_document).test_client(), {"Origin": ORIGIN}, data={"first_name": "x"})

        assert response.status_code == 422
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]

    def test_rate_limited_answer_readable_by_allowed_origin(self, browser_document, pb):
        browser_document["limits"] = {"per_ip_browser": "1/minute"}
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(browser_document).test_client()
        post_form(client, {"Origin": ORIGIN})

        response = post_form(client, {"Origin": ORIGIN})

        assert response.status_code == 429
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN

    def test_no_cors_for_referer_only_request(self, browser_document, pb):
        pb.get(PB_URL, body=SUCCESS)

        response = post_form(build_app(browser_document).test_client(), {"Referer": ORIGIN + "/contact"})

        assert response.status_code == 201
        assert "Access-Control-Allow-Origin" not in response.headers


def dropped_count(source: str) -> float:
    return REGISTRY.get_sample_value("relay_leads_dropped_total", {"source": source, "reason": "honeypot"}) or 0.0


class TestHoneypot:
    @pytest.fixture
    def trapped(self, browser_document):
        browser_document["sources"]["form"]["honeypot"] = "hp_field"
        return browser_document

    def stored_leads(self, app) -> int:
        return sum(app.extensions["relay"].store.counts().values())

    def test_empty_honeypot_delivers(self, trapped, pb):
        pb.get(PB_URL, body=SUCCESS)

        response = post_form(build_app(trapped).test_client(), {"Origin": ORIGIN}, data={**LEAD, "hp_field": "  "})

        assert response.status_code == 201
        assert len(pb.calls) == 1

    def test_filled_honeypot_dropped_as_queued(self, trapped, pb):
        app = build_app(trapped)

        response = post_form(app.test_client(), {"Origin": ORIGIN}, data={**LEAD, "hp_field": "http://spam.example"})

        assert response.status_code == 202
        document = response.get_json()
        assert document["status"] == "queued"
        assert len(document["lead_id"]) == 32
        assert set(document) == {"lead_id", "status", "message", "phoneburner", "reason"}
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert len(pb.calls) == 0
        assert self.stored_leads(app) == 0

    def test_each_drop_gets_its_own_lead_id(self, trapped):
        client = build_app(trapped).test_client()
        data = {**LEAD, "hp_field": "x"}

        first = post_form(client, {"Origin": ORIGIN}, data=data).get_json()["lead_id"]
        second = post_form(client, {"Origin": ORIGIN}, data=data).get_json()["lead_id"]

        assert first != second

    def test_always_200_answers_200_queued(self, trapped, pb):
        trapped["sources"]["form"]["response_mode"] = "always_200"

        response = post_form(build_app(trapped).test_client(), {"Origin": ORIGIN}, data={**LEAD, "hp_field": "x"})

        assert response.status_code == 200
        assert response.get_json()["status"] == "queued"
        assert len(pb.calls) == 0

    def test_redirect_goes_to_success_page(self, trapped, pb):
        trapped["sources"]["form"].update(
            response_mode="redirect", success_url="https://www.acme.example/thanks",
            error_url="https://www.acme.example/sorry",
        )

        response = post_form(build_app(trapped).test_client(), {"Origin": ORIGIN}, data={**LEAD, "hp_field": "x"})

        assert response.status_code == 303
        location = urlsplit(response.headers["Location"])
        assert location._replace(query="").geturl() == "https://www.acme.example/thanks"
        assert parse_qs(location.query)["status"] == ["queued"]
        assert len(parse_qs(location.query)["lead_id"][0]) == 32
        assert len(pb.calls) == 0

    def test_json_body_dropped(self, trapped, pb):
        app = build_app(trapped)

        response = app.test_client().post(
            "/v1/leads/form", json={**LEAD, "hp_field": "x"}, headers={"Origin": ORIGIN}
        )

        assert response.status_code == 202
        assert len(pb.calls) == 0
        assert self.stored_leads(app) == 0

    def test_drop_logged_and_counted(self, trapped, pb, caplog):
        before = dropped_count("form")

        response = post_form(build_app(trapped).test_client(), {"Origin": ORIGIN}, data={**LEAD, "hp_field": "x"})

        assert dropped_count("form") == before + 1
        records = [record for record in caplog.records if record.msg == "lead.dropped"]
        assert len(records) == 1
        assert records[0].reason == "honeypot"
        assert records[0].source == "form"
        assert records[0].lead_id == response.get_json()["lead_id"]
        assert "jeff@example.com" not in caplog.text
        assert not [record for record in caplog.records if record.msg == "lead.relayed"]

    def test_token_source_honeypot(self, document, pb):
        document["sources"]["landing"]["honeypot"] = "hp_field"

        response = build_app(document).test_client().post(
            "/v1/leads/landing", data={**LEAD, "hp_field": "x"},
            headers={"Authorization": "Bearer token-for-tests-aaaaaaaa"},
        )

        assert response.status_code == 202
        assert len(pb.calls) == 0
