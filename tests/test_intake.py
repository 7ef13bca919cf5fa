"""POST /v1/leads/<source>: every status code of the contract, with PhoneBurner mocked."""

from __future__ import annotations

import gc
import json
import warnings

import pytest
import requests

from tests.conftest import OTHER_TOKEN, PB_URL, SUCCESS, TOKEN, auth, base_document, build_app, sent_params

LEAD = {"first_name": "Jeff", "last_name": "Sample", "email": "jeffsample@example.com", "phone": "(949) 555-0123"}


def post(client, body=None, *, source="landing", headers=None, **kwargs):
    headers = auth() if headers is None else headers
    if body is None:
        body = LEAD
    return client.post(f"/v1/leads/{source}", data=body, headers=headers, **kwargs)


def test_delivered_answers_201(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = post(client)

    assert response.status_code == 201
    document = response.get_json()
    assert document["status"] == "delivered"
    assert document["phoneburner"] == {
        "outcome": "SUCCESS",
        "reason": None,
        "lead_url": "https://www.phoneburner.com/ms/lead_redirect?upc=ATFHD3PP",
    }
    assert len(document["lead_id"]) == 32
    assert "errors" not in document


def test_delivered_sends_fields_in_order(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    post(client)

    assert sent_params(pb) == [
        ("key", "vendor-key-for-tests-0001"),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "Jeff"),
        ("lastname", "Sample"),
        ("email", "jeffsample@example.com"),
        ("phone", "9495550123"),
    ]


def test_json_body_delivered(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = client.post("/v1/leads/landing", json=LEAD, headers=auth())

    assert response.status_code == 201
    assert ("firstname", "Jeff") in sent_params(pb)


def test_multipart_body_delivered(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = client.post(
        "/v1/leads/landing", data=LEAD, headers=auth(), content_type="multipart/form-data"
    )

    assert response.status_code == 201
    assert ("email", "jeffsample@example.com") in sent_params(pb)


def test_repeated_keys_joined_in_extras(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = client.post(
        "/v1/leads/landing",
        data="email=a%40example.com&interest=solar&interest=battery",
        headers=auth(),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 201
    assert sent_params(pb)[-2:] == [("question[0]", "interest"), ("answer[0]", "solar, battery")]


def test_nested_json_reachable_by_dotted_path(document, pb):
    document["sources"]["landing"]["fields"] = {"email": "contact.email", "city": "contact.address.city"}
    pb.get(PB_URL, body=SUCCESS)

    client = build_app(document).test_client()

    response = client.post(
        "/v1/leads/landing",
        json={"contact": {"email": "n@example.com", "address": {"city": "Tustin"}}, "score": 7},
        headers=auth(),
    )

    assert response.status_code == 201
    params = sent_params(pb)
    assert ("email", "n@example.com") in params
    assert ("city", "Tustin") in params
    assert params[-2:] == [("question[0]", "score"), ("answer[0]", "7")]


@pytest.mark.parametrize(
    ("reply", "status", "http_status"),
    [
        ("ERROR|DUPLICATE EMAIL", "duplicate", 409),
        ("FAILURE|INVALID EMAIL", "rejected", 422),
        ("FAILURE|UNKNOWN USER", "failed", 502),
        ("ERROR|CANCELLED USER", "failed", 502),
        ("ERROR|CM_ID IS REQUIRED", "failed", 502),
        ("ERROR|CM_ID IS INVALID", "failed", 502),
        ("ERROR|IDNUMBER IS REQUIRED", "failed", 502),
        ("ERROR|BAD RESPONSE TYPE", "failed", 502),
        ("<html><body>Oops</body></html>", "failed", 502),
        ("", "failed", 502),
    ],
)
def test_reply_maps_to_status(client, pb, reply, status, http_status):
    pb.get(PB_URL, body=reply)

    response = post(client)

    assert response.status_code == http_status
    assert response.get_json()["status"] == status


def test_duplicate_reports_reason(client, pb):
    pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")

    document = post(client).get_json()

    assert document["phoneburner"]["outcome"] == "ERROR"
    assert document["phoneburner"]["reason"] == "DUPLICATE EMAIL"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (requests.ConnectTimeout("connect timed out"), "connect_timeout"),
        (requests.ReadTimeout("timed out"), "read_timeout"),
    ],
)
def test_unreachable_answers_202_queued(client, pb, failure, reason):
    pb.get(PB_URL, body=failure)

    response = post(client)

    assert response.status_code == 202
    document = response.get_json()
    assert document["status"] == "queued"
    assert document["reason"] == "retrying"
    assert document["phoneburner"]["reason"] == reason


def test_phoneburner_429_queues_with_retry_after(client, pb):
    pb.get(PB_URL, status=429, body="slow down", headers={"Retry-After": "120"})

    response = post(client)

    assert response.status_code == 202
    assert response.headers["Retry-After"] == "120"


def test_invalid_lead_answers_422_with_field_errors(client, pb):
    response = post(client, {"first_name": "Jeff", "email": "not-an-email", "phone": "12"})

    assert response.status_code == 422
    document = response.get_json()
    assert document["status"] == "rejected"
    assert set(document["errors"]) == {"email", "phone"}
    assert len(pb.calls) == 0


def test_lead_without_contact_answers_422(client, pb):
    response = post(client, {"first_name": "Jeff"})

    assert response.status_code == 422
    assert "missing" in response.get_json()["errors"]["email"][0]
    assert len(pb.calls) == 0


def test_unknown_source_answers_404(client):
    response = post(client, source="nope")

    assert response.status_code == 404
    assert response.get_json()["status"] == "error"
    assert response.get_json()["reason"] == "not_found"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-xxxxxxxx"}, {"X-Relay-Token": "nope"}, {"Authorization": "Basic abc"}],
)
def test_bad_token_answers_401(client, pb, headers):
    response = post(client, headers=headers)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"Bearer {TOKEN}"}, ""),
        ({"Authorization": f"bearer {OTHER_TOKEN}"}, ""),
        ({"X-Relay-Token": TOKEN}, ""),
        ({}, f"?token={OTHER_TOKEN}"),
    ],
)
def test_token_accepted_in_every_place(client, pb, headers, query):
    pb.get(PB_URL, body=SUCCESS)

    response = client.post(f"/v1/leads/landing{query}", data=LEAD, headers=headers)

    assert response.status_code == 201


