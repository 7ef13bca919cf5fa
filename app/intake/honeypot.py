"""The honeypot: a hidden form field that people leave empty and bots fill in.

A post that fills the source's `honeypot` field gets the response a real
lead would get in the source's response mode (202 queued, or the redirect to
success_url), so a bot learns nothing. It is stored nowhere, sent nowhere,
logged as `lead.dropped` and counted.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from app import logs
from app.answers import LeadAnswer, answer_for_lead
from app.config.model import Source
from app.intake.bodies import Body

log = logging.getLogger("relay.intake")

LEADS_DROPPED = Counter(
    "relay_leads_dropped_total", "Posts the relay dropped without storing or sending them", ["source", "reason"]
)


def caught(source: Source, body: Body) -> bool:
    """Return whether the body fills the source's honeypot field."""
    if source.honeypot is None:
        return False
    return any(key == source.honeypot and value.strip() for key, value in body.pairs)


def drop(source: Source) -> LeadAnswer:
    """Log and count a honeypot post, and return the answer document of a queued lead."""
    lead_id = logs.new_id()
    logs.lead_id.set(lead_id)
    LEADS_DROPPED.labels(source=source.name, reason="honeypot").inc()
    log.info("lead.dropped", extra={"source": source.name, "reason": "honeypot"})
    return answer_for_lead({"id": lead_id, "status": "queued"}, queued_reason="not_attempted")
