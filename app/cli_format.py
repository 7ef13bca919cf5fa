"""Output formatting for the `leads` and `customers` commands and the console: times, counts, escapes, summaries.

Times are printed in UTC. A lead's summary, as a table row or a JSON object, contains no personal data.
"""

from __future__ import annotations

import codecs
import json
import re
from datetime import UTC, datetime
from typing import Any

# C0 and C1 control characters except tab and newline, and Unicode bidirectional overrides. They are
# escaped because sender data containing them could move the cursor or reorder what a terminal shows.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def summarize_lead(row: dict[str, Any]) -> dict[str, Any]:
    # Only ids, names from the configuration, counts and PhoneBurner's reason codes: no personal data.
    return {
        "id": row["id"],
        "created_at": format_time(row["created_at"]),
        "source": row["source"],
        "customer": row["customer"],
        "leadstream": row["leadstream"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_class": row["last_class"],
        "last_reason": format_last_reason(row),
    }


def format_summary_cells(row: dict[str, Any]) -> list[str]:
    summary = summarize_lead(row)
    return [
        summary["id"],
        summary["created_at"],
        summary["source"],
        summary["customer"] or "-",
        summary["status"],
        str(summary["attempts"]),
        escape_unprintable(summary["last_reason"] or "-"),
    ]


def format_last_reason(row: dict[str, Any]) -> str | None:
    """Return the lead's last delivery reason, or for a rejected lead the names of its invalid fields."""
    if row["last_reason"]:
        return row["last_reason"]
    if row["errors"]:
        # The field names only: the messages quote the rejected values.
        return "invalid " + ", ".join(json.loads(row["errors"]))
    return None


def format_lead_table(rows: list[list[str]]) -> str:
    """Lay out rows from format_summary_cells under a header, in columns padded to the widest cell."""
    header = ["ID", "CREATED", "SOURCE", "CUSTOMER", "STATUS", "ATTEMPTS", "LAST REASON"]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def format_time(timestamp: float | None) -> str:
    """Format Unix seconds as an ISO 8601 UTC time to the second, or "-" for None."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_count(count: int, noun: str) -> str:
    """Return the count with the noun, adding "s" unless the count is 1: "1 lead", "3 leads"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def decode_body_start(raw: bytes, limit: int) -> str:
    """Decode up to `limit` bytes of a raw body as UTF-8, replacing invalid bytes."""
    # An incremental decoder holds back a multibyte character cut at the limit instead of garbling it.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(raw[:limit], final=len(raw) <= limit)


def escape_unprintable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
