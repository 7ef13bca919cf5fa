"""Operator commands for stored leads and customers: `leads ...` and `customers ...`.

Times are printed in UTC and read as UTC unless they carry an offset. `leads list`
prints no names, emails or phone numbers, so its output can go into tickets.
`leads show` prints the whole lead, for the operator's own terminal.
"""

from __future__ import annotations

import argparse
import codecs
import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app import services
from app.cli import load_or_exit
from app.config.model import Settings
from app.store.repository import Store, StoreUnavailable

# Every status a stored lead can have, as listed at the `status` column in app/store/tables.py.
STATUSES = ("queued", "delivered", "duplicate", "rejected", "failed", "dead")
# Statuses that `leads replay` requeues. Store.requeue changes no lead with another status.
REPLAYABLE = ("failed", "dead")
# Bytes of the raw body that `leads show` prints.
RAW_BODY_LIMIT = 4096
DEFAULT_LIST_LIMIT = 100

_CONFIG_HELP = "the TOML file (default: $RELAY_CONFIG or config/relay.toml)"
_WHEN_HELP = (
    "only leads created at or after WHEN: an ISO date or time (UTC unless it has an offset) or an age (30m, 24h, 7d)"
)

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# C0 and C1 control characters except tab and newline, and Unicode bidirectional overrides. They are
# escaped because sender data containing them could move the cursor or reorder what a terminal shows.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class CommandFailed(Exception):
    """A failed command, with a message that gives the cause and the next step."""


# --- arguments ----------------------------------------------------------------


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the `leads` and `customers` commands on the CLI's subparsers."""
    leads = commands.add_parser("leads", help="list, show, replay and purge stored leads")
    actions = leads.add_subparsers(dest="leads_command", required=True, metavar="ACTION")
    _add_list(actions)
    _add_show(actions)
    _add_replay(actions)
    _add_purge(actions)

    customers = commands.add_parser("customers", help="show customers' holds and lift them")
    actions = customers.add_subparsers(dest="customers_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="print each configured customer's hold and its queued, failed and dead leads"
    )
    listing.add_argument("--config", help=_CONFIG_HELP)
    listing.set_defaults(handler=list_customers)

    resume = actions.add_parser(
        "resume",
        help="lift a customer's hold and requeue its leads that failed on a configuration fault; "
        "run it after fixing the customer in the configuration and restarting the relay and the worker",
    )
    resume.add_argument("name", help="the customer's name, as in [customers.NAME]")
    resume.add_argument("--config", help=_CONFIG_HELP)
    resume.set_defaults(handler=resume_customer)


def _add_list(actions: argparse._SubParsersAction) -> None:
    listing = actions.add_parser("list", help="print one line per lead, newest first, without personal data")
    listing.add_argument("--status", choices=STATUSES, help="only leads with this status")
    _add_filters(listing)
    listing.add_argument("--limit", type=_positive_int, default=DEFAULT_LIST_LIMIT,
                         help=f"the maximum number of leads printed (default {DEFAULT_LIST_LIMIT})")
    listing.add_argument("--json", action="store_true", help="print one JSON object per line")
    listing.add_argument("--config", help=_CONFIG_HELP)
    listing.set_defaults(handler=list_leads)


def _add_show(actions: argparse._SubParsersAction) -> None:
    show = actions.add_parser(
        "show", help="print one lead with its personal data, raw body and every attempt, for this terminal only"
    )
    show.add_argument("lead_id", metavar="LEAD_ID", help="the lead's id, as in the response to the sender and the logs")
    show.add_argument("--config", help=_CONFIG_HELP)
    show.set_defaults(handler=show_lead)


def _add_replay(actions: argparse._SubParsersAction) -> None:
    replay = actions.add_parser(
        "replay",
        help="queue failed or dead leads for delivery again; the worker sends them",
        description="Queue failed or dead leads for delivery again, by id or by filter; the worker sends them. "
        "Leads with any other status are left as they are, with the reason printed.",
    )
    replay.add_argument("lead_ids", nargs="*", metavar="LEAD_ID", help="the leads to replay")
    replay.add_argument("--status", choices=REPLAYABLE, help="only leads with this status (default: failed and dead)")
    _add_filters(replay)
    replay.add_argument("--yes", action="store_true",
                        help="replay the leads a filter selects; without it they are only printed")
    replay.add_argument("--config", help=_CONFIG_HELP)
    replay.set_defaults(handler=replay_leads, parser=replay)


