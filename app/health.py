"""Cheap health endpoints for load balancers and container runtimes."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from app.build import build_info
from app.metrics_dir import directory_missing
from app.relay import Relay, current_relay
from app.store.engine import pending_migrations, store_file_present
from app.store.repository import StoreUnavailable

log = logging.getLogger("relay.health")

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Report that the process is up; touches nothing."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Report whether the relay can take leads, and list problems found at run time.

    Ready means the configuration is loaded and the store is reachable and migrated.
    """
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

    try:
        problems = _runtime_problems(relay)
    except StoreUnavailable as error:
        log.warning("store.unavailable", extra={"error": str(error)})
        return jsonify(status="unavailable", reason="store_unreachable"), 503
    return jsonify(status="ready", sources=len(relay.handlers), problems=problems)


def _runtime_problems(relay: Relay) -> list[dict[str, object]]:
    """Return configuration problems found while running, which need an operator but leave intake working.

    Only counts are reported: this endpoint needs no token, so customer names stay out of it.
    """
    problems: list[dict[str, object]] = []
    customers_on_hold = len(relay.store.holds())
    if customers_on_hold:
        problems.append({
            "reason": "customers_on_hold", "count": customers_on_hold,
            "fix": "PhoneBurner reported a configuration fault; see: python -m app customers list",
        })
    if directory_missing():
        problems.append({
            "reason": "metrics_directory_missing",
            "fix": "PROMETHEUS_MULTIPROC_DIR was removed; restart the server to recreate it",
        })
    return problems


@blueprint.get("/version")
def version() -> ResponseReturnValue:
    """Report the relay's version, the build's commit and the Python version; needs no token."""
    return jsonify(build_info())
