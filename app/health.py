"""Cheap health endpoints for load balancers and container runtimes."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from app.relay import current_relay
from app.store.engine import pending_migrations, store_file_present

log = logging.getLogger("relay.health")

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report that the process is up; touches nothing."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Report whether the relay can take leads: configuration loaded, store reachable and migrated."""
    relay = current_relay()
    if not store_file_present(relay.store.engine):
        return jsonify(status="unavailable", reason="store_file_missing",
                       fix="restore the store's file, or run: python -m app migrate"), 503
    try:
        behind = pending_migrations(relay.store.engine)
    except SQLAlchemyError as error:
        log.warning("store.unavailable", extra={"error": type(error).__name__})
        return jsonify(status="unavailable", reason="store_unreachable"), 503
    if behind:
        return jsonify(status="unavailable", reason="migrations_pending", fix="run: python -m app migrate"), 503
    return jsonify(status="ready", sources=len(relay.handlers))
