"""Idempotency keys: how the relay recognizes a request that repeats an earlier one."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from app.errors import BadHeader
from app.leads import Lead

HEADER = "Idempotency-Key"

# Signed keys keep 48 hex digits (192 bits) of their digest, which fit the key column when it held
# 128 characters. Keys already stored must still match, so the number stays.
_SIGNED_DIGEST_CHARS = 48

# Printable ASCII, as the draft standard for the header suggests; long keys are hashed anyway.
_VALID_HEADER = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """The proof a verified signature gives about a request, used to recognize a replay of it."""

    # The verified signature's bytes: only this exact request carries them.
    signature: bytes | None = None
    # The sender's id for the message, signed and kept across its retries (Standard Webhooks' webhook-id).
    message_id: str | None = None


def request_key(
    *, source: str, header: str | None, sender_id: str | None, lead: Lead | None, message_id: str | None = None
) -> str | None:
    """Return the key that identifies this lead's request, strongest evidence first.

    The sender's Idempotency-Key, chosen for exactly this; else the signed
    message id, which Standard Webhooks keeps across retries of one message;
    else the tool's own id for the submission; else a fingerprint of the
    normalized email and phone. Keys are hashed, so the key table contains no
    personal data. None when there is no evidence.

    A signature's own bytes are not on this list: a sender that retries signs
    again with a new timestamp, so a key made from them would hide the retry
    from the sender id and the fingerprint. replay_key records them next to
    this key instead.
    """
    if header is not None:
        if not _VALID_HEADER.match(header):
            raise BadHeader(f"the {HEADER} header must be 1 to 255 printable ASCII characters")
        return f"key:{source}:{_digest(header)}"

    if message_id:
        return _message_key(source, message_id)

    if sender_id:
        return f"sender:{source}:{_digest(sender_id)}"

    # NOTE: a fingerprint repeat gets the first lead's answer and its own body is not kept,
    # so answers that a person changed on a second submission within the window are dropped.
    if lead is not None and (lead.email or lead.phone):
        contact = f"{(lead.email or '').casefold()}|{lead.phone or ''}"
        return f"fingerprint:{source}:{_digest(contact)}"
    return None


def replay_key(*, source: str, signed: SignedRequest | None) -> str | None:
    """Return the key that recognizes a replay of a signed request, or None for an unsigned one.

    It is stored next to request_key's key, because the Idempotency-Key header
    is not signed: whoever replays a captured request can change it, and only
    a key from signed values still recognizes the replay.
    """
    if signed is None:
        return None
    if signed.message_id:
        return _message_key(source, signed.message_id)
    if signed.signature:
        return f"signature:{source}:{hashlib.sha256(signed.signature).hexdigest()[:_SIGNED_DIGEST_CHARS]}"
    return None


def _message_key(source: str, message_id: str) -> str:
    return f"message:{source}:{_digest(message_id)[:_SIGNED_DIGEST_CHARS]}"


def body_hash(raw: bytes) -> str:
    """Return the hash that shows whether two requests with one key carried the same body."""
    return hashlib.sha256(raw).hexdigest()
