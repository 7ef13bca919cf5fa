"""Typed, validated settings: what the rest of the relay reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network

RESPONSE_MODES = ("api", "always_200", "redirect")
AUTH_MODES = ("token", "signature", "none")


@dataclass(frozen=True)
class PhoneBurnerSettings:
    """The put_contact endpoint, vendor key and timeouts."""

    url: str
    vendor_key: str = field(repr=False)
    connect_timeout: float
    read_timeout: float
    allow_insecure_url: bool
    max_url_bytes: int


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

    @property
    def customer_choice(self) -> bool:
        """Whether the request names the customer among several."""
        return len(self.customers) > 1


@dataclass(frozen=True)
class StorageSettings:
    """Where leads are kept, how long repeats are recognized, how long leads are kept."""

    url: str
    idempotency_window_hours: float
    retention_days: float


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


@dataclass(frozen=True)
class Limits:
    """Bounds on what a sender controls."""

    max_body_bytes: int
    max_json_depth: int
    max_fields: int
    max_value_chars: int


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

    @property
    def lease_seconds(self) -> float:
        """Return how long a claim lasts: longer than a whole PhoneBurner call."""
        return self.phoneburner.connect_timeout + self.phoneburner.read_timeout + 30
