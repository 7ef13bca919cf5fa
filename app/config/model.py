"""Typed, validated settings: what the rest of the relay reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from urllib.parse import unquote, urlsplit

RESPONSE_MODES = ("api", "always_200", "redirect")
AUTH_MODES = ("token", "signature", "hmac", "standard_webhooks", "none")
HMAC_ALGORITHMS = ("sha1", "sha256", "sha512")
HMAC_ENCODINGS = ("hex", "base64")

# A Standard Webhooks secret is this prefix followed by the base64 key.
STANDARD_WEBHOOKS_SECRET_PREFIX = "whsec_"  # noqa: S105 - a fixed prefix, not a secret

IPNetwork = IPv4Network | IPv6Network

# Seconds a stopping worker allows beyond one whole PhoneBurner call, to store the attempt.
SHUTDOWN_MARGIN_SECONDS = 2.0

# Seconds a stopping web process allows beyond a request's longest wait: a few store
# writes, each of which may wait up to 5 s for SQLite's lock.
REQUEST_MARGIN_SECONDS = 10.0


@dataclass(frozen=True)
class PhoneBurnerSettings:
    """The put_contact endpoint, vendor key and timeouts."""

    url: str
    vendor_key: str = field(repr=False)
    connect_timeout: float
    read_timeout: float
    allow_insecure_url: bool
    max_url_bytes: int
    max_concurrent: int = 64


@dataclass(frozen=True)
class Customer:
    """A PhoneBurner account that receives leads, with its LeadStreams."""

    name: str
    user_id: str
    leadstreams: dict[str, str]  # LeadStream name -> cm_id

    @property
    def default_leadstream(self) -> str | None:
        """Return the LeadStream named "default", or the only one, or None."""
        if "default" in self.leadstreams:
            return "default"
        if len(self.leadstreams) == 1:
            return next(iter(self.leadstreams))
        return None


@dataclass(frozen=True)
class HmacSettings:
    """A generic HMAC signature over the raw body: where it travels and how it is written."""

    header: str
    algorithm: str
    encoding: str
    prefix: str
    # When set, the signed message is "<timestamp>.<raw body>", the timestamp in Unix seconds.
    timestamp_header: str | None = None


@dataclass(frozen=True)
class Source:
    """One sender endpoint: who may post, how its fields map, where leads go."""

    name: str
    customers: tuple[str, ...]
    leadstream: str | None
    leadstreams: tuple[str, ...]
    adapter: str
    schema: str | None
    auth: str
    tokens: tuple[str, ...] = field(repr=False)
    signing_secrets: tuple[str, ...] = field(repr=False)
    signature_tolerance: float
    allowed_origins: tuple[str, ...]
    extras_unmapped: bool
    fields: dict[str, tuple[str, ...]]
    extras: dict[str, tuple[str, ...]]
    ignore: tuple[str, ...]
    required: tuple[str, ...]
    default_region: str
    response_mode: str
    success_url: str | None
    error_url: str | None
    hmac: HmacSettings | None = None
    allowed_ips: tuple[IPNetwork, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Return every secret of the source in each form a message could show it."""
        return (*self.tokens, *secret_forms(self.signing_secrets))
    # Overrides of [limits].per_source and the per-IP limit for this source, in the limits library's notation.
    rate_limit: str | None = None
    ip_rate_limit: str | None = None
    # A form field that people leave empty and bots fill in. A post that fills it is dropped.
    honeypot: str | None = None

    @property
    def customer_choice(self) -> bool:
        """Whether the request names the customer among several."""
        return len(self.customers) > 1


def secret_forms(secrets: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return the secrets plus the base64 key inside each Standard Webhooks secret."""
    keys = [
        secret.removeprefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
        for secret in secrets
        if secret.startswith(STANDARD_WEBHOOKS_SECRET_PREFIX)
    ]
    return (*secrets, *keys)


@dataclass(frozen=True)
class StorageSettings:
    """Where leads are kept, how long repeats are recognized, how long leads are kept."""

    url: str
    idempotency_window_hours: float
    retention_days: float
    # PostgreSQL connections each process keeps at most.
    pool_size: int


@dataclass(frozen=True)
class DeliverySettings:
    """The inline attempt's budget, the retry schedule, the worker and the circuit breaker."""

    inline_budget: float
    max_attempts: int
    unrecognized_attempts: int
    backoff_initial: float
    backoff_max: float
    worker_concurrency: int
    poll_interval: float
    breaker_threshold: int
    breaker_open_seconds: float
    repeat_wait: float
    shutdown_grace: float | None


@dataclass(frozen=True)
class AlertSettings:
    """Alert settings: the webhook, the queue age that counts as behind, and the repeat interval."""

    webhook_url: str | None = field(repr=False)
    oldest_queued_minutes: float
    min_interval_minutes: float
    allow_insecure_url: bool


@dataclass(frozen=True)
class Limits:
    """Bounds on what a sender controls."""

    max_body_bytes: int
    max_json_depth: int
    max_fields: int
    max_value_chars: int
    max_field_name_chars: int = 200
    max_extras: int = 100
    body_timeout: float = 10.0
    # Rate limits in the limits library's notation. per_ip_browser applies to auth = "none" sources.
    per_source: str = "600/minute"
    per_ip: str = "120/minute"
    per_ip_browser: str = "10/minute"
    storage_url: str = field(default="memory://", repr=False)
    key_prefix: str = "relay"


@dataclass(frozen=True)
class LoggingSettings:
    """Log level and format."""

    level: str
    format: str


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration file."""

    path: str
    phoneburner: PhoneBurnerSettings
    storage: StorageSettings
    delivery: DeliverySettings
    admin_token: str | None = field(repr=False)
    public_url: str | None
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    # The header a request id is read from; honoured from trusted_proxies only, when that list is set.
    request_id_header: str
    customers: dict[str, Customer]
    sources: dict[str, Source]
    limits: Limits
    logging: LoggingSettings
    alerts: AlertSettings
    # The console's session cookies: the secret that signs them (derived from admin_token when None)
    # and how many hours a login lasts.
    admin_session_secret: str | None = field(default=None, repr=False)
    admin_session_hours: float = 12.0

    @property
    def lease_seconds(self) -> float:
        """Return how long a claim lasts: longer than a whole PhoneBurner call."""
        return self.phoneburner.connect_timeout + self.phoneburner.read_timeout + 30

    def secret_values(self) -> list[str]:
        """Return every secret the configuration holds, so logs and command output can redact them."""
        secrets = [self.phoneburner.vendor_key, self.admin_token, self.admin_session_secret, self.alerts.webhook_url]
        for source in self.sources.values():
            secrets += list(source.secrets)
        for url in (self.storage.url, self.limits.storage_url):
            password = urlsplit(url).password
            if password:
                secrets += [password, unquote(password)]
        return [secret for secret in secrets if secret]

    @property
    def worker_shutdown_grace(self) -> float:
        """Return the seconds a stopping worker waits for its attempts: [delivery].shutdown_grace, or a whole call."""
        if self.delivery.shutdown_grace is not None:
            return self.delivery.shutdown_grace
        return self.phoneburner.connect_timeout + self.phoneburner.read_timeout + SHUTDOWN_MARGIN_SECONDS

    @property
    def web_graceful_timeout(self) -> float:
        """Return the seconds a stopping web process needs for its requests in flight.

        A request waits longest on its inline attempt or, as a repeat, on the
        first request, whichever limit is larger. The margin covers the store's writes.
        """
        longest_wait = max(self.delivery.inline_budget, self.delivery.repeat_wait)
        return longest_wait + REQUEST_MARGIN_SECONDS
