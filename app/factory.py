"""The application factory: configuration, logging, PhoneBurner client, then routes."""

from __future__ import annotations

import requests
from flask import Flask

from app import http, logs, services
from app.config import Settings, load_settings
from app.health import blueprint as health_blueprint
from app.intake.bodies import RelayRequest
from app.intake.views import blueprint as intake_blueprint
from app.openapi import blueprint as openapi_blueprint
from app.relay import Relay
from app.status import blueprint as status_blueprint


def create_app(settings: Settings | None = None, *, session: requests.Session | None = None) -> Flask:
    """Build the relay: configuration, logging, PhoneBurner client, then routes."""
    settings = settings or load_settings()
    logs.configure_logging(
        level=settings.logging.level,
        format=settings.logging.format,
        secrets=_secrets(settings),
    )

    size = services.pool_size()
    client = services.build_client(settings, size=size, session=session)
    store = services.build_store(settings, connections=min(size, 20))

    app = Flask(__name__)
    app.request_class = RelayRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.limits.max_body_bytes
    app.config["MAX_FORM_PARTS"] = settings.limits.max_fields
    app.extensions["relay"] = Relay(settings, client, store)

    http.install(app)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(intake_blueprint)
    app.register_blueprint(status_blueprint)
    app.register_blueprint(openapi_blueprint)
    return app


def _secrets(settings: Settings) -> list[str]:
    tokens = [token for source in settings.sources.values() for token in (*source.tokens, *source.signing_secrets)]
    return [settings.phoneburner.vendor_key, *tokens, *filter(None, [settings.admin_token])]
