"""A whole run with every output captured: no secret, token, signature or personal data in any of it.

One relay runs with gunicorn at debug level, the relay at DEBUG and a
delivery worker. It takes every shared fixture, then every failure path:
PhoneBurner down, hanging, failing with 5xx, each of its error replies,
replies it cannot parse, rejected leads and unauthorized requests. The operator's commands
then read the store; they run in this process, which has imported the app
already, because a fresh interpreter per command would take most of the
time budget. The forbidden strings come from the fixtures' expected
leads, the configuration's secrets and the wrong credentials sent.
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

import pytest
import requests

from app.cli import main
from tests.conftest import FIXTURES, load_fixture
from tests.e2e.conftest import (
    ADMIN_TOKEN,
    FORM_CONFIG,
    TOKEN,
    VENDOR_KEY,
    Simulator,
    adapter_sources,
    free_port,
    launch_relay,
    relay_environ,
    start_simulator,
    stop,
)
from tests.e2e.test_fixtures import FLAT_SENDERS, SENDERS

FORM = "application/x-www-form-urlencoded"
SIGNING_SECRET = "fixture_typeform_secret"
WRONG_TOKEN = "wrong-token-cccccccccccc"
WRONG_HEADER_TOKEN = "wrong-header-token-dddddddd"
WRONG_ADMIN_TOKEN = "wrong-admin-token-eeeeeeee"
REQUEST_ID_PHONE = "9495550177"

# Customers that PhoneBurner's configuration-fault replies put on hold, one per reply.
CONFIG_FAULTS = [
    "UNKNOWN USER",
    "CANCELLED USER",
    "CM_ID IS REQUIRED",
    "CM_ID IS INVALID",
    "IDNUMBER IS REQUIRED",
    "BAD RESPONSE TYPE",
]
FAULT_CUSTOMERS = [f"fault{index}" for index in range(len(CONFIG_FAULTS))]

EXTRA_CONFIG = "".join(
    f'\n[customers.{name}]\nuser_id = "123456"\n[customers.{name}.leadstreams]\ndefault = "YYYY"\n'
    for name in FAULT_CUSTOMERS
) + (
    f'\n[sources.faults]\ncustomers = {json.dumps(FAULT_CUSTOMERS)}\ntokens = ["${{E2E_TOKEN}}"]\n'
)

# Rejected leads carry personal data that never reaches PhoneBurner; these are forbidden too.
REJECTED_EMAIL = "ines.rejected@example.com"
REJECTED_PHONE = "+19495550188"
REJECTED_NAMES = ("Inès", "Rejectova")

FIXTURE_NAMES = sorted(SENDERS)


def phone_forms(e164: str) -> list[str]:
    """Return the ways a North American number is commonly written, raw and normalized."""
    national = e164.removeprefix("+1")
    area, exchange, line = national[:3], national[3:6], national[6:]
    return [
        e164,
        e164.removeprefix("+"),
        national,
        f"({area}) {exchange}-{line}",
        f"{area}-{exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"{area} {exchange} {line}",
        f"{exchange}-{line}",
        f"{exchange}{line}",
    ]


def personal_data() -> list[str]:
    """Return every name, email and phone form of every fixture's expected lead and the rejected leads."""
    values = [*REJECTED_NAMES, REJECTED_EMAIL, *phone_forms(REJECTED_PHONE)]
    for path in sorted(FIXTURES.glob("*.meta.json")):
        expected = json.loads(path.read_text())["expected"]
        values += [expected["firstname"], expected["lastname"], expected["email"], *phone_forms(expected["phone"])]
    return sorted({value for value in values if value})


def secrets() -> list[str]:
    """Return the configuration's secrets, the wrong credentials sent, and the fixtures' signatures."""
    values = [VENDOR_KEY, TOKEN, ADMIN_TOKEN, SIGNING_SECRET, WRONG_TOKEN, WRONG_HEADER_TOKEN, WRONG_ADMIN_TOKEN]
    for path in sorted(FIXTURES.glob("*.meta.json")):
        for name, value in json.loads(path.read_text())["headers"].items():
            if "signature" in name.lower():
                values += [value, value.partition("=")[2]]
    return sorted({value for value in values if value})


def encoded_forms(value: str) -> set[str]:
    """Return a value as written, percent-encoded, and escaped as JSON with ASCII output writes it."""
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}


def leaks(text: str, values: list[str]) -> list[str]:
    """Return the values found in `text` in any of their encodings, ignoring case."""
    lowered = text.lower()
    return sorted(value for value in values if any(form.lower() in lowered for form in encoded_forms(value)))


