"""Tests of the PhoneBurner simulator: replies, decoding, records, faults, control and CLI.

Most tests call the WSGI app in-process through werkzeug's test client. The
tests at the end start the real server as a subprocess and talk to it over a
socket, because timeouts and connection resets exist only there.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from gevent.pywsgi import WSGIServer
from werkzeug.test import Client

from app.phoneburner.simulator import (
    PUT_CONTACT_PATH,
    SimulatedConnectionReset,
    SimulatorSettings,
    SimUser,
    _SimulatorServer,
    make_wsgi_app,
    parse_php_query,
)
from app.phoneburner.simulator_cli import (
    ConfigError,
    build_parser,
    build_settings,
    main,
    parse_user_spec,
)
from app.phoneburner.simulator_faults import parse_fault

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key"
AUTH = f"key={KEY}&user_id=123456&cm_id=YYYY"
SUCCESS = re.compile(r"SUCCESS \| https://www\.phoneburner\.com/ms/lead_redirect\?upc=[A-Z0-9]{8}")


@pytest.fixture
def app():
    settings = SimulatorSettings(
        vendor_key=KEY,
        users={
            "123456": SimUser({"YYYY", "ZZZZ"}),
            "654321": SimUser({"YYYY"}),
            "777": SimUser({"CCCC"}, cancelled=True),
        },
        hang_seconds=0.05,
    )
    return make_wsgi_app(settings)


@pytest.fixture
def client(app):
    return Client(app)


def put(client: Client, query: str, path: str = PUT_CONTACT_PATH):
    return client.get(path, query_string=query)


# Replies to valid and invalid requests.


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        ("user_id=123456&cm_id=YYYY", 401, "ERROR|INVALID KEY"),
        ("key=wrong&user_id=123456&cm_id=YYYY", 401, "ERROR|INVALID KEY"),
        ("key=&user_id=123456&cm_id=YYYY", 401, "ERROR|INVALID KEY"),
        # The key is checked before anything else.
        ("key=wrong&response_type=json", 401, "ERROR|INVALID KEY"),
        (f"{AUTH}&response_type=json", 200, "ERROR|BAD RESPONSE TYPE"),
        (f"key={KEY}&response_type=xml", 200, "ERROR|BAD RESPONSE TYPE"),
        (f"key={KEY}&cm_id=YYYY", 200, "ERROR|IDNUMBER IS REQUIRED"),
        (f"key={KEY}&user_id=&cm_id=YYYY", 200, "ERROR|IDNUMBER IS REQUIRED"),
        (f"key={KEY}&user_id=999&cm_id=YYYY", 200, "FAILURE|UNKNOWN USER"),
        (f"key={KEY}&user_id=777&cm_id=CCCC", 200, "ERROR|CANCELLED USER"),
        # A cancelled account is reported before its missing cm_id.
        (f"key={KEY}&user_id=777", 200, "ERROR|CANCELLED USER"),
        (f"key={KEY}&user_id=123456", 200, "ERROR|CM_ID IS REQUIRED"),
        (f"key={KEY}&user_id=123456&cm_id=", 200, "ERROR|CM_ID IS REQUIRED"),
        (f"key={KEY}&user_id=123456&cm_id=CCCC", 200, "ERROR|CM_ID IS INVALID"),
        # The cm_id is checked before the e-mail.
        (f"key={KEY}&user_id=123456&cm_id=CCCC&email=bad", 200, "ERROR|CM_ID IS INVALID"),
        (f"{AUTH}&email=no-at-sign.example.com", 200, "FAILURE|INVALID EMAIL"),
        (f"{AUTH}&email=jeff@localhost", 200, "FAILURE|INVALID EMAIL"),
        (f"{AUTH}&email=a@b@example.com", 200, "FAILURE|INVALID EMAIL"),
    ],
)
def test_put_contact_error_replies(client, query, status, body):
    response = put(client, query)

    assert response.status_code == status
    assert response.text == body
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"


@pytest.mark.parametrize(
    "query",
    [
        AUTH,
        f"{AUTH}&response_type=",
        f"{AUTH}&response_type=text",
        f"key={KEY}&user_id=123456&cm_id=ZZZZ&firstname=Jeff&email=jeffsample@example.com&phone=9495551212",
    ],
)
def test_put_contact_success(client, query):
    response = put(client, query)

    assert response.status_code == 200
    assert SUCCESS.fullmatch(response.text), response.text
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"


def test_put_contact_lead_urls_differ(client):
    first = put(client, AUTH).text
    second = put(client, AUTH).text

    assert first != second


def test_put_contact_any_path_prefix(client):
    response = put(client, AUTH, path="/relay-test/api/vendor/put_contact")

    assert SUCCESS.fullmatch(response.text)
    assert response.status_code == 200


def test_put_contact_post_rejected(client, app):
    response = client.post(PUT_CONTACT_PATH, query_string=AUTH)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert app.received == []


def test_unknown_path_404(client, app):
    response = client.get("/api/vendor/get_contact", query_string=AUTH)

    assert response.status_code == 404
    assert app.received == []


# Duplicate e-mail detection.


def test_duplicate_email_case_insensitive(client):
    first = put(client, f"{AUTH}&email=Jeff@Example.com")
    second = put(client, f"{AUTH}&email=jeff@example.COM")

    assert SUCCESS.fullmatch(first.text)
    assert second.text == "ERROR|DUPLICATE EMAIL"
    assert second.status_code == 200


def test_duplicate_email_other_cm_id(client):
    put(client, f"{AUTH}&email=jeff@example.com")
    response = put(client, f"key={KEY}&user_id=123456&cm_id=ZZZZ&email=jeff@example.com")

    assert response.text == "ERROR|DUPLICATE EMAIL"


def test_duplicate_email_per_user(client):
    put(client, f"{AUTH}&email=jeff@example.com")
    response = put(client, f"key={KEY}&user_id=654321&cm_id=YYYY&email=jeff@example.com")

    assert SUCCESS.fullmatch(response.text)


def test_duplicate_email_rejected_lead_not_stored(client):
    put(client, f"key={KEY}&user_id=123456&cm_id=CCCC&email=jeff@example.com")
    response = put(client, f"{AUTH}&email=jeff@example.com")

    assert SUCCESS.fullmatch(response.text)


def test_duplicate_without_email_accepted(client):
    first = put(client, f"{AUTH}&phone=9495551212")
    second = put(client, f"{AUTH}&phone=9495551212")

    assert SUCCESS.fullmatch(first.text)
    assert SUCCESS.fullmatch(second.text)


def test_duplicate_forgotten_after_reset(client, app):
    put(client, f"{AUTH}&email=jeff@example.com")
    app.reset()
    response = put(client, f"{AUTH}&email=jeff@example.com")

    assert SUCCESS.fullmatch(response.text)


# Query decoding.


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("email=a+b@example.com", [("email", "a b@example.com")]),
        ("email=a%2Bb@example.com", [("email", "a+b@example.com")]),
        ("question[0]=Age&answer[0]=35", [("question[0]", "Age"), ("answer[0]", "35")]),
        ("question%5B0%5D=Age&answer%5b0%5d=35", [("question[0]", "Age"), ("answer[0]", "35")]),
        ("city=S%C3%A3o+Paulo", [("city", "São Paulo")]),
        ("bad=%FF", [("bad", "\ufffd")]),
        ("flag&&x=", [("flag", ""), ("x", "")]),
        ("a=1=2", [("a", "1=2")]),
        ("", []),
    ],
)
def test_parse_php_query_cases(raw_query, expected):
    assert parse_php_query(raw_query) == expected


def test_put_contact_plus_is_space(client, app):
    response = put(client, f"{AUTH}&email=a+b@example.com")

    assert response.text == "FAILURE|INVALID EMAIL"
    assert app.received[0].params[-1] == ("email", "a b@example.com")


def test_put_contact_encoded_plus(client, app):
    response = put(client, f"{AUTH}&email=a%2Bb@example.com")

    assert SUCCESS.fullmatch(response.text)
    assert app.received[0].params[-1] == ("email", "a+b@example.com")


def test_put_contact_raw_utf8_query(client, app):
    # werkzeug passes the raw bytes on as WSGI servers do, as Latin-1 text.
    put(client, f"{AUTH}&city=São")

    assert app.received[0].params[-1] == ("city", "São")
    assert app.received[0].raw_query.endswith("city=São")


def test_put_contact_last_repeat_wins(client):
    response = put(client, f"key=wrong&{AUTH}&cm_id=CCCC")

    assert response.text == "ERROR|CM_ID IS INVALID"


# Records of received requests.


def test_received_record_fields(client, app):
    query = f"{AUTH}&firstname=Jos%C3%A9&question%5B0%5D=Age&answer[0]=35"
    before = time.time()
    response = put(client, query, path="/pb/api/vendor/put_contact")
    after = time.time()

    [entry] = app.received
    assert entry.path == "/pb/api/vendor/put_contact"
    assert entry.raw_query == query
    assert entry.params == [
        ("key", KEY),
        ("user_id", "123456"),
        ("cm_id", "YYYY"),
        ("firstname", "José"),
        ("question[0]", "Age"),
        ("answer[0]", "35"),
    ]
    assert entry.reply_status == 200
    assert entry.reply_body == response.text
    assert before <= entry.at <= after
    assert entry.fault is None


def test_received_errors_recorded(client, app):
    put(client, "key=wrong")
    put(client, f"key={KEY}&user_id=999&cm_id=YYYY")

    assert [(entry.reply_status, entry.reply_body) for entry in app.received] == [
        (401, "ERROR|INVALID KEY"),
        (200, "FAILURE|UNKNOWN USER"),
    ]


def test_received_snapshot_is_copy(client, app):
    snapshot = app.received
    put(client, AUTH)

    assert snapshot == []
    assert len(app.received) == 1


def test_received_capped_oldest_dropped():
    settings = SimulatorSettings(vendor_key=KEY, users={"123456": SimUser({"YYYY"})}, max_received=2)
    app = make_wsgi_app(settings)
    client = Client(app)
    for n in range(3):
        put(client, f"{AUTH}&firstname=n{n}")

    assert [entry.params[-1][1] for entry in app.received] == ["n1", "n2"]


def test_received_cleared_by_reset(client, app):
    put(client, AUTH)
    app.reset()

    assert app.received == []


# Faults.


@pytest.mark.parametrize(
    ("spec", "status", "body"),
    [
        ("reply:FAILURE|SOMETHING NEW", 200, "FAILURE|SOMETHING NEW"),
        ("reply:\ufeffsuccess|https://x\r\n", 200, "\ufeffsuccess|https://x\r\n"),
        ("reply:ERROR|UNKNOWN USER", 200, "ERROR|UNKNOWN USER"),
        ("reply:", 200, ""),
        ("empty", 200, ""),
    ],
)
def test_fault_exact_replies(client, app, spec, status, body):
    app.push_fault(spec)
    response = put(client, AUTH)

    assert response.status_code == status
    assert response.get_data() == body.encode("utf-8")
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"


def test_fault_html_page(client, app):
    app.push_fault("html")
    response = put(client, AUTH)

    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html>")
    assert "SUCCESS" not in response.text


@pytest.mark.parametrize("code", [400, 500, 502, 503, 504, 599])
def test_fault_http_status(client, app, code):
    app.push_fault(f"http:{code}")
    response = put(client, AUTH)

    assert response.status_code == code
    assert "<html>" in response.text
    assert "Retry-After" not in response.headers


def test_fault_http_retry_after(client, app):
    app.push_fault("http:429:30")
    response = put(client, AUTH)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"


def test_fault_http_lead_not_stored(client, app):
    app.push_fault("http:503")
    put(client, f"{AUTH}&email=jeff@example.com")
    response = put(client, f"{AUTH}&email=jeff@example.com")

    assert SUCCESS.fullmatch(response.text)


def test_fault_delay_answers_normally(client, app):
    app.push_fault("delay:100")
    started = time.monotonic()
    response = put(client, AUTH)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.1
    assert SUCCESS.fullmatch(response.text)
    assert app.received[0].fault == "delay:100"


def test_latency_setting_delays_reply():
    settings = SimulatorSettings(vendor_key=KEY, users={"123456": SimUser({"YYYY"})}, latency_ms=100)
    client = Client(make_wsgi_app(settings))
    started = time.monotonic()
    response = put(client, AUTH)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.1
    assert SUCCESS.fullmatch(response.text)


def test_fault_reset_raises(client, app):
    app.push_fault("reset")
    with pytest.raises(SimulatedConnectionReset):
        put(client, AUTH)

    [entry] = app.received
    assert (entry.reply_status, entry.reply_body, entry.fault) == (0, "", "reset")


def test_fault_hang_sleeps_then_drops(client, app):
    app.push_fault("hang")
    started = time.monotonic()
    with pytest.raises(SimulatedConnectionReset):
        put(client, AUTH)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.05
    assert app.received[0].fault == "hang"
    assert app.received[0].reply_status == 0


def test_fault_reset_lead_not_stored(client, app):
    app.push_fault("reset")
    with pytest.raises(SimulatedConnectionReset):
        put(client, f"{AUTH}&email=jeff@example.com")
    response = put(client, f"{AUTH}&email=jeff@example.com")

    assert SUCCESS.fullmatch(response.text)


@pytest.mark.parametrize("spec", ["reset:processed", "hang:processed"])
def test_fault_processed_then_duplicate(client, app, spec):
    app.push_fault(spec)
    with pytest.raises(SimulatedConnectionReset):
        put(client, f"{AUTH}&email=jeff@example.com")
    response = put(client, f"{AUTH}&email=jeff@example.com")

    assert response.text == "ERROR|DUPLICATE EMAIL"


def test_fault_queue_one_per_request(client, app):
    app.push_fault("http:503")
    app.push_fault("reply:FAILURE|X")

    assert put(client, AUTH).status_code == 503
    assert put(client, AUTH).text == "FAILURE|X"
    assert SUCCESS.fullmatch(put(client, AUTH).text)
    assert app.pending_faults == []


def test_fault_sticky_until_cleared(client, app):
    app.set_sticky("http:502")

    assert put(client, AUTH).status_code == 502
    assert put(client, AUTH).status_code == 502
    assert app.sticky_fault == "http:502"

    app.set_sticky(None)
    assert SUCCESS.fullmatch(put(client, AUTH).text)


def test_fault_queue_before_sticky(client, app):
    app.set_sticky("http:502")
    app.push_fault("empty")

    assert put(client, AUTH).text == ""
    assert put(client, AUTH).status_code == 502


def test_fault_not_applied_to_control(client, app):
    app.set_sticky("http:503")

    assert client.get("/_sim/health").status_code == 200


def test_fault_cleared_by_reset(app):
    app.push_fault("empty")
    app.set_sticky("html")
    app.reset()

    assert app.pending_faults == []
    assert app.sticky_fault is None


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "boom",
        "delay",
        "delay:-5",
        "delay:abc",
        "http",
        "http:200",
        "http:600",
        "http:503:soon",
        "hang:later",
        "reset:1",
        "html:x",
        "empty:x",
    ],
)
def test_parse_fault_invalid(spec):
    with pytest.raises(ValueError, match="invalid fault"):
        parse_fault(spec)


def test_parse_fault_reply_keeps_colons():
    fault = parse_fault("reply:SUCCESS | https://x:8080/a")

    assert fault.body == "SUCCESS | https://x:8080/a"
    assert fault.status == 200


def test_push_fault_invalid_not_queued(app):
    with pytest.raises(ValueError):
        app.push_fault("http:abc")

    assert app.pending_faults == []


# Control endpoints, in-process.


def test_control_health(client):
    response = client.get("/_sim/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_control_received_json(client):
    put(client, f"{AUTH}&question%5B0%5D=Age")
    [entry] = client.get("/_sim/received").json

    assert entry["params"] == [["key", KEY], ["user_id", "123456"], ["cm_id", "YYYY"], ["question[0]", "Age"]]
    assert entry["raw_query"] == f"{AUTH}&question%5B0%5D=Age"
    assert entry["reply_status"] == 200
    assert SUCCESS.fullmatch(entry["reply_body"])
    assert entry["path"] == PUT_CONTACT_PATH
    assert entry["fault"] is None


def test_control_reset(client, app):
    put(client, f"{AUTH}&email=jeff@example.com")
    app.push_fault("empty")
    response = client.post("/_sim/reset")

    assert response.json == {"status": "ok"}
    assert client.get("/_sim/received").json == []
    assert SUCCESS.fullmatch(put(client, f"{AUTH}&email=jeff@example.com").text)


def test_control_set_faults(client, app):
    response = client.post("/_sim/faults", json={"queue": ["http:503", "reset"], "sticky": "delay:250"})

    assert response.status_code == 200
    assert response.json == {"queue": ["http:503", "reset"], "sticky": "delay:250"}
    assert app.pending_faults == ["http:503", "reset"]
    assert app.sticky_fault == "delay:250"


def test_control_faults_partial_update(client, app):
    client.post("/_sim/faults", json={"queue": ["empty"], "sticky": "html"})
    client.post("/_sim/faults", json={"sticky": None})

    assert client.get("/_sim/faults").json == {"queue": ["empty"], "sticky": None}


def test_control_faults_replace_queue(client, app):
    app.push_fault("empty")
    client.post("/_sim/faults", json={"queue": ["html"]})

    assert app.pending_faults == ["html"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"queue": "http:503"}',
        b'{"queue": [503]}',
        b'{"queue": ["http:503", "nonsense"]}',
        b'{"sticky": 5}',
        b'{"sticky": "nonsense"}',
    ],
)
def test_control_faults_invalid(client, app, body):
    app.push_fault("empty")
    response = client.post("/_sim/faults", data=body, content_type="application/json")

    assert response.status_code == 400
    assert "error" in response.json
    assert app.pending_faults == ["empty"]


def test_control_wrong_method_405(client):
    response = client.get("/_sim/reset")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_control_unknown_404(client):
    assert client.get("/_sim/nothing").status_code == 404


# Command line and relay configuration.


def settings_for(argv: list[str], environ: dict[str, str] | None = None) -> SimulatorSettings:
    return build_settings(build_parser().parse_args(argv), environ or {})


def test_cli_defaults():
    settings = settings_for([])

    assert settings.vendor_key == "sim-vendor-key"
    assert settings.users == {"123456": SimUser({"YYYY", "ZZZZ"})}
    assert settings.latency_ms == 0
    assert settings.max_received == 10_000


def test_cli_users_and_cancelled():
    settings = settings_for(
        ["--key", "k", "--user", "1:A,B", "--user", "2:C", "--cancelled-user", "2", "--cancelled-user", "3"]
    )

    assert settings.vendor_key == "k"
    assert settings.users == {
        "1": SimUser({"A", "B"}),
        "2": SimUser({"C"}, cancelled=True),
        "3": SimUser(set(), cancelled=True),
    }


def test_cli_numbers():
    settings = settings_for(["--latency-ms", "250", "--hang-seconds", "2.5", "--max-received", "0"])

    assert settings.latency_ms == 250
    assert settings.hang_seconds == 2.5
    assert settings.max_received is None


def test_cli_negative_latency_rejected():
    with pytest.raises(ConfigError, match="must not be negative"):
        settings_for(["--latency-ms", "-1"])


@pytest.mark.parametrize("spec", ["123456", "123456:", ":YYYY", "123456: , "])
def test_parse_user_spec_invalid(spec):
    with pytest.raises(argparse.ArgumentTypeError, match="expected USER_ID:CM_ID"):
        parse_user_spec(spec)


def test_cli_invalid_user_exits(capsys):
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["--user", "123456"])

    assert raised.value.code == 2
    assert "expected USER_ID:CM_ID" in capsys.readouterr().err


RELAY_CONFIG = """
[phoneburner]
url = "https://www.phoneburner.com/api/vendor/put_contact"
vendor_key = "${PB_KEY}"

