"""`leads replay` and `leads purge`, the commands that requeue or delete stored leads."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from app.cli import load_or_exit
from app.cli_format import (
    escape_unprintable,
    format_count,
    format_last_reason,
    format_lead_table,
    format_summary_cells,
    format_time,
)
from app.cli_store import STATUSES, open_store
from app.store.repository import Store

# Statuses that `leads replay` requeues. Store.requeue changes no lead with another status.
REPLAYABLE = ("failed", "dead")


# --- leads replay -------------------------------------------------------------


def replay_leads(args: argparse.Namespace) -> int:
    """Requeue failed or dead leads named by id, or selected by filters when --yes confirms."""
    filtered = args.status or args.source or args.customer or args.since is not None
    if args.lead_ids and filtered:
        args.parser.error("give lead ids or filters (--status, --source, --customer, --since), not both")
    if not args.lead_ids and not filtered:
        args.parser.error("name the leads to replay: lead ids, or filters such as --status dead")

    settings = load_or_exit(args.config)
    with open_store(settings) as store:
        if args.lead_ids:
            return _replay_by_id(store, args.lead_ids)
        return _replay_by_filter(store, args)


def _replay_by_id(store: Store, lead_ids: list[str]) -> int:
    now = time.time()
    missing = []
    replayable = []
    for lead_id in dict.fromkeys(lead_ids):
        row = store.get(lead_id)
        if row is None:
            missing.append(lead_id)
            print(f"{lead_id}: not found in the store; nothing sent", file=sys.stderr)
            continue
        reason = _why_not_replayable(row, now)
        if reason:
            print(f"{lead_id}: {reason}")
        else:
            replayable.append(row)

    _requeue(store, replayable, now)
    return 1 if missing else 0


def _replay_by_filter(store: Store, args: argparse.Namespace) -> int:
    now = time.time()
    rows = []
    for status in [args.status] if args.status else REPLAYABLE:
        # Select.limit(None) removes the limit, so every matching lead is replayed.
        rows += store.find(status=status, source=args.source, customer=args.customer, since=args.since, limit=None)
    rows.sort(key=lambda row: row["created_at"], reverse=True)

    replayable = []
    for row in rows:
        reason = _why_not_replayable(row, now)
        if reason:
            print(f"{row['id']}: {reason}")
        else:
            replayable.append(row)
    if not replayable:
        print("no failed or dead leads match; nothing to replay")
        return 0

    if not args.yes:
        print(format_lead_table([format_summary_cells(row) for row in replayable]))
        print(f"{format_count(len(replayable), 'lead')} would be replayed; run again with --yes to replay them")
        return 1
    _requeue(store, replayable, now)
    return 0


def _why_not_replayable(row: dict[str, Any], now: float) -> str | None:
    """Return why a lead is left as it is, or None when it can be requeued."""
    status = row["status"]
    if status == "delivered":
        return "already delivered; nothing sent"
    if status == "duplicate":
        return "PhoneBurner already has a contact with this email (DUPLICATE EMAIL); nothing sent"
    if status == "rejected":
        return f"rejected ({format_last_reason(row) or 'no reason stored'}), and would be rejected again; nothing sent"
    if status == "queued":
        return f"already queued; the worker sends it when due ({format_time(row['next_attempt_at'])}); nothing changed"
    if row["lease_until"] is not None and row["lease_until"] > now:
        return f"a worker is attempting it now (leased until {format_time(row['lease_until'])}); nothing changed"
    return None


def _requeue(store: Store, rows: list[dict[str, Any]], now: float) -> None:
    if not rows:
        return
    requeued = set(store.requeue([row["id"] for row in rows], now=now))
    for row in rows:
        if row["id"] in requeued:
            print(f"{row['id']}: requeued (was {row['status']} after {format_count(row['attempts'], 'attempt')}: "
                  f"{escape_unprintable(format_last_reason(row) or 'no reason stored')})")
        else:
            print(f"{row['id']}: its status changed while replaying; nothing requeued, see: python -m app leads show")
    print(f"requeued {format_count(len(requeued), 'lead')}; the worker sends them")

    holds = store.holds()
    for customer in sorted({row["customer"] for row in rows if row["id"] in requeued} & holds.keys()):
        print(f"customer {customer} is on hold ({holds[customer]['reason']}); its leads wait until "
              f"the configuration is fixed and: python -m app customers resume {customer}")


# --- leads purge --------------------------------------------------------------


def purge_leads(args: argparse.Namespace) -> int:
    """Delete leads older than the retention with their attempts and keys, or only count them without --yes."""
    settings = load_or_exit(args.config)
    days = args.older_than if args.older_than is not None else settings.storage.retention_days
    now = time.time()
    before = now - days * 86400
    selection = f"created before {format_time(before)} (older than {days:g} days)"

    with open_store(settings) as store:
        if args.yes:
            deleted = store.purge(before=before)
            print(f"deleted {format_count(deleted, 'lead')} {selection}, with their attempts and idempotency keys, "
                  "and the expired idempotency keys")
            return 0

        counts = store.counts_created_before(before)
        expired = store.count_expired_keys(now=now)

    total = sum(counts.values())
    if total == 0 and expired == 0:
        print(f"no leads were {selection} and no idempotency key expired; nothing to purge")
        return 0
    by_status = ", ".join(f"{status} {counts[status]}" for status in STATUSES if counts.get(status))
    print(f"would delete {format_count(total, 'lead')} {selection}, with their attempts and idempotency keys")
    if by_status:
        print(f"  by status: {by_status}")
    print(f"would delete {format_count(expired, 'expired idempotency key')}")
    print("run again with --yes to delete them")
    return 1