def _add_purge(actions: argparse._SubParsersAction) -> None:
    purge = actions.add_parser(
        "purge",
        help="delete old leads with their attempts and idempotency keys, and expired idempotency keys",
    )
    purge.add_argument("--older-than", type=_positive_float, metavar="DAYS",
                       help="delete leads created more than DAYS days ago (default: [storage].retention_days)")
    purge.add_argument("--yes", action="store_true", help="delete them; without it the counts are only printed")
    purge.add_argument("--config", help=_CONFIG_HELP)
    purge.set_defaults(handler=purge_leads)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", metavar="NAME", help="only leads posted to this source")
    parser.add_argument("--customer", metavar="NAME", help="only leads for this customer")
    parser.add_argument("--since", type=parse_when, metavar="WHEN", help=_WHEN_HELP)


def parse_when(text: str, *, now: float | None = None) -> float:
    """Parse an age (`30m`, `24h`, `7d`) or an ISO date or time into Unix seconds."""
    text = text.strip()
    age = _AGE.fullmatch(text)
    if age:
        return (time.time() if now is None else now) - float(age[1]) * _UNIT_SECONDS[age[2]]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use an ISO date or time such as 2024-05-01 or 2024-05-01T12:00+02:00, "
            "or an age in s, m, h, d or w such as 30m, 24h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: use a whole number of 1 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: use a number greater than 0")
    return value


# --- running ------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run a `leads` or `customers` command, printing a failure to stderr and returning 1."""
    try:
        return args.handler(args)
    except CommandFailed as error:
        print(error, file=sys.stderr)
        return 1


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """Open the store named by [storage].url, turning its failures into CommandFailed."""
    location = _display_url(settings.storage.url)
    try:
        store = services.build_store(settings, connections=1)
    except SQLAlchemyError as error:
        raise CommandFailed(f"cannot open the store {location}: {error}; fix [storage].url") from None

    try:
        yield store
    except StoreUnavailable as error:
        raise CommandFailed(
            f"the store {location} failed: {_cause(error)}. Check [storage].url and that the database runs; "
            "if its tables are missing, run: python -m app migrate"
        ) from None
    finally:
        store.engine.dispose()


def _display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "named by [storage].url"


def _cause(error: StoreUnavailable) -> str:
    # The driver's own message ("no such table: leads", "connection refused") is what an operator acts on.
    original = getattr(error.__cause__, "orig", None)
    if original is None or not str(original).strip():
        return str(error)
    return f"{type(original).__name__}: {str(original).strip().splitlines()[0]}"


