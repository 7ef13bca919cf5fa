"""The application factory: configuration, logging, PhoneBurner client, then routes."""

from __future__ import annotations

import requests
from flask import Flask

from app import http, logs, services
from app.config import Settings, load_settings
from app.config.summary import log_loaded
from app.console import install as install_console
from app.health import blueprint as health_blueprint
from app.intake import ratelimits
from app.intake.bodies import RelayRequest
from app.intake.body_deadline import BodyDeadline
from app.intake.views import blueprint as intake_blueprint
from app.metrics_view import blueprint as metrics_blueprint
from app.openapi import blueprint as openapi_blueprint
from app.relay import Relay
from app.status import blueprint as status_blueprint


def create_app(settings: Settings | None = None, *, session: requests.Session | None = None) -> Flask:
    """Build the relay: configuration, logging, PhoneBurner client, then routes."""
    settings = settings or load_settings()
    logs.configure_from(settings)
    log_loaded(settings, role="web")

    size = services.pool_size()
    client = services.build_client(settings, size=size, session=session)
    store = services.build_store(settings)

    app = Flask(__name__)
    app.request_class = RelayRequest
    # One byte over the limit, so that read_raw can tell a chunked body cut at this length from one that fits.
    app.config["MAX_CONTENT_LENGTH"] = settings.limits.max_body_bytes + 1
    app.config["MAX_FORM_PARTS"] = settings.limits.max_fields
    # max_value_chars bounds each form value with a clear message, so werkzeug's own bound is the body's size.
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.limits.max_body_bytes
    app.extensions["relay"] = Relay(settings, client, store)

    http.install(app)
    ratelimits.install(app, settings)
    app.wsgi_app = BodyDeadline(app.wsgi_app, seconds=settings.limits.body_timeout)  # type: ignore[method-assign]
    app.register_blueprint(health_blueprint)
    app.register_blueprint(intake_blueprint)
    app.register_blueprint(status_blueprint)
    install_console(app, settings)
    app.register_blueprint(metrics_blueprint)
    app.register_blueprint(openapi_blueprint)
    return app
