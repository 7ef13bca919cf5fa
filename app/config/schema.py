"""Marshmallow schemas that validate the configuration file, table by table."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar

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

# Field-map keys: PhoneBurner's standard fields plus a full name to split.
MAPPABLE_FIELDS = (*STANDARD_FIELDS, "fullname")


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


def _name(value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValidationError(f"invalid name {value!r}: {NAME_RULE}")


def _http_url(value: str) -> None:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValidationError(f"invalid URL {value!r}: write an absolute http:// or https:// URL")


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
    max_url_bytes = fields.Integer(load_default=8000, validate=validate.Range(min=1024, max=65536))


class CustomerSchema(Schema):
    user_id = Identifier(required=True)
    leadstreams = fields.Dict(
        keys=fields.String(validate=_name),
        values=Identifier(),
        required=True,
        validate=validate.Length(min=1, error="define at least one LeadStream: name = \"cm_id\""),
    )


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
    allowed_origins = fields.List(fields.String(validate=_http_url), load_default=list)
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


class LimitsSchema(TableSchema):
    settings_class = model.Limits

    max_body_bytes = fields.Integer(load_default=1_048_576, validate=validate.Range(min=1024, max=64 * 1_048_576))
    max_json_depth = fields.Integer(load_default=32, validate=validate.Range(min=2, max=200))
    max_fields = fields.Integer(load_default=500, validate=validate.Range(min=10, max=10_000))
    max_value_chars = fields.Integer(load_default=20_000, validate=validate.Range(min=100, max=1_000_000))


class LoggingSchema(TableSchema):
    settings_class = model.LoggingSettings

    level = fields.String(
        load_default="INFO", validate=validate.OneOf(("DEBUG", "INFO", "WARNING", "ERROR"))
    )
    format = fields.String(load_default="auto", validate=validate.OneOf(("auto", "json", "text")))


class StorageSchema(TableSchema):
    settings_class = model.StorageSettings

    url = fields.String(load_default="sqlite:///var/relay.db", validate=validate.Length(min=1))
    idempotency_window_hours = fields.Float(load_default=72.0, validate=validate.Range(min=1, max=24 * 90))
    retention_days = fields.Float(load_default=90.0, validate=validate.Range(min=1, max=3650))


class DeliverySchema(TableSchema):
    settings_class = model.DeliverySettings

    inline_budget = fields.Float(load_default=8.0, validate=validate.Range(min=0, max=60))
    max_attempts = fields.Integer(load_default=30, validate=validate.Range(min=1, max=1000))
    unrecognized_attempts = fields.Integer(load_default=3, validate=validate.Range(min=1, max=100))
    backoff_initial = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=86_400))
    backoff_max = fields.Float(load_default=7200.0, validate=validate.Range(min=1, max=7 * 86_400))
    worker_concurrency = fields.Integer(load_default=8, validate=validate.Range(min=1, max=256))
    poll_interval = fields.Float(load_default=1.0, validate=validate.Range(min=0.05, max=60))
    breaker_threshold = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1000))
    breaker_open_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=3600))
    repeat_wait = fields.Float(load_default=2.0, validate=validate.Range(min=0, max=30))


class AdminSchema(Schema):
    token = fields.String(
        validate=validate.Length(min=MIN_TOKEN_LENGTH, error=f"use at least {MIN_TOKEN_LENGTH} characters")
    )

    @pre_load
    def drop_empty_token(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Treat an empty token, as `${VAR:-}` gives when VAR is unset, as no admin token."""
        if isinstance(data, dict) and data.get("token") == "":
            data = {key: value for key, value in data.items() if key != "token"}
        return data


class Network(fields.Field):
    """An IP network in CIDR notation, or a single address."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> IPNetwork:
        if not isinstance(value, str):
            raise ValidationError("expected a network such as \"10.0.0.0/8\" or an address")
        try:
            return ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValidationError(f"invalid network {value!r}: write it as \"10.0.0.0/8\" or \"192.0.2.7\"") from None


# An HTTP header name: letters, digits and hyphens, as proxies name their request-id headers.
HEADER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def _header_name(value: str) -> None:
    if not HEADER_NAME_PATTERN.match(value):
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

# Tables the loader fills in as empty when the file leaves them out, so their defaults apply.
OPTIONAL_TABLES = ("server", "storage", "delivery", "admin", "limits", "logging")
