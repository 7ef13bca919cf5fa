"""What every adapter produces: the sender's answers as flat, labelled fields."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from app.adapters.quirks import repair


@dataclass
class Field:
    """One answer: the key a field map matches, the label extras show, its values."""

    key: str
    label: str
    values: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Return the non-empty values joined as one answer."""
        return ", ".join(value for value in self.values if value.strip())


class FieldSet:
    """Fields in payload order, found by exact key or by a loose spelling of it."""

    def __init__(self) -> None:
        self._fields: dict[str, Field] = {}
        self._loose: dict[str, str] = {}
        self._aliases: dict[str, str | None] = {}

    def add(self, key: str, value: str, label: str | None = None) -> None:
        """Append a value to `key`, creating the field on first sight.

        Values and labels are repaired here (HTML entities, WordPress slashes),
        so every adapter gets the same fixes.
        """
        existing = self._fields.get(key)
        if existing is None:
            existing = self._fields[key] = Field(key=key, label=repair(label or key))
            self._loose.setdefault(loose_key(key), key)
        existing.values.append(repair(value))

    def alias(self, name: str, key: str) -> None:
        """Let `name` also find the field `key`, ranked below every real key.

        Adapters use aliases for what a tool says about a field besides its
        key: its type, its question, the last segment of a nested path. A
        name given to two different fields finds neither, since guessing
        between them could dial the wrong person.
        """
        folded = loose_key(name)
        if not folded:
            return
        previous = self._aliases.get(folded, key)
        self._aliases[folded] = key if previous == key else None

    def find(self, name: str) -> Field | None:
        """Return the field named `name`: by exact key, then loose key, then alias."""
        found = self._fields.get(name)
        if found is not None or _NUMBERED.match(name):
            # Numbered ids such as Gravity Forms' 1.3 match exactly, or 1.3 would find 13.
            return found

        folded = loose_key(name)
        original = self._loose.get(folded) or self._aliases.get(folded)
        return self._fields.get(original) if original is not None else None

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)


_NUMBERED = re.compile(r"^[0-9][0-9.]*$")


def loose_key(name: str) -> str:
    """Fold case and separators so `First Name`, `first_name` and `first-name` match."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


@dataclass(frozen=True)
class Unwrapped:
    """An adapter's result: the flat fields and the sender's own id, if any."""

    fields: FieldSet
    sender_id: str | None = None


class Adapter:
    """Turns one tool's parsed body into flat fields; subclasses know each tool."""

    name: ClassVar[str]

    # PhoneBurner field -> the tool's usual field names, tried in order.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {}

    # Glob patterns of transport fields that are never forwarded as extras.
    noise: ClassVar[tuple[str, ...]] = ()

    # Whether the tool signs its webhooks, so a source may set auth = "signature".
    signed: ClassVar[bool] = False

    # Whether the signature covers the request's method and URL; verify_signature then
    # also gets `method` and `url` keywords, the URL as the sender called it.
    signs_url: ClassVar[bool] = False

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        """Return the flat fields of one request.

        `document` is the decoded JSON body (None for forms); `pairs` are the
        body's fields flattened to dotted keys in payload order.
        """
        raise NotImplementedError

    def verify_signature(
        self, *, body: bytes, headers: Mapping[str, str], secrets: tuple[str, ...], tolerance: float, now: float
    ) -> bytes | None:
        """Raise Unauthorized unless the request carries the tool's valid signature.

        `body` is the raw request body, `secrets` the source's signing secrets
        (any one may match, for rotation), `tolerance` the allowed clock skew
        in seconds for schemes that sign a timestamp, `now` the Unix time.
        Malformed headers must raise Unauthorized, never anything else.

        Returns the verified signature as decoded bytes, which only this signed
        request carries and which intake uses to recognize a replay of it; or
        None when the scheme has no such value (a shared key sent in the body).
        """
        raise NotImplementedError(f"the {self.name} adapter has no signature scheme")
