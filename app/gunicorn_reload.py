"""Load the relay's configuration once in the gunicorn master, and reload on SIGHUP only a configuration that loads.

On SIGHUP gunicorn rereads its settings, starts new workers and stops the old
ones. A new worker that cannot load the relay's configuration exits at boot,
and gunicorn then stops altogether. Here the master loads the file first.
When it is invalid, the master logs its problems, each with its key, and the
running workers go on with the configuration they loaded. When it is valid,
the master pins the bytes it checked, and the new workers load those, so a
file saved again while they boot cannot reach them unchecked.
"""

from __future__ import annotations

from typing import Any

from app.config import ConfigError, Settings, config_path
from app.config.loader import load_settings, pin_file, read_file


def load_and_pin() -> Settings:
    """Load the configuration from the file as it is now, and pin its bytes for the workers. Raise ConfigError.

    When the file is invalid, the bytes pinned before stay, so a worker that gunicorn starts again after
    a crash loads the configuration the others run with.
    """
    path = config_path()
    data = read_file(path, pinned=False)
    settings = load_settings(path, data=data)
    pin_file(path, data)
    return settings


def check_before_reload(arbiter: Any) -> None:
    """Make the gunicorn arbiter's reload load and pin the configuration first, and skip the reload when that fails."""
    reload = arbiter.reload

    def checked_reload() -> None:
        try:
            load_and_pin()
        except ConfigError as error:
            arbiter.log.error("configuration not reloaded, and the running workers keep theirs: %s", error)
            return
        except Exception as error:
            # An exception out of a reload would stop the master, and the relay with it.
            arbiter.log.error(
                "configuration not reloaded, and the running workers keep theirs: checking it failed: %s: %s",
                type(error).__name__,
                error,
            )
            return
        reload()

    arbiter.reload = checked_reload

