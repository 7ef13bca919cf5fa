"""The intake endpoint: authenticate, read, map, deliver, respond."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from app import logs
from app.answers import LeadAnswer, lead_response
from app.delivery import Outcome, deliver
from app.errors import IgnoredEvent, InvalidLead
from app.intake import cors
from app.intake.auth import authenticate
from app.intake.bodies import read_body
from app.relay import SourceHandler, current_relay
from app.routing import Destination, resolve_destination

log = logging.getLogger("relay.intake")

blueprint = Blueprint("intake", __name__)


@blueprint.post("/v1/leads/<source_name>", provide_automatic_options=False)
def receive_lead(source_name: str) -> Response:
    """Relay one lead from a sender to PhoneBurner and respond with its status."""
    relay = current_relay()
    handler = relay.handler(source_name)
    authenticate(handler.source, handler.adapter, request)

    body = read_body(request, relay.settings.limits)
    lead_id = logs.new_id()
    logs.lead_id.set(lead_id)

    destination = sender_id = None
    try:
        unwrapped = handler.adapter.unwrap(body.document, body.pairs)
        sender_id = unwrapped.sender_id
        destination = resolve_destination(
            handler.source, relay.settings.customers, unwrapped.fields, request.args.to_dict()
        )
        lead = handler.schema.load_lead(unwrapped.fields)
    except IgnoredEvent as error:
        outcome = Outcome(status="ignored", http_status=200, message=error.message)
    except InvalidLead as error:
        outcome = Outcome(status="rejected", http_status=422, message=error.message, errors=error.errors)
    else:
        lead.sender_id = sender_id
        outcome = deliver(relay.client, lead, destination)

    _log_lead(handler, destination, outcome, sender_id)
    answer = LeadAnswer(
        lead_id=lead_id,
        status=outcome.status,
        http_status=outcome.http_status,
        message=outcome.message,
        reply=outcome.reply,
        errors=outcome.errors,
        retry_after=outcome.retry_after,
    )
    return cors.allow(handler.source, lead_response(handler.source, answer))


@blueprint.route("/v1/leads/<source_name>", methods=["OPTIONS"])
def preflight(source_name: str) -> Response:
    """Respond to a browser's CORS preflight for a browser-form source."""
    handler = current_relay().handler(source_name)
    return cors.preflight(handler.source)


def _log_lead(
    handler: SourceHandler, destination: Destination | None, outcome: Outcome, sender_id: str | None
) -> None:
    reply = outcome.reply
    log.info(
        "lead.relayed",
        extra={
            "source": handler.source.name,
            "sender_id": sender_id,
            "customer": destination.customer if destination else None,
            "leadstream": destination.leadstream if destination else None,
            "status": outcome.status,
            "http_status": outcome.http_status,
            "reply_class": reply.reply_class.value if reply else None,
            "reason": reply.reason if reply else None,
            "phoneburner_ms": round(reply.elapsed_ms, 1) if reply and reply.elapsed_ms is not None else None,
            "error_fields": sorted(outcome.errors) if outcome.errors else None,
        },
    )
