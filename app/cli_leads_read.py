"""`leads list` and `leads show`, the commands that only read stored leads."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli import load_or_exit
from app.cli_format import (
    decode_body_start,
    escape_unprintable,
    format_lead_table,
    format_summary_cells,
    format_time,
    summarize_lead,
)
from app.cli_store import CommandFailed, open_store
from app.redaction import Redactor

# Bytes of the raw body that `leads show` prints.
RAW_BODY_LIMIT = 4096


def list_leads(args: argparse.Namespace) -> int:
    """Print the leads that match the filters, newest first, without personal data."""
    settings = load_or_exit(args.config)
    with open_store(settings) as store:
        rows = store.find(status=args.status, source=args.source, customer=args.customer,
                          since=args.since, limit=args.limit)

    if not rows:
        print("no leads match", file=sys.stderr)
        return 0
    if args.json:
        for row in rows:
            print(json.dumps(summarize_lead(row)))
    else:
        print(format_lead_table([format_summary_cells(row) for row in rows]))
    if len(rows) == args.limit:
        print(f"showing the newest {args.limit} leads; raise --limit to see more", file=sys.stderr)
    return 0


def show_lead(args: argparse.Namespace) -> int:
    """Print one lead in full: its row, the mapped lead, the raw body and every attempt."""
    settings = load_or_exit(args.config)
    with open_store(settings) as store:
        row = store.get(args.lead_id)
        if row is None:
            raise CommandFailed(
                f"lead {args.lead_id!r} not found in the store; list leads with: python -m app leads list"
            )
        attempts = store.attempts_of(args.lead_id)
        hold = store.holds().get(row["customer"] or "")

    # A raw body may carry a configured secret (Google's google_key, a token a sender put in a field).
    redactor = Redactor(settings.secret_values())
    sections = [_describe_row(row, hold), _describe_lead(row), _describe_body(row), _describe_attempts(attempts)]
    print("\n\n".join(redactor.redact_secrets(escape_unprintable(section)) for section in sections))
    return 0


def _describe_row(row: dict[str, Any], hold: dict[str, Any] | None) -> str:
    customer = row["customer"] or "-"
    if hold:
        customer += f" (on hold since {format_time(hold['held_at'])}: {hold['reason']})"
    fields = [
        ("status", row["status"]),
        ("created", format_time(row["created_at"])),
        ("updated", format_time(row["updated_at"])),
        ("next attempt", format_time(row["next_attempt_at"])),
        ("leased until", format_time(row["lease_until"])),
        ("source", row["source"]),
        ("customer", customer),
        ("leadstream", row["leadstream"]),
        ("sender id", row["sender_id"]),
        ("request id", row.get("request_id")),
        ("idempotency key", row["idempotency_key"]),
        ("attempts", row["attempts"]),
        ("last class", row["last_class"]),
        ("last outcome", row["last_outcome"]),
        ("last reason", row["last_reason"]),
        ("lead url", row["lead_url"]),
        ("ambiguous", "yes: an attempt got no reply and may have reached PhoneBurner" if row["ambiguous"] else "no"),
        ("answer", f"HTTP {row['answer_status']}" if row["answer_status"] is not None else None),
    ]
    lines = [f"lead {row['id']}"]
    lines += [f"  {name:<17}{'-' if value is None else value}" for name, value in fields]
    if row["errors"]:
        lines.append("  errors")
        for name, messages in json.loads(row["errors"]).items():
            lines += [f"    {name}: {message}" for message in messages]
    return "\n".join(lines)


def _describe_lead(row: dict[str, Any]) -> str:
    if not row["lead"]:
        return "mapped lead: none (the lead was rejected before mapping finished)"
    lead = json.loads(row["lead"])
    lines = ["mapped lead"]
    lines += [f"  {name:<17}{value}" for name, value in lead.items()
              if name not in ("extras", "sender_id") and value]
    extras = lead.get("extras") or []
    lines.append(f"  extras ({len(extras)})")
    lines += [f"    {label}: {value}" for label, value in extras]
    return "\n".join(lines)


def _describe_body(row: dict[str, Any]) -> str:
    raw = bytes(row["raw_body"])
    text = decode_body_start(raw, RAW_BODY_LIMIT)
    lines = [f"raw body ({row['content_type']}, {len(raw)} bytes, decoded as UTF-8)", text]
    if len(raw) > RAW_BODY_LIMIT:
        lines.append(f"[showing the first {RAW_BODY_LIMIT} of {len(raw)} bytes]")
    return "\n".join(lines)


def _describe_attempts(attempts: list[dict[str, Any]]) -> str:
    lines = [f"attempts ({len(attempts)})"]
    for attempt in attempts:
        duration = f"{attempt['duration_ms']:.0f} ms" if attempt["duration_ms"] is not None else "- ms"
        http_status = f"HTTP {attempt['http_status']}" if attempt["http_status"] is not None else "no HTTP reply"
        lines += [
            f"  #{attempt['number']}  {format_time(attempt['started_at'])}  {duration}  {http_status}  "
            f"{attempt['reply_class']}  {attempt['outcome'] or '-'}  {attempt['reason'] or '-'}",
            f"      excerpt  {attempt['excerpt'] or '-'}",
            f"      request  {attempt['request_url'] or '-'}",
        ]
    return "\n".join(lines)
