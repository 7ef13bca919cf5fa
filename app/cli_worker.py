"""`python -m app worker`: the delivery worker, and where its metrics go."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from app import metrics_dir

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from app.store.repository import Store

log = logging.getLogger("relay.worker")

# Seconds a stopping worker waits for its queued alerts to be sent.
ALERT_FLUSH_SECONDS = 5.0


def add_metrics_arguments(worker: argparse.ArgumentParser) -> None:
    """Add --metrics-port and --metrics-host to the worker command."""
    worker.add_argument(
        "--metrics-port", type=_port, metavar="N",
        help="serve this worker's metrics at /metrics on port N, instead of sharing the web server's metrics directory",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="ADDRESS",
        help="the address --metrics-port listens on (default: 127.0.0.1); that /metrics needs no token",
    )


def run_worker(args: argparse.Namespace) -> int:
    """Run the delivery worker until SIGTERM or SIGINT, or once with --once."""
    from app.cli import load_or_exit

    settings = load_or_exit(args.config)
    # Before anything imports prometheus_client, which reads PROMETHEUS_MULTIPROC_DIR once.
    _prepare_worker_metrics(args, settings.path)

    from app import services
    from app.alerts import Alerter, BacklogWatch
    from app.config.summary import log_loaded
    from app.delivery import Deliverer
    from app.worker import Worker

    log_loaded(settings, role="worker")
    concurrency = settings.delivery.worker_concurrency
    store = services.build_store(settings)
    client = services.build_client(settings, size=concurrency)
    alerter = Alerter.from_settings(settings, store)
    # Only workers watch the queue's age, so web processes never send that alert.
    backlog = BacklogWatch(store, alerter, threshold=settings.alerts.oldest_queued_minutes * 60)
    worker = Worker(
        store,
        Deliverer(settings, store, client, alerter=alerter),
        lease=settings.lease_seconds,
        concurrency=concurrency,
        poll_interval=settings.delivery.poll_interval,
        shutdown_grace=settings.worker_shutdown_grace,
        backlog=backlog,
    )
    metrics_server = _serve_worker_metrics(args, store) if args.metrics_port is not None else None
    abandoned = []
    try:
        if args.once:
            worker.run_once()
        else:
            worker.stop_on_signals()
            abandoned = worker.run()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        alerter.close(timeout=ALERT_FLUSH_SECONDS)
        store.engine.dispose()
        metrics_dir.mark_process_dead(os.getpid())

    if abandoned:
        # Their claims are given back already, and their threads are stuck in PhoneBurner calls that
        # cannot be cancelled: exit now instead of waiting for those calls to time out.
        logging.shutdown()
        os._exit(0)
    return 0


def _prepare_worker_metrics(args: argparse.Namespace, path: str) -> None:
    """Share the web server's metrics directory, or keep metrics in memory for --metrics-port."""
    if args.metrics_port is not None:
        # This worker is scraped on its own; values in the shared directory would be counted twice.
        os.environ.pop(metrics_dir.ENV, None)
        return
    try:
        directory = metrics_dir.prepare(path)
    except metrics_dir.MetricsDirectoryError as error:
        log.warning("metrics.not_exported", extra={"error": str(error)})
        return
    log.info("metrics.directory", extra={"directory": str(directory)})


def _serve_worker_metrics(args: argparse.Namespace, store: Store) -> WSGIServer:
    """Serve this worker's metrics and the store's gauges on --metrics-host:--metrics-port; exit 1 if taken."""
    from prometheus_client import start_http_server

    from app.metrics_export import scrape_registry

    try:
        server, _thread = start_http_server(args.metrics_port, addr=args.metrics_host, registry=scrape_registry(store))
    except OSError as error:
        print(f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: {error.strerror}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("metrics.serving", extra={"address": f"{args.metrics_host}:{args.metrics_port}"})
    return server


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a number from 1 to 65535")
    return port
