"""Create the leads, attempts, idempotency keys and customer holds tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("customer", sa.String(64)),
        sa.Column("leadstream", sa.String(64)),
        sa.Column("sender_id", sa.String(512)),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("raw_body", sa.LargeBinary, nullable=False),
        sa.Column("lead", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("errors", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float),
        sa.Column("lease_until", sa.Float),
        sa.Column("claim_token", sa.Integer, nullable=False),
        sa.Column("ambiguous", sa.Boolean, nullable=False),
        sa.Column("last_class", sa.String(32)),
        sa.Column("last_outcome", sa.String(16)),
        sa.Column("last_reason", sa.String(128)),
        sa.Column("lead_url", sa.Text),
        sa.Column("answer_status", sa.Integer),
        sa.Column("answer_body", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("leads_due", "leads", ["status", "next_attempt_at"])
    op.create_index("leads_created", "leads", ["created_at"])
    op.create_index("leads_customer_status", "leads", ["customer", "status"])

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lead_id", sa.String(32), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("claim_token", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Float),
        sa.Column("http_status", sa.Integer),
        sa.Column("reply_class", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("reason", sa.String(128)),
        sa.Column("excerpt", sa.String(200)),
        sa.Column("request_url", sa.Text),
    )
    op.create_index("attempts_lead", "attempts", ["lead_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("idempotency_keys_expiry", "idempotency_keys", ["expires_at"])

    op.create_table(
        "customer_holds",
        sa.Column("customer", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("held_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_holds")
    op.drop_table("idempotency_keys")
    op.drop_table("attempts")
    op.drop_table("leads")
