"""Load the relay's configuration once in the gunicorn master, and reload on SIGHUP only a configuration that loads.

On SIGHUP gunicorn rereads its settings, starts new workers and stops the old
ones. A new worker that cannot load the relay's configuration exits at boot,
and gunicorn then stops altogether. Here the master loads the file first.
When it is invalid, the master logs its problems, each with its key, and the
running workers go on with the configuration they loaded. When it is valid,
the master pins what it checked, with its variables and secret files filled
in, and the new workers load that. So a file or secret file that changes
while they boot, or before a crashed worker restarts, cannot reach them
unchecked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.config import ConfigError, Settings, config_path
from app.config.loader import load_resolved, pin

# Seconds a reload waits for a new PostgreSQL store to accept a connection.
STORE_CONNECT_TIMEOUT = 5

# The settings the master pinned last, which its workers run with.
_running: Settings | None = None


def load_and_pin() -> Settings:
    """Load the configuration from the file and its secret files as they are now, and pin it for the workers.

    Raise ConfigError. When the file is invalid, the configuration pinned before stays, so a worker that
    gunicorn starts again after a crash loads the configuration the others run with. A [storage].url
    that differs from the running one must name a store that opens and has this version's tables.
    """
    global _running

    path = config_path()
    settings, resolved = load_resolved(path)
    if _running is not None and settings.storage.url != _running.storage.url:
        _check_new_store(settings)
    pin(path, resolved)
    _running = settings
    return settings


def _check_new_store(settings: Settings) -> None:
    """Raise ConfigError unless the store of `settings` opens and has this version's tables."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from app.store.engine import make_engine, pending_migrations

    url = settings.storage.url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Opening a missing file would create it, and make_engine its folder, for a path that may be a typo.
        database = parsed.database
        if database and database != ":memory:" and not Path(database).exists():
            raise ConfigError(
                settings.path,
                [f"storage.url: the new store's file {database} does not exist; "
                 "run `python -m app migrate` first to create it with this version's tables"],
            )
        engine = make_engine(url, pool_size=1)
    else:
        # Without a timeout, libpq waits for an unreachable host as long as the kernel retries: minutes.
        # The statement timeout bounds a check that waits for a lock on the migrations table.
        # NOTE: with several hosts in the URL, libpq applies the connect timeout to each host in turn.
        timeout_ms = STORE_CONNECT_TIMEOUT * 1000
        connect_args = {"connect_timeout": STORE_CONNECT_TIMEOUT, "options": f"-c statement_timeout={timeout_ms}"}
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        pending = pending_migrations(engine)
    except Exception as error:
        # The driver's own error, whose first line names the host or file; the URL, which may carry a
        # password, is not repeated.
        cause = getattr(error, "orig", None) or error
        lines = str(cause).strip().splitlines()
        first_line = lines[0] if lines else ""
        raise ConfigError(
            settings.path, [f"storage.url: the new store cannot be opened: {type(cause).__name__}: {first_line}"]
        ) from None
    finally:
        engine.dispose()
    if pending:
        raise ConfigError(
            settings.path, ["storage.url: the new store lacks this version's tables; run `python -m app migrate` first"]
        )


def check_before_reload(arbiter: Any) -> None:
    """Make the gunicorn arbiter's reload load and pin the configuration first, and skip the reload when that fails."""
    reload = arbiter.reload

    def checked_reload() -> None:
        try:
            load_and_pin()
        except Exception as error:
            # Any exception, not only ConfigError: one out of a reload would stop the master, and the relay.
            problem = str(error)
            if not isinstance(error, ConfigError):
                problem = f"checking it failed: {type(error).__name__}: {error}"
            arbiter.log.error("configuration not reloaded, and the running workers keep theirs: %s", problem)
            return
        reload()

    arbiter.reload = checked_reload

