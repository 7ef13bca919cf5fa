"""The directory where gunicorn's workers and the delivery worker keep their metric values.

prometheus_client's multiprocess mode keeps each process's values in files
named after its pid, in the directory PROMETHEUS_MULTIPROC_DIR names, and a
scrape sums them. The variable must be set before prometheus_client is
imported. When the operator has not set it, gunicorn and the delivery worker
both use a private folder in the temporary directory, named after the
configuration file's real path. So processes on one host that read the same
file share it, and one scrape includes all of them.

This module imports nothing from prometheus_client at load time, so that
gunicorn's master can use it without creating metric files of its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

log = logging.getLogger("relay.metrics")

ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsDirectoryError(Exception):
    """The metrics directory cannot be used; the message names it and the fix."""


def default_directory(config_path: str) -> Path:
    """Return the shared default directory for the processes reading `config_path` as this user."""
    digest = hashlib.sha256(os.path.realpath(config_path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"phoneburner-relay-metrics-{os.getuid()}-{digest}"


def prepare(config_path: str, environ: MutableMapping[str, str] | None = None) -> Path:
    """Create the directory PROMETHEUS_MULTIPROC_DIR names, or the default one, and export its path."""
    environ = os.environ if environ is None else environ
    configured = environ.get(ENV)
    if configured:
        directory = Path(configured)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MetricsDirectoryError(
                f"{ENV}={configured} cannot be used as the metrics directory ({error.strerror}); "
                "point it at a writable directory"
            ) from None
    else:
        directory = default_directory(config_path)
        _make_private_directory(directory)
    environ[ENV] = str(directory)
    return directory


def prepare_for_server(config_path: str) -> tuple[Path, str | None]:
    """Prepare the directory for gunicorn's master and delete dead processes' files.

    When the shared directory cannot be used, the web workers get a private
    temporary one, so intake never stops over metrics. The second value is
    then a warning that explains this.
    """
    warning = None
    try:
        directory = prepare(config_path)
    except MetricsDirectoryError as error:
        directory = Path(tempfile.mkdtemp(prefix="phoneburner-relay-metrics-"))
        os.environ[ENV] = str(directory)
        warning = f"{error}; the web workers use {directory} instead, which no delivery worker shares"
    remove_dead_process_files(directory)
    return directory, warning


def _make_private_directory(directory: Path) -> None:
    """Create `directory` for this user alone, refusing one another user planted or a symbolic link."""
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError as error:
        raise MetricsDirectoryError(f"cannot create the metrics directory {directory}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise MetricsDirectoryError(
            f"{directory} exists but is not a private directory of this user; "
            f"remove it, or set {ENV} to a directory of your own"
        )


def remove_dead_process_files(directory: Path) -> int:
    """Delete the value files of processes no longer running, so a restarted server starts from zero.

    Files of running processes stay, such as a delivery worker's that outlives a
    gunicorn restart. Returns how many files were deleted.
    """
    removed = 0
    for path in directory.glob("*.db"):
        pid = _file_pid(path)
        if pid is not None and not _running(pid):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _file_pid(path: Path) -> int | None:
    # prometheus_client names its files TYPE_PID.db or gauge_MODE_PID.db.
    last = path.stem.rsplit("_", 1)[-1]
    return int(last) if last.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (the breaker state) from later scrapes; its counters stay."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)


def directory_missing() -> bool:
    """Return whether PROMETHEUS_MULTIPROC_DIR is set but no longer a directory (a cleaner removed it)."""
    directory = os.environ.get(ENV)
    return bool(directory) and not os.path.isdir(directory)
