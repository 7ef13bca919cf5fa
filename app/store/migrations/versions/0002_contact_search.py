"""Add the normalized email and phone columns that operators search leads by, and fill them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Leads read and updated per round trip while filling the new columns.
BATCH_SIZE = 1000

leads = sa.table(
    "leads",
    sa.column("id", sa.String),
    sa.column("lead", sa.Text),
    sa.column("email_normalized", sa.String),
    sa.column("phone_normalized", sa.String),
)


def upgrade() -> None:
    op.add_column("leads", sa.Column("email_normalized", sa.String(255)))
    op.add_column("leads", sa.Column("phone_normalized", sa.String(32)))
    op.create_index("leads_email", "leads", ["email_normalized"])
    op.create_index("leads_phone", "leads", ["phone_normalized"])
    _fill_contact_columns(op.get_bind())


def _fill_contact_columns(connection: sa.Connection) -> None:
    # The stored lead already holds intake's normalized values: the email as email_validator
    # returns it and the phone in E.164. Searches compare emails case-folded, as intake now stores them.
    last_id = ""
    while True:
        batch = connection.execute(
            sa.select(leads.c.id, leads.c.lead)
            .where(leads.c.id > last_id, leads.c.lead.is_not(None))
            .order_by(leads.c.id)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return
        for lead_id, text in batch:
            lead = json.loads(text)
            email = lead.get("email")
            connection.execute(
                sa.update(leads)
                .where(leads.c.id == lead_id)
                .values(email_normalized=email.casefold() if email else None, phone_normalized=lead.get("phone"))
            )
        last_id = batch[-1][0]


def downgrade() -> None:
    op.drop_index("leads_phone", "leads")
    op.drop_index("leads_email", "leads")
    # Not in batch mode: recreating the table on SQLite would cascade-delete every attempt.
    # SQLite 3.35 and newer drop a column in place.
    op.drop_column("leads", "phone_normalized")
    op.drop_column("leads", "email_normalized")
