"""The console's login and logout."""

from __future__ import annotations

import logging

from flask import Response, current_app, flash, redirect, request, url_for

from app.console.blueprint import blueprint
from app.console.forms import LoginForm
from app.console.pages import local_target, render_error, render_page
from app.console.sessions import log_in, log_out, token_matches
from app.intake.clients import client_ip
from app.relay import current_relay

log = logging.getLogger("relay.console")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """Show the login form, or check the admin token and start a session."""
    settings = current_relay().settings
    form = LoginForm(next=request.args.get("next", ""))
    if request.method != "POST":
        return render_page("login.html", 200, form=form)
    if not form.validate_on_submit():
        return render_page("login.html", 400, form=form)

    throttle = current_app.extensions["console.login_throttle"]
    address = str(client_ip(request, settings.trusted_proxies) or "unknown")
    wait = throttle.retry_after(address)
    if wait is not None:
        log.warning("console.login_throttled", extra={"retry_after": wait})
        return render_error(429, "Too many failed logins",
                            f"Too many wrong tokens came from your address. Try again in {wait} seconds.",
                            retry_after=wait)

    if not token_matches(form.token.data.strip(), (settings.admin_token,)):
        throttle.record_failure(address)
        log.warning("console.login_failed")
        form.token.errors.append("wrong token: enter the relay's [admin].token")
        return render_page("login.html", 401, form=form)

    throttle.reset(address)
    log_in(settings)
    log.info("console.login")
    return redirect(local_target(form.next.data, url_for("console.home")), 303)


@blueprint.post("/logout")
def logout() -> Response:
    """End the session and return to the login form."""
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("console.login"), 303)
