"""Gunicorn's logger for the relay: JSON access lines, and every line redacted.

A sender that cannot set headers puts its token in the query string, so
neither the access log nor gunicorn's error log may print one. Both loggers
get the relay's RedactionFilter with the configuration's secrets, here for
the master and again in each worker when the app configures its logging.
Access lines are built with json.dumps, so a control character in a path
cannot split a line or forge another.
"""

from __future__ import annotations

import json
import os

from gunicorn.glogging import Logger

from app.logs import protect_logger, wants_text
from app.redaction import Redactor

# Paths are cut here: a long path is noise in a log, or an attempt to fill it.
MAX_PATH_CHARS = 200


class RelayLogger(Logger):
    """Gunicorn's logger with JSON access lines (text in a terminal) and redacted error lines."""

    # Set from [logging].format by use_format once the configuration is loaded; until then JSON.
    text_access_lines = False

    def use_format(self, format: str) -> None:
        """Write access lines in the [logging].format: JSON, or text for "text", or for "auto" in a terminal."""
        stream = next((handler.stream for handler in self.access_log.handlers if hasattr(handler, "stream")), None)
        self.text_access_lines = stream is not None and wants_text(format, stream)

    def setup(self, cfg) -> None:
        super().setup(cfg)
        redactor = Redactor(_configured_secrets(cfg))
        for logger in (self.error_log, self.access_log):
            protect_logger(logger, redactor)

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return

        duration_ms = request_time.total_seconds() * 1000
        line = {
            "logger": "gunicorn.access",
            "method": req.method,
            "path": req.path[:MAX_PATH_CHARS],
            # Gunicorn's own error responses carry only the status line.
            "status": getattr(resp, "status_code", None) or str(getattr(resp, "status", "")).split(" ")[0],
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(duration_ms, 1),
            "request_id": dict(resp.headers).get("X-Request-Id"),
        }
        if self.text_access_lines:
            self.access_log.info(_text_line(line))
        else:
            self.access_log.info(json.dumps(line, ensure_ascii=True))


def _text_line(line: dict) -> str:
    # The path goes through json.dumps as well, so its control characters stay escaped.
    path = json.dumps(line["path"], ensure_ascii=True)[1:-1]
    return (
        f"{line['method']} {path} {line['status']} {line['bytes']} bytes {line['duration_ms']} ms "
        f"request_id={line['request_id']}"
    )


def _configured_secrets(cfg) -> list[str]:
    """Return the relay configuration's secrets, or none when it does not load.

    At `--log-level debug` the master logs its settings, `--env` values
    included, before it applies them to its environment; so they are read here.
    An invalid configuration is reported by the on_starting hook instead.
    """
    from app.config import ConfigError, load_settings

    try:
        return load_settings(environ={**os.environ, **cfg.env}).secret_values()
    except ConfigError:
        return []