[customers.acme]
user_id = "${ACME_USER:-123456}"
[customers.acme.leadstreams]
default = "YYYY"
spanish = "ZZZZ"

[customers.other]
user_id = 555
[customers.other.leadstreams]
default = "${OTHER_CM}"

[customers.acme_too]
user_id = "123456"
[customers.acme_too.leadstreams]
extra = "XXXX"

[sources.acme-landing]
customer = "acme"
tokens = ["${UNSET_TOKEN}"]
"""


@pytest.fixture
def relay_config(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text(RELAY_CONFIG)
    return path


def test_config_users_and_key(relay_config):
    settings = settings_for(["--from-config", str(relay_config)], {"PB_KEY": "real-key", "OTHER_CM": "OOOO"})

    assert settings.vendor_key == "real-key"
    assert settings.users == {
        "123456": SimUser({"YYYY", "ZZZZ", "XXXX"}),
        "555": SimUser({"OOOO"}),
    }


def test_config_key_overridden_by_flag(relay_config):
    environ = {"PB_KEY": "real-key", "OTHER_CM": "OOOO"}
    settings = settings_for(["--from-config", str(relay_config), "--key", "flag-key", "--user", "9:Q"], environ)

    assert settings.vendor_key == "flag-key"
    assert settings.users["9"] == SimUser({"Q"})
    assert "123456" in settings.users


def test_config_env_default_used(relay_config):
    environ = {"PB_KEY": "k", "OTHER_CM": "OOOO", "ACME_USER": "42"}
    settings = settings_for(["--from-config", str(relay_config)], environ)

    assert settings.users["42"] == SimUser({"YYYY", "ZZZZ"})
    assert settings.users["123456"] == SimUser({"XXXX"})


def test_config_unset_variable_named(relay_config):
    with pytest.raises(ConfigError, match=r"customers\.other\.leadstreams\.default: .* OTHER_CM"):
        settings_for(["--from-config", str(relay_config)], {"PB_KEY": "k"})


def test_config_missing_user_id(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text('[customers.acme.leadstreams]\ndefault = "YYYY"\n')

    with pytest.raises(ConfigError, match=r"customers\.acme\.user_id is missing"):
        settings_for(["--from-config", str(path)])


def test_config_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        settings_for(["--from-config", str(tmp_path / "absent.toml")])


def test_config_invalid_toml(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text("[phoneburner\n")

    with pytest.raises(ConfigError, match="invalid TOML"):
        settings_for(["--from-config", str(path)])


def test_main_config_error_exit(relay_config, capsys, monkeypatch):
    monkeypatch.delenv("PB_KEY", raising=False)

    assert main(["--from-config", str(relay_config)]) == 2
    error = capsys.readouterr().err
    assert "phoneburner.vendor_key" in error
    assert "PB_KEY" in error


# The real server, as a subprocess.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start the simulator on a free port and yield its base URL and stderr log path."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("simulator") / "stderr.log"
    command = [
        sys.executable,
        "-m",
        "app.phoneburner.simulator",
        "--port",
        str(port),
        "--key",
        "subprocess-key",
        "--user",
        "42:AAAA,BBBB",
        "--hang-seconds",
        "30",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=log)
    base_url = f"http://127.0.0.1:{port}"

    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"simulator exited with {process.returncode}: {log_path.read_text()}")
            try:
                requests.get(f"{base_url}/_sim/health", timeout=1).raise_for_status()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"simulator did not answer within 15 s: {log_path.read_text()}")
                time.sleep(0.05)

        yield base_url, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def base_url(server):
    url = server[0]
    requests.post(f"{url}/_sim/reset", timeout=5).raise_for_status()
    return url


def put_params(**extra: str) -> dict[str, str]:
    return {"key": "subprocess-key", "user_id": "42", "cm_id": "AAAA", **extra}


def test_server_startup_line(server):
    base_url, log_path = server
    log = log_path.read_text()

    assert f"phoneburner simulator listening on {base_url}/api/vendor/put_contact" in log
    assert "subprocess-key" not in log


def test_server_success_and_record(base_url):
    params = put_params(email="a+b@example.com", **{"question[0]": "Age", "answer[0]": "35"})
    response = requests.get(f"{base_url}/api/vendor/put_contact", params=params, timeout=5)

    assert response.status_code == 200
    assert SUCCESS.fullmatch(response.text)
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"

    [entry] = requests.get(f"{base_url}/_sim/received", timeout=5).json()
    assert "email=a%2Bb%40example.com" in entry["raw_query"]
    assert "question%5B0%5D=Age" in entry["raw_query"]
    assert ["email", "a+b@example.com"] in entry["params"]
    assert ["question[0]", "Age"] in entry["params"]
    assert entry["reply_body"] == response.text


def test_server_invalid_key(base_url):
    response = requests.get(f"{base_url}/api/vendor/put_contact", params={"key": "nope"}, timeout=5)

    assert response.status_code == 401
    assert response.text == "ERROR|INVALID KEY"


def test_server_hang_read_timeout(base_url):
    requests.post(f"{base_url}/_sim/faults", json={"queue": ["hang"]}, timeout=5).raise_for_status()

    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=(2, 0.3))

    # The hanging request must not block the others.
    started = time.monotonic()
    response = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
    assert time.monotonic() - started < 1
    assert SUCCESS.fullmatch(response.text)


def test_server_reset_connection_error(base_url):
    requests.post(f"{base_url}/_sim/faults", json={"queue": ["reset"]}, timeout=5).raise_for_status()

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)

    [entry] = requests.get(f"{base_url}/_sim/received", timeout=5).json()
    assert entry["fault"] == "reset"
    assert entry["reply_status"] == 0


def test_server_reset_keeps_serving(base_url):
    requests.post(f"{base_url}/_sim/faults", json={"queue": ["reset"]}, timeout=5).raise_for_status()
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError):
            session.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
        response = session.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)

    assert SUCCESS.fullmatch(response.text)


def test_server_http_fault_retry_after(base_url):
    faults = {"queue": ["http:503", "http:429:7"], "sticky": None}
    requests.post(f"{base_url}/_sim/faults", json=faults, timeout=5).raise_for_status()
    unavailable = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
    limited = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)

    assert unavailable.status_code == 503
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"


def test_server_sticky_and_reset(base_url):
    requests.post(f"{base_url}/_sim/faults", json={"sticky": "reply:FAILURE|NEW"}, timeout=5).raise_for_status()
    first = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
    second = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
    requests.post(f"{base_url}/_sim/reset", timeout=5).raise_for_status()
    after_reset = requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)

    assert first.text == "FAILURE|NEW"
    assert second.text == "FAILURE|NEW"
    assert SUCCESS.fullmatch(after_reset.text)
    assert len(requests.get(f"{base_url}/_sim/received", timeout=5).json()) == 1


def test_server_unknown_path_404(base_url):
    response = requests.get(f"{base_url}/api/vendor/other", timeout=5)

    assert response.status_code == 404


def test_server_reset_logs_nothing(server, base_url):
    requests.post(f"{base_url}/_sim/faults", json={"queue": ["reset"]}, timeout=5).raise_for_status()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/api/vendor/put_contact", params=put_params(), timeout=5)
    requests.get(f"{base_url}/_sim/health", timeout=5).raise_for_status()

    log = server[1].read_text()
    assert "Traceback" not in log
    assert "Warning" not in log


def test_server_disables_nagle(monkeypatch):
    handled = []
    monkeypatch.setattr(WSGIServer, "handle", lambda self, sock, address: handled.append(sock))
    server = _SimulatorServer(("127.0.0.1", 0), make_wsgi_app(SimulatorSettings("key", {})))

    with socket.create_server(("127.0.0.1", 0)) as listener, socket.create_connection(listener.getsockname()):
        accepted, address = listener.accept()
        with accepted:
            server.handle(accepted, address)

            assert handled == [accepted]
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
