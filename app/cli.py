"""The operator's command line: `python -m app <command>`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app import logs
from app.cli_worker import add_metrics_arguments
from app.config import ConfigError, Settings, Source, config_path, load_settings
from app.config.summary import (
    mask,
    storage_driver,
    storage_location,
    summarize,
    url_without_password,
    url_without_query,
)
from app.intake.limit_settings import ip_limit, source_limit


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m app", description="PhoneBurner lead relay")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check-config", help="validate the configuration file and print it, secrets masked")
    check.add_argument("--config", help="the TOML file (default: $RELAY_CONFIG or config/relay.toml)")

    show = commands.add_parser(
        "preview", help="show the lead and put_contact request a saved payload yields, without sending it"
    )
    show.add_argument("source", help="the source name, as in /v1/leads/<source>")
    show.add_argument("file", help="the saved request body (.json, .form, .multipart.txt, or any with --content-type)")
    show.add_argument("--content-type", help="the body's content type, when the file's ending does not tell it")
    show.add_argument("--query", action="append", default=[], metavar="NAME=VALUE",
                      help="a query parameter of the request, such as customer=acme (repeatable)")
    show.add_argument("--config", help="the TOML file (default: $RELAY_CONFIG or config/relay.toml)")

    migrate = commands.add_parser("migrate", help="create or upgrade the store's tables")
    migrate.add_argument("--config", help="the TOML file (default: $RELAY_CONFIG or config/relay.toml)")

    worker = commands.add_parser("worker", help="deliver queued leads, retrying on PhoneBurner's failures")
    worker.add_argument("--config", help="the TOML file (default: $RELAY_CONFIG or config/relay.toml)")
    worker.add_argument("--once", action="store_true", help="attempt the leads due now, then exit")
    add_metrics_arguments(worker)

    from app.cli_leads import add_commands

    add_commands(commands)

    commands.add_parser(
        "simulator",
        help="run the PhoneBurner simulator (see: python -m app simulator --help)",
        add_help=False,
    )

    args, rest = parser.parse_known_args(argv)
    if args.command == "simulator":
        from app.phoneburner.simulator import main as simulator_main

        return simulator_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "preview":
        return run_preview(args)
    if args.command == "migrate":
        return run_migrate(args)
    if args.command == "worker":
        from app.cli_worker import run_worker

        return run_worker(args)
    if args.command in ("leads", "customers"):
        from app.cli_leads import run

        return run(args)
    return check_config(args.config)


def check_config(path: str | None) -> int:
    """Validate the configuration file and print what was loaded."""
    path = path or config_path()
    try:
        settings = load_settings(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1

    print(describe(settings))
    return 0


def run_preview(args: argparse.Namespace) -> int:
    """Print what a saved payload would become; exit 1 when it cannot be read or mapped."""
    from app.preview import load_payload, preview

    try:
        settings = load_settings(args.config or config_path())
        payload = load_payload(args.file, args.content_type)
        query = dict(item.partition("=")[::2] for item in args.query)
        report = preview(settings, args.source, payload, query)
    except (ConfigError, OSError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1

    print(report.text)
    return 0 if report.deliverable else 1


def load_or_exit(path: str | None) -> Settings:
    """Load the settings and configure logging from them, or print the configuration error and exit 1."""
    try:
        settings = load_settings(path or config_path())
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None

    logs.configure_from(settings)
    return settings


def run_migrate(args: argparse.Namespace) -> int:
    """Apply the store's migrations."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.store.engine import make_engine, migrate

    settings = load_or_exit(args.config)
    engine = make_engine(settings.storage.url)
    try:
        migrate(engine)
    except SQLAlchemyError as error:
        print(f"migration failed on {engine.url.render_as_string()}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"store {engine.url.render_as_string()} is up to date")
    return 0


def _describe_storage(settings: Settings) -> str:
    location = storage_location(settings.storage.url)
    if storage_driver(settings.storage.url) == "sqlite":
        return location
    return f"{location}, at most {settings.storage.pool_size} connections per process"


def describe(settings: Settings) -> str:
    """Summarize the settings for a person, every secret masked."""
    phoneburner = settings.phoneburner
    lines = [
        f"configuration {settings.path}: OK",
        "",
        "phoneburner:",
        f"  url              {url_without_query(phoneburner.url)}",
        f"  vendor_key       {mask(phoneburner.vendor_key)}",
        f"  timeouts         connect {phoneburner.connect_timeout} s, read {phoneburner.read_timeout} s",
        f"  insecure URL     {'allowed (development only)' if phoneburner.allow_insecure_url else 'refused'}",
        f"admin token:       {mask(settings.admin_token) if settings.admin_token else 'not set'}",
        f"storage:           {_describe_storage(settings)}",
        f"console session:   {_describe_console_session(settings)}",
        f"rate limits:       {_describe_limits(settings)}",
        *_describe_operations(settings),
        "",
        "customers:",
    ]
    for customer in settings.customers.values():
        streams = ", ".join(f"{name} (cm_id {cm_id})" for name, cm_id in customer.leadstreams.items())
        lines.append(f"  {customer.name}: user_id {customer.user_id}; LeadStreams: {streams}")

    lines += ["", "sources:"]
    for source in settings.sources.values():
        leadstream = source.leadstream or "chosen per request"
        if source.leadstreams:
            leadstream += f" (request may choose: {', '.join(source.leadstreams)})"
        auth = _describe_auth(source)
        lines += [
            f"  {source.name}: POST /v1/leads/{source.name}",
            f"    customer(s)    {', '.join(source.customers)}",
            f"    leadstream     {leadstream}",
            f"    adapter        {source.adapter}{f', schema {source.schema}' if source.schema else ''}",
            f"    auth           {auth}",
            f"    client IPs     {', '.join(map(str, source.allowed_ips)) or 'any'}",
            f"    fields         {_describe_map(source.fields) or 'adapter defaults'}",
            f"    extras         {_describe_map(source.extras) or 'none mapped'}; "
            f"unmapped fields {'forwarded' if source.extras_unmapped else 'dropped'}",
            f"    answers        {source.response_mode}",
            f"    rate limits    {_describe_source_limits(source, settings)}",
        ]

    summary = summarize(settings)
    lines += ["", "settings:"]
    for table in ("delivery", "limits", "server", "logging"):
        values = ", ".join(f"{key} {_plain(value)}" for key, value in summary[table].items())
        lines.append(f"  {table:<16} {values}")
    return "\n".join(lines)


def _describe_console_session(settings: Settings) -> str:
    if not settings.admin_token:
        return "off (set [admin].token to open /console/)"
    signer = (f"[admin].session_secret {mask(settings.admin_session_secret)}" if settings.admin_session_secret
              else "a secret derived from the admin token")
    return f"{settings.admin_session_hours:g} hours, signed with {signer}"


def _describe_limits(settings: Settings) -> str:
    limits = settings.limits
    return (
        f"{limits.per_source} per source, {limits.per_ip} per client IP ({limits.per_ip_browser} for browser forms), "
        f"counted in {url_without_password(limits.storage_url)}"
    )


def _describe_source_limits(source: Source, settings: Settings) -> str:
    rate = source_limit(source, settings.limits)
    described = f"{rate} per source, {ip_limit(source, settings.limits)} per client IP"
    return described + (f"; honeypot field {source.honeypot!r}" if source.honeypot else "")


def _describe_operations(settings: Settings) -> list[str]:
    alerts = settings.alerts
    webhook = _mask_url(alerts.webhook_url) if alerts.webhook_url else "not set (alerts off)"
    return [
        "",
        "alerts:",
        f"  webhook          {webhook}",
        f"  oldest queued    {alerts.oldest_queued_minutes:g} min; one alert per {alerts.min_interval_minutes:g} min",
        "",
        "shutdown:",
        f"  web              {settings.web_graceful_timeout:g} s for requests in flight (gunicorn graceful_timeout)",
        f"  worker           {settings.worker_shutdown_grace:g} s for attempts in flight",
    ]


def _mask_url(url: str) -> str:
    # A Slack webhook's path is its credential. The host shows the operator where alerts go.
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1]}/****"


def _describe_auth(source: Source) -> str:
    if source.auth == "token":
        return f"{len(source.tokens)} token(s) {', '.join(mask(token) for token in source.tokens)}"
    secrets = f"{len(source.signing_secrets)} secret(s) {', '.join(mask(secret) for secret in source.signing_secrets)}"
    if source.auth == "signature":
        return f"the {source.adapter} signature, {secrets}"
    if source.hmac is not None:
        hmac = source.hmac
        timestamp = f", timestamp in {hmac.timestamp_header}" if hmac.timestamp_header else ""
        return f"HMAC-{hmac.algorithm.upper()} ({hmac.encoding}) in {hmac.header}{timestamp}, {secrets}"
    if source.auth == "standard_webhooks":
        return f"Standard Webhooks signature, {secrets}"
    return f"none, origins {', '.join(source.allowed_origins)}"


def _describe_map(mapping: dict[str, tuple[str, ...]]) -> str:
    return ", ".join(f"{name} <- {'|'.join(candidates)}" for name, candidates in mapping.items())


def _plain(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
