"""Preview what the relay would send for a saved payload, without sending anything."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, request

from app.adapters import FieldSet
from app.config.model import Settings
from app.errors import IgnoredEvent, InvalidLead, RelayError
from app.intake.bodies import read_body
from app.leads import Lead
from app.phoneburner.query import UrlTooLong, build_put_contact
from app.relay import build_handler
from app.routing import Destination, resolve_destination

# File endings of saved payloads, and the content type each implies.
_CONTENT_TYPES = {".json": "application/json", ".form": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Report:
    """A preview's text, and whether the payload would be delivered."""

    text: str
    deliverable: bool


@dataclass(frozen=True)
class Payload:
    """A saved request body and its content type."""

    body: bytes
    content_type: str


def load_payload(path: str, content_type: str | None = None) -> Payload:
    """Read a saved body; guess its content type from a sibling .meta.json or the file's ending.

    A `.multipart.txt` file starts with a `# boundary: ...` line, as the
    project's fixtures do; that line is not part of the body.
    """
    file = Path(path)
    raw = file.read_bytes()

    if file.name.endswith(".multipart.txt") and raw.startswith(b"# boundary:"):
        first_line, raw = raw.split(b"\n", 1)
        boundary = first_line.split(b":", 1)[1].strip().decode("ascii")
        content_type = content_type or f"multipart/form-data; boundary={boundary}"

    meta = file.with_name(file.name.split(".")[0] + ".meta.json")
    if content_type is None and meta.exists():
        content_type = json.loads(meta.read_text(encoding="utf-8")).get("content_type")

    content_type = content_type or _CONTENT_TYPES.get(file.suffix)
    if content_type is None:
        raise ValueError(f"cannot tell the content type of {path}: pass --content-type")
    return Payload(body=raw, content_type=content_type)


def preview(settings: Settings, source_name: str, payload: Payload, query: dict[str, str] | None = None) -> Report:
    """Report the fields, lead and put_contact request a payload yields."""
    if source_name not in settings.sources:
        raise ValueError(f"unknown source {source_name!r}; configured: {', '.join(settings.sources)}")
    handler = build_handler(settings.sources[source_name])
    source = handler.source

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.limits.max_body_bytes
    context = app.test_request_context(method="POST", data=payload.body, content_type=payload.content_type)
    with context:
        try:
            body = read_body(request, settings.limits)
            unwrapped = handler.adapter.unwrap(body.document, body.pairs)
        except IgnoredEvent as error:
            return Report(f"ignored: {error.message}", deliverable=False)
        except RelayError as error:
            return Report(f"unreadable ({error.http_status} {error.reason}): {error.message}", deliverable=False)

    lines = [f"source {source.name}: adapter {source.adapter}, signature and token checks skipped"]
    lines += _describe_fields(unwrapped.fields)
    lines.append(f"sender id: {unwrapped.sender_id or 'none'}")

    try:
        destination = resolve_destination(source, settings.customers, unwrapped.fields, query or {})
        lead = handler.schema.load_lead(unwrapped.fields)
    except InvalidLead as error:
        rejected = [*lines, "", f"rejected (422): {error.message}", json.dumps(error.errors, indent=2)]
        return Report("\n".join(rejected), deliverable=False)

    lines += [
        "",
        f"destination: customer {destination.customer}, LeadStream {destination.leadstream} "
        f"(user_id {destination.user_id}, cm_id {destination.cm_id})",
        "",
        "lead:",
        *(f"  {name}: {value}" for name, value in lead.standard_fields()),
        "extras:",
        *(f"  {extra.label}: {extra.value!r}" for extra in lead.extras),
    ]
    request_lines, deliverable = _describe_request(settings, lead, destination)
    return Report("\n".join([*lines, "", *request_lines]), deliverable)


def _describe_fields(fields: FieldSet) -> list[str]:
    lines = ["", "fields as unwrapped (key [label]: values):"]
    for field in fields:
        label = f" [{field.label}]" if field.label != field.key else ""
        lines.append(f"  {field.key}{label}: {field.values!r}")
    return lines


def _describe_request(settings: Settings, lead: Lead, destination: Destination) -> tuple[list[str], bool]:
    phoneburner = settings.phoneburner
    try:
        built = build_put_contact(
            base_url=phoneburner.url,
            vendor_key=phoneburner.vendor_key,
            user_id=destination.user_id,
            cm_id=destination.cm_id,
            lead=lead,
            max_url_bytes=phoneburner.max_url_bytes,
        )
    except UrlTooLong as error:
        return [f"rejected (422): {error}"], False

    lines = [f"put_contact request ({len(built.url.encode())} bytes), key redacted:", f"  GET {built.redacted_url}"]
    lines += [f"    {name} = {value!r}" for name, value in parse_qsl(urlsplit(built.redacted_url).query)]
    if built.truncated or built.dropped:
        lines.append(f"  answers truncated: {', '.join(built.truncated) or 'none'}")
        lines.append(f"  extras dropped: {', '.join(built.dropped) or 'none'}")
    lines.append("nothing was sent.")
    return lines, True
