"""A scrape: the processes' metrics, plus gauges read from the store and the build at scrape time.

The queue gauges come from the store, not from counters, so they are right
whichever process (web or worker, on any host) changed a lead.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app import metrics
from app.build import build_info
from app.metrics_dir import ENV
from app.store.repository import Store, StoreUnavailable
from app.store.stats import read_queue_stats

log = logging.getLogger("relay.metrics")

# Seconds each store query of a scrape may take; Prometheus's own scrape timeout is 10 s by default.
STORE_TIME_LIMIT = 2.0


class StoreCollector:
    """Queue depth, the oldest queued lead's age, dead leads and customers on hold, read at scrape time."""

    def __init__(self, store: Store, *, time_limit: float = STORE_TIME_LIMIT) -> None:
        self.store = store
        self.time_limit = time_limit

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("relay_store_up", "1 when this scrape could read the queue gauges from the store.")
        try:
            stats = read_queue_stats(self.store, time_limit=self.time_limit)
        except StoreUnavailable as error:
            log.warning("metrics.store_unavailable", extra={"error": str(error)})
            up.add_metric([], 0)
            yield up
            return

        up.add_metric([], 1)
        yield up

        depth = GaugeMetricFamily(
            "relay_queue_depth", "Leads the worker still attempts (queued) or that failed, by status.",
            labels=["status"],
        )
        for status in ("queued", "failed"):
            depth.add_metric([status], stats.counts[status])
        yield depth

        oldest = stats.oldest_queued_at
        age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "relay_queue_oldest_age_seconds", "Age of the oldest queued lead in seconds; 0 when none is queued.",
            value=age,
        )
        yield GaugeMetricFamily("relay_leads_dead", "Leads given up after every retry.", value=stats.counts["dead"])
        yield GaugeMetricFamily(
            "relay_customers_on_hold", "Customers whose deliveries wait for an operator's fix.",
            value=stats.customers_on_hold,
        )


class BuildCollector:
    """`relay_build_info`: always 1, with the version, commit and Python version as labels."""

    def collect(self) -> Iterator[Metric]:
        info = build_info()
        family = GaugeMetricFamily(
            "relay_build_info", "The relay's version, git commit and Python version; always 1.",
            labels=["version", "commit", "python"],
        )
        family.add_metric([info["version"] or "", info["commit"] or "", info["python"] or ""], 1)
        yield family


def scrape_registry(store: Store) -> CollectorRegistry:
    """Return a registry of every process's metrics (or this process's alone), the store's and the build's."""
    registry = CollectorRegistry()
    directory = os.environ.get(ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(metrics.REGISTRY)
    registry.register(StoreCollector(store))
    registry.register(BuildCollector())
    return registry


def render(store: Store) -> bytes:
    """Return the Prometheus text exposition of a scrape."""
    return generate_latest(scrape_registry(store))
