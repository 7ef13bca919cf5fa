"""Hooks that run around every console request: CSRF, login, security headers."""

from __future__ import annotations

import logging

from flask import Response, g, redirect, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from app.console.blueprint import blueprint
from app.console.headers import add_console_headers
from app.console.pages import render_error
from app.console.sessions import bearer_matches, logged_in
from app.relay import current_relay
from app.store.repository import StoreUnavailable

log = logging.getLogger("relay.console")

# Endpoints open without a login: the login form itself and the style sheet it uses.
PUBLIC_ENDPOINTS = frozenset({"console.login", "console.static"})

# Methods that only read a page: the admin token as a Bearer header opens them, and without a login they
# redirect to the login form and back.
READ_METHODS = frozenset({"GET", "HEAD"})


@blueprint.before_request
def guard() -> Response | None:
    """Check every POST's CSRF token, and require a login."""
    settings = current_relay().settings
    if request.method == "POST":
        _check_csrf()

    g.operator = logged_in(settings)
    if request.endpoint in PUBLIC_ENDPOINTS or g.operator:
        return None
    if request.method in READ_METHODS and bearer_matches(settings, request):
        return None
    if request.method in READ_METHODS:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("console.login"), 303)


def _check_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        log.info("console.csrf_rejected", extra={"reason": str(error)})
        raise CSRFError(str(error)) from None


blueprint.after_request(add_console_headers)


@blueprint.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> Response:
    """Reject a form whose CSRF token is missing, wrong or expired."""
    return render_error(400, "The form was rejected",
                        f"{error.description} Reload the page and submit the form again.")


@blueprint.errorhandler(StoreUnavailable)
def store_failed(error: StoreUnavailable) -> Response:
    """Show that the store failed, instead of a server error."""
    log.error("store.unavailable", extra={"error": str(error)})
    return render_error(503, "The store is unavailable",
                        "The relay cannot read its store right now. Check [storage].url and that the database "
                        "runs, then reload this page.", retry_after=30)
