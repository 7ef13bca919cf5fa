"""Gunicorn's logger for the relay: JSON access lines, and no query strings anywhere.

A sender that cannot set headers puts its token in the query string, so
neither the access log nor gunicorn's error log may print one. Access lines
are built with json.dumps, so a control character in a path cannot split a
line or forge another.
"""

from __future__ import annotations

import json
import logging
import re

from gunicorn.glogging import Logger

from app.logs import wants_text

# A query string in a request target: "?" then text with an "=" in it, up to whitespace or a quote.
_QUERY = re.compile(r"\?[^\s\"'=]*=[^\s\"']*")

# Paths are cut here: a long path is noise in a log, or an attempt to fill it.
MAX_PATH_CHARS = 200


class QueryRedactionFilter(logging.Filter):
    """Replace every query string in a gunicorn message with `?REDACTED`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?REDACTED", message), None
        return True


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
        if not any(isinstance(existing, QueryRedactionFilter) for existing in self.error_log.filters):
            self.error_log.addFilter(QueryRedactionFilter())

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
