"""Read the TOML configuration file and turn it into validated settings."""

from __future__ import annotations

import copy
import difflib
import importlib
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from marshmallow import Schema, ValidationError

from app.config import model, schema
from app.config.interpolate import UnresolvedVariable, interpolate

DEFAULT_PATH = "config/relay.toml"

_URL_KEY = "phoneburner.url"


class ConfigError(Exception):
    """The configuration file is unusable; each problem names the key and the fix."""

    def __init__(self, path: str, problems: list[str], secrets: set[str] | None = None) -> None:
        self.path = path
        self.problems = [_mask(problem, secrets or set()) for problem in problems]
        problems = self.problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid configuration in {path}:\n{lines}")


def config_path(environ: Mapping[str, str] | None = None) -> str:
    """Return the configuration file's path from RELAY_CONFIG, or the default."""
    environ = os.environ if environ is None else environ
    return environ.get("RELAY_CONFIG") or DEFAULT_PATH


@dataclass(frozen=True)
class Resolved:
    """A configuration file's TOML with its variables and secret files filled in, and the secret values."""

    document: dict[str, Any]
    secrets: frozenset[str]


# The resolved configuration that this process checked, by path, loaded in place of reading the file and
# its secret files again.
_pinned: dict[str, Resolved] = {}


def pin(path: str, resolved: Resolved) -> None:
    """Make this process, and the processes it forks from now on, load `resolved` as the file at `path`.

    A gunicorn master pins what it checked, so that its workers, which load the configuration as they
    boot, cannot read a file or a secret file that changed after the check.
    """
    _pinned.clear()
    _pinned[path] = resolved


def load_settings(path: str | None = None, environ: Mapping[str, str] | None = None) -> model.Settings:
    """Read, interpolate and validate the configuration file at `path`, or load what this process pinned for it."""
    settings, _resolved = load_resolved(path, environ, fresh=False)
    return settings


def load_resolved(
    path: str | None = None, environ: Mapping[str, str] | None = None, *, fresh: bool = True
) -> tuple[model.Settings, Resolved]:
    """Read, interpolate and validate the configuration file at `path`; return the settings and what they came from.

    Without `fresh`, this process loads what it pinned for `path` instead of the file and its secret files.
    """
    path = path or config_path(environ)
    resolved = _pinned.get(path) if not fresh else None
    if resolved is None:
        resolved = _resolve(path, environ)

    try:
        return parse_settings(copy.deepcopy(resolved.document), path), resolved
    except ConfigError as error:
        raise ConfigError(path, error.problems, set(resolved.secrets)) from None


def _resolve(path: str, environ: Mapping[str, str] | None) -> Resolved:
    document = _parse_toml(path, _read_file(path))
    substituted: set[str] = set()
    try:
        document = interpolate(document, environ, substituted=substituted)
    except UnresolvedVariable as error:
        raise ConfigError(path, [f"{error.path}: {error.message}"]) from None
    return Resolved(document, frozenset(substituted | _secret_values(document)))


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise ConfigError(
            path, ["file not found: copy config/relay.example.toml there, or set RELAY_CONFIG to your file"]
        ) from None
    except OSError as error:
        problem = f"reading the file failed: {error.strerror}; make RELAY_CONFIG name a readable file"
        raise ConfigError(path, [problem]) from None


def parse_settings(document: dict[str, Any], path: str = "<memory>") -> model.Settings:
    """Validate an already interpolated document and build the settings."""
    document = dict(document)
    for table in schema.OPTIONAL_TABLES:
        document.setdefault(table, {})

    try:
        data = schema.SettingsSchema().load(document)
    except ValidationError as error:
        raise ConfigError(path, _describe(error.messages), _secret_values(document)) from None

    settings = _build(data, path)
    problems = _cross_check(settings)
    if problems:
        raise ConfigError(path, problems, _secret_values(document))
    return settings


def _secret_values(document: dict[str, Any]) -> set[str]:
    """Collect the secrets a document holds, so no error message can echo them."""
    admin = document.get("admin") if isinstance(document.get("admin"), dict) else {}
    values = [document.get("phoneburner", {}).get("vendor_key"), admin.get("token"), admin.get("session_secret")]
    # A Slack-style webhook URL carries its own credential in the path.
    alerts = document.get("alerts")
    values.append(alerts.get("webhook_url") if isinstance(alerts, dict) else None)
    for source in document.get("sources", {}).values():
        if isinstance(source, dict):
            values += _as_list(source.get("tokens")) + _as_list(source.get("signing_secret"))
    limits = document.get("limits")
    if isinstance(limits, dict):
        values.append(url_password(limits.get("storage_url")))
    return set(model.secret_forms([value for value in values if isinstance(value, str)]))


def url_password(url: Any) -> str | None:
    """Return the password in a URL such as redis://:secret@host/0, or None."""
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _mask(problem: str, secrets: set[str]) -> str:
    # Longest first, so a secret containing a shorter one is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            problem = problem.replace(secret, "****")
    return problem


