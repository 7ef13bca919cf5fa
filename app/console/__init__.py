"""The operators' console under /console/: leads, their attempts, replays, customers on hold, a chart.

Every page needs the admin token: typed once into the login form, which sets a signed session cookie,
or sent as `Authorization: Bearer` on a GET or HEAD. Without [admin].token the console is off and returns 404.
"""

from __future__ import annotations

from flask import Flask

from app.config.model import Settings


def install(app: Flask, settings: Settings) -> None:
    """Register the console on the app with its session cookie, or only its 404 page when it is off."""
    if not settings.admin_token:
        from app.console.off import blueprint as off_blueprint

        app.register_blueprint(off_blueprint)
        return

    from app.console import auth_views, guard, lead_views, views  # noqa: F401  (they register routes and hooks)
    from app.console.blueprint import blueprint
    from app.console.sessions import LoginThrottle, configure_sessions

    configure_sessions(app, settings)
    app.extensions["console.login_throttle"] = LoginThrottle()
    app.register_blueprint(blueprint)
