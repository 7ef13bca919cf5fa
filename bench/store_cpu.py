"""Measure the store's CPU time per lead in one process, without HTTP, the simulator or other servers.

Run it as `bench/store-cpu`. Each lead runs what intake and an inline
delivery run: `Store.accept` with an idempotency key, then
`Store.record_attempt` with a delivered reply, so two write transactions.
SQLite runs on a file in /dev/shm when that folder exists, so that the
disk's sync time is left out; PostgreSQL runs on a fresh database on the
local server. The figure is the process's user plus system CPU time per
lead, which leaves out the PostgreSQL server's own, and the elapsed time
per lead, which includes the round trips to it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from app.store.engine import make_engine, migrate
from app.store.repository import Claim, Store
from bench import stores

WARMUP_LEADS = 300


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="bench/store-cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=3000, help="leads per measured round (default: 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per store (default: 3)")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-admin-url", default=stores.DEFAULT_POSTGRES_ADMIN_URL,
                        help="libpq URL of an existing database; a fresh one is created beside it and dropped")
    return parser.parse_args(argv)


def lead_row(now: float) -> dict:
    """Return a lead row as intake stores it before an inline attempt."""
    lead_id = uuid.uuid4().hex
    email = f"lead-{lead_id[:12]}@example.com"
    lead = {"firstname": "Jeff", "lastname": "Sample", "email": email, "phone": "+19495550123"}
    return {
        "id": lead_id, "request_id": uuid.uuid4().hex, "source": "landing", "customer": "acme",
        "leadstream": "default", "sender_id": None, "idempotency_key": None, "request_hash": "0" * 64,
        "content_type": "application/json", "raw_body": json.dumps(lead).encode(), "lead": json.dumps(lead),
        "email_normalized": email, "phone_normalized": lead["phone"], "status": "queued", "errors": None,
        "attempts": 0, "next_attempt_at": now, "lease_until": now + 60, "claim_token": 1, "ambiguous": False,
        "created_at": now, "updated_at": now,
    }


def deliver_one(store: Store) -> None:
    """Accept one lead and record its delivered attempt, as an inline delivery does."""
    now = time.time()
    row = lead_row(now)
    store.accept(row, f"landing:{row['id']}", key_ttl=86400, now=now)
    changes = {
        "attempts": 1, "ambiguous": False, "last_class": "delivered", "last_outcome": "success",
        "last_reason": None, "updated_at": now, "next_attempt_at": None, "status": "delivered",
        "lead_url": "https://www.phoneburner.com/contact/1", "answer_status": 201, "answer_body": "{}",
    }
    attempt = {
        "number": 1, "started_at": now, "duration_ms": 1.0, "http_status": 200, "reply_class": "delivered",
        "outcome": "success", "reason": None, "excerpt": None, "request_url": "https://example.com/put_contact?key=REDACTED",
    }
    store.record_attempt(Claim(lead_id=row["id"], token=1, was_abandoned=False), attempt, changes)


def measure(url: str, options: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Return the CPU and elapsed milliseconds per lead of each measured round on the store at `url`."""
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    for _ in range(WARMUP_LEADS):
        deliver_one(store)

    cpu, elapsed = [], []
    for _ in range(options.rounds):
        started_cpu, started = time.process_time(), time.perf_counter()
        for _ in range(options.leads):
            deliver_one(store)
        cpu.append((time.process_time() - started_cpu) * 1000 / options.leads)
        elapsed.append((time.perf_counter() - started) * 1000 / options.leads)
    engine.dispose()
    return cpu, elapsed


def report(name: str, figures: tuple[list[float], list[float]]) -> str:
    """Return one store's line: its rounds' CPU and elapsed milliseconds per lead."""
    cpu, elapsed = (" / ".join(f"{figure:.3f}" for figure in each) for each in figures)
    return f"{name}: {cpu} ms of CPU per lead, {elapsed} ms elapsed"


def main(argv: list[str] | None = None) -> int:
    """Measure each chosen store and print its CPU and elapsed time per lead."""
    options = parse_args(argv)
    if options.store in ("sqlite", "both"):
        # A private folder is made inside it with mkdtemp, so the shared folder is safe to use.
        memory = Path("/dev/shm")  # noqa: S108
        with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else None) as folder:
            figures = measure(stores.sqlite_url(Path(folder), "store-cpu"), options)
        print(report("SQLite", figures))

    if options.store in ("postgres", "both"):
        unavailable = stores.postgres_available(options.postgres_admin_url)
        if unavailable:
            print(f"PostgreSQL: skipped, {unavailable}")
            return 0
        database = stores.PostgresDatabase(options.postgres_admin_url)
        database.create()
        try:
            figures = measure(database.url, options)
        finally:
            database.drop()
        print(report("PostgreSQL", figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
