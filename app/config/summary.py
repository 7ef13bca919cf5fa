"""The effective configuration with every secret masked, for `check-config` and the start-up log."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config.model import Settings, Source

log = logging.getLogger("relay.config")


def mask(secret: str | None) -> str:
    """Hide a secret entirely, showing only its length."""
    return f"****({len(secret)} chars)" if secret else "****"


def summarize(settings: Settings) -> dict[str, Any]:
    """Return the settings as plain data, with secrets masked and the storage URL without its password."""
    phoneburner = settings.phoneburner
    return {
        "path": settings.path,
        "phoneburner": {
            "url": url_without_query(phoneburner.url),
            "vendor_key": mask(phoneburner.vendor_key),
            "connect_timeout": phoneburner.connect_timeout,
            "read_timeout": phoneburner.read_timeout,
            "allow_insecure_url": phoneburner.allow_insecure_url,
            "max_url_bytes": phoneburner.max_url_bytes,
        },
        "admin_token": mask(settings.admin_token) if settings.admin_token else None,
        "customers": {
            customer.name: {"user_id": customer.user_id, "leadstreams": dict(customer.leadstreams)}
            for customer in settings.customers.values()
        },
        "sources": {source.name: _summarize_source(source) for source in settings.sources.values()},
        "storage": {
            "driver": storage_driver(settings.storage.url),
            "url": storage_location(settings.storage.url),
            "idempotency_window_hours": settings.storage.idempotency_window_hours,
            "retention_days": settings.storage.retention_days,
            "pool_size": settings.storage.pool_size,
        },
        "delivery": asdict(settings.delivery),
        "server": {
            "public_url": settings.public_url,
            "trusted_proxies": [str(network) for network in settings.trusted_proxies],
            "request_id_header": settings.request_id_header,
        },
        "limits": {**asdict(settings.limits), "storage_url": url_without_password(settings.limits.storage_url)},
        "logging": asdict(settings.logging),
        "alerts": {
            # A Slack-style webhook URL carries its credential in the path, so only its host is shown.
            "webhook": urlsplit(settings.alerts.webhook_url).hostname if settings.alerts.webhook_url else None,
            "oldest_queued_minutes": settings.alerts.oldest_queued_minutes,
            "min_interval_minutes": settings.alerts.min_interval_minutes,
        },
        "console": {
            "enabled": settings.admin_token is not None,
            "session_hours": settings.admin_session_hours,
        },
    }


def log_loaded(settings: Settings, *, role: str) -> None:
    """Log one `config.loaded` record with the effective configuration, secrets masked."""
    from app.build import build_info

    log.info("config.loaded", extra={"role": role, "build": build_info(), "settings": summarize(settings)})


def _summarize_source(source: Source) -> dict[str, Any]:
    if source.auth == "token":
        credentials = [mask(token) for token in source.tokens]
    else:
        credentials = [mask(secret) for secret in source.signing_secrets]
    return {
        "customers": list(source.customers),
        "leadstream": source.leadstream,
        "leadstreams": list(source.leadstreams),
        "adapter": source.adapter,
        "schema": source.schema,
        "auth": source.auth,
        "credentials": credentials,
        "allowed_origins": list(source.allowed_origins),
        "allowed_ips": [str(network) for network in source.allowed_ips],
        "hmac": asdict(source.hmac) if source.hmac is not None else None,
        "rate_limit": source.rate_limit,
        "ip_rate_limit": source.ip_rate_limit,
        "honeypot": source.honeypot,
        "fields": {name: list(candidates) for name, candidates in source.fields.items()},
        "extras": {label: list(candidates) for label, candidates in source.extras.items()},
        "extras_unmapped": source.extras_unmapped,
        "response_mode": source.response_mode,
    }


def url_without_query(url: str) -> str:
    """Return a URL with its query string replaced by `?...`, since a query could carry a secret."""
    return url.split("?", 1)[0] + ("?..." if "?" in url else "")


def storage_driver(url: str) -> str:
    """Return the store's SQLAlchemy driver name, such as `sqlite` or `postgresql+psycopg`."""
    try:
        return make_url(url).drivername
    except ArgumentError:
        return "unknown"


def storage_location(url: str) -> str:
    """Return the storage URL without its password, and with query values (which may hold one) masked."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a valid URL)"
    location = parsed.set(query={}).render_as_string(hide_password=True)
    names = [name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    return location + ("?" + "&".join(f"{name}=****" for name in names) if names else "")


def url_without_password(url: str) -> str:
    """Return a URL such as redis://:secret@host/0 with its password masked."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return "(not a valid URL)"
    return url.replace(f":{password}@", ":****@", 1) if password else url
