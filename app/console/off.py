"""The console while [admin].token is unset: every console URL returns 404 and a page on how to open it.

The console's own modules (forms, sessions, views) are imported only when it is on, so a relay
without the console keeps about 1 MiB less in each web worker.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from app.console.headers import add_console_headers

# OPTIONS is listed so that Flask does not respond to it with 200 itself.
METHODS = ["GET", "POST", "OPTIONS"]

blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
blueprint.after_request(add_console_headers)


# Without strict slashes /console gets the page too, not a redirect to /console/.
@blueprint.route("/", defaults={"path": ""}, methods=METHODS, strict_slashes=False)
@blueprint.route("/<path:path>", methods=METHODS)
def console_off(path: str) -> tuple[str, int]:
    """Return the 404 page of the console being off."""
    return render_template("console/off.html"), 404
