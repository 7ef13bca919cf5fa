"""Limits on what a sender controls, alike for JSON, urlencoded and multipart bodies."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import PB_URL, SUCCESS, auth, build_app

KINDS = ["json", "form", "multipart"]


def send(client, kind: str, fields: dict[str, str], files: dict | None = None):
    """Post the fields in the given body kind, with the files in multipart bodies only."""
    if kind == "json":
        return client.post("/v1/leads/landing", data=json.dumps(fields), headers=auth(),
                           content_type="application/json")
    if kind == "form":
        return client.post("/v1/leads/landing", data=fields, headers=auth(),
                           content_type="application/x-www-form-urlencoded")
    return client.post("/v1/leads/landing", data={**fields, **(files or {})}, headers=auth(),
                       content_type="multipart/form-data")


@pytest.fixture
def limited_client(document, pb):
    document["limits"] = {"max_fields": 20, "max_value_chars": 200, "max_field_name_chars": 30, "max_extras": 5,
                          "max_body_bytes": 65536}
    pb.get(PB_URL, body=SUCCESS)
    return build_app(document).test_client()


def assert_too_large(response, key: str) -> None:
    assert response.status_code == 413
    document = response.get_json()
    assert document["status"] == "error"
    assert document["reason"] == "too_large"
    assert f"[limits].{key}" in document["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_within_limits_delivered(limited_client, pb, kind):
    fields = {"email": "ann@example.com", **{f"q{number}": "yes" for number in range(5)}}

    response = send(limited_client, kind, fields)

    assert response.status_code == 201


@pytest.mark.parametrize("kind", KINDS)
def test_too_many_fields(limited_client, pb, kind):
    fields = {"email": "ann@example.com", **{f"f{number}": "v" for number in range(25)}}

    response = send(limited_client, kind, fields)

    assert_too_large(response, "max_fields")
    assert len(pb.calls) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_value_too_long(limited_client, pb, kind):
    response = send(limited_client, kind, {"email": "ann@example.com", "note": "x" * 201})

    assert_too_large(response, "max_value_chars")
    assert "'note'" in response.get_json()["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_field_name_too_long(limited_client, pb, kind):
    response = send(limited_client, kind, {"email": "ann@example.com", "n" * 31: "x"})

    assert_too_large(response, "max_field_name_chars")


def test_nested_json_name_counts_whole_path(limited_client, pb):
    body = {"email": "ann@example.com", "contact": {"address": {"street_line_number_one": "1 Main St"}}}

    response = send(limited_client, "json", body)

    assert_too_large(response, "max_field_name_chars")


@pytest.mark.parametrize("kind", KINDS)
def test_too_many_extras(limited_client, pb, kind):
    fields = {"email": "ann@example.com", **{f"q{number}": "yes" for number in range(6)}}

    response = send(limited_client, kind, fields)

    assert_too_large(response, "max_extras")
    assert "6 answers" in response.get_json()["message"]
    assert len(pb.calls) == 0


def test_extras_counted_after_ignore(document, pb):
    document["limits"] = {"max_extras": 2}
    document["sources"]["landing"]["ignore"] = ["utm_*"]
    pb.get(PB_URL, body=SUCCESS)
    fields = {"email": "ann@example.com", "q1": "a", "q2": "b", "utm_source": "x", "utm_medium": "y"}

    response = send(build_app(document).test_client(), "form", fields)

    assert response.status_code == 201


def test_file_part_counts_as_field(limited_client, pb):
    fields = {"email": "ann@example.com", **{f"f{number}": "v" for number in range(19)}}
    files = {"upload": (io.BytesIO(b"small"), "a.txt")}

    response = send(limited_client, "multipart", fields, files)

    assert_too_large(response, "max_fields")


def test_file_part_too_large(limited_client, pb):
    files = {"resume": (io.BytesIO(b"x" * 201), "resume.pdf")}

    response = send(limited_client, "multipart", {"email": "ann@example.com"}, files)

    assert_too_large(response, "max_value_chars")
    assert "'resume'" in response.get_json()["message"]


def test_file_part_name_too_long(limited_client, pb):
    files = {"f" * 31: (io.BytesIO(b"x"), "a.txt")}

    response = send(limited_client, "multipart", {"email": "ann@example.com"}, files)

    assert_too_large(response, "max_field_name_chars")


def test_small_file_part_ignored(limited_client, pb):
    files = {"resume": (io.BytesIO(b"%PDF-1.4"), "resume.pdf")}

    response = send(limited_client, "multipart", {"email": "ann@example.com"}, files)

    assert response.status_code == 201


def test_multipart_parts_over_werkzeug_limit(document, pb):
    # Werkzeug stops parsing at MAX_FORM_PARTS, before the relay counts fields.
    document["limits"] = {"max_fields": 10}
    body = b"".join(
        b"--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n" % number for number in range(30)
    ) + b"--b--\r\n"

    response = build_app(document).test_client().post(
        "/v1/leads/landing", data=body, headers=auth(), content_type="multipart/form-data; boundary=b"
    )

    assert_too_large(response, "max_fields")
    assert "parts" in response.get_json()["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_body_too_large(document, pb, kind):
    document["limits"] = {"max_body_bytes": 2048}

    response = send(build_app(document).test_client(), kind, {"email": "ann@example.com", "note": "x" * 4000})

    assert_too_large(response, "max_body_bytes")
    assert "2048 bytes" in response.get_json()["message"]


def test_deep_json_names_limit(document, pb):
    document["limits"] = {"max_json_depth": 4}
    body = {"email": "ann@example.com", "a": {"b": {"c": {"d": {"e": "x"}}}}}

    response = send(build_app(document).test_client(), "json", body)

    assert response.status_code == 400
    assert "deeper than 4 levels" in response.get_json()["message"]


@pytest.mark.parametrize(("body", "where"), [
    ('{"email": "ann@example.com", "answers": {"budget": ' + "9" * 5000 + "}}", "'answers.budget'"),
    ('{"email": "ann@example.com", "ids": [1, -' + "9" * 5000 + "]}", "'ids.1'"),
], ids=["nested-field", "list-item"])
def test_json_integer_too_long(limited_client, pb, body, where):
    response = limited_client.post("/v1/leads/landing", data=body, headers=auth(), content_type="application/json")

    assert response.status_code == 400
    message = response.get_json()["message"]
    assert where in message
    assert "5000 digits" in message
    assert "set_int_max_str_digits" not in message
    assert len(pb.calls) == 0