def test_token_field_not_forwarded(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    client.post(f"/v1/leads/landing?token={TOKEN}", data={**LEAD, "token": TOKEN})

    assert all(TOKEN not in value for _, value in sent_params(pb))


def test_unsupported_content_type_answers_415(client):
    response = client.post("/v1/leads/landing", data="<lead/>", headers=auth(), content_type="application/xml")

    assert response.status_code == 415
    assert "application/json" in response.get_json()["message"]


def test_missing_content_type_answers_415(client):
    response = client.post("/v1/leads/landing", data=b"x", headers=auth(), content_type="")

    assert response.status_code == 415


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[1, 2]", b'"text"', b"[{}, {}]", b"\xff\xfe{}", b'{"a": NaN}'],
)
def test_unparseable_json_answers_400(client, pb, raw):
    response = client.post("/v1/leads/landing", data=raw, headers=auth(), content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["reason"] == "unparseable_body"
    assert len(pb.calls) == 0


def test_deep_json_answers_400(client):
    raw = "[" * 5000 + "]" * 5000

    response = client.post("/v1/leads/landing", data=raw, headers=auth(), content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper" in response.get_json()["message"]


def test_invalid_utf8_form_answers_400(client):
    response = client.post(
        "/v1/leads/landing", data=b"email=%ff%fe", headers=auth(), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400


def test_multipart_without_boundary_answers_400(client):
    response = client.post("/v1/leads/landing", data=b"x", headers=auth(), content_type="multipart/form-data")

    assert response.status_code == 400


def test_truncated_upload_leaves_no_open_file(client):
    body = b'--b\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n\r\n%PDF-1.7'

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.post(
            "/v1/leads/landing", data=body, headers=auth(), content_type="multipart/form-data; boundary=b"
        )
        gc.collect()

    assert response.status_code == 400
    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []


def test_upload_beside_fields_delivered(client, pb):
    pb.get(PB_URL, body=SUCCESS)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n\r\n%PDF-1.7\r\n'
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.com\r\n--b--\r\n'
    )

    response = client.post(
        "/v1/leads/landing", data=body, headers=auth(), content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 201
    assert ("email", "ada@example.com") in sent_params(pb)


def test_json_lone_surrogate_answers_400(client, pb):
    # A surrogate escape without its pair decodes to no character, and the store could not encode it.
    raw = '{"email": "ada@example.com", "note": "\\ud800"}'

    response = client.post("/v1/leads/landing", data=raw, headers=auth(), content_type="application/json")

    assert response.status_code == 400
    assert "lone surrogate" in response.get_json()["message"]
    assert len(pb.calls) == 0


def test_json_surrogate_pair_delivered(client, pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = '{"email": "ada@example.com", "note": "\\ud83d\\ude00"}'

    response = client.post("/v1/leads/landing", data=raw, headers=auth(), content_type="application/json")

    assert response.status_code == 201
    assert ("answer[0]", "\U0001f600") in sent_params(pb)


def test_sender_id_with_nul_stored(store_url, pb):
    # PostgreSQL rejects text with NUL, so the relay drops it from a tool's id; the store would fail as in an outage.
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["storage"] = {"url": store_url}
    document["sources"]["landing"]["adapter"] = "typeform"
    body = {
        "event_id": "01H\x00X",
        "event_type": "form_response",
        "form_response": {"answers": [], "hidden": {"email": "nul@example.com"}},
    }

    response = build_app(document).test_client().post("/v1/leads/landing", json=body, headers=auth())

    assert response.status_code == 201


def test_content_type_with_nul_stored(store_url, pb):
    pb.get(PB_URL, body=SUCCESS)
    document = base_document()
    document["storage"] = {"url": store_url}
    headers = {**auth(), "Content-Type": "application/json; note=\x00"}

    response = build_app(document).test_client().post(
        "/v1/leads/landing", data=json.dumps({"email": "nul@example.com"}), headers=headers
    )

    assert response.status_code == 201


def test_oversized_body_answers_413(document, pb):
    document["limits"] = {"max_body_bytes": 2048}
    client = build_app(document).test_client()

    response = client.post("/v1/leads/landing", json={"note": "x" * 4000}, headers=auth())

    assert response.status_code == 413
    assert response.get_json()["reason"] == "too_large"


def test_too_many_fields_answers_413(client):
    body = "&".join(f"f{index}=v" for index in range(600))

    response = client.post(
        "/v1/leads/landing", data=body, headers=auth(), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/v1/leads//landing", "/v1//leads/landing"])
def test_doubled_slash_answers_404_envelope(client, pb, path):
    response = client.post(path, json={"email": "ada@example.com"}, headers=auth())

    assert response.status_code == 404
    assert response.get_json()["reason"] == "not_found"
    assert len(pb.calls) == 0


def test_wrong_method_answers_405_envelope(client):
    response = client.put("/v1/leads/landing")

    assert response.status_code == 405
    assert response.get_json()["status"] == "error"


def test_unknown_route_answers_404_envelope(client):
    response = client.get("/nothing-here")

    assert response.status_code == 404
    assert response.get_json()["reason"] == "not_found"


def test_unexpected_error_answers_500_envelope(client, pb, monkeypatch):
    from app.schemas.source import SourceSchema

    def explode(self, fields):
        raise RuntimeError("boom")

    monkeypatch.setattr(SourceSchema, "load_lead", explode)

    response = post(client)

    assert response.status_code == 500
    assert response.get_json()["status"] == "error"
    assert "boom" not in response.get_data(as_text=True)


def test_request_id_echoed_or_generated(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    echoed = post(client, headers={**auth(), "X-Request-Id": "req-123"})
    generated = post(client, headers={**auth(), "X-Request-Id": "bad id with spaces"})

    assert echoed.headers["X-Request-Id"] == "req-123"
    assert len(generated.headers["X-Request-Id"]) == 32


class TestResponseModes:
    def test_always_200_keeps_status_in_body(self, document, pb):
        document["sources"]["landing"]["response_mode"] = "always_200"
        pb.get(PB_URL, body="ERROR|DUPLICATE EMAIL")

        response = post(build_app(document).test_client())

        assert response.status_code == 200
        assert response.get_json()["status"] == "duplicate"

    def test_always_200_keeps_request_faults(self, document):
        document["sources"]["landing"]["response_mode"] = "always_200"

        response = post(build_app(document).test_client(), headers={})

        assert response.status_code == 401

    def test_always_200_for_rejected_lead(self, document):
        document["sources"]["landing"]["response_mode"] = "always_200"

        response = post(build_app(document).test_client(), {"first_name": "x"})

        assert response.status_code == 200
        assert response.get_json()["status"] == "rejected"

    @pytest.mark.parametrize(
        ("reply", "target"),
        [
            (SUCCESS, "https://acme.example/thanks"),
            ("ERROR|DUPLICATE EMAIL", "https://acme.example/thanks"),
            ("FAILURE|INVALID EMAIL", "https://acme.example/sorry?ref=1"),
            ("ERROR|CM_ID IS INVALID", "https://acme.example/sorry?ref=1"),
        ],
    )
    def test_redirect_to_success_or_error_page(self, document, pb, reply, target):
        document["sources"]["landing"].update(
            response_mode="redirect",
            success_url="https://acme.example/thanks",
            error_url="https://acme.example/sorry?ref=1",
        )
        pb.get(PB_URL, body=reply)

        response = post(build_app(document).test_client())

        assert response.status_code == 303
        location = response.headers["Location"]
        assert location.startswith(target)
        assert "lead_id=" in location


class TestRouting:
    def test_leadstream_chosen_by_request(self, document, pb):
        document["sources"]["landing"]["leadstreams"] = ["default", "spanish"]
        pb.get(PB_URL, body=SUCCESS)

        post(build_app(document).test_client(), {**LEAD, "leadstream": "spanish"})

        assert ("cm_id", "ZZZZ") in sent_params(pb)

    def test_leadstream_outside_list_rejected(self, document, pb):
        document["sources"]["landing"]["leadstreams"] = ["default"]

        response = post(build_app(document).test_client(), {**LEAD, "leadstream": "spanish"})

        assert response.status_code == 422
        assert "leadstream" in response.get_json()["errors"]
        assert len(pb.calls) == 0

    @pytest.fixture
    def shared_document(self, document):
        source = document["sources"]["landing"]
        del source["customer"]
        source["customers"] = ["acme", "globex"]
        document["customers"]["acme"]["leadstreams"] = {"main": "YYYY"}
        source["leadstream"] = "main"
        return document

    def test_customer_chosen_by_query(self, shared_document, pb):
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(shared_document).test_client()

        response = client.post("/v1/leads/landing?customer=globex", data=LEAD, headers=auth())

        assert response.status_code == 201
        params = dict(sent_params(pb))
        assert params["user_id"] == "654321"
        assert params["cm_id"] == "GGGG"

    def test_customer_outside_list_rejected(self, shared_document, pb):
        response = post(build_app(shared_document).test_client(), {**LEAD, "customer": "initech"})

        assert response.status_code == 422
        assert "initech" in response.get_json()["errors"]["customer"][0]
        assert len(pb.calls) == 0

    def test_customer_missing_rejected(self, shared_document, pb):
        response = post(build_app(shared_document).test_client())

        assert response.status_code == 422
        assert "missing" in response.get_json()["errors"]["customer"][0]

    def test_raw_cm_id_from_sender_ignored(self, client, pb):
        pb.get(PB_URL, body=SUCCESS)

        post(client, {**LEAD, "cm_id": "EVIL", "user_id": "999"})

        params = sent_params(pb)
        assert dict(params)["cm_id"] == "YYYY"
        assert ("cm_id", "EVIL") not in params
        assert all(value not in ("EVIL", "999") for _, value in params)


class TestBrowserForms:
    @pytest.fixture
    def browser_document(self, document):
        document["sources"]["form"] = {
            "customer": "acme",
            "auth": "none",
            "allowed_origins": ["https://www.acme.example"],
        }
        return document

    def test_allowed_origin_gets_cors_header(self, browser_document, pb):
        pb.get(PB_URL, body=SUCCESS)

        response = build_app(browser_document).test_client().post(
            "/v1/leads/form", data=LEAD, headers={"Origin": "https://www.acme.example"}
        )

        assert response.status_code == 201
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.acme.example"

    def test_foreign_origin_answers_401(self, browser_document, pb):
        response = build_app(browser_document).test_client().post(
            "/v1/leads/form", data=LEAD, headers={"Origin": "https://evil.example"}
        )

        assert response.status_code == 401
        assert len(pb.calls) == 0

    def test_preflight_answers_204(self, browser_document):
        response = build_app(browser_document).test_client().options(
            "/v1/leads/form", headers={"Origin": "https://www.acme.example"}
        )

        assert response.status_code == 204
        assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_answer_is_json_document(client, pb):
    pb.get(PB_URL, body=SUCCESS)

    response = post(client)

    assert response.mimetype == "application/json"
    assert set(json.loads(response.get_data())) == {"lead_id", "status", "message", "phoneburner"}
