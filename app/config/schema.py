"""Marshmallow schemas that validate the configuration file, table by table."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any, ClassVar

import limits
import phonenumbers
from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from app.config import model
from app.leads import STANDARD_FIELDS

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Names of customers, LeadStreams and sources appear in URLs and logs.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "use letters, digits, '.', '_' or '-', at most 64 characters"

# A token shorter than this can be guessed by brute force over the internet.
MIN_TOKEN_LENGTH = 16

# The console's cookies are signed with this secret. No person types it, so it can be long.
MIN_SESSION_SECRET_LENGTH = 32

# An HTTP header name: a token as RFC 9110 defines it, with a sane length.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]{0,64}$")

# Field-map keys: PhoneBurner's standard fields plus a full name to split.
MAPPABLE_FIELDS = (*STANDARD_FIELDS, "fullname")


class WholeNumber(fields.Integer):
    """An integer that rejects a fraction (1.5) instead of truncating it, and still reads "10" as 10."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "expected a whole number"}

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise ValidationError(f"expected a whole number, got {value}")
        return super()._validated(value)


class NameList(fields.Field):
    """One string or a non-empty list of them: sender field candidates, or secrets."""

    def __init__(self, *, what: str = "field name", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.what = what

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            raise ValidationError(f"expected a {self.what} or a non-empty list of them")
        if not all(isinstance(name, str) and name.strip() for name in names):
            raise ValidationError(f"every {self.what} must be a non-empty string")
        return tuple(name.strip() for name in names)


class Identifier(fields.Field):
    """An id PhoneBurner issues, written as a string or a bare integer."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError("expected a string such as \"123456\"")
        text = str(value).strip()
        if not text:
            raise ValidationError("must not be empty")
        return text


class RateLimit(fields.String):
    """A rate limit in the limits library's notation, such as "120/minute" or "10/second;500/hour"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            items = limits.parse_many(text)
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            raise ValidationError(
                f"invalid rate limit {text!r}: write it as \"120/minute\", \"10 per second\" "
                "or several joined by ';' such as \"10/second;500/hour\""
            )
        return text


def _name(value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValidationError(f"invalid name {value!r}: {NAME_RULE}")


def _http_url(value: str) -> None:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValidationError(f"invalid URL {value!r}: write an absolute http:// or https:// URL")


def _origin(value: str) -> None:
    # Browsers send an origin as scheme, host and port only, so an entry with a path would never match.
    if not re.match(r"^https?://[^\s/?#]+/?$", value):
        raise ValidationError(
            f"invalid origin {value!r}: write the scheme and host only, such as \"https://www.example.com\""
        )


# Rate-limit storages whose client library requirements.txt installs.
LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")


# The stores the relay supports.
STORE_BACKENDS = ("sqlite", "postgresql")


def _store_url(value: str) -> None:
    """Accept a SQLite or PostgreSQL URL whose database driver is installed, as a worker needs it at boot."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        # The URL may carry a password, so it is not repeated.
        raise ValidationError(
            "not a database URL: write sqlite:///path/to/relay.db or postgresql+psycopg://user@host/database"
        ) from None
    if url.get_backend_name() not in STORE_BACKENDS:
        raise ValidationError(
            f"unsupported database {url.get_backend_name()!r}: use sqlite:///path/to/relay.db "
            "or postgresql+psycopg://user@host/database"
        )
    try:
        url.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError):
        raise ValidationError(
            f"the driver of {url.drivername!r} is not installed: use sqlite:// or postgresql+psycopg://"
        ) from None


def _limit_storage_url(value: str) -> None:
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in LIMIT_STORAGE_SCHEMES:
        # The URL itself may carry a password, so only its scheme is named.
        raise ValidationError(
            f"unsupported storage {scheme or 'without a scheme'!r}: use \"memory://\" for one process, "
            "or \"redis://host:6379/0\" when several processes share the limits"
        )


def _without_empty(data: Any, key: str) -> Any:
    """Drop `key` from a table when its value is the empty string, so the key counts as unset."""
    if isinstance(data, dict) and data.get(key) == "":
        return {name: value for name, value in data.items() if name != key}
    return data


class TableSchema(Schema):
    """A table that loads into the settings dataclass named by `settings_class`."""

    settings_class: ClassVar[type]

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.settings_class(**data)


class PhoneBurnerSchema(TableSchema):
    settings_class = model.PhoneBurnerSettings

    url = fields.String(required=True, validate=_http_url)
    vendor_key = fields.String(required=True, validate=validate.Length(min=1))
    connect_timeout = fields.Float(load_default=3.05, validate=validate.Range(min=0.1, max=60))
    read_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=300))
    allow_insecure_url = fields.Boolean(load_default=False)
    max_url_bytes = WholeNumber(load_default=8000, validate=validate.Range(min=1024, max=65536))
    max_concurrent = WholeNumber(load_default=64, validate=validate.Range(min=1, max=10_000))


class CustomerSchema(Schema):
    user_id = Identifier(required=True)
    leadstreams = fields.Dict(
        keys=fields.String(validate=_name),
        values=Identifier(),
        required=True,
        validate=validate.Length(min=1, error="define at least one LeadStream: name = \"cm_id\""),
    )


class Network(fields.Field):
    """An IP network in CIDR notation, or a single address."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> IPNetwork:
        if not isinstance(value, str):
            raise ValidationError("expected a network such as \"10.0.0.0/8\" or an address")
        try:
            return ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValidationError(f"invalid network {value!r}: write it as \"10.0.0.0/8\" or \"192.0.2.7\"") from None


def _header_name(value: str) -> None:
    if not HEADER_NAME.match(value):
        raise ValidationError(f"invalid header name {value!r}: use letters, digits and '-', such as X-Signature")


def _signature_prefix(value: str) -> None:
    if not PRINTABLE_ASCII.match(value) or value != value.strip():
        raise ValidationError("use printable ASCII without surrounding spaces, such as \"sha256=\", or \"\"")


class HmacSchema(TableSchema):
    settings_class = model.HmacSettings

    header = fields.String(required=True, validate=_header_name)
    algorithm = fields.String(load_default="sha256", validate=validate.OneOf(model.HMAC_ALGORITHMS))
    encoding = fields.String(load_default="hex", validate=validate.OneOf(model.HMAC_ENCODINGS))
    prefix = fields.String(load_default="", validate=_signature_prefix)
    timestamp_header = fields.String(validate=_header_name)


class SourceSchema(Schema):
    customer = fields.String()
    customers = fields.List(fields.String(), validate=validate.Length(min=1))
    leadstream = fields.String(validate=_name)
    leadstreams = fields.List(fields.String(validate=_name), load_default=list)
    adapter = fields.String(load_default="form")
    schema = fields.String(
        validate=validate.Regexp(
            r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", error="write it as 'package.module:ClassName'"
        )
    )
    auth = fields.String(load_default="token", validate=validate.OneOf(model.AUTH_MODES))
    tokens = fields.List(
        fields.String(
            validate=validate.Length(
                min=MIN_TOKEN_LENGTH,
                error=f"every token needs at least {MIN_TOKEN_LENGTH} characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        ),
        load_default=list,
    )
    signing_secret = NameList(what="secret")
    signature_tolerance = fields.Float(load_default=300.0, validate=validate.Range(min=1, max=86_400))
    allowed_origins = fields.List(fields.String(validate=_origin), load_default=list)
    extras_unmapped = fields.Boolean()
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(validate=validate.OneOf(MAPPABLE_FIELDS)),
        values=NameList(),
        load_default=dict,
    )
    extras = fields.Dict(keys=fields.String(validate=validate.Length(min=1)), values=NameList(), load_default=dict)
    ignore = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    required = fields.List(fields.String(validate=validate.OneOf(STANDARD_FIELDS)), load_default=list)
    default_region = fields.String(load_default="US")
    response_mode = fields.String(load_default="api", validate=validate.OneOf(model.RESPONSE_MODES))
    success_url = fields.String(validate=_http_url)
    error_url = fields.String(validate=_http_url)
    hmac = fields.Nested(HmacSchema)
    allowed_ips = fields.List(Network(), load_default=list)
    rate_limit = RateLimit()
    ip_rate_limit = RateLimit()
    honeypot = fields.String(validate=validate.Regexp(
        r"^\S{1,100}$", error="write the honeypot field's name: 1 to 100 characters without spaces"
    ))

    @validates_schema
    def check_combinations(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("customer" in data) == ("customers" in data):
            raise ValidationError("set either customer = \"NAME\" or customers = [\"NAME\", ...]", "customer")

        if data["auth"] == "token" and not data["tokens"]:
            raise ValidationError("list at least one token, or set auth = \"none\" for a browser form", "tokens")
        if data["auth"] == "signature" and "signing_secret" not in data:
            raise ValidationError(
                "auth = \"signature\" needs signing_secret = \"${SECRET_VARIABLE}\", the secret set in the tool",
                "signing_secret",
            )
        _check_signed_auth(data)
        if data["auth"] == "none" and not data["allowed_origins"]:
            raise ValidationError(
                "auth = \"none\" needs allowed_origins = [\"https://your-site.example\"]", "allowed_origins"
            )

        if data["response_mode"] == "redirect":
            for key in ("success_url", "error_url"):
                if key not in data:
                    raise ValidationError(f"response_mode = \"redirect\" needs {key}", key)

        if data["default_region"].upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError("use a two-letter region code such as \"US\" or \"CA\"", "default_region")


def _check_signed_auth(data: dict[str, Any]) -> None:
    """Check the keys that auth = "hmac" and auth = "standard_webhooks" need."""
    auth = data["auth"]
    if auth == "hmac" and "hmac" not in data:
        raise ValidationError(
            "auth = \"hmac\" needs a [sources.NAME.hmac] table with at least header = \"X-Signature\"", "hmac"
        )
    if auth != "hmac" and "hmac" in data:
        raise ValidationError("the hmac table applies only with auth = \"hmac\"; set that, or remove the table", "hmac")
    if auth not in ("hmac", "standard_webhooks"):
        return

    if "signing_secret" not in data:
        raise ValidationError(
            f"auth = \"{auth}\" needs signing_secret = \"${{SECRET_VARIABLE}}\", the secret the sender signs with",
            "signing_secret",
        )
    if auth == "standard_webhooks":
        for position, secret in enumerate(data["signing_secret"], start=1):
            if not is_standard_webhooks_secret(secret):
                raise ValidationError(
                    f"secret {position} is not a Standard Webhooks secret: write it as the sender shows it, "
                    "whsec_ followed by the base64 key",
                    "signing_secret",
                )


def is_standard_webhooks_secret(secret: str) -> bool:
    """Return whether `secret` is "whsec_" followed by a non-empty base64 key (padding optional)."""
    prefix = model.STANDARD_WEBHOOKS_SECRET_PREFIX
    if not secret.startswith(prefix):
        return False
    key = secret.removeprefix(prefix)
    try:
        return bool(base64.b64decode(key + "=" * (-len(key) % 4), validate=True))
    except binascii.Error:
        return False


class LimitsSchema(TableSchema):
    settings_class = model.Limits

    max_body_bytes = WholeNumber(load_default=1_048_576, validate=validate.Range(min=1024, max=64 * 1_048_576))
    max_json_depth = WholeNumber(load_default=32, validate=validate.Range(min=2, max=200))
    max_fields = WholeNumber(load_default=500, validate=validate.Range(min=10, max=10_000))
    max_value_chars = WholeNumber(load_default=20_000, validate=validate.Range(min=100, max=1_000_000))
    max_field_name_chars = WholeNumber(load_default=200, validate=validate.Range(min=16, max=10_000))
    max_extras = WholeNumber(load_default=100, validate=validate.Range(min=1, max=10_000))
    body_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.5, max=600))
    per_source = RateLimit(load_default="600/minute")
    per_ip = RateLimit(load_default="120/minute")
    per_ip_browser = RateLimit(load_default="10/minute")
    storage_url = fields.String(load_default="memory://", validate=_limit_storage_url)
    key_prefix = fields.String(load_default="relay", validate=validate.Regexp(
        r"^[A-Za-z0-9_.:-]{1,64}$", error="use letters, digits, '_', '.', ':' or '-', at most 64 characters"
    ))


class LoggingSchema(TableSchema):
    settings_class = model.LoggingSettings

    level = fields.String(
        load_default="INFO", validate=validate.OneOf(("DEBUG", "INFO", "WARNING", "ERROR"))
    )
    format = fields.String(load_default="auto", validate=validate.OneOf(("auto", "json", "text")))


class StorageSchema(TableSchema):
    settings_class = model.StorageSettings

    url = fields.String(load_default="sqlite:///var/relay.db", validate=_store_url)
    idempotency_window_hours = fields.Float(load_default=72.0, validate=validate.Range(min=1, max=24 * 90))
    retention_days = fields.Float(load_default=90.0, validate=validate.Range(min=1, max=3650))
    pool_size = WholeNumber(load_default=10, validate=validate.Range(min=1, max=200))


class DeliverySchema(TableSchema):
    settings_class = model.DeliverySettings

    inline_budget = fields.Float(load_default=8.0, validate=validate.Range(min=0, max=60))
    max_attempts = WholeNumber(load_default=30, validate=validate.Range(min=1, max=1000))
    unrecognized_attempts = WholeNumber(load_default=3, validate=validate.Range(min=1, max=100))
    backoff_initial = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=86_400))
    backoff_max = fields.Float(load_default=7200.0, validate=validate.Range(min=1, max=7 * 86_400))
    worker_concurrency = WholeNumber(load_default=8, validate=validate.Range(min=1, max=256))
    poll_interval = fields.Float(load_default=1.0, validate=validate.Range(min=0.05, max=60))
    breaker_threshold = WholeNumber(load_default=5, validate=validate.Range(min=1, max=1000))
    breaker_open_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=3600))
    repeat_wait = fields.Float(load_default=2.0, validate=validate.Range(min=0, max=30))
    # None: one whole PhoneBurner call plus a margin (model.Settings.worker_shutdown_grace).
    shutdown_grace = fields.Float(load_default=None, validate=validate.Range(min=0, max=600))


