"""GET /v1/leads/<lead_id>: a stored lead's current status, for its sender or an operator."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from app.answers import answer_for_lead
from app.errors import NotFound, StoreDown, Unauthorized
from app.intake.allowlist import require_allowed_client
from app.intake.auth import presented_token, token_matches
from app.relay import current_relay
from app.store.repository import StoreUnavailable

blueprint = Blueprint("status", __name__)

# Lead ids are 32 hex digits. Other ids are not looked up, so text PostgreSQL rejects (NUL) never reaches it.
_LEAD_ID = re.compile(r"[0-9a-f]{32}")


@blueprint.get("/v1/leads/<lead_id>")
def lead_status(lead_id: str) -> Response:
    """Return the lead's answer document in its current state."""
    relay = current_relay()
    token = presented_token(request)
    if token is None:
        raise Unauthorized("missing token: send the lead's source token or the admin token as a Bearer token")

    try:
        row = relay.store.get(lead_id) if _LEAD_ID.fullmatch(lead_id) else None
    except StoreUnavailable:
        raise StoreDown("the store is unavailable; ask again later") from None
    if row is None or not _may_read(token, row["source"]):
        # The same answer for a lead that does not exist and one this token may not see.
        raise NotFound("no lead with this id for this token")

    answer = answer_for_lead(row)
    document = {**answer.document, "attempts": row["attempts"], "created_at": row["created_at"]}
    return jsonify(document)


def _may_read(token: str, source_name: str) -> bool:
    """Return whether the token may read the source's leads, or raise Forbidden for the source's token from elsewhere.

    The admin token reads every lead from any address. A source's token reads
    that source's leads only from the addresses in its allowed_ips.
    """
    settings = current_relay().settings
    if settings.admin_token and token_matches(token, (settings.admin_token,)):
        return True

    source = settings.sources.get(source_name)
    if source is None or not token_matches(token, source.tokens):
        return False

    require_allowed_client(source, request, settings.trusted_proxies, action="read this source's leads")
    return True
