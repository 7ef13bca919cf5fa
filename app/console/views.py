"""The console's home page and customers page, and resuming a customer on hold."""

from __future__ import annotations

import time

from flask import Response, flash, redirect, request, url_for

from app.cli_format import format_count, format_time
from app.console.blueprint import blueprint
from app.console.chart import SECONDS_PER_HOUR, build_chart, count_hours
from app.console.pages import render_error, render_page
from app.operations import resume
from app.relay import current_relay

DEFAULT_CHART_DAYS = 3
MAX_CHART_DAYS = 14


@blueprint.get("/")
def home() -> Response:
    """Show lead counts by status, the customers on hold, and the chart of leads per hour."""
    store = current_relay().store
    days = request.args.get("days", default=DEFAULT_CHART_DAYS, type=int)
    invalid_days = not 1 <= days <= MAX_CHART_DAYS
    if invalid_days:
        days = DEFAULT_CHART_DAYS

    current_hour = int(time.time() // SECONDS_PER_HOUR)
    first_hour = current_hour - days * 24 + 1
    rows = store.counts_per_hour(since=first_hour * SECONDS_PER_HOUR)
    chart = build_chart(count_hours(rows, first_hour=first_hour, hours=days * 24), days=days)

    return render_page(
        "home.html",
        400 if invalid_days else 200,
        counts=store.counts(),
        holds=store.holds(),
        chart=chart,
        days=days,
        max_days=MAX_CHART_DAYS,
        days_error=f"the chart shows 1 to {MAX_CHART_DAYS} days" if invalid_days else None,
    )


@blueprint.get("/customers")
def customers() -> Response:
    """List every configured customer with its hold and its queued, failed and dead leads."""
    relay = current_relay()
    return render_page(
        "customers.html",
        customers=list(relay.settings.customers),
        holds=relay.store.holds(),
        counts=relay.store.counts_by_customer(),
    )


@blueprint.post("/customers/<name>/resume")
def resume_customer(name: str) -> Response:
    """Lift a customer's hold and requeue its leads that failed on a configuration fault."""
    relay = current_relay()
    if name not in relay.settings.customers:
        return render_error(404, "Unknown customer", "The configuration names no such customer.")

    result = resume(relay.store, name, now=time.time())
    if result.lifted and result.hold:
        flash(f"Lifted the hold on {name} (on hold since {format_time(result.hold['held_at'])}: "
              f"{result.hold['reason']}).", "ok")
    elif result.lifted:
        flash(f"Lifted the hold on {name}.", "ok")
    else:
        flash(f"{name} was not on hold.", "info")
    if result.requeued:
        flash(f"Requeued {format_count(result.requeued, 'lead')} of {name} that failed on a configuration fault; "
              "the worker sends them.", "ok")
    else:
        flash(f"No leads of {name} failed on a configuration fault; nothing requeued.", "info")
    return redirect(url_for("console.customers"), 303)


@blueprint.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown: str) -> Response:
    """Return the console's own 404 page for any other console path."""
    return render_error(404, "Page not found", "The console has no such page.")
