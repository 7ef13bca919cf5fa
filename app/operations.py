"""Operator actions on stored leads and customers, shared by the command line and the console.

Replaying queues failed or dead leads for the worker again. Resuming lifts a
customer's hold and requeues its leads that failed on a configuration fault.
Both return what happened to each lead and leave the wording to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from app.cli_format import format_last_reason, format_time
from app.store.repository import Store

# Statuses that a replay requeues. Store.requeue changes no lead with another status.
REPLAYABLE = ("failed", "dead")


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of a replay for each lead it was given."""

    # Ids that name no stored lead.
    missing: list[str] = field(default_factory=list)
    # Leads left as they are, each with the reason.
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    # Leads queued again, as they were before the replay.
    requeued: list[dict[str, Any]] = field(default_factory=list)
    # Leads that were replayable when read but changed status before the requeue.
    changed: list[dict[str, Any]] = field(default_factory=list)
    # Customer name -> hold row, for requeued leads whose customer is on hold. Those leads wait for a resume.
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeResult:
    """The outcome of resuming a customer: the hold it lifted, if any, and how many leads it requeued."""

    hold: dict[str, Any] | None
    lifted: bool
    requeued: int


def why_not_replayable(row: dict[str, Any], now: float) -> str | None:
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


def partition_replayable(
    rows: list[dict[str, Any]], now: float
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Split leads into those a replay requeues and those it leaves, with the reason for each."""
    replayable = []
    skipped = []
    for row in rows:
        reason = why_not_replayable(row, now)
        if reason:
            skipped.append((row, reason))
        else:
            replayable.append(row)
    return replayable, skipped


def requeue(store: Store, rows: list[dict[str, Any]], *, now: float) -> ReplayResult:
    """Queue replayable leads for the worker again, and report which customers still hold them back."""
    if not rows:
        return ReplayResult()

    requeued_ids = set(store.requeue([row["id"] for row in rows], now=now))
    requeued = [row for row in rows if row["id"] in requeued_ids]
    changed = [row for row in rows if row["id"] not in requeued_ids]

    holds = store.holds()
    held_customers = {row["customer"] for row in requeued} & holds.keys()
    return ReplayResult(
        requeued=requeued, changed=changed, holds={name: holds[name] for name in sorted(held_customers)}
    )


def replay_by_id(store: Store, lead_ids: list[str], *, now: float) -> ReplayResult:
    """Requeue the named leads that are failed or dead, and report the missing ones and why others were left."""
    rows = []
    missing = []
    for lead_id in dict.fromkeys(lead_ids):
        row = store.get(lead_id)
        if row is None:
            missing.append(lead_id)
        else:
            rows.append(row)

    replayable, skipped = partition_replayable(rows, now)
    return replace(requeue(store, replayable, now=now), missing=missing, skipped=skipped)


def resume(store: Store, customer: str, *, now: float) -> ResumeResult:
    """Lift a customer's hold and requeue its leads that failed on a configuration fault."""
    hold = store.holds().get(customer)
    lifted, requeued = store.resume(customer, now=now)
    return ResumeResult(hold=hold, lifted=lifted, requeued=requeued)
