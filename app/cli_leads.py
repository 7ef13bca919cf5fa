"""Operator commands for stored leads and customers: `leads ...` and `customers ...`.

Times are printed in UTC and read as UTC unless they carry an offset. `leads list`
prints no names, emails or phone numbers, so its output can go into tickets.
`leads show` prints the whole lead, for the operator's own terminal.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime

from app.cli_customers import list_customers, resume_customer
from app.cli_leads_read import RAW_BODY_LIMIT, list_leads, show_lead
from app.cli_leads_write import purge_leads, replay_leads
from app.cli_store import STATUSES, CommandFailed
from app.operations import REPLAYABLE

__all__ = ["RAW_BODY_LIMIT", "add_commands", "parse_when", "run"]

DEFAULT_LIST_LIMIT = 100

_CONFIG_HELP = "the TOML file (default: $RELAY_CONFIG or config/relay.toml)"
_WHEN_HELP = (
    "only leads created at or after WHEN: an ISO date or time (UTC unless it has an offset) or an age (30m, 24h, 7d)"
)

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


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


# Bounds that keep a typo from overflowing a database integer or a date.
MAX_COUNT = 1_000_000
MAX_DAYS = 36_500


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: use a whole number from 1 to {MAX_COUNT}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: use a number above 0, at most {MAX_DAYS}")
    return value


# --- running ------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run a `leads` or `customers` command, printing a failure to stderr and returning 1."""
    try:
        return args.handler(args)
    except CommandFailed as error:
        print(error, file=sys.stderr)
        return 1