# --- leads list and show ------------------------------------------------------


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
            print(json.dumps(_summary(row)))
    else:
        print(_table([_summary_cells(row) for row in rows]))
    if len(rows) == args.limit:
        print(f"showing the newest {args.limit} leads; raise --limit to see more", file=sys.stderr)
    return 0


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    # Only ids, names from the configuration, counts and PhoneBurner's reason codes: no personal data.
    return {
        "id": row["id"],
        "created_at": _iso(row["created_at"]),
        "source": row["source"],
        "customer": row["customer"],
        "leadstream": row["leadstream"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_class": row["last_class"],
        "last_reason": _last_reason(row),
    }


def _summary_cells(row: dict[str, Any]) -> list[str]:
    summary = _summary(row)
    return [
        summary["id"],
        summary["created_at"],
        summary["source"],
        summary["customer"] or "-",
        summary["status"],
        str(summary["attempts"]),
        _printable(summary["last_reason"] or "-"),
    ]


def _last_reason(row: dict[str, Any]) -> str | None:
    if row["last_reason"]:
        return row["last_reason"]
    if row["errors"]:
        # The field names only: the messages quote the rejected values.
        return "invalid " + ", ".join(json.loads(row["errors"]))
    return None


def _table(rows: list[list[str]]) -> str:
    header = ["ID", "CREATED", "SOURCE", "CUSTOMER", "STATUS", "ATTEMPTS", "LAST REASON"]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


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

    print(_printable(_describe_row(row, hold)))
    print()
    print(_printable(_describe_lead(row)))
    print()
    print(_printable(_describe_body(row)))
    print()
    print(_printable(_describe_attempts(attempts)))
    return 0


def _describe_row(row: dict[str, Any], hold: dict[str, Any] | None) -> str:
    customer = row["customer"] or "-"
    if hold:
        customer += f" (on hold since {_iso(hold['held_at'])}: {hold['reason']})"
    fields = [
        ("status", row["status"]),
        ("created", _iso(row["created_at"])),
        ("updated", _iso(row["updated_at"])),
        ("next attempt", _iso(row["next_attempt_at"])),
        ("leased until", _iso(row["lease_until"])),
        ("source", row["source"]),
        ("customer", customer),
        ("leadstream", row["leadstream"]),
        ("sender id", row["sender_id"]),
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
    # An incremental decoder holds back a multibyte character cut at the limit instead of garbling it.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(raw[:RAW_BODY_LIMIT], final=len(raw) <= RAW_BODY_LIMIT)
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
            f"  #{attempt['number']}  {_iso(attempt['started_at'])}  {duration}  {http_status}  "
            f"{attempt['reply_class']}  {attempt['outcome'] or '-'}  {attempt['reason'] or '-'}",
            f"      excerpt  {attempt['excerpt'] or '-'}",
            f"      request  {attempt['request_url'] or '-'}",
        ]
    return "\n".join(lines)


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
        print(_table([_summary_cells(row) for row in replayable]))
        print(f"{_plural(len(replayable), 'lead')} would be replayed; run again with --yes to replay them")
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
        return f"rejected ({_last_reason(row) or 'no reason stored'}), and would be rejected again; nothing sent"
    if status == "queued":
        return f"already queued; the worker sends it when due ({_iso(row['next_attempt_at'])}); nothing changed"
    if row["lease_until"] is not None and row["lease_until"] > now:
        return f"a worker is attempting it now (leased until {_iso(row['lease_until'])}); nothing changed"
    return None


def _requeue(store: Store, rows: list[dict[str, Any]], now: float) -> None:
    if not rows:
        return
    requeued = set(store.requeue([row["id"] for row in rows], now=now))
    for row in rows:
        if row["id"] in requeued:
            print(f"{row['id']}: requeued (was {row['status']} after {_plural(row['attempts'], 'attempt')}: "
                  f"{_printable(_last_reason(row) or 'no reason stored')})")
        else:
            print(f"{row['id']}: its status changed while replaying; nothing requeued, see: python -m app leads show")
    print(f"requeued {_plural(len(requeued), 'lead')}; the worker sends them")

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
    selection = f"created before {_iso(before)} (older than {days:g} days)"

    with open_store(settings) as store:
        if args.yes:
            deleted = store.purge(before=before)
            print(f"deleted {_plural(deleted, 'lead')} {selection}, with their attempts and idempotency keys, "
                  "and the expired idempotency keys")
            return 0

        counts = store.counts_created_before(before)
        expired = store.count_expired_keys(now=now)

    total = sum(counts.values())
    if total == 0 and expired == 0:
        print(f"no leads were {selection} and no idempotency key expired; nothing to purge")
        return 0
    by_status = ", ".join(f"{status} {counts[status]}" for status in STATUSES if counts.get(status))
    print(f"would delete {_plural(total, 'lead')} {selection}, with their attempts and idempotency keys")
    if by_status:
        print(f"  by status: {by_status}")
    print(f"would delete {_plural(expired, 'expired idempotency key')}")
    print("run again with --yes to delete them")
    return 1


# --- customers ----------------------------------------------------------------


def list_customers(args: argparse.Namespace) -> int:
    """Print each configured customer's hold state and its queued, failed and dead leads."""
    settings = load_or_exit(args.config)
    with open_store(settings) as store:
        holds = store.holds()
        counts = store.counts_by_customer()

    width = max(len(name) for name in settings.customers)
    for name in settings.customers:
        hold = holds.get(name)
        state = f"on hold since {_iso(hold['held_at'])}: {hold['reason']}" if hold else "active"
        statuses = counts.get(name, {})
        leads = ", ".join(f"{status} {statuses.get(status, 0)}" for status in ("queued", "failed", "dead"))
        print(f"{name:<{width}}  {leads}  {_printable(state)}")
    return 0


def resume_customer(args: argparse.Namespace) -> int:
    """Lift a customer's hold and requeue its leads that failed on a configuration fault."""
    settings = load_or_exit(args.config)
    if args.name not in settings.customers:
        raise CommandFailed(
            f"unknown customer {args.name!r}; the configuration names: {', '.join(settings.customers)}"
        )

    with open_store(settings) as store:
        hold = store.holds().get(args.name)
        lifted, requeued = store.resume(args.name, now=time.time())

    if lifted and hold:
        print(f"lifted the hold on {args.name} (on hold since {_iso(hold['held_at'])}: {_printable(hold['reason'])})")
    elif lifted:
        print(f"lifted the hold on {args.name}")
    else:
        print(f"{args.name} was not on hold")
    if requeued:
        print(f"requeued {_plural(requeued, 'lead')} of {args.name} that failed on a configuration fault; "
              "the worker sends them")
    else:
        print(f"no leads of {args.name} failed on a configuration fault; nothing requeued")
    return 0


# --- formatting ---------------------------------------------------------------


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
