"""GET /openapi.json: the OpenAPI document of the relay's public HTTP API."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

# The document is a file of its own, so API tools can read it without running the relay.
DOCUMENT_PATH = Path(__file__).resolve().with_name("openapi.json")

blueprint = Blueprint("openapi", __name__)

# Read once at import, because the document is static. It contains no secrets.
_DOCUMENT = DOCUMENT_PATH.read_bytes()


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    """Return the OpenAPI document, to anyone."""
    return Response(_DOCUMENT, mimetype="application/json")
