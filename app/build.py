"""Build information: the relay's version, the build's git commit and the Python version."""

from __future__ import annotations

import functools
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path

from app import __version__

# Written by the Dockerfile from its RELAY_BUILD_COMMIT build argument, beside the app package.
BUILD_FILE = Path(__file__).resolve().parent.parent / "BUILD"

# A commit hash or `git describe` output; anything else is not shown, since the value ends up in JSON and metrics.
_COMMIT = re.compile(r"^[0-9A-Za-z._+-]{1,64}$")


@functools.cache
def build_info() -> dict[str, str | None]:
    """Return the version, the commit (None when unknown) and the Python version, read once per process."""
    return {"version": __version__, "commit": build_commit(), "python": platform.python_version()}


def build_commit(environ: Mapping[str, str] | None = None, build_file: Path = BUILD_FILE) -> str | None:
    """Return the commit from RELAY_BUILD_COMMIT, else from the BUILD file's first line, else None."""
    environ = os.environ if environ is None else environ
    commit = environ.get("RELAY_BUILD_COMMIT", "").strip()
    if not commit:
        try:
            commit = build_file.read_text(encoding="utf-8", errors="replace").strip().split("\n", 1)[0].strip()
        except OSError:
            return None
    return commit if _COMMIT.match(commit) else None