# A put_contact URL that still has a query parameter in it.
PUT_CONTACT_QUERY = re.compile(r"put_contact\?[^\s\"'\\]*=")


@dataclass
class Run:
    """What one whole run wrote: the processes' output, the responses to senders, and each CLI command's output."""

    log: str = ""
    responses: list[str] = field(default_factory=list)
    cli: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    lead_ids: dict[str, str] = field(default_factory=dict)


class Flow:
    """Drives the relay and the simulator through every path, recording every response."""

    def __init__(self, base: str, simulator: Simulator, run: Run) -> None:
        self.base = base
        self.simulator = simulator
        self.run = run

    def post(self, path: str, body: bytes | str, content_type: str, headers: dict | None = None,
             *, token: str | None = TOKEN) -> requests.Response:
        sent = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {}),
                **(headers or {})}
        response = requests.post(f"{self.base}{path}", data=body, headers=sent, timeout=15, allow_redirects=False)
        self.run.responses.append(f"{response.status_code} {dict(response.headers)!r} {response.text}")
        return response

    def post_fixture(self, name: str, source: str, step: str) -> requests.Response:
        """Post a fixture under a fresh Idempotency-Key, so an earlier post of it is not a repeat."""
        raw, meta = load_fixture(name)
        headers = {**meta["headers"], "Content-Type": meta["content_type"], "Idempotency-Key": f"hygiene-{step}"}
        response = self.post(f"/v1/leads/{source}", raw, meta["content_type"], headers)
        self.run.lead_ids[step] = response.json().get("lead_id", "")
        return response

    def status(self, lead_id: str) -> dict:
        response = requests.get(f"{self.base}/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                timeout=5)
        self.run.responses.append(response.text)
        return response.json()

    def wait_for(self, lead_id: str, wanted: set[str], *, min_attempts: int = 0, seconds: float = 20) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            document = self.status(lead_id)
            if document["status"] in wanted and document["attempts"] >= min_attempts:
                return document
            assert time.monotonic() < deadline, f"lead {lead_id} stayed {document['status']}"
            time.sleep(0.1)

    def cli(self, name: str, *arguments: str) -> subprocess.CompletedProcess:
        """Run `python -m app ARGUMENTS` in this process, which has imported the app already, and record its output."""
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                status = main(list(arguments))
            except SystemExit as exit:
                status = exit.code
        completed = subprocess.CompletedProcess(arguments, status, stdout.getvalue(), stderr.getvalue())
        self.run.cli[name] = completed
        return completed


# Signed fixtures carry a fixed signature, so a second post of one is a replay that gets the first answer.
SIGNED_SOURCES = {"typeform"}


def fixture_cycle():
    """Yield (fixture, source) pairs in turn, so the failure paths carry every unsigned fixture's data."""
    while True:
        for name in FIXTURE_NAMES:
            if SENDERS[name] not in SIGNED_SOURCES:
                yield name, SENDERS[name]


def deliver_fixtures(flow: Flow) -> None:
    for name in FIXTURE_NAMES:
        assert flow.post_fixture(name, SENDERS[name], f"fixture-{name}").status_code == 201
    for name, source in sorted(FLAT_SENDERS.items()):
        # The simulator replies DUPLICATE EMAIL to an email it has seen.
        flow.simulator.reset()
        assert flow.post_fixture(name, source, f"flat-{name}").status_code == 201


def phoneburner_down(flow: Flow, simulator_process: subprocess.Popen, port: int, fixtures) -> subprocess.Popen:
    """Stop the simulator (connection refused), let the worker retry, start it again; return the new process."""
    stop(simulator_process)
    name, source = next(fixtures)

    response = flow.post_fixture(name, source, "down")

    assert response.status_code == 202
    flow.wait_for(flow.run.lead_ids["down"], {"queued"}, min_attempts=2)
    process = start_simulator(port, hang_seconds=5)
    flow.wait_for(flow.run.lead_ids["down"], {"delivered"})
    return process


def transient_faults(flow: Flow, fixtures) -> None:
    """Hang, hang after processing, reset and 5xx: each queues the lead, and the worker delivers it."""
    for fault in ("hang", "hang:processed", "reset", "http:503:1", "http:500"):
        flow.simulator.reset()
        flow.simulator.fault(fault)
        name, source = next(fixtures)

        response = flow.post_fixture(name, source, fault)

        assert response.status_code == 202, fault
        flow.wait_for(flow.run.lead_ids[fault], {"delivered"})


def error_replies(flow: Flow, fixtures) -> None:
    """Each of PhoneBurner's error replies, and the real CM_ID IS INVALID for a misconfigured customer."""
    for reply, expected_status in (("FAILURE|DUPLICATE EMAIL", 409), ("FAILURE|INVALID EMAIL", 422)):
        flow.simulator.fault(f"reply:{reply}")
        name, source = next(fixtures)
        assert flow.post_fixture(name, source, reply).status_code == expected_status

    for customer, reason in zip(FAULT_CUSTOMERS, CONFIG_FAULTS, strict=True):
        flow.simulator.fault(f"reply:ERROR|{reason}")
        raw, meta = load_fixture("html_form")
        headers = {"Idempotency-Key": f"hygiene-{customer}"}
        response = flow.post(f"/v1/leads/faults?customer={customer}", raw, meta["content_type"], headers)
        assert response.status_code == 502, reason
        flow.run.lead_ids[customer] = response.json()["lead_id"]

    raw, meta = load_fixture("cf7_to_webhook")
    assert flow.post("/v1/leads/broken", raw, meta["content_type"]).status_code == 502


def unrecognized_replies(flow: Flow, fixtures) -> None:
    """Replies the relay cannot parse fail the lead; the worker's next attempt delivers it."""
    for fault in ("html", "empty", "reply:SOMETHING NEW", "http:404"):
        flow.simulator.reset()
        flow.simulator.fault(fault)
        name, source = next(fixtures)

        assert flow.post_fixture(name, source, fault).status_code == 502, fault
        flow.wait_for(flow.run.lead_ids[fault], {"delivered"})


def rejected_and_refused(flow: Flow) -> None:
    """Leads that fail validation, bodies that cannot be read, and requests without valid credentials."""
    first, last = REJECTED_NAMES
    for body in (
        {"first_name": first, "last_name": last, "email": "not-an-email", "phone": REJECTED_PHONE},
        {"first_name": first, "last_name": last},
        {"first_name": first, "email": REJECTED_EMAIL, "phone": "12"},
    ):
        assert flow.post("/v1/leads/form", json.dumps(body), "application/json").status_code == 422
    assert flow.post("/v1/leads/form", b'{"email": "' + REJECTED_EMAIL.encode(), "application/json").status_code == 400
    assert flow.post(f"/v1/leads/{REJECTED_EMAIL}", "email=x", FORM).status_code == 404

    raw, _meta = load_fixture("html_form")
    assert flow.post(f"/v1/leads/form?token={WRONG_TOKEN}", raw, FORM, token=None).status_code == 401
    assert flow.post("/v1/leads/form", raw, FORM, token=WRONG_HEADER_TOKEN).status_code == 401
    assert flow.post("/v1/leads/form", raw, FORM, {"X-Relay-Token": WRONG_HEADER_TOKEN}, token=None).status_code == 401
    typeform_raw, typeform_meta = load_fixture("typeform")
    forged = {**typeform_meta["headers"], "Typeform-Signature": "sha256=" + "A" * 43 + "="}
    assert flow.post("/v1/leads/typeform", typeform_raw, "application/json", forged, token=None).status_code == 401

    # The right token in the query string, and a sender's request id that is a phone number.
    headers = {"Idempotency-Key": "hygiene-query-token", "X-Request-Id": REQUEST_ID_PHONE}
    assert flow.post(f"/v1/leads/form?token={TOKEN}", raw, FORM, headers, token=None).status_code == 201

    lead_id = flow.run.lead_ids["fixture-html_form"]
    assert requests.get(f"{flow.base}/v1/leads/{lead_id}?token={WRONG_ADMIN_TOKEN}", timeout=5).status_code == 404
    assert requests.get(f"{flow.base}/v1/leads/{lead_id}?token={ADMIN_TOKEN}", timeout=5).status_code == 200
    send_malformed_request_lines(flow.base)


def send_malformed_request_lines(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    for data in (f"POST /v1/leads/form?token={TOKEN}\r\n\r\n",
                 f"GET /v1/leads/form?token={TOKEN} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(data.encode())
            connection.recv(65536)


def operator_commands(flow: Flow) -> None:
    """Run the CLI over the store the flow filled, one command per kind of output."""
    for name, arguments in (
        ("check-config", ["check-config"]),
        ("migrate", ["migrate"]),
        ("preview", ["preview", "form", str(FIXTURES / "html_form.form")]),
        ("leads list", ["leads", "list", "--limit", "200"]),
        ("leads list --json", ["leads", "list", "--json", "--limit", "200"]),
        ("customers list", ["customers", "list"]),
    ):
        completed = flow.cli(name, *arguments)
        assert completed.returncode == 0, completed.stderr

    flow.simulator.reset()
    resumed = flow.cli("customers resume", "customers", "resume", FAULT_CUSTOMERS[0])
    assert resumed.returncode == 0, resumed.stderr
    flow.wait_for(flow.run.lead_ids[FAULT_CUSTOMERS[0]], {"delivered"})

    for step in ("fixture-typeform", "down", "hang", "http:503:1", "html", FAULT_CUSTOMERS[1]):
        shown = flow.cli(f"leads show {step}", "leads", "show", flow.run.lead_ids[step])
        assert shown.returncode == 0, shown.stderr


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hygiene")
    key_file = directory / "vendor_key"
    key_file.write_text(VENDOR_KEY + "\n")
    sim_port = free_port()
    config_text = FORM_CONFIG.format(sim_port=sim_port, store_path=directory / "relay.db") + adapter_sources()
    config_text = config_text.replace('vendor_key = "${E2E_VENDOR_KEY}"', f'vendor_key = "${{file:{key_file}}}"')
    config_text = config_text.replace('[logging]\nformat = "json"', '[logging]\nformat = "json"\nlevel = "DEBUG"')
    config = directory / "relay.toml"
    config.write_text(config_text + EXTRA_CONFIG)

    simulator_process = start_simulator(sim_port, hang_seconds=5)
    # Gunicorn at debug level prints its settings, the --env values among them.
    processes, relay = launch_relay(config, directory / "relay.log", web_workers=1, with_worker=True,
                                    gunicorn_args=f"--log-level debug -e E2E_TOKEN={TOKEN}")
    run = Run()
    flow = Flow(relay.base, Simulator(sim_port), run)
    fixtures = fixture_cycle()
    try:
        deliver_fixtures(flow)
        flow.simulator.reset()
        simulator_process = phoneburner_down(flow, simulator_process, sim_port, fixtures)
        transient_faults(flow, fixtures)
        error_replies(flow, fixtures)
        unrecognized_replies(flow, fixtures)
        rejected_and_refused(flow)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in relay_environ(config).items():
                patch.setenv(name, value)
            operator_commands(flow)
    finally:
        for process in processes:
            stop(process)
        stop(simulator_process)

    run.log = relay.logs()
    return run


def test_run_logged_every_path(whole_run):
    log = whole_run.log

    for event in ("worker.started", "lead.relayed", "lead.attempted", "phoneburner.put_contact", "customer.held",
                  "request.refused", "gunicorn.access", "Current configuration"):
        assert event in log, event
    for reason in ("connection_failed", "read_timeout", "http_503", "DUPLICATE EMAIL", "INVALID EMAIL",
                   "UNKNOWN USER", "unrecognized_reply", "http_404"):
        assert reason in log, reason
    # The masking ran on what needed it, so the checks below are not vacuous.
    assert "E2E_TOKEN=REDACTED" in log
    assert f'"request_id": "***{REQUEST_ID_PHONE[-2:]}"' in log


def test_logs_free_of_secrets(whole_run):
    assert leaks(whole_run.log, secrets()) == []


def test_logs_free_of_personal_data(whole_run):
    assert leaks(whole_run.log, personal_data()) == []


def test_logs_free_of_put_contact_query(whole_run):
    assert PUT_CONTACT_QUERY.search(whole_run.log) is None


def test_responses_free_of_secrets(whole_run):
    # Responses may echo a sender's own field values in error messages, but never a credential.
    responses = "\n".join(whole_run.responses)

    assert leaks(responses, secrets()) == []
    assert PUT_CONTACT_QUERY.search(responses) is None


def test_cli_stderr_free_of_secrets_and_personal_data(whole_run):
    for name, completed in whole_run.cli.items():
        assert leaks(completed.stderr, secrets() + personal_data()) == [], name


@pytest.mark.parametrize("name", ["check-config", "migrate", "leads list", "leads list --json", "customers list",
                                  "customers resume"])
def test_cli_summaries_free_of_secrets_and_personal_data(whole_run, name):
    output = whole_run.cli[name].stdout

    assert leaks(output, secrets() + personal_data()) == []


def test_cli_lead_details_free_of_secrets(whole_run):
    shown = {name: completed.stdout for name, completed in whole_run.cli.items() if name.startswith("leads show")}
    shown["preview"] = whole_run.cli["preview"].stdout

    for name, output in shown.items():
        assert leaks(output, secrets()) == [], name
        assert re.search(r"\bkey=(?!REDACTED\b)", output) is None, name
    # Stored attempts keep the request with the key replaced.
    assert "key=REDACTED" in shown["leads show fixture-typeform"]
    assert "connection_failed" in shown["leads show down"]
