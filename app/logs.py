"""Structured logging: JSON lines carrying the request id and lead id."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from app.redaction import Redactor

if TYPE_CHECKING:
    from app.config.model import Settings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
lead_id: ContextVar[str | None] = ContextVar("lead_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
_BASE_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_RECORD_ATTRIBUTES = _BASE_ATTRIBUTES | {"request_id", "lead_id"}

# Gunicorn's loggers, which write the access and error lines of the web processes.
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")

_EXCEPTION_FORMATTER = logging.Formatter()


class ContextFilter(logging.Filter):
    """Stamp each record with the current request id and lead id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.lead_id = lead_id.get()
        return True


class RedactionFilter(logging.Filter):
    """Redact every field of a record: message, arguments, extra fields and exception text.

    The last line of defence (see app/redaction.py): secrets, query strings,
    emails and phone numbers are replaced before any formatter reads the record.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._message(record), None

        for name, value in list(vars(record).items()):
            if name not in _BASE_ATTRIBUTES:
                setattr(record, name, self._value(value))

        if record.exc_info:
            # Formatters print exc_text when exc_info is gone, so only the redacted text is left to print.
            record.exc_text = record.exc_text or _EXCEPTION_FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True

    def _message(self, record: logging.LogRecord) -> Any:
        if isinstance(record.msg, dict) and not record.args:
            return self._value(record.msg)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A format string that does not fit its arguments: logging would print both raw to stderr.
            message = f"{record.msg} {record.args!r}"
        return self.redactor.redact(message)

    def _value(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, dict):
            return {self._value(key): self._value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._value(item) for item in value]
        return self.redactor.redact(str(value))


def protect_logger(logger: logging.Logger, redactor: Redactor) -> None:
    """Give a logger that the relay does not configure (gunicorn's) a RedactionFilter, replacing any earlier one."""
    for existing in [item for item in logger.filters if isinstance(item, RedactionFilter)]:
        logger.removeFilter(existing)
    logger.addFilter(RedactionFilter(redactor))


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
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class RelayHandler(logging.StreamHandler):
    """A stderr handler that stamps the context and redacts each record before formatting it."""

    def __init__(self, *, format: str, redactor: Redactor) -> None:
        logging.Handler.__init__(self)
        # The context comes first, so a sender's request id is redacted too.
        self.addFilter(ContextFilter())
        self.addFilter(RedactionFilter(redactor))
        use_text = wants_text(format, sys.stderr)
        self.setFormatter(TextFormatter() if use_text else _json_formatter())

    @property
    def stream(self):
        # Looked up on each record, as logging's own last-resort handler does, so a replaced
        # sys.stderr (a test's capture, a daemon's redirect) is followed.
        return sys.stderr


def _json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(lead_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def configure_logging(*, level: str = "INFO", format: str = "auto", secrets: list[str] | None = None) -> None:
    """Send the relay's logs to stderr as JSON lines, or as text in a terminal, all redacted.

    Gunicorn's loggers in this process get the same redaction, with the
    secrets. Other libraries' warnings (urllib3, SQLAlchemy) go through a
    redacting handler on the root logger, instead of logging's last-resort
    handler, which would print them unredacted.
    """
    redactor = Redactor(secrets or [])

    logger = logging.getLogger("relay")
    logger.handlers[:] = [RelayHandler(format=format, redactor=redactor)]
    logger.setLevel(level)
    logger.propagate = False

    root = logging.getLogger()
    for existing in [handler for handler in root.handlers if isinstance(handler, RelayHandler)]:
        root.removeHandler(existing)
    root_handler = RelayHandler(format=format, redactor=redactor)
    root_handler.setLevel(logging.WARNING)
    # The relay's records have their own handler, even when a test lets them propagate.
    root_handler.addFilter(lambda record: record.name.partition(".")[0] != "relay")
    root.addHandler(root_handler)

    for name in GUNICORN_LOGGERS:
        protect_logger(logging.getLogger(name), redactor)


def wants_text(format: str, stream: TextIO) -> bool:
    """Return whether [logging].format selects text lines for this stream: "text", or "auto" in a terminal."""
    return format == "text" or (format == "auto" and stream.isatty())


def configure_from(settings: Settings) -> None:
    """Configure logging as the settings' [logging] table sets it, redacting every secret they hold."""
    configure_logging(level=settings.logging.level, format=settings.logging.format, secrets=settings.secret_values())


def new_id() -> str:
    """Return a fresh random id for a request or a lead."""
    return uuid.uuid4().hex
