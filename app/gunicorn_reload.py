"""A reload on SIGHUP that first checks the relay's configuration, so that a mistake in the file cannot stop the server.

On SIGHUP gunicorn rereads its settings, starts new workers and stops the old
ones. A new worker that cannot load the relay's configuration exits at boot,
and gunicorn then stops altogether. Here the master loads the file first.
When it is invalid, the master logs its problems, each with its key, and the
running workers go on with the configuration they loaded.
"""

from __future__ import annotations

from typing import Any

from app.config import ConfigError, load_settings


def check_before_reload(arbiter: Any) -> None:
    """Make the gunicorn arbiter's reload load the relay's configuration first, and skip the reload when it fails."""
    reload = arbiter.reload

    def checked_reload() -> None:
        try:
            load_settings()
        except ConfigError as error:
            arbiter.log.error("configuration not reloaded, and the running workers keep theirs: %s", error)
            return
        reload()

    arbiter.reload = checked_reload
