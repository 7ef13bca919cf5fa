"""Structured logging: JSON lines carrying the request id and lead id."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, TextIO

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from app.config.model import Settings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
lead_id: ContextVar[str | None] = ContextVar("lead_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "lead_id"}


class ContextFilter(logging.Filter):
    """Stamp each record with the current request id and lead id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.lead_id = lead_id.get()
        return True


class SecretFilter(logging.Filter):
    """Replace known secrets in a record's message, a last line of defence."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if len(secret) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            cleaned = message
            for secret in self.secrets:
                cleaned = cleaned.replace(secret, "REDACTED")
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


class TextFormatter(logging.Formatter):
    """One readable line per record, for a terminal: fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}
        for key in ("request_id", "lead_id"):
            if getattr(record, key, None):
                fields[key] = getattr(record, key)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(*, level: str = "INFO", format: str = "auto", secrets: list[str] | None = None) -> None:
    """Send the relay's logs to stderr as JSON lines, or as text in a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretFilter(secrets or []))

    if wants_text(format, sys.stderr):
        handler.setFormatter(TextFormatter())
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(lead_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )

    logger = logging.getLogger("relay")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def wants_text(format: str, stream: TextIO) -> bool:
    """Return whether [logging].format selects text lines for this stream: "text", or "auto" in a terminal."""
    return format == "text" or (format == "auto" and stream.isatty())


def configure_from(settings: Settings) -> None:
    """Configure logging as the settings' [logging] table sets it, redacting every secret they hold."""
    from app.config.summary import secret_values

    configure_logging(level=settings.logging.level, format=settings.logging.format, secrets=secret_values(settings))


def new_id() -> str:
    """Return a fresh random id for a request or a lead."""
    return uuid.uuid4().hex
