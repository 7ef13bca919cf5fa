"""The rate limits the configuration sets for each source.

Kept apart from ratelimits.py, which creates Prometheus metrics on import, so
that check-config can describe the limits without a metrics directory.
"""

from __future__ import annotations

from app.config.model import Limits, Source


def ip_limit(source: Source, limits: Limits) -> str:
    """Return the per-IP limit of a source: its own, else the browser-form or the general default."""
    if source.ip_rate_limit:
        return source.ip_rate_limit
    return limits.per_ip_browser if source.auth == "none" else limits.per_ip


def source_limit(source: Source, limits: Limits) -> str:
    """Return the per-source limit of a source: its own, else [limits].per_source."""
    return source.rate_limit or limits.per_source
