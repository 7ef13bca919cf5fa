"""The intake endpoint: authenticate, read, map, store and deliver, respond."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from app import logs, metrics
from app.answers import LeadAnswer, ignored_answer, lead_response
from app.errors import IgnoredEvent, InvalidLead
from app.idempotency import SignedRequest
from app.intake import cors, honeypot, ratelimits
from app.intake.auth import authenticate
from app.intake.bodies import Body, check_extras, read_body
from app.intake.receive import Submission
from app.relay import Relay, SourceHandler, current_relay
from app.routing import resolve_destination

log = logging.getLogger("relay.intake")

MAX_CONTENT_TYPE_CHARS = 255
MAX_SENDER_ID_CHARS = 512

blueprint = Blueprint("intake", __name__)
blueprint.after_request(cors.add_cors_headers)


@blueprint.post("/v1/leads/<source_name>", provide_automatic_options=False)
def receive_lead(source_name: str) -> Response:
    """Relay one lead from a sender to PhoneBurner and respond with its status."""
    relay = current_relay()
    handler = relay.handler(source_name)
    signed = authenticate(handler.source, handler.adapter, request)
    ratelimits.count_source()

    body = read_body(request, relay.settings.limits)
    if honeypot.caught(handler.source, body):
        return lead_response(handler.source, honeypot.drop(handler.source))
    lead_id = logs.new_id()
    logs.lead_id.set(lead_id)

    submission = None
    try:
        submission = _map(relay, handler, body, lead_id, signed)
    except IgnoredEvent as error:
        answer = ignored_answer(lead_id, error.message)
    else:
        answer = relay.receiver.receive(submission)

    _log_lead(handler, submission, answer)
    metrics.lead_answered(handler.source.name, answer.status, repeat="Idempotent-Replayed" in answer.headers)
    return lead_response(handler.source, answer)


@blueprint.route("/v1/leads/<source_name>", methods=["OPTIONS"])
def preflight(source_name: str) -> Response:
    """Respond to a browser's CORS preflight for a browser-form source."""
    handler = current_relay().handler(source_name)
    return cors.preflight(handler.source)


def _map(relay: Relay, handler: SourceHandler, body: Body, lead_id: str, signed: SignedRequest | None) -> Submission:
    """Unwrap the tool's envelope, route the lead and validate it; field errors become part of it."""
    unwrapped = handler.adapter.unwrap(body.document, body.pairs)
    lead = destination = errors = None
    try:
        destination = resolve_destination(
            handler.source, relay.settings.customers, unwrapped.fields, request.args.to_dict()
        )
        lead = handler.schema.load_lead(unwrapped.fields)
        check_extras(lead, relay.settings.limits)
        lead.sender_id = unwrapped.sender_id
    except InvalidLead as error:
        errors = error.errors or {}

    return Submission(
        lead_id=lead_id,
        source=handler.source,
        raw_body=request.get_data(cache=True),
        # The store's columns are bounded; a content type's parameters and a tool's id rarely come close.
        content_type=_storable(request.content_type or "", MAX_CONTENT_TYPE_CHARS),
        idempotency_header=request.headers.get("Idempotency-Key"),
        sender_id=_storable(unwrapped.sender_id or "", MAX_SENDER_ID_CHARS) or None,
        lead=lead,
        destination=destination,
        errors=errors,
        signed=signed,
        request_id=logs.request_id.get(),
    )


def _storable(text: str, max_chars: int) -> str:
    """Return `text` without NUL characters, which PostgreSQL's text columns reject, cut to `max_chars`."""
    return text.replace("\x00", "")[:max_chars]


def _log_lead(handler: SourceHandler, submission: Submission | None, answer: LeadAnswer) -> None:
    destination = submission.destination if submission else None
    phoneburner = answer.document.get("phoneburner") or {}
    log.info(
        "lead.relayed",
        extra={
            "source": handler.source.name,
            "sender_id": submission.sender_id if submission else None,
            "customer": destination.customer if destination else None,
            "leadstream": destination.leadstream if destination else None,
            "status": answer.status,
            "http_status": answer.http_status,
            "replayed": "Idempotent-Replayed" in answer.headers,
            "reason": phoneburner.get("reason"),
            "phoneburner_ms": answer.phoneburner_ms,
            "error_fields": sorted(answer.document["errors"]) if answer.document.get("errors") else None,
        },
    )
