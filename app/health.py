"""Cheap health endpoints for load balancers and container runtimes."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.relay import current_relay

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report that the process is up; touches nothing."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Report whether the configuration is loaded and the relay can take leads."""
    relay = current_relay()
    return jsonify(status="ready", sources=len(relay.handlers))
