"""The relay's per-process state: settings, the PhoneBurner client, one handler per source."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.adapters import ADAPTERS, Adapter
from app.alerts import Alerter
from app.breaker import CircuitBreaker
from app.config.loader import load_schema_class
from app.config.model import Settings, Source
from app.delivery import Deliverer
from app.errors import NotFound
from app.intake.receive import Receiver
from app.phoneburner.client import PhoneBurnerClient
from app.schemas.source import SourceSchema
from app.store.repository import Store


@dataclass(frozen=True)
class SourceHandler:
    """A source's config with its adapter and schema, built once at start-up."""

    source: Source
    adapter: Adapter
    schema: SourceSchema


class Relay:
    """Everything a request needs, built by create_app and kept on the Flask app."""

    def __init__(self, settings: Settings, client: PhoneBurnerClient, store: Store) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.handlers = {name: build_handler(source) for name, source in settings.sources.items()}

        # NOTE: each web process has its own breaker. The alerts' shared rate limit sends one alert per
        # interval for all of them, and only the process that sent it reports recovery, while the
        # breakers of other processes may still be open.
        # NOTE: nothing flushes this alerter when a gunicorn worker exits, so an alert still queued then is lost.
        self.alerter = Alerter.from_settings(settings, store)
        delivery = settings.delivery
        self.breaker = CircuitBreaker(
            threshold=delivery.breaker_threshold,
            open_seconds=delivery.breaker_open_seconds,
            on_open=self.alerter.breaker_opened,
            on_close=self.alerter.breaker_closed,
        )
        self.deliverer = Deliverer(settings, store, client, self.breaker, alerter=self.alerter, via="inline")
        self.receiver = Receiver(settings, store, self.deliverer, self.breaker)

    def handler(self, name: str) -> SourceHandler:
        """Return the named source's handler, or raise NotFound."""
        found = self.handlers.get(name)
        if found is None:
            raise NotFound("unknown source: check the name in the URL against the relay's configuration")
        return found


def build_handler(source: Source) -> SourceHandler:
    """Build a source's adapter and schema, using its own schema class when it names one."""
    adapter = ADAPTERS[source.adapter]()
    schema_class = load_schema_class(source.schema) if source.schema else SourceSchema
    return SourceHandler(source=source, adapter=adapter, schema=schema_class(source=source, adapter=adapter))


def current_relay() -> Relay:
    """Return the Relay of the Flask app serving this request."""
    return current_app.extensions["relay"]
