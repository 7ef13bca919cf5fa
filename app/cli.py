"""The operator's command line: `python -m app <command>`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app import logs
from app.cli_worker import add_metrics_arguments
from app.config import ConfigError, Settings, config_path, load_settings
from app.config.summary import summarize


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


def describe(settings: Settings) -> str:
    """Summarize the settings for a person, every secret masked."""
    summary = summarize(settings)
    phoneburner = summary["phoneburner"]
    lines = [
        f"configuration {settings.path}: OK",
        "",
        "phoneburner:",
        f"  url              {phoneburner['url']}",
        f"  vendor_key       {phoneburner['vendor_key']}",
        f"  timeouts         connect {phoneburner['connect_timeout']} s, read {phoneburner['read_timeout']} s",
        f"  insecure URL     {'allowed (development only)' if phoneburner['allow_insecure_url'] else 'refused'}",
        f"admin token:       {summary['admin_token'] or 'not set'}",
        f"storage:           {summary['storage']['url']}",
        "",
        "customers:",
    ]
    for name, customer in summary["customers"].items():
        streams = ", ".join(f"{stream} (cm_id {cm_id})" for stream, cm_id in customer["leadstreams"].items())
        lines.append(f"  {name}: user_id {customer['user_id']}; LeadStreams: {streams}")

    lines += ["", "sources:"]
    for name, source in summary["sources"].items():
        lines += _describe_source(name, source)

    lines += ["", "settings:"]
    for table in ("delivery", "limits", "server", "logging"):
        values = ", ".join(f"{key} {_plain(value)}" for key, value in summary[table].items())
        lines.append(f"  {table:<16} {values}")
    return "\n".join(lines)


def _describe_source(name: str, source: dict[str, Any]) -> list[str]:
    leadstream = source["leadstream"] or "chosen per request"
    if source["leadstreams"]:
        leadstream += f" (request may choose: {', '.join(source['leadstreams'])})"
    schema = f", schema {source['schema']}" if source["schema"] else ""
    return [
        f"  {name}: POST /v1/leads/{name}",
        f"    customer(s)    {', '.join(source['customers'])}",
        f"    leadstream     {leadstream}",
        f"    adapter        {source['adapter']}{schema}",
        f"    auth           {_describe_auth(source)}",
        f"    fields         {_describe_map(source['fields']) or 'adapter defaults'}",
        f"    extras         {_describe_map(source['extras']) or 'none mapped'}; "
        f"unmapped fields {'forwarded' if source['extras_unmapped'] else 'dropped'}",
        f"    answers        {source['response_mode']}",
    ]


def _describe_auth(source: dict[str, Any]) -> str:
    credentials = ", ".join(source["credentials"])
    if source["auth"] == "token":
        return f"{len(source['credentials'])} token(s) {credentials}"
    if source["auth"] == "signature":
        return f"the {source['adapter']} signature, {len(source['credentials'])} secret(s) {credentials}"
    return f"none, origins {', '.join(source['allowed_origins'])}"


def _describe_map(mapping: dict[str, list[str]]) -> str:
    return ", ".join(f"{name} <- {'|'.join(candidates)}" for name, candidates in mapping.items())


def _plain(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
