"""The operator's command line: `python -m app <command>`."""

from __future__ import annotations

import argparse
import sys

from app.config import ConfigError, Settings, config_path, load_settings


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


def describe(settings: Settings) -> str:
    """Summarize the settings for a person, every secret masked."""
    phoneburner = settings.phoneburner
    lines = [
        f"configuration {settings.path}: OK",
        "",
        "phoneburner:",
        f"  url              {_without_query(phoneburner.url)}",
        f"  vendor_key       {mask(phoneburner.vendor_key)}",
        f"  timeouts         connect {phoneburner.connect_timeout} s, read {phoneburner.read_timeout} s",
        f"  insecure URL     {'allowed (development only)' if phoneburner.allow_insecure_url else 'refused'}",
        f"admin token:       {mask(settings.admin_token) if settings.admin_token else 'not set'}",
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
        credentials = f"{len(source.tokens)} token(s) {', '.join(mask(token) for token in source.tokens)}"
        auth = credentials if source.auth == "token" else f"none, origins {', '.join(source.allowed_origins)}"
        lines += [
            f"  {source.name}: POST /v1/leads/{source.name}",
            f"    customer(s)    {', '.join(source.customers)}",
            f"    leadstream     {leadstream}",
            f"    adapter        {source.adapter}{f', schema {source.schema}' if source.schema else ''}",
            f"    auth           {auth}",
            f"    fields         {_describe_map(source.fields) or 'adapter defaults'}",
            f"    extras         {_describe_map(source.extras) or 'none mapped'}; "
            f"unmapped fields {'forwarded' if source.extras_unmapped else 'dropped'}",
            f"    answers        {source.response_mode}",
        ]
    return "\n".join(lines)


def _without_query(url: str) -> str:
    # A query string could carry a secret; the configuration check rejects a key there.
    return url.split("?", 1)[0] + ("?..." if "?" in url else "")


def mask(secret: str | None) -> str:
    """Hide a secret entirely, showing only its length."""
    return f"****({len(secret)} chars)" if secret else "****"


def _describe_map(mapping: dict[str, tuple[str, ...]]) -> str:
    return ", ".join(f"{name} <- {'|'.join(candidates)}" for name, candidates in mapping.items())
