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
from app.operations import REPLAYABLE, ReplayResult, partition_replayable, replay_by_id, requeue
from app.store.repository import Store

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
    result = replay_by_id(store, lead_ids, now=time.time())
    for lead_id in result.missing:
        print(f"{lead_id}: not found in the store; nothing sent", file=sys.stderr)
    _print_skipped(result.skipped)
    _print_requeued(result)
    return 1 if result.missing else 0


def _replay_by_filter(store: Store, args: argparse.Namespace) -> int:
    now = time.time()
    rows = []
    for status in [args.status] if args.status else REPLAYABLE:
        # Select.limit(None) removes the limit, so every matching lead is replayed.
        rows += store.find(status=status, source=args.source, customer=args.customer, since=args.since, limit=None)
    rows.sort(key=lambda row: row["created_at"], reverse=True)

    replayable, skipped = partition_replayable(rows, now)
    _print_skipped(skipped)
    if not replayable:
        print("no failed or dead leads match; nothing to replay")
        return 0

    if not args.yes:
        print(format_lead_table([format_summary_cells(row) for row in replayable]))
        print(f"{format_count(len(replayable), 'lead')} would be replayed; run again with --yes to replay them")
        return 1
    _print_requeued(requeue(store, replayable, now=now))
    return 0


def _print_skipped(skipped: list[tuple[dict[str, Any], str]]) -> None:
    for row, reason in skipped:
        print(f"{row['id']}: {reason}")


def _print_requeued(result: ReplayResult) -> None:
    if not result.requeued and not result.changed:
        return
    for row in result.requeued:
        print(f"{row['id']}: requeued (was {row['status']} after {format_count(row['attempts'], 'attempt')}: "
              f"{escape_unprintable(format_last_reason(row) or 'no reason stored')})")
    for row in result.changed:
        print(f"{row['id']}: its status changed while replaying; nothing requeued, see: python -m app leads show")
    print(f"requeued {format_count(len(result.requeued), 'lead')}; the worker sends them")

    for customer, hold in result.holds.items():
        print(f"customer {customer} is on hold ({hold['reason']}); its leads wait until "
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
