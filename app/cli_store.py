"""The lead store as operator commands open it, and CommandFailed, the error those commands exit with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app import services
from app.config.model import Settings
from app.store.repository import Store, StoreUnavailable

# Every status a stored lead can have, as listed at the `status` column in app/store/tables.py.
STATUSES = ("queued", "delivered", "duplicate", "rejected", "failed", "dead")


class CommandFailed(Exception):
    """A failed command, with a message that gives the cause and the next step."""


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """Open the store named by [storage].url, turning its failures into CommandFailed."""
    location = _display_url(settings.storage.url)
    try:
        store = services.build_store(settings, connections=1)
    except SQLAlchemyError as error:
        raise CommandFailed(f"cannot open the store {location}: {error}; fix [storage].url") from None

    try:
        yield store
    except StoreUnavailable as error:
        raise CommandFailed(
            f"the store {location} failed: {_cause(error)}. Check [storage].url and that the database runs; "
            "if its tables are missing, run: python -m app migrate"
        ) from None
    finally:
        store.engine.dispose()


def _display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "named by [storage].url"


def _cause(error: StoreUnavailable) -> str:
    # The driver's own message ("no such table: leads", "connection refused") is what an operator acts on.
    original = getattr(error.__cause__, "orig", None)
    if original is None or not str(original).strip():
        return str(error)
    return f"{type(original).__name__}: {str(original).strip().splitlines()[0]}"
