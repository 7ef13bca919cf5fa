"""Rendering helpers shared by the console's views: pages, error pages, and safe redirect targets."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render one of the console's templates with an HTTP status."""
    response = make_response(render_template(f"console/{template}", **context), status)
    return response


def render_error(status: int, title: str, message: str, *, retry_after: int | None = None) -> Response:
    """Render the console's error page."""
    response = render_page("error.html", status, title=title, message=message)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def local_target(target: str | None, default: str) -> str:
    """Return `target` when it is a path inside the console, else `default`, so no link can redirect elsewhere."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
