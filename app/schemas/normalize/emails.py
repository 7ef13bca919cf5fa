"""Validate and normalize email addresses.

The ValueError messages never repeat the whole address, because they can end
up in logs.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

import email_validator

from app.schemas.normalize.text import _LINE_BREAK_RE, _drop_invisible_characters


def normalize_email(value: str) -> str:
    """Validate an email address and return it in email_validator's normalized form.

    The domain is lower-cased, while the case and "+" tags of the local part
    are kept. A surrounding "<...>", a display name before it, or a "mailto:"
    prefix is removed. When a sender posted a "+" without encoding it, the
    form decoder turned it into a space ("john tag@example.com"), so spaces
    in the local part become "+" again if that makes the address valid.
    Raise ValueError for an invalid address, without repeating the address.
    """
    address = _unwrap_email(_clean_email_text(value))
    if not address:
        raise ValueError("missing email address: send it in the form name@example.com")

    try:
        return _validate_email(address)
    except email_validator.EmailNotValidError as error:
        repaired = _restore_lost_plus(address)
        if repaired is not None:
            try:
                return _validate_email(repaired)
            except email_validator.EmailNotValidError:
                pass
        raise ValueError(f"not a valid email address: {_email_error_reason(error, address)}") from None


def _clean_email_text(value: str) -> str:
    # Like clean_text but keeps each space, because every space in the local
    # part may stand for a lost "+".
    text = _LINE_BREAK_RE.sub("\n", value)
    text = _drop_invisible_characters(text)
    return unicodedata.normalize("NFC", text).strip()


def _unwrap_email(text: str) -> str:
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text[:7].casefold() == "mailto:":
        # A mailto URI is percent-encoded and may carry "?subject=..." (RFC 6068).
        text = urllib.parse.unquote(text[7:].split("?", 1)[0]).strip()
    return text


def _validate_email(address: str) -> str:
    result = email_validator.validate_email(address, check_deliverability=False, allow_display_name=True)
    return result.normalized


def _restore_lost_plus(address: str) -> str | None:
    if "<" in address or address.count("@") != 1:
        return None
    local_part, domain = address.split("@")
    if " " not in local_part or " " in domain:
        return None
    return local_part.replace(" ", "+") + "@" + domain


# email_validator appends details in brackets. Only its length details are
# kept, because others can quote labels of the domain.
_BRACKETED_DETAIL_RE = re.compile(r"\s+\(([^()]*)\)")
_LENGTH_DETAIL_RE = re.compile(r"\d+ (character|byte)s? too many")
_MAX_LISTED_CHARACTERS = 3


def _email_error_reason(error: email_validator.EmailNotValidError, address: str) -> str:
    """Return email_validator's reason for the error with the address left out.

    Most reasons name single bad characters, which are safe to show. A few
    quote domain labels or a run of the address, and those parts are removed.
    """
    reason = _BRACKETED_DETAIL_RE.sub(_keep_length_detail, str(error)).strip()

    head, separator, listed = reason.rpartition(": ")
    if separator and len(listed.split(", ")) > _MAX_LISTED_CHARACTERS:
        reason = head

    local_part, _, domain = address.rpartition("@")
    for part in (local_part, domain, address):
        if len(part) >= 3 and part.casefold() in reason.casefold():
            return "it should look like name@example.com"

    reason = reason.rstrip(".")
    if reason[:2] != reason[:2].upper():
        reason = reason[0].lower() + reason[1:]
    return reason


def _keep_length_detail(match: re.Match[str]) -> str:
    if _LENGTH_DETAIL_RE.fullmatch(match.group(1)):
        return match.group(0)
    return ""
