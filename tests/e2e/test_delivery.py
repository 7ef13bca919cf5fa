"""The running relay against a failing, slow or misconfigured PhoneBurner."""

from __future__ import annotations

import json

from tests.e2e.conftest import TOKEN, VENDOR_KEY

LEAD = "first_name=Priya&last_name=Raman&email=priya.raman%2Be2e%40example.com&phone=%28212%29+555-0142&note=hello"
FORM = "application/x-www-form-urlencoded"


def test_hang_answers_503_after_read_timeout(relay, simulator):
    simulator.fault("hang")

    response = relay.post("form", LEAD, FORM)

    assert response.status_code == 503
    assert response.json()["phoneburner"]["reason"] == "read_timeout"
    assert response.headers["Retry-After"] == "60"


def test_reset_answers_503(relay, simulator):
    simulator.fault("reset")

    response = relay.post("form", LEAD, FORM)

    assert response.status_code == 503
    assert response.json()["status"] == "failed"


def test_unavailable_passes_retry_after(relay, simulator):
    simulator.fault("http:503:30")

    response = relay.post("form", LEAD, FORM)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_retry_after_outage_delivers(relay, simulator):
    simulator.fault("http:502")

    first = relay.post("form", LEAD, FORM)
    second = relay.post("form", LEAD, FORM)

    assert first.status_code == 503
    assert second.status_code == 201
    assert len(simulator.received()) == 2


def test_configuration_fault_answers_502(relay, simulator):
    response = relay.post("broken", LEAD, FORM)

    assert response.status_code == 502
    assert response.json()["phoneburner"]["reason"] == "CM_ID IS INVALID"


def test_always_200_source_hides_status_code(relay, simulator):
    relay.post("always-200", LEAD, FORM)
    repeat = relay.post("always-200", LEAD, FORM)

    assert repeat.status_code == 200
    assert repeat.json()["status"] == "duplicate"


def test_unicode_answers_reach_phoneburner_intact(relay, simulator):
    body = json.dumps({"email": "kenji@example.com", "city": "東京", "note": "a+b & c #1 = 100%"})

    response = relay.post("form", body, "application/json")

    assert response.status_code == 201
    params = dict(simulator.params()[0])
    assert params["city"] == "東京"
    assert params["answer[0]"] == "a+b & c #1 = 100%"


def test_logs_carry_ids_and_no_secrets_or_personal_data(relay, simulator):
    relay.post("form", LEAD, FORM, {"X-Request-Id": "e2e-log-check"})
    relay.post("form", LEAD, FORM, {"X-Request-Id": "e2e-log-check-2"})
    relay.post(f"form?token={TOKEN}", LEAD, FORM, {"Authorization": ""})

    logs = relay.logs()

    for secret in (VENDOR_KEY, TOKEN, "priya", "Priya", "Raman", "5550142", "555-0142", "put_contact?"):
        assert secret not in logs
    lines = [json.loads(line) for line in logs.splitlines() if '"lead.relayed"' in line]
    checked = [line for line in lines if line["request_id"] == "e2e-log-check"]
    assert len(checked) == 1
    assert checked[0]["source"] == "form"
    assert checked[0]["status"] == "delivered"
    assert len(checked[0]["lead_id"]) == 32
    assert checked[0]["phoneburner_ms"] >= 0


def send_raw(relay, data: bytes) -> bytes:
    import socket

    host, port = relay.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(data)
        return connection.recv(65536)


def test_malformed_request_line_keeps_token_out_of_logs(relay):
    send_raw(relay, f"POST /v1/leads/form?token={TOKEN}\r\n\r\n".encode())
    send_raw(relay, f"GET /v1/leads/form?token={TOKEN} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".encode())

    assert TOKEN not in relay.logs()


def test_access_log_line_survives_control_characters(relay):
    relay.post("form%0a%7b%22forged%22%3a1%7d", LEAD, FORM)

    access_lines = [line for line in relay.logs().splitlines() if "gunicorn.access" in line]
    assert access_lines
    for line in access_lines:
        assert json.loads(line)["logger"] == "gunicorn.access"
    assert not any(line.startswith('{"forged"') for line in relay.logs().splitlines())
