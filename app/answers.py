"""Answers to the sender: one JSON document, shaped by the source's response mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, jsonify, redirect

from app.config.model import Source
from app.errors import RelayError
from app.phoneburner.replies import Reply

# Statuses that send a browser to the source's success page in redirect mode.
_SUCCESS_STATUSES = ("delivered", "queued", "duplicate", "ignored")


@dataclass(frozen=True)
class LeadAnswer:
    """What the relay tells the sender about one lead it read."""

    lead_id: str
    status: str
    http_status: int
    message: str
    reply: Reply | None = None
    errors: dict[str, list[str]] | None = None
    retry_after: int | None = None

    def document(self) -> dict[str, Any]:
        """Return the JSON document of the answer."""
        reply = self.reply
        body: dict[str, Any] = {
            "lead_id": self.lead_id,
            "status": self.status,
            "message": self.message,
            "phoneburner": {
                "outcome": reply.outcome if reply else None,
                "reason": reply.reason if reply else None,
                "lead_url": reply.lead_url if reply else None,
            },
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def lead_response(source: Source, answer: LeadAnswer) -> Response:
    """Render a lead's answer as the source's response_mode asks."""
    if source.response_mode == "redirect":
        target = source.success_url if answer.status in _SUCCESS_STATUSES else source.error_url
        return redirect(_with_query(target or "/", lead_id=answer.lead_id, status=answer.status), code=303)

    response = jsonify(answer.document())
    response.status_code = 200 if source.response_mode == "always_200" else answer.http_status
    if answer.retry_after is not None:
        response.headers["Retry-After"] = str(answer.retry_after)
    return response


def error_response(error: RelayError) -> Response:
    """Render a request fault (400, 401, 404, 405, 413, 415, 500) as the JSON envelope."""
    body: dict[str, Any] = {"status": "error", "reason": error.reason, "message": error.message}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.http_status
    return response


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))
