"""Widen the idempotency key column to 255 characters, so the keys of a source with a long name fit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The longest key is "fingerprint:<source>:<64 hex digits>", 141 characters for a 64-character source name.
KEY_LENGTH = 255
OLD_KEY_LENGTH = 128

idempotency_keys = sa.table("idempotency_keys", sa.column("key", sa.String))


def upgrade() -> None:
    # Stored keys keep their text, so repeats of requests taken before the upgrade are still recognized.
    # Batch mode copies the table on SQLite, where nothing references it; PostgreSQL alters the column in place.
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column(
            "key", type_=sa.String(KEY_LENGTH), existing_type=sa.String(OLD_KEY_LENGTH), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL cannot shorten the column while longer keys exist. The version before this one could
        # not store such keys there either: it answered their requests with store_unavailable.
        op.execute(sa.delete(idempotency_keys).where(sa.func.length(idempotency_keys.c.key) > OLD_KEY_LENGTH))
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column(
            "key", type_=sa.String(OLD_KEY_LENGTH), existing_type=sa.String(KEY_LENGTH), existing_nullable=False
        )