def _parse_toml(path: str, data: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError(path, [f"not UTF-8 text (byte {error.start}); save the file as UTF-8"]) from None


def _build(data: dict[str, Any], path: str) -> model.Settings:
    customers = {
        name: model.Customer(name=name, user_id=table["user_id"], leadstreams=dict(table["leadstreams"]))
        for name, table in data["customers"].items()
    }
    sources = {name: _build_source(name, table, customers) for name, table in data["sources"].items()}
    return model.Settings(
        path=path,
        phoneburner=data["phoneburner"],
        storage=data["storage"],
        delivery=data["delivery"],
        admin_token=data["admin"].get("token"),
        public_url=data["server"].get("public_url"),
        trusted_proxies=tuple(data["server"]["trusted_proxies"]),
        request_id_header=data["server"]["request_id_header"],
        customers=customers,
        sources=sources,
        limits=data["limits"],
        logging=data["logging"],
        admin_session_secret=data["admin"].get("session_secret"),
        admin_session_hours=data["admin"]["session_hours"],
        alerts=data["alerts"],
    )


def _build_source(name: str, table: dict[str, Any], customers: dict[str, model.Customer]) -> model.Source:
    names = tuple(table["customers"]) if "customers" in table else (table["customer"],)
    leadstream = table.get("leadstream")
    if leadstream is None and len(names) == 1 and names[0] in customers:
        leadstream = customers[names[0]].default_leadstream

    # With the adapter's default map, or a tool's envelope, every other answer is worth forwarding;
    # a form source with its own field map forwards only what it maps unless it says otherwise.
    extras_unmapped = table.get("extras_unmapped", table["adapter"] != "form" or not table["fields_"])

    return model.Source(
        name=name,
        customers=names,
        leadstream=leadstream,
        leadstreams=tuple(table["leadstreams"]),
        adapter=table["adapter"],
        schema=table.get("schema"),
        auth=table["auth"],
        # Senders' tokens are compared stripped, so a trailing newline from a secret file must go too.
        tokens=tuple(token.strip() for token in table["tokens"]),
        signing_secrets=tuple(table.get("signing_secret", ())),
        signature_tolerance=table["signature_tolerance"],
        # Browsers send origins lowercase and without a trailing slash, so they are compared that way.
        allowed_origins=tuple(origin.rstrip("/").lower() for origin in table["allowed_origins"]),
        extras_unmapped=extras_unmapped,
        fields=dict(table["fields_"]),
        extras=dict(table["extras"]),
        ignore=tuple(table["ignore"]),
        required=tuple(table["required"]),
        default_region=table["default_region"].upper(),
        response_mode=table["response_mode"],
        success_url=table.get("success_url"),
        error_url=table.get("error_url"),
        hmac=table.get("hmac"),
        allowed_ips=tuple(table["allowed_ips"]),
        rate_limit=table.get("rate_limit"),
        ip_rate_limit=table.get("ip_rate_limit"),
        honeypot=table.get("honeypot"),
    )


def _cross_check(settings: model.Settings) -> list[str]:
    problems = _check_url(settings.phoneburner) + _check_alert_url(settings.alerts)
    for source in settings.sources.values():
        problems += _check_source(source, settings.customers)
    return problems


def _check_url(phoneburner: model.PhoneBurnerSettings) -> list[str]:
    """Check that put_contact's URL fixes the scheme, host and path, and nothing else.

    The vendor key travels in the query string of every request, so the URL
    must not carry credentials, a query or a fragment of its own, and must
    name a public https host unless `allow_insecure_url` is set.
    """
    problems = _check_url_parts(phoneburner.url)
    if problems or phoneburner.allow_insecure_url:
        return problems

    return _check_public_https(_URL_KEY, phoneburner.url, "a local simulator")


def _check_alert_url(alerts: model.AlertSettings) -> list[str]:
    if alerts.webhook_url is None or alerts.allow_insecure_url:
        return []
    return _check_public_https("alerts.webhook_url", alerts.webhook_url, "a local test server")


def _check_public_https(key: str, url: str, local_use: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        return [f"{key}: must use https://; set allow_insecure_url = true only for {local_use}"]
    if _is_local_host(parts.hostname or ""):
        return [f"{key}: {parts.hostname} is a local address; set allow_insecure_url = true only for {local_use}"]
    return []


def _check_url_parts(url: str) -> list[str]:
    # The messages never quote the URL: its user-info or query may hold a secret.
    if any(char.isspace() or not char.isprintable() for char in url):
        return [f"{_URL_KEY}: contains whitespace or control characters; write the URL on one line without them"]

    parts = urlsplit(url)
    problems = []
    if "key" in parse_qs(parts.query):
        problems.append(f"{_URL_KEY}: remove the key from the URL and set it in vendor_key, which is kept secret")
    elif "?" in url:
        problems.append(f"{_URL_KEY}: remove the query string; the relay builds the whole query for each lead")
    if "#" in url:
        problems.append(f"{_URL_KEY}: remove the fragment (the part from '#')")
    if "@" in parts.netloc:
        problems.append(
            f"{_URL_KEY}: remove the user name and password before '@'; PhoneBurner takes only the vendor_key"
        )
    if not parts.hostname:
        problems.append(f"{_URL_KEY}: names no host; write https://HOST/PATH")
    try:
        _ = parts.port  # parsed lazily: an invalid port raises only here
    except ValueError:
        problems.append(f"{_URL_KEY}: the port is not a number from 0 to 65535")
    return problems


def _is_local_host(host: str) -> bool:
    """Return whether `host` is localhost, or a loopback, private, link-local or unspecified address.

    NOTE: only literal addresses are checked. A host name that resolves to a
    private address passes, because DNS is not consulted at start-up.
    """
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True

    address = _ip_address(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


# One to four dot-separated decimal, octal or hexadecimal numbers, as inet_aton reads them.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # The resolver also reads the legacy IPv4 forms (127.1, 2130706433, 0x7f.0.0.1) as addresses.
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _check_source(source: model.Source, customers: dict[str, model.Customer]) -> list[str]:
    key = f"sources.{source.name}"
    problems = []

    unknown = [name for name in source.customers if name not in customers]
    for name in unknown:
        problems.append(
            f"{key}: unknown customer {name!r}; define [customers.{name}] or use one of: {', '.join(customers)}"
        )
    if unknown:
        return problems

    problems += _check_leadstreams(source, customers, key)
    problems += _check_adapter(source, key)
    problems += _check_honeypot(source, key)
    return problems


def _check_honeypot(source: model.Source, key: str) -> list[str]:
    mapped = {name for candidates in (*source.fields.values(), *source.extras.values()) for name in candidates}
    if source.honeypot is None or source.honeypot not in mapped:
        return []
    return [
        f"{key}.honeypot: {source.honeypot!r} is a field this source maps, so every real lead would be dropped; "
        "name a hidden field that people leave empty"
    ]


def _check_leadstreams(source: model.Source, customers: dict[str, model.Customer], key: str) -> list[str]:
    problems = []
    for customer in (customers[name] for name in source.customers):
        named = [source.leadstream] if source.leadstream else []
        for stream_key, stream in [*(("leadstream", name) for name in named),
                                   *(("leadstreams", name) for name in source.leadstreams)]:
            if stream not in customer.leadstreams:
                problems.append(
                    f"{key}.{stream_key}: customer {customer.name!r} has no LeadStream {stream!r}; add it under "
                    f"[customers.{customer.name}.leadstreams] or use one of: {', '.join(customer.leadstreams)}"
                )

        if not named and not source.leadstreams and customer.default_leadstream is None:
            problems.append(
                f"{key}.leadstream: missing, and customer {customer.name!r} has no LeadStream named "
                "\"default\"; name the LeadStream that receives this source's leads"
            )
    return problems


def _check_adapter(source: model.Source, key: str) -> list[str]:
    from app.adapters import ADAPTERS

    if source.adapter not in ADAPTERS:
        return [f"{key}.adapter: unknown adapter {source.adapter!r}; use one of: {', '.join(sorted(ADAPTERS))}"]

    if source.auth == "signature" and not ADAPTERS[source.adapter].signed:
        signed = sorted(name for name, adapter in ADAPTERS.items() if adapter.signed)
        return [
            f"{key}.auth: the {source.adapter} adapter checks no signature; "
            f"use auth = \"token\", or one of these adapters: {', '.join(signed) or 'none yet'}"
        ]

    if source.schema is None:
        return []
    try:
        load_schema_class(source.schema)
    except (ImportError, AttributeError, TypeError) as error:
        return [f"{key}.schema: cannot load {source.schema!r}: {error}"]
    except Exception as error:
        # The module's own code failed as it was imported.
        return [f"{key}.schema: importing {source.schema!r} failed: {type(error).__name__}: {error}"]
    return []


def load_schema_class(reference: str) -> type:
    """Import a `package.module:ClassName` reference to a source schema class."""
    from app.schemas.source import SourceSchema

    module_name, _, class_name = reference.partition(":")
    found = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(found, type) and issubclass(found, SourceSchema)):
        raise TypeError(f"{reference} is not a subclass of app.schemas.source.SourceSchema")
    return found


def _describe(messages: Any, path: str = "") -> list[str]:
    """Flatten marshmallow's nested messages into `key.path: message` lines."""
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return [f"{path or '(file)'}: {_reword(message, path)}" for message in messages]

    lines: list[str] = []
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, value in items:
        lines += _describe(value, _join(path, key))
    return lines


def _join(path: str, key: Any) -> str:
    # Dict fields nest their errors under "key" and "value"; the entry's name says enough.
    if key in ("key", "value"):
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _reword(message: str, path: str) -> str:
    if message == "Unknown field.":
        name = path.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, _known_keys(), n=1)
        if close and close[0] == name:
            return "this key belongs in another table; move it, or remove it"
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}; remove it or fix its spelling"
    if message == "Missing data for required field.":
        return "missing; add this key"
    return message


def _known_keys() -> set[str]:
    keys: set[str] = set()
    for candidate in vars(schema).values():
        if isinstance(candidate, type) and issubclass(candidate, Schema) and candidate is not Schema:
            keys |= {field.data_key or name for name, field in candidate._declared_fields.items()}
    return keys
