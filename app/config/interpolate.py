"""Replace `${NAME}` and `${NAME:-default}` in configuration strings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

# `$${` escapes a literal `${`; names follow shell rules.
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")


class UnresolvedVariable(Exception):
    """A `${...}` reference that cannot be replaced."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def interpolate(
    document: Any, environ: Mapping[str, str] | None = None, path: str = "", substituted: set[str] | None = None
) -> Any:
    """Return a copy of a parsed TOML document with every string interpolated.

    Values taken from the environment are added to `substituted`, so error
    messages can mask them: they are often secrets.
    """
    environ = os.environ if environ is None else environ

    if isinstance(document, dict):
        return {
            key: interpolate(value, environ, f"{path}.{key}" if path else key, substituted)
            for key, value in document.items()
        }

    if isinstance(document, list):
        return [interpolate(item, environ, f"{path}[{index}]", substituted) for index, item in enumerate(document)]

    if isinstance(document, str):
        return interpolate_string(document, environ, path, substituted)

    return document


def interpolate_string(text: str, environ: Mapping[str, str], path: str, substituted: set[str] | None = None) -> str:
    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"

        name, default = match.group(1), match.group(2)
        if name is None:
            raise UnresolvedVariable(
                path, f"malformed reference {whole!r}: write ${{NAME}} or ${{NAME:-default}}"
            )

        value = environ.get(name)
        if value is not None and value != "":
            if substituted is not None:
                substituted.add(value)
            return value
        if default is not None:
            return default
        raise UnresolvedVariable(
            path,
            f"environment variable {name} is not set: export it, "
            f"or write ${{{name}:-default}} to give a default",
        )

    return _REFERENCE.sub(replace, text)
