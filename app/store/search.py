"""Queries behind the operators' console: lead search by page, and lead counts per hour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, and_, cast, func, or_, select

from app.leads import Lead
from app.store.tables import leads

SECONDS_PER_HOUR = 3600

# Every column but the raw body and the stored answer, which a list of leads never shows.
LISTED_COLUMNS = [column for column in leads.columns if column.name not in ("raw_body", "answer_body")]


@dataclass(frozen=True)
class LeadFilter:
    """Conditions a lead must all meet. A field left None or empty matches any lead."""

    # A value of email_key(): the normalized email, case-folded.
    email: str | None = None
    # E.164 numbers, any of which matches: a query typed without a country code has one per region.
    phones: tuple[str, ...] = ()
    status: str | None = None
    source: str | None = None
    customer: str | None = None
    # Unix seconds: created at or after created_from, and before created_before.
    created_from: float | None = None
    created_before: float | None = None


@dataclass(frozen=True)
class PagePosition:
    """The last lead of a page, after which the next page starts."""

    created_at: float
    lead_id: str


def email_key(email: str | None) -> str | None:
    """Return the form of a normalized email that the store keeps and searches compare: case-folded."""
    return email.casefold() if email else None


def contact_columns(lead: Lead | None) -> dict[str, Any]:
    """Return the searchable email and phone columns of a lead row."""
    if lead is None:
        return {"email_normalized": None, "phone_normalized": None}
    return {"email_normalized": email_key(lead.email), "phone_normalized": lead.phone}


def select_leads(lead_filter: LeadFilter, *, after: PagePosition | None, limit: int) -> Select:
    """Build the query for one page of matching leads, newest first, ordered by creation time and id."""
    conditions = _conditions(lead_filter)
    if after is not None:
        # Keyset pagination: the page starts right after the previous page's last lead, so leads
        # arriving meanwhile neither shift nor repeat rows, and a deep page costs no more than the first.
        conditions.append(
            or_(
                leads.c.created_at < after.created_at,
                and_(leads.c.created_at == after.created_at, leads.c.id < after.lead_id),
            )
        )
    return (
        select(*LISTED_COLUMNS)
        .where(and_(True, *conditions))
        .order_by(leads.c.created_at.desc(), leads.c.id.desc())
        .limit(limit)
    )


def _conditions(lead_filter: LeadFilter) -> list[Any]:
    conditions = []
    if lead_filter.email:
        conditions.append(leads.c.email_normalized == lead_filter.email)
    if lead_filter.phones:
        conditions.append(leads.c.phone_normalized.in_(lead_filter.phones))
    for column, value in (
        (leads.c.status, lead_filter.status),
        (leads.c.source, lead_filter.source),
        (leads.c.customer, lead_filter.customer),
    ):
        if value:
            conditions.append(column == value)
    if lead_filter.created_from is not None:
        conditions.append(leads.c.created_at >= lead_filter.created_from)
    if lead_filter.created_before is not None:
        conditions.append(leads.c.created_at < lead_filter.created_before)
    return conditions


def select_counts_per_hour(dialect: str, *, since: float) -> Select:
    """Build the query for lead counts per status and hour since `since`, an hour being Unix seconds // 3600."""
    hours = leads.c.created_at / SECONDS_PER_HOUR
    # CAST truncates in SQLite but rounds in PostgreSQL, so PostgreSQL floors first.
    hour = cast(func.floor(hours) if dialect == "postgresql" else hours, Integer).label("hour")
    return (
        select(hour, leads.c.status, func.count().label("count"))
        .where(leads.c.created_at >= since)
        .group_by(hour, leads.c.status)
    )
