"""Deliver a lead to PhoneBurner and turn the reply into the lead's status."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.leads import Lead
from app.phoneburner.client import PhoneBurnerClient
from app.phoneburner.query import UrlTooLong
from app.phoneburner.replies import Reply, ReplyClass
from app.routing import Destination

log = logging.getLogger("relay.delivery")

# What the sender should do next, by reply class: the lead's status and the HTTP code.
# NOTE: without durable storage a retryable failure returns 503, so the sender
# keeps the lead and retries; an ambiguous attempt may then reach PhoneBurner twice.
_STATUS_BY_CLASS: dict[ReplyClass, tuple[str, int]] = {
    ReplyClass.DELIVERED: ("delivered", 201),
    ReplyClass.DUPLICATE: ("duplicate", 409),
    ReplyClass.LEAD_REJECTED: ("rejected", 422),
    ReplyClass.CONFIG_FAULT: ("failed", 502),
    ReplyClass.UNRECOGNIZED: ("failed", 502),
    ReplyClass.UNREACHABLE: ("failed", 503),
    ReplyClass.AMBIGUOUS: ("failed", 503),
    ReplyClass.UNAVAILABLE: ("failed", 503),
}

_MESSAGES: dict[ReplyClass, str] = {
    ReplyClass.DELIVERED: "PhoneBurner accepted the lead",
    ReplyClass.DUPLICATE: "PhoneBurner already has a contact with this email address",
    ReplyClass.LEAD_REJECTED: "PhoneBurner rejected the lead",
    ReplyClass.CONFIG_FAULT: "PhoneBurner reported a configuration fault; the relay's operator must fix it",
    ReplyClass.UNRECOGNIZED: "PhoneBurner sent a reply the relay could not parse",
    ReplyClass.UNREACHABLE: "PhoneBurner could not be reached; retry later",
    ReplyClass.AMBIGUOUS: "the connection to PhoneBurner timed out or broke after the lead was sent; retry later",
    ReplyClass.UNAVAILABLE: "PhoneBurner is unavailable; retry later",
}

# Retry-After for a sender when PhoneBurner gave none, in seconds.
DEFAULT_RETRY_AFTER = 60


@dataclass(frozen=True)
class Outcome:
    """A delivery attempt's result: the lead's status, HTTP code and message."""

    status: str
    http_status: int
    message: str
    reply: Reply | None = None
    retry_after: int | None = None
    errors: dict[str, list[str]] | None = None


def deliver(client: PhoneBurnerClient, lead: Lead, destination: Destination) -> Outcome:
    """Make one put_contact attempt for the lead and classify its reply."""
    try:
        delivery = client.put_contact(lead=lead, user_id=destination.user_id, cm_id=destination.cm_id)
    except UrlTooLong as error:
        return Outcome(
            status="rejected",
            http_status=422,
            message="the lead is too large for PhoneBurner",
            errors={"lead": [str(error)]},
        )

    if delivery.request.truncated or delivery.request.dropped:
        log.warning(
            "phoneburner.answers_truncated",
            extra={"truncated": len(delivery.request.truncated), "dropped": len(delivery.request.dropped)},
        )

    reply = delivery.reply
    status, http_status = _STATUS_BY_CLASS[reply.reply_class]
    retry_after = None
    if http_status == 503:
        retry_after = round(reply.retry_after) if reply.retry_after is not None else DEFAULT_RETRY_AFTER
    return Outcome(
        status=status,
        http_status=http_status,
        message=_MESSAGES[reply.reply_class],
        reply=reply,
        retry_after=retry_after,
    )
