"""Alembic's environment: runs the relay's migrations on the engine it is given."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.store.tables import metadata

config = context.config


def run_migrations() -> None:
    """Apply migrations on a connection passed in, or on a new engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as new_connection:
        _run(new_connection)
    engine.dispose()


def _run(connection) -> None:
    # SQLite alters tables by copying them; batch mode lets the same scripts run on both stores.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
