"""Operator commands on the store: leads list, show, replay and purge, and customers list and resume."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import services
from app.cli import main
from app.cli_leads import RAW_BODY_LIMIT, parse_when
from app.config import load_settings
from app.delivery import Deliverer
from app.idempotency import body_hash
from app.leads import Extra, Lead
from app.logs import new_id
from app.store.engine import make_engine
from app.store.repository import Claim, Store
from app.store.tables import attempts, idempotency_keys, leads
from app.worker import Worker
from tests.conftest import PB_URL, SUCCESS, TOKEN, VENDOR_KEY, auth, base_document, build_app

DAY = 86400
EMAIL = "ada.lovelace@example.com"
PHONE = "+19495550181"
RETENTION_DAYS = 30

# Personal data of every lead these tests store, none of which `leads list` may print.
PERSONAL = (EMAIL, "9495550181", "555-0181", "Ada", "Lovelace")


def toml_text(document: dict[str, Any]) -> str:
    """Render a configuration document as TOML, whose strings, numbers and lists are written as in JSON."""
    lines: list[str] = []

    def table(prefix: str, mapping: dict[str, Any]) -> None:
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{json.dumps(key)} = {json.dumps(value)}"
                     for key, value in mapping.items() if not isinstance(value, dict))
        for key, value in mapping.items():
            if isinstance(value, dict):
                table(f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key), value)

    table("", document)
    return "\n".join(lines) + "\n"


def write_config(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "relay.toml"
    path.write_text(toml_text(document))
    return str(path)


def store_document(store_url: str) -> dict[str, Any]:
    document = base_document()
    document["storage"] = {"url": store_url, "retention_days": RETENTION_DAYS}
    return document


@pytest.fixture
def store(store_url):
    store = Store(make_engine(store_url))
    yield store
    store.engine.dispose()


@pytest.fixture
def config(tmp_path, store_url) -> str:
    return write_config(tmp_path, store_document(store_url))


def new_row(
    *,
    source: str = "landing",
    customer: str | None = "acme",
    status: str = "queued",
    age: float = 0,
    raw_body: bytes | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """Build a lead row as intake stores it, created `age` seconds ago, with `columns` overriding."""
    created = time.time() - age
    lead = Lead(firstname="Ada", lastname="Lovelace", email=EMAIL, phone=PHONE, extras=[Extra("Budget", "5000")])
    raw = raw_body if raw_body is not None else json.dumps(
        {"first_name": "Ada", "last_name": "Lovelace", "email": EMAIL, "phone": "(949) 555-0181", "budget": "5000"}
    ).encode()
    row = {
        "id": new_id(),
        "source": source,
        "customer": customer,
        "leadstream": "default" if customer else None,
        "sender_id": None,
        "idempotency_key": None,
        "request_hash": body_hash(raw),
        "content_type": "application/json",
        "raw_body": raw,
        "lead": json.dumps(lead.to_dict()),
        "status": status,
        "errors": None,
        "attempts": 0,
        "next_attempt_at": created if status == "queued" else None,
        "lease_until": None,
        "claim_token": 0,
        "ambiguous": False,
        "created_at": created,
        "updated_at": created,
    }
    row.update(columns)
    return row


def add(store: Store, row: dict[str, Any], key: str | None = None, key_ttl: float = DAY) -> str:
    """Store a row as intake does, with an idempotency key that expires `key_ttl` seconds after its creation."""
    store.accept(row, key, key_ttl=key_ttl, now=row["created_at"])
    return row["id"]


def add_attempt(store: Store, lead_id: str, **attempt: Any) -> None:
    record = {
        "number": 1,
        "started_at": time.time(),
        "duration_ms": 312.4,
        "http_status": 200,
        "reply_class": "delivered",
        "outcome": "SUCCESS",
        "reason": None,
        "excerpt": SUCCESS,
        "request_url": f"{PB_URL}?key=REDACTED&user_id=123456&email=ada.lovelace%40example.com",
        **attempt,
    }
    store.record_attempt(Claim(lead_id=lead_id, token=0, was_abandoned=False), record, {"attempts": 1})


def listed_ids(capsys, config: str, *options: str) -> list[str]:
    assert main(["leads", "list", "--json", "--config", config, *options]) == 0
    return [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]


# --- leads list ---------------------------------------------------------------


def test_list_omits_personal_data(store, config, capsys):
    delivered = add(store, new_row(status="delivered", attempts=1, last_outcome="SUCCESS"))
    dead = add(store, new_row(status="dead", attempts=5, last_class="unreachable", last_reason="read_timeout"))
    rejected = add(store, new_row(status="rejected", lead=None,
                                  errors=json.dumps({"email": [f"not a valid email address: {EMAIL}"]})))

    status = main(["leads", "list", "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    assert output.splitlines()[0].split()[:3] == ["ID", "CREATED", "SOURCE"]
    for lead_id in (delivered, dead, rejected):
        assert lead_id in output
    assert "read_timeout" in output
    assert "invalid email" in output
    for value in PERSONAL:
        assert value not in output


def test_list_json_omits_personal_data(store, config, capsys):
    lead_id = add(store, new_row(status="dead", attempts=5, last_class="unreachable", last_reason="read_timeout"))
    add(store, new_row(status="rejected", lead=None, errors=json.dumps({"email": [f"not valid: {EMAIL}"]})))

    status = main(["leads", "list", "--json", "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    records = [json.loads(line) for line in output.splitlines()]
    assert len(records) == 2
    dead = next(record for record in records if record["id"] == lead_id)
    assert dead["status"] == "dead"
    assert dead["attempts"] == 5
    assert dead["last_reason"] == "read_timeout"
    assert dead["source"] == "landing"
    assert dead["customer"] == "acme"
    assert dead["created_at"].endswith("Z")
    for value in PERSONAL:
        assert value not in output


def test_list_filters(store, config, capsys):
    old = add(store, new_row(status="delivered", age=2 * DAY))
    recent_dead = add(store, new_row(status="dead", age=3600))
    partner = add(store, new_row(source="partner", customer="globex", age=60))
    day_ago = datetime.fromtimestamp(time.time() - DAY, UTC).isoformat()

    assert listed_ids(capsys, config) == [partner, recent_dead, old]
    assert listed_ids(capsys, config, "--status", "dead") == [recent_dead]
    assert listed_ids(capsys, config, "--source", "partner") == [partner]
    assert listed_ids(capsys, config, "--customer", "acme") == [recent_dead, old]
    assert listed_ids(capsys, config, "--since", "24h") == [partner, recent_dead]
    assert listed_ids(capsys, config, "--since", "30m") == [partner]
    assert listed_ids(capsys, config, "--since", day_ago) == [partner, recent_dead]
    assert listed_ids(capsys, config, "--customer", "acme", "--since", "3d", "--status", "delivered") == [old]


def test_list_limit_notes_more(store, config, capsys):
    add(store, new_row(age=60))
    newest = add(store, new_row())

    status = main(["leads", "list", "--limit", "1", "--json", "--config", config])

    captured = capsys.readouterr()
    assert status == 0
    assert [json.loads(line)["id"] for line in captured.out.splitlines()] == [newest]
    assert "raise --limit" in captured.err


def test_list_empty_store(store, config, capsys):
    assert main(["leads", "list", "--config", config]) == 0

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no leads match" in captured.err


@pytest.mark.parametrize("options", [["--since", "yesterday"], ["--since", "7x"], ["--limit", "0"],
                                     ["--status", "sent"]])
def test_list_rejects_invalid_options(tmp_path, capsys, options):
    config = write_config(tmp_path, store_document(f"sqlite:///{tmp_path / 'relay.db'}"))

    with pytest.raises(SystemExit) as exit_info:
        main(["leads", "list", "--config", config, *options])

    assert exit_info.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_parse_when_ages_and_iso_times():
    now = 1_700_000_000.0

    assert parse_when("30m", now=now) == now - 1800
    assert parse_when("24h", now=now) == now - DAY
    assert parse_when("7d", now=now) == now - 7 * DAY
    assert parse_when("1.5h", now=now) == now - 5400
    assert parse_when("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    assert parse_when("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
    assert parse_when("2024-05-01T12:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()


# --- leads show ---------------------------------------------------------------


def test_show_prints_row_lead_body_attempts(store, config, capsys):
    lead_id = add(store, new_row(sender_id="typeform-event-77", idempotency_key="order-4411"))
    add_attempt(store, lead_id, number=1, http_status=503, reply_class="unavailable", outcome=None,
                reason="http_503", excerpt="Service Unavailable")
    add_attempt(store, lead_id, number=2)

    status = main(["leads", "show", lead_id, "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    assert f"lead {lead_id}" in output
    assert "typeform-event-77" in output
    assert "order-4411" in output
    assert EMAIL in output
    assert PHONE in output
    assert "Budget: 5000" in output
    assert '"phone": "(949) 555-0181"' in output
    assert "attempts (2)" in output
    assert "HTTP 503  unavailable  -  http_503" in output
    assert "312 ms  HTTP 200  delivered  SUCCESS" in output
    assert "key=REDACTED" in output
    assert "Service Unavailable" in output


def test_show_rejected_lead_lists_errors(store, config, capsys):
    lead_id = add(store, new_row(status="rejected", lead=None,
                                 errors=json.dumps({"email": ["not a valid email address: ada@"]})))

    assert main(["leads", "show", lead_id, "--config", config]) == 0

    output = capsys.readouterr().out
    assert "email: not a valid email address: ada@" in output
    assert "mapped lead: none" in output
    assert "attempts (0)" in output


def test_show_caps_body_and_escapes_controls(store, config, capsys):
    raw = b'{"note": "\x1b[2J\xff' + "é".encode() * RAW_BODY_LIMIT + b'"}'
    lead_id = add(store, new_row(raw_body=raw))

    assert main(["leads", "show", lead_id, "--config", config]) == 0

    output = capsys.readouterr().out
    assert "\x1b" not in output
    assert "\\u001b[2J" in output
    assert "\ufffd" in output
    assert f"[showing the first {RAW_BODY_LIMIT} of {len(raw)} bytes]" in output


def test_show_redacts_configured_secrets(store, config, capsys):
    # A sender may put a token in the body; Google's lead forms always carry their key there.
    raw = json.dumps({"email": EMAIL, "token": TOKEN, "google_key": VENDOR_KEY}).encode()
    lead_id = add(store, new_row(raw_body=raw))
    add_attempt(store, lead_id, excerpt=f"echo key={VENDOR_KEY}")

    assert main(["leads", "show", lead_id, "--config", config]) == 0

    output = capsys.readouterr().out
    assert TOKEN not in output
    assert VENDOR_KEY not in output
    assert '"token": "REDACTED"' in output
    assert "echo key=REDACTED" in output
    assert EMAIL in output


def test_show_unknown_lead_exits_1(store, config, capsys):
    status = main(["leads", "show", "0" * 32, "--config", config])

    captured = capsys.readouterr()
    assert status == 1
    assert "not found" in captured.err
    assert captured.out == ""


def test_show_customer_hold(store, config, capsys):
    lead_id = add(store, new_row(status="failed", last_class="config_fault", last_reason="UNKNOWN USER"))
    store.hold("acme", "UNKNOWN USER", now=time.time())

    assert main(["leads", "show", lead_id, "--config", config]) == 0

    assert "acme (on hold since" in capsys.readouterr().out


# --- leads replay ---------------------------------------------------------------


def test_replay_requeues_dead_lead(store, config, capsys):
    lead_id = add(store, new_row(status="dead", attempts=25, last_class="unreachable", last_reason="read_timeout"))

    status = main(["leads", "replay", lead_id, "--config", config])

    output = capsys.readouterr().out
    row = store.get(lead_id)
    assert status == 0
    assert f"{lead_id}: requeued (was dead after 25 attempts: read_timeout)" in output
    assert "requeued 1 lead;" in output
    assert row["status"] == "queued"
    assert row["attempts"] == 0
    assert row["next_attempt_at"] <= time.time()


@pytest.mark.parametrize(
    ("status", "columns", "message"),
    [
        ("delivered", {"last_outcome": "SUCCESS"}, "already delivered; nothing sent"),
        ("duplicate", {"last_reason": "DUPLICATE EMAIL"},
         "PhoneBurner already has a contact with this email (DUPLICATE EMAIL); nothing sent"),
        ("rejected", {"last_reason": "INVALID EMAIL"}, "rejected (INVALID EMAIL), and would be rejected again"),
        ("queued", {}, "already queued; the worker sends it when due"),
    ],
)
def test_replay_leaves_other_statuses(store, config, capsys, status, columns, message):
    lead_id = add(store, new_row(status=status, attempts=1, **columns))
    before = store.get(lead_id)

    exit_status = main(["leads", "replay", lead_id, "--config", config])

    output = capsys.readouterr().out
    assert exit_status == 0
    assert f"{lead_id}: {message}" in output
    assert "requeued" not in output
    assert store.get(lead_id) == before


def test_replay_skips_leased_lead(store, config, capsys):
    lead_id = add(store, new_row(status="failed", last_class="unrecognized", lease_until=time.time() + 60))

    assert main(["leads", "replay", lead_id, "--config", config]) == 0

    assert "a worker is attempting it now" in capsys.readouterr().out
    assert store.get(lead_id)["status"] == "failed"


def test_replay_unknown_id_exits_1(store, config, capsys):
    dead = add(store, new_row(status="dead"))
    unknown = "f" * 32

    status = main(["leads", "replay", unknown, dead, "--config", config])

    captured = capsys.readouterr()
    assert status == 1
    assert f"{unknown}: not found" in captured.err
    assert f"{dead}: requeued" in captured.out
    assert store.get(dead)["status"] == "queued"


def test_replay_filter_needs_yes(store, config, capsys):
    dead = add(store, new_row(status="dead", age=60))
    failed = add(store, new_row(status="failed", last_class="unrecognized"))
    other_customer = add(store, new_row(status="dead", source="partner", customer="globex"))

    status = main(["leads", "replay", "--customer", "acme", "--config", config])

    output = capsys.readouterr().out
    assert status == 1
    assert dead in output
    assert failed in output
    assert other_customer not in output
    assert "2 leads would be replayed; run again with --yes" in output
    for personal in PERSONAL:
        assert personal not in output
    assert store.get(dead)["status"] == "dead"
    assert store.get(failed)["status"] == "failed"


def test_replay_filter_with_yes(store, config, capsys):
    dead = add(store, new_row(status="dead", age=60))
    failed = add(store, new_row(status="failed", last_class="unrecognized"))
    other_customer = add(store, new_row(status="dead", source="partner", customer="globex"))
    delivered = add(store, new_row(status="delivered"))

    status = main(["leads", "replay", "--customer", "acme", "--status", "dead", "--yes", "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    assert "requeued 1 lead;" in output
    assert store.get(dead)["status"] == "queued"
    assert store.get(failed)["status"] == "failed"
    assert store.get(other_customer)["status"] == "dead"
    assert store.get(delivered)["status"] == "delivered"


def test_replay_filter_matching_nothing(store, config, capsys):
    add(store, new_row(status="delivered"))

    assert main(["leads", "replay", "--since", "1h", "--config", config]) == 0

    assert "nothing to replay" in capsys.readouterr().out


def test_replay_notes_customer_on_hold(store, config, capsys):
    lead_id = add(store, new_row(status="failed", last_class="config_fault", last_reason="UNKNOWN USER"))
    store.hold("acme", "UNKNOWN USER", now=time.time())

    assert main(["leads", "replay", lead_id, "--config", config]) == 0

    output = capsys.readouterr().out
    assert f"{lead_id}: requeued" in output
    assert "customer acme is on hold (UNKNOWN USER)" in output
    assert "python -m app customers resume acme" in output


@pytest.mark.parametrize("arguments", [["0" * 32, "--status", "dead"], [], ["--yes"]])
def test_replay_needs_ids_or_filters(tmp_path, capsys, arguments):
    config = write_config(tmp_path, store_document(f"sqlite:///{tmp_path / 'relay.db'}"))

    with pytest.raises(SystemExit) as exit_info:
        main(["leads", "replay", *arguments, "--config", config])

    assert exit_info.value.code == 2
    assert "lead ids" in capsys.readouterr().err


def test_replay_through_relay_and_worker(store_url, tmp_path, pb, capsys):
    """A delivered lead is not sent again, but a dead one is, once replayed and picked up by the worker."""
    document = store_document(store_url)
    document["delivery"] = {"max_attempts": 1}
    config = write_config(tmp_path, document)
    client = build_app(document).test_client()
    pb.get(PB_URL, body=SUCCESS)
    pb.get(PB_URL, status=503)
    pb.get(PB_URL, body=SUCCESS)

    delivered = client.post("/v1/leads/landing", json={"email": "grace@example.com"}, headers=auth(TOKEN))
    dead = client.post("/v1/leads/landing", json={"email": "alan@example.com"}, headers=auth(TOKEN))
    assert delivered.status_code == 201
    assert dead.get_json()["status"] == "failed"
    delivered_id = delivered.get_json()["lead_id"]
    dead_id = dead.get_json()["lead_id"]

    replay_status = main(["leads", "replay", delivered_id, dead_id, "--config", config])
    output = capsys.readouterr().out
    assert replay_status == 0
    assert f"{delivered_id}: already delivered; nothing sent" in output
    assert f"{dead_id}: requeued (was dead after 1 attempt:" in output

    run_worker_once(config)
    assert len(pb.calls) == 3
    assert "alan%40example.com" in pb.calls[2].request.url

    assert main(["leads", "show", dead_id, "--config", config]) == 0
    output = capsys.readouterr().out
    assert "status           delivered" in output
    assert "attempts (2)" in output


def run_worker_once(config: str) -> None:
    """Run one worker batch, as `python -m app worker --once` does, and close its store connections."""
    settings = load_settings(config)
    worker_store = services.build_store(settings, connections=1)
    client = services.build_client(settings, size=1)
    worker = Worker(worker_store, Deliverer(settings, worker_store, client), lease=settings.lease_seconds,
                    concurrency=1, poll_interval=settings.delivery.poll_interval)
    try:
        worker.run_once()
    finally:
        worker_store.engine.dispose()


# --- leads purge ----------------------------------------------------------------


def test_purge_without_yes_only_counts(store, config, capsys):
    old = add(store, new_row(status="delivered", age=(RETENTION_DAYS + 10) * DAY))
    recent = add(store, new_row(status="delivered", age=10 * DAY))

    status = main(["leads", "purge", "--config", config])

    output = capsys.readouterr().out
    assert status == 1
    assert "would delete 1 lead created before" in output
    assert f"(older than {RETENTION_DAYS} days)" in output
    assert "by status: delivered 1" in output
    assert "run again with --yes" in output
    assert store.get(old) is not None
    assert store.get(recent) is not None


def test_purge_deletes_old_leads_attempts_keys(store, config, capsys):
    old = add(store, new_row(status="delivered", age=(RETENTION_DAYS + 10) * DAY), key="key:old",
              key_ttl=(RETENTION_DAYS + 20) * DAY)
    add_attempt(store, old)
    recent = add(store, new_row(status="delivered", age=DAY), key="key:recent", key_ttl=3 * DAY)
    expired = add(store, new_row(status="delivered", age=2 * DAY), key="key:expired", key_ttl=DAY)

    status = main(["leads", "purge", "--yes", "--config", config])

    output = capsys.readouterr().out
    with store.engine.connect() as connection:
        keys = set(connection.execute(select(idempotency_keys.c.key)).scalars())
        attempt_leads = set(connection.execute(select(attempts.c.lead_id)).scalars())
        lead_ids = set(connection.execute(select(leads.c.id)).scalars())
    assert status == 0
    assert "deleted 1 lead created before" in output
    assert lead_ids == {recent, expired}
    assert old not in attempt_leads
    assert keys == {"key:recent"}


def test_purge_older_than_overrides_retention(store, config, capsys):
    add(store, new_row(status="delivered", age=(RETENTION_DAYS + 10) * DAY))
    add(store, new_row(status="dead", age=10 * DAY))
    add(store, new_row(status="queued", age=DAY))

    status = main(["leads", "purge", "--older-than", "5", "--config", config])

    output = capsys.readouterr().out
    assert status == 1
    assert "would delete 2 leads" in output
    assert "(older than 5 days)" in output
    assert "by status: delivered 1, dead 1" in output


def test_purge_nothing_to_delete(store, config, capsys):
    add(store, new_row(status="delivered", age=DAY))

    assert main(["leads", "purge", "--config", config]) == 0

    assert "nothing to purge" in capsys.readouterr().out


@pytest.mark.parametrize("days", ["0", "-3", "soon", "inf"])
def test_purge_rejects_invalid_days(tmp_path, capsys, days):
    config = write_config(tmp_path, store_document(f"sqlite:///{tmp_path / 'relay.db'}"))

    with pytest.raises(SystemExit) as exit_info:
        main(["leads", "purge", "--older-than", days, "--config", config])

    assert exit_info.value.code == 2
    assert "invalid number of days" in capsys.readouterr().err


# --- customers ----------------------------------------------------------------


def test_customers_list_holds_and_counts(store, config, capsys):
    add(store, new_row(status="queued"))
    add(store, new_row(status="failed", last_class="config_fault"))
    add(store, new_row(status="failed", last_class="unrecognized"))
    add(store, new_row(status="delivered"))
    add(store, new_row(status="dead", customer="globex"))
    store.hold("acme", "UNKNOWN USER", now=time.time())

    status = main(["customers", "list", "--config", config])

    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert len(lines) == 2
    assert lines[0].startswith("acme")
    assert "queued 1, failed 2, dead 0" in lines[0]
    assert "on hold since" in lines[0]
    assert "UNKNOWN USER" in lines[0]
    assert lines[1].startswith("globex")
    assert "queued 0, failed 0, dead 1" in lines[1]
    assert lines[1].endswith("active")


def test_resume_requeues_only_config_faults(store, config, capsys):
    config_fault = add(store, new_row(status="failed", last_class="config_fault", last_reason="UNKNOWN USER"))
    unrecognized = add(store, new_row(status="failed", last_class="unrecognized"))
    dead = add(store, new_row(status="dead", last_class="config_fault"))
    other_customer = add(store, new_row(status="failed", customer="globex", last_class="config_fault"))
    store.hold("acme", "UNKNOWN USER", now=time.time())
    store.hold("globex", "CM_ID IS INVALID", now=time.time())

    status = main(["customers", "resume", "acme", "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    assert "lifted the hold on acme" in output
    assert "UNKNOWN USER" in output
    assert "requeued 1 lead of acme" in output
    assert store.get(config_fault)["status"] == "queued"
    assert store.get(unrecognized)["status"] == "failed"
    assert store.get(dead)["status"] == "dead"
    assert store.get(other_customer)["status"] == "failed"
    assert set(store.holds()) == {"globex"}


def test_resume_customer_not_on_hold(store, config, capsys):
    status = main(["customers", "resume", "globex", "--config", config])

    output = capsys.readouterr().out
    assert status == 0
    assert "globex was not on hold" in output
    assert "nothing requeued" in output


def test_resume_unknown_customer_exits_1(store, config, capsys):
    status = main(["customers", "resume", "initech", "--config", config])

    captured = capsys.readouterr()
    assert status == 1
    assert "unknown customer 'initech'" in captured.err
    assert "acme, globex" in captured.err


# --- failures of the configuration and the store ---------------------------------

COMMANDS = [
    ["leads", "list"],
    ["leads", "show", "0" * 32],
    ["leads", "replay", "0" * 32],
    ["leads", "purge"],
    ["customers", "list"],
    ["customers", "resume", "acme"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_unmigrated_store_fails_cleanly(tmp_path, capsys, command):
    config = write_config(tmp_path, store_document(f"sqlite:///{tmp_path / 'empty.db'}"))

    status = main([*command, "--config", config])

    error = capsys.readouterr().err
    assert status == 1
    assert "empty.db failed" in error
    assert "no such table" in error
    assert "python -m app migrate" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_unreachable_store_fails_cleanly(tmp_path, capsys, command):
    # Nothing listens on port 1, so the connection is refused at once.
    url = "postgresql+psycopg://relay:db-password-never-printed@127.0.0.1:1/relay"
    config = write_config(tmp_path, store_document(url))

    status = main([*command, "--config", config])

    error = capsys.readouterr().err
    assert status == 1
    assert "the store postgresql+psycopg://relay:***@127.0.0.1:1/relay failed: OperationalError" in error
    assert "db-password-never-printed" not in error


def test_invalid_store_url_fails_cleanly(tmp_path, capsys):
    config = write_config(tmp_path, store_document("not a database url"))

    with pytest.raises(SystemExit) as exit_info:
        main(["leads", "list", "--config", config])

    error = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "storage.url: not a database URL" in error


def test_missing_config_exits_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["leads", "list", "--config", str(tmp_path / "absent.toml")])

    assert exit_info.value.code == 1
    assert "file not found" in capsys.readouterr().err
