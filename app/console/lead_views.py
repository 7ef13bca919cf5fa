"""The console's lead pages: search, one lead with its attempts, and replays."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Response, flash, redirect, request, url_for

from app.cli_format import decode_body_start, format_count, format_last_reason
from app.console.blueprint import blueprint
from app.console.forms import LEAD_ID, LeadSearchForm, ReplayForm, page_position
from app.console.pages import local_target, render_error, render_page
from app.operations import REPLAYABLE, ReplayResult, replay_by_id, why_not_replayable
from app.relay import current_relay

PAGE_SIZE = 50

# Bytes of the raw body that a lead's page shows, so a large body does not make a huge page.
RAW_BODY_SHOWN = 65536


@blueprint.get("/leads")
def leads() -> Response:
    """List the leads that match the search, newest first, a page at a time."""
    relay = current_relay()
    regions = tuple(sorted({source.default_region for source in relay.settings.sources.values()}))
    form = LeadSearchForm(request.args, regions=regions)
    if not form.validate():
        return render_page("leads.html", 400, form=form, rows=[], next_page=None, newest_page=None,
                           settings=relay.settings)

    rows = relay.store.search(form.lead_filter(), after=form.position, limit=PAGE_SIZE + 1)
    query = {key: value for key, value in request.args.items() if key != "after" and value}
    next_page = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_page = url_for("console.leads", **query, after=page_position(rows[-1]))

    return render_page(
        "leads.html",
        form=form,
        rows=[_listed(row) for row in rows],
        next_page=next_page,
        newest_page=url_for("console.leads", **query) if form.position else None,
        settings=relay.settings,
    )


@blueprint.get("/leads/<lead_id>")
def lead(lead_id: str) -> Response:
    """Show one lead: its state, mapped fields, raw body, every attempt and the answer to its sender."""
    store = current_relay().store
    row = store.get(lead_id) if LEAD_ID.match(lead_id) else None
    if row is None:
        return render_error(404, "Lead not found", "No stored lead has this id; it may have been purged.")

    raw = bytes(row["raw_body"])
    hold = store.holds().get(row["customer"] or "")
    return render_page(
        "lead.html",
        row=row,
        lead=json.loads(row["lead"]) if row["lead"] else None,
        errors=json.loads(row["errors"]) if row["errors"] else None,
        answer=json.dumps(json.loads(row["answer_body"]), indent=2) if row["answer_body"] else None,
        raw_text=decode_body_start(raw, RAW_BODY_SHOWN),
        raw_size=len(raw),
        raw_shown=min(len(raw), RAW_BODY_SHOWN),
        attempts=store.attempts_of(lead_id),
        hold=hold,
        not_replayable=why_not_replayable(row, time.time()),
        last_reason=format_last_reason(row),
    )


@blueprint.post("/leads/<lead_id>/replay")
def replay_lead(lead_id: str) -> Response:
    """Requeue one failed or dead lead, as `python -m app leads replay LEAD_ID` does."""
    if not LEAD_ID.match(lead_id):
        return render_error(404, "Lead not found", "No stored lead has this id.")
    _flash_replay(replay_by_id(current_relay().store, [lead_id], now=time.time()))
    return redirect(url_for("console.lead", lead_id=lead_id), 303)


@blueprint.post("/leads/replay")
def replay_selected() -> Response:
    """Requeue the failed or dead leads selected on the leads page."""
    form = ReplayForm()
    back = local_target(form.return_to.data, url_for("console.leads"))
    if not form.validate():
        for message in form.lead_ids.errors:
            flash(f"Nothing replayed: {message}.", "error")
        return redirect(back, 303)

    _flash_replay(replay_by_id(current_relay().store, form.lead_ids.data, now=time.time()))
    return redirect(back, 303)


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    lead = json.loads(row["lead"]) if row["lead"] else {}
    name = " ".join(filter(None, [lead.get("firstname"), lead.get("lastname")]))
    return {
        **row,
        "name": name,
        "email": lead.get("email"),
        "phone": lead.get("phone"),
        "last_reason_text": format_last_reason(row),
        "replayable": row["status"] in REPLAYABLE,
    }


def _flash_replay(result: ReplayResult) -> None:
    for lead_id in result.missing:
        flash(f"{lead_id}: not found in the store; nothing sent.", "error")
    for row, reason in result.skipped:
        flash(f"{row['id']}: {reason}.", "info")
    for row in result.changed:
        flash(f"{row['id']}: its status changed while replaying; nothing requeued.", "error")
    if result.requeued:
        flash(f"Requeued {format_count(len(result.requeued), 'lead')}; the worker sends them.", "ok")
    for customer, hold in result.holds.items():
        flash(f"Customer {customer} is on hold ({hold['reason']}); its leads wait until its configuration is "
              "fixed and it is resumed on the Customers page.", "info")
