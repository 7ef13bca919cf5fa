"""GET /metrics: the Prometheus text exposition, to the admin token only."""

from __future__ import annotations

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST

from app import metrics_export
from app.errors import NotFound, RelayError, Unauthorized
from app.intake.auth import token_matches
from app.metrics_dir import directory_missing
from app.relay import current_relay

blueprint = Blueprint("metrics", __name__)


class MetricsUnavailable(RelayError):
    """The metrics directory was removed under the running server."""

    http_status = 503
    reason = "metrics_unavailable"


@blueprint.get("/metrics")
def scrape() -> Response:
    """Return every process's metrics and the store's queue gauges."""
    relay = current_relay()
    admin_token = relay.settings.admin_token
    if admin_token is None:
        # No token could match, so the route is off rather than forbidden.
        raise NotFound("metrics are off because no admin token is configured; set [admin].token")
    if not token_matches(_bearer_token(), (admin_token,)):
        raise Unauthorized("missing or invalid admin token: send it as 'Authorization: Bearer <token>'")

    if directory_missing():
        raise MetricsUnavailable(
            "the metrics directory (PROMETHEUS_MULTIPROC_DIR) is missing; restart the server to recreate it"
        )
    return Response(metrics_export.render(relay.store), content_type=CONTENT_TYPE_LATEST)


def _bearer_token() -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""