class AlertsSchema(TableSchema):
    settings_class = model.AlertSettings

    webhook_url = fields.String(load_default=None, validate=_http_url)
    oldest_queued_minutes = fields.Float(load_default=15.0, validate=validate.Range(min=1, max=7 * 24 * 60))
    min_interval_minutes = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=7 * 24 * 60))
    allow_insecure_url = fields.Boolean(load_default=False)

    @pre_load
    def drop_empty_url(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Treat an empty webhook_url, as `${VAR:-}` gives when VAR is unset, as alerts turned off."""
        return _without_empty(data, "webhook_url")


class AdminSchema(Schema):
    token = fields.String(
        validate=validate.Length(min=MIN_TOKEN_LENGTH, error=f"use at least {MIN_TOKEN_LENGTH} characters")
    )
    session_secret = fields.String(
        validate=validate.Length(
            min=MIN_SESSION_SECRET_LENGTH,
            error=f"use at least {MIN_SESSION_SECRET_LENGTH} characters; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    )
    session_hours = fields.Float(
        load_default=12.0,
        validate=validate.Range(min=0.25, max=720, error="use a number of hours from 0.25 to 720"),
    )

    @pre_load
    def drop_empty_token(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Treat an empty token or session secret, as `${VAR:-}` gives when VAR is unset, as none."""
        if isinstance(data, dict):
            data = {key: value for key, value in data.items()
                    if not (key in ("token", "session_secret") and value == "")}
        return data


# A request-id header name: letters, digits and hyphens, as proxies name it.
REQUEST_ID_HEADER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def _header_name(value: str) -> None:
    if not REQUEST_ID_HEADER_PATTERN.match(value):
        raise ValidationError(
            f"invalid header name {value!r}: use letters, digits and '-', at most 64 characters, "
            "such as \"X-Request-Id\""
        )


class ServerSchema(Schema):
    public_url = fields.String(validate=_http_url)
    trusted_proxies = fields.List(Network(), load_default=list)
    request_id_header = fields.String(load_default="X-Request-Id", validate=_header_name)


class SettingsSchema(Schema):
    phoneburner = fields.Nested(PhoneBurnerSchema, required=True)
    server = fields.Nested(ServerSchema)
    storage = fields.Nested(StorageSchema)
    admin = fields.Nested(AdminSchema)
    customers = fields.Dict(
        keys=fields.String(validate=_name),
        values=fields.Nested(CustomerSchema),
        required=True,
        validate=validate.Length(min=1, error="define at least one [customers.NAME] table"),
    )
    sources = fields.Dict(
        keys=fields.String(validate=_name),
        values=fields.Nested(SourceSchema),
        required=True,
        validate=validate.Length(min=1, error="define at least one [sources.NAME] table"),
    )
    delivery = fields.Nested(DeliverySchema)
    limits = fields.Nested(LimitsSchema)
    logging = fields.Nested(LoggingSchema)
    alerts = fields.Nested(AlertsSchema)

# Tables the loader fills in as empty when the file leaves them out, so their defaults apply.
OPTIONAL_TABLES = ("server", "storage", "delivery", "admin", "limits", "logging", "alerts")
