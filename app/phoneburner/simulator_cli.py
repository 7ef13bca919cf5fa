"""Command line of the PhoneBurner simulator.

`python -m app.phoneburner.simulator` parses the flags below, optionally takes
the vendor key and accounts from a relay configuration file, and serves until
it is stopped. Run it with `--help` for the flags.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Mapping

from app.config.interpolate import UnresolvedVariable, interpolate_string
from app.phoneburner.simulator import SimulatorSettings, SimUser, run

DEFAULT_KEY = "sim-vendor-key"
DEFAULT_USER = "123456:YYYY,ZZZZ"


class ConfigError(Exception):
    """The relay configuration file cannot give the simulator its settings."""


def parse_user_spec(text: str) -> tuple[str, set[str]]:
    """Parse `USER_ID:CM_ID[,CM_ID...]` into the user id and its cm_ids."""
    user_id, separator, cm_id_list = text.partition(":")
    cm_ids = {cm_id.strip() for cm_id in cm_id_list.split(",") if cm_id.strip()}
    if not user_id.strip() or not separator or not cm_ids:
        raise argparse.ArgumentTypeError(
            f"invalid user {text!r}: expected USER_ID:CM_ID[,CM_ID...], for example {DEFAULT_USER}"
        )
    return user_id.strip(), cm_ids


def _config_string(value: object, key_path: str, environ: Mapping[str, str]) -> str:
    # TOML may give account ids as integers, and the relay sends them as text.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{key_path} must be a string, not {type(value).__name__}")
    try:
        return interpolate_string(str(value), environ, key_path)
    except UnresolvedVariable as error:
        raise ConfigError(f"{key_path}: {error.message}") from None


def read_relay_config(path: str, environ: Mapping[str, str]) -> tuple[str | None, dict[str, set[str]]]:
    """Read the vendor key and the accounts from a relay TOML configuration.

    Returns `[phoneburner].vendor_key` (None when absent) and, for every
    `[customers.NAME]` table, its `user_id` mapped to the cm_ids of its
    `leadstreams` table. Customers sharing a user_id get their cm_ids merged.
    Only these values are expanded from the environment, so variables that
    other parts of the file need may stay unset.
    """
    try:
        with open(path, "rb") as file:
            config = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML in {path}: {error}") from None

    vendor_key = None
    phoneburner = config.get("phoneburner", {})
    if "vendor_key" in phoneburner:
        vendor_key = _config_string(phoneburner["vendor_key"], "phoneburner.vendor_key", environ)

    users: dict[str, set[str]] = {}
    for name, customer in config.get("customers", {}).items():
        prefix = f"customers.{name}"
        if "user_id" not in customer:
            raise ConfigError(f"{prefix}.user_id is missing in {path}")
        user_id = _config_string(customer["user_id"], f"{prefix}.user_id", environ)

        leadstreams = customer.get("leadstreams", {})
        if not isinstance(leadstreams, dict):
            raise ConfigError(f"{prefix}.leadstreams must be a table of LeadStream name to cm_id")

        cm_ids = users.setdefault(user_id, set())
        for leadstream, cm_id in leadstreams.items():
            cm_ids.add(_config_string(cm_id, f"{prefix}.leadstreams.{leadstream}", environ))
    return vendor_key, users


def build_parser() -> argparse.ArgumentParser:
    """Create the argument parser of the simulator's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m app.phoneburner.simulator",
        description="Serve a local PhoneBurner LeadStream put_contact endpoint for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8081, help="TCP port to listen on, 0 for any free port (default: %(default)s)"
    )

    parser.add_argument(
        "--key",
        help=f"vendor key that requests must carry (default: the config's, else {DEFAULT_KEY})",
    )
    parser.add_argument(
        "--user",
        action="append",
        type=parse_user_spec,
        default=[],
        metavar="USER_ID:CM_ID[,CM_ID...]",
        help=f"add an account and its LeadStream cm_ids; repeatable (default without --from-config: {DEFAULT_USER})",
    )
    parser.add_argument(
        "--cancelled-user",
        action="append",
        default=[],
        metavar="USER_ID",
        help="mark an account as cancelled, adding it if unknown; repeatable",
    )

    parser.add_argument(
        "--latency-ms", type=int, default=0, help="delay added to every put_contact reply, in ms (default: 0)"
    )
    parser.add_argument(
        "--hang-seconds",
        type=float,
        default=600.0,
        help="how long the hang fault keeps a connection open, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--max-received",
        type=int,
        default=10_000,
        help="maximum number of requests kept for /_sim/received, 0 for no limit (default: %(default)s)",
    )

    parser.add_argument(
        "--from-config",
        metavar="PATH",
        help="take the vendor key and the customers' user_id and LeadStream cm_ids from a relay TOML file",
    )
    return parser


def build_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> SimulatorSettings:
    """Combine the flags and the optional relay config into simulator settings.

    `--key` wins over the config's vendor key. Accounts from `--user` are
    added to the config's. Without either, the default account applies.
    Raise ConfigError on a bad config file or a negative number.
    """
    if args.latency_ms < 0 or args.hang_seconds < 0 or args.max_received < 0:
        raise ConfigError("--latency-ms, --hang-seconds and --max-received must not be negative")

    config_key, users = None, {}
    if args.from_config:
        config_key, users = read_relay_config(args.from_config, environ)

    specs = args.user or ([] if users else [parse_user_spec(DEFAULT_USER)])
    for user_id, cm_ids in specs:
        users.setdefault(user_id, set()).update(cm_ids)

    accounts = {user_id: SimUser(cm_ids) for user_id, cm_ids in users.items()}
    for user_id in args.cancelled_user:
        accounts.setdefault(user_id, SimUser(set())).cancelled = True

    return SimulatorSettings(
        vendor_key=args.key or config_key or DEFAULT_KEY,
        users=accounts,
        latency_ms=args.latency_ms,
        hang_seconds=args.hang_seconds,
        max_received=args.max_received or None,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, then serve until interrupted. Return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = build_settings(args, os.environ)
    except ConfigError as error:
        print(f"phoneburner simulator: error: {error}", file=sys.stderr)
        return 2

    # Patching here, not at import, keeps the module importable by tests
    # without changing their threads and sockets. ssl stays unpatched because
    # the simulator serves plain HTTP, and the `app` package has already
    # imported ssl through requests, which gevent warns is unsafe to patch.
    from gevent import monkey

    monkey.patch_all(ssl=False)
    try:
        run(settings, args.host, args.port)
    except OSError as error:
        print(f"phoneburner simulator: error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
