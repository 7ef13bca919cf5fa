"""`customers list` and `customers resume`, the commands that show and lift customers' holds."""

from __future__ import annotations

import argparse
import time

from app.cli import load_or_exit
from app.cli_format import escape_unprintable, format_count, format_time
from app.cli_store import CommandFailed, open_store
from app.operations import resume


def list_customers(args: argparse.Namespace) -> int:
    """Print each configured customer's hold state and its queued, failed and dead leads."""
    settings = load_or_exit(args.config)
    with open_store(settings) as store:
        holds = store.holds()
        counts = store.counts_by_customer()

    width = max(len(name) for name in settings.customers)
    for name in settings.customers:
        hold = holds.get(name)
        state = f"on hold since {format_time(hold['held_at'])}: {hold['reason']}" if hold else "active"
        statuses = counts.get(name, {})
        leads = ", ".join(f"{status} {statuses.get(status, 0)}" for status in ("queued", "failed", "dead"))
        print(f"{name:<{width}}  {leads}  {escape_unprintable(state)}")
    return 0


def resume_customer(args: argparse.Namespace) -> int:
    """Lift a customer's hold and requeue its leads that failed on a configuration fault."""
    settings = load_or_exit(args.config)
    if args.name not in settings.customers:
        raise CommandFailed(
            f"unknown customer {args.name!r}; the configuration names: {', '.join(settings.customers)}"
        )

    with open_store(settings) as store:
        result = resume(store, args.name, now=time.time())

    hold = result.hold
    if result.lifted and hold:
        print(f"lifted the hold on {args.name} (on hold since {format_time(hold['held_at'])}: "
              f"{escape_unprintable(hold['reason'])})")
    elif result.lifted:
        print(f"lifted the hold on {args.name}")
    else:
        print(f"{args.name} was not on hold")
    if result.requeued:
        print(f"requeued {format_count(result.requeued, 'lead')} of {args.name} that failed on a configuration "
              "fault; the worker sends them")
    else:
        print(f"no leads of {args.name} failed on a configuration fault; nothing requeued")
    return 0
