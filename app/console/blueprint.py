"""The console's blueprint, shared by its view modules, with the template helpers its pages use."""

from __future__ import annotations

from flask import Blueprint
from flask_wtf.csrf import generate_csrf

from app.cli_format import format_time

blueprint = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)

# Globals, not context values, so that macros imported into templates see them too.
blueprint.add_app_template_global(generate_csrf, "csrf_token")
blueprint.add_app_template_filter(format_time, "utc")
