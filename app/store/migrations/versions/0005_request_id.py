"""Keep each lead's request id, and index leads by status and age for the queue metrics.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("request_id", sa.String(128)))
    op.create_index("leads_status_created", "leads", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("leads_status_created", table_name="leads")
    op.drop_column("leads", "request_id")
