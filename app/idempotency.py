"""Idempotency keys: how the relay recognizes a request that repeats an earlier one."""

from __future__ import annotations

import hashlib
import re

from app.errors import BadHeader
from app.leads import Lead

HEADER = "Idempotency-Key"

# Printable ASCII, as the draft standard for the header suggests; long keys are hashed anyway.
_VALID_HEADER = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def request_key(*, source: str, header: str | None, sender_id: str | None, lead: Lead | None) -> str | None:
    """Return the key that identifies this lead's request, strongest evidence first.

    The sender's Idempotency-Key, else the tool's own id for the submission,
    else a fingerprint of the normalized email and phone. Keys are hashed,
    so the key table contains no personal data. None when there is no evidence.
    """
    if header is not None:
        if not _VALID_HEADER.match(header):
            raise BadHeader(f"the {HEADER} header must be 1 to 255 printable ASCII characters")
        return f"key:{source}:{_digest(header)}"

    if sender_id:
        return f"sender:{source}:{_digest(sender_id)}"

    # NOTE: a fingerprint repeat gets the first lead's answer and its own body is not kept,
    # so answers that a person changed on a second submission within the window are dropped.
    if lead is not None and (lead.email or lead.phone):
        contact = f"{(lead.email or '').casefold()}|{lead.phone or ''}"
        return f"fingerprint:{source}:{_digest(contact)}"
    return None


def body_hash(raw: bytes) -> str:
    """Return the hash that shows whether two requests with one key carried the same body."""
    return hashlib.sha256(raw).hexdigest()
