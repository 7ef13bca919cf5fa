"""The application factory: configuration, logging, PhoneBurner client, then routes."""

from __future__ import annotations

import os

import requests
from flask import Flask

from app import __version__, http, logs
from app.config import Settings, load_settings
from app.health import blueprint as health_blueprint
from app.intake.views import blueprint as intake_blueprint
from app.phoneburner.client import PhoneBurnerClient, make_session
from app.relay import Relay

# The pool must allow as many connections as the worker runs requests at once;
# gunicorn.conf.py exports its worker_connections here.
DEFAULT_POOL_SIZE = 100


def create_app(settings: Settings | None = None, *, session: requests.Session | None = None) -> Flask:
    """Build the relay: configuration, logging, PhoneBurner client, then routes."""
    settings = settings or load_settings()
    logs.configure_logging(
        level=settings.logging.level,
        format=settings.logging.format,
        secrets=_secrets(settings),
    )

    pool_size = int(os.environ.get("RELAY_POOL_SIZE", DEFAULT_POOL_SIZE))
    client = PhoneBurnerClient(
        url=settings.phoneburner.url,
        vendor_key=settings.phoneburner.vendor_key,
        session=session or make_session(pool_size, user_agent=f"phoneburner-lead-relay/{__version__}"),
        connect_timeout=settings.phoneburner.connect_timeout,
        read_timeout=settings.phoneburner.read_timeout,
        max_url_bytes=settings.phoneburner.max_url_bytes,
    )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.limits.max_body_bytes
    app.config["MAX_FORM_PARTS"] = settings.limits.max_fields
    app.extensions["relay"] = Relay(settings, client)

    http.install(app)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(intake_blueprint)
    return app


def _secrets(settings: Settings) -> list[str]:
    tokens = [token for source in settings.sources.values() for token in source.tokens]
    return [settings.phoneburner.vendor_key, *tokens, *filter(None, [settings.admin_token])]
