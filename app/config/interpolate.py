"""Replace `${NAME}`, `${NAME:-default}` and `${file:/path}` in configuration strings.

Container platforms pass secrets as files: Docker and Compose secrets under
/run/secrets, Kubernetes secret volumes. So a value can come from a file in
two ways. `${file:/run/secrets/vendor_key}` names the file itself, and
`${NAME}` reads the file that `NAME_FILE` names when NAME is unset, as the
official container images do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

# `$${` escapes a literal `${`; `${file:PATH}` reads a file; names follow shell rules.
# `${file:-x}` is not a file reference: it is the variable `file` with a default.
_REFERENCE = re.compile(
    r"\$\$\{"
    r"|\$\{file:(?!-)([^}]*)\}"
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}"
    r"|\$\{[^}]*\}?"
)

# A secret file contains one value; a larger file is a wrong path (a log, a device), not a secret.
MAX_SECRET_FILE_BYTES = 65536


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

    Values taken from the environment or from files are added to
    `substituted`, so error messages can mask them: they are often secrets.
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
    """Return `text` with every reference replaced; raise UnresolvedVariable naming `path`."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"

        file_path, name, default = match.group(1), match.group(2), match.group(3)
        if file_path is not None:
            value = _read_secret_file(file_path, path)
        elif name is not None:
            value = _variable_value(name, environ, path)
            if value is None:
                return _default_value(name, default, path)
        else:
            raise UnresolvedVariable(
                path, f"malformed reference {whole!r}: write ${{NAME}}, ${{NAME:-default}} or ${{file:/path}}"
            )

        if substituted is not None:
            substituted.add(value)
        return value

    return _REFERENCE.sub(replace, text)


def _variable_value(name: str, environ: Mapping[str, str], path: str) -> str | None:
    """Return NAME's value, else the content of the file NAME_FILE names, else None."""
    value = environ.get(name)
    file_variable = f"{name}_FILE"
    file_path = environ.get(file_variable)

    if value:
        if file_path:
            raise UnresolvedVariable(
                path, f"both {name} and {file_variable} are set: unset one, so the value has one source"
            )
        return value
    if file_path:
        return _read_secret_file(file_path, path, named_by=file_variable)
    return None


def _default_value(name: str, default: str | None, path: str) -> str:
    if default is not None:
        return default
    raise UnresolvedVariable(
        path,
        f"environment variable {name} is not set: export it, set {name}_FILE to a file that "
        f"contains it, or write ${{{name}:-default}} to give a default",
    )


def _read_secret_file(file_path: str, path: str, named_by: str | None = None) -> str:
    """Return a secret file's text without its trailing line breaks.

    Error messages name the file and the variable that named it, never its content.
    """
    described = f"the secret file {file_path}" + (f" (named by {named_by})" if named_by else "")
    if not os.path.isabs(file_path):
        raise UnresolvedVariable(path, f"{described}: write an absolute path, such as /run/secrets/NAME")

    try:
        with open(file_path, "rb") as file:
            raw = file.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as error:
        raise UnresolvedVariable(
            path, f"cannot read {described}: {error.strerror}; mount the secret there or fix the path"
        ) from None

    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise UnresolvedVariable(
            path, f"{described} is over {MAX_SECRET_FILE_BYTES} bytes; point at the file that holds only the secret"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # The decoder's own message quotes the offending byte, which is part of the secret.
        message = f"{described} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        raise UnresolvedVariable(path, message) from None

    value = text.rstrip("\r\n")
    if not value:
        raise UnresolvedVariable(path, f"{described} is empty; write the secret into it")
    return value
