"""Answers to the sender: one JSON document per lead, shaped by the source's response mode."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, jsonify, redirect

from app.config.model import Source
from app.errors import RelayError

# The lead's status in the store -> the HTTP status of the answer.
HTTP_STATUS = {"delivered": 201, "queued": 202, "duplicate": 409, "rejected": 422, "failed": 502, "dead": 502}

# Statuses that send a browser to the source's success page in redirect mode.
_SUCCESS_STATUSES = ("delivered", "queued", "duplicate", "ignored")

_MESSAGES = {
    "delivered": "PhoneBurner accepted the lead",
    "duplicate": "PhoneBurner already has a contact with this email address",
    "rejected": "PhoneBurner rejected the lead",
    "dead": "delivery failed after every retry; an operator can replay the lead",
}

_QUEUED_MESSAGES = {
    "customer_on_hold": "delivery to this customer is on hold until an operator fixes its configuration; "
    "the relay keeps the lead",
    "breaker_open": "PhoneBurner is failing; the relay keeps the lead and will retry",
    "not_attempted": "the relay keeps the lead and will deliver it shortly",
    "retrying": "PhoneBurner could not take the lead now; the relay keeps it and will retry",
    "concurrency_limit": "the relay is making as many PhoneBurner calls at once as it allows; "
    "it keeps the lead and will deliver it shortly",
}

_FAILED_MESSAGES = {
    "config_fault": "PhoneBurner reported a configuration fault; the relay's operator must fix it, "
    "then the lead is delivered",
    "unrecognized": "PhoneBurner sent a reply the relay could not parse; the relay will retry a few times",
}


@dataclass(frozen=True)
class LeadAnswer:
    """The relay's answer to the sender about one lead: the document and its HTTP status."""

    document: dict[str, Any]
    http_status: int
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # How long this request's own PhoneBurner call took, for the log; None when none was made.
    phoneburner_ms: float | None = None

    @property
    def status(self) -> str:
        """Return the lead's status as the contract names it."""
        return self.document["status"]


def answer_for_lead(row: dict[str, Any], *, queued_reason: str | None = None) -> LeadAnswer:
    """Build the answer for a stored lead from its current state."""
    status = row["status"]
    document: dict[str, Any] = {
        "lead_id": row["id"],
        # "dead" is the store's word; senders see the contract's "failed".
        "status": "failed" if status == "dead" else status,
        "message": _message(row, queued_reason),
        "phoneburner": {
            "outcome": row.get("last_outcome"),
            "reason": row.get("last_reason"),
            "lead_url": row.get("lead_url"),
        },
    }
    if status == "queued":
        document["reason"] = queued_reason or "retrying"
    if row.get("errors"):
        document["errors"] = json.loads(row["errors"])
    return LeadAnswer(document=document, http_status=HTTP_STATUS[status])


def ignored_answer(lead_id: str, message: str) -> LeadAnswer:
    """Build the answer for an event that carries no lead."""
    document = {"lead_id": lead_id, "status": "ignored", "message": message, "phoneburner": no_reply()}
    return LeadAnswer(document=document, http_status=200)


def no_reply() -> dict[str, None]:
    """Return the `phoneburner` member of an answer for which nothing was sent to PhoneBurner."""
    return {"outcome": None, "reason": None, "lead_url": None}


def _message(row: dict[str, Any], queued_reason: str | None) -> str:
    status = row["status"]
    if status == "queued":
        return _QUEUED_MESSAGES[queued_reason or "retrying"]
    if status == "failed":
        return _FAILED_MESSAGES.get(row.get("last_class") or "", "delivery failed; an operator can replay the lead")
    if status == "rejected" and row.get("errors"):
        return "the lead's fields are invalid; fix the fields listed in errors"
    return _MESSAGES[status]


def lead_response(source: Source, answer: LeadAnswer) -> Response:
    """Render a lead's answer as the source's response_mode asks."""
    if source.response_mode == "redirect":
        target = source.success_url if answer.status in _SUCCESS_STATUSES else source.error_url
        response = redirect(_with_query(target or "/", lead_id=answer.document["lead_id"], status=answer.status), 303)
    else:
        response = jsonify(answer.document)
        response.status_code = 200 if source.response_mode == "always_200" else answer.http_status
        if answer.retry_after is not None:
            response.headers["Retry-After"] = str(answer.retry_after)

    response.headers.update(answer.headers)
    return response


def error_response(error: RelayError) -> Response:
    """Render a request fault (400, 401, 404, 405, 413, 415, 500, 503) as the JSON envelope."""
    body: dict[str, Any] = {"status": "error", "reason": error.reason, "message": error.message}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.http_status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))
