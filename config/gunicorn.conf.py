"""Gunicorn settings for the relay: gevent workers keep many slow PhoneBurner calls in flight.

Each worker serves up to `worker_connections` requests at once on greenlets, so
a PhoneBurner that takes hundreds of milliseconds per call does not make
senders queue behind each other, as it would with sync or thread workers.
Every setting here can be overridden with GUNICORN_CMD_ARGS or the command line.
"""

import math
import os
import sys

# Patch before anything imports ssl or socket, in the master as in the workers.
from gevent import monkey

monkey.patch_all()

bind = os.environ.get("RELAY_BIND", "127.0.0.1:8080")
# Gunicorn's gevent worker, which responds to the requests gunicorn rejects itself with the relay's JSON envelope.
worker_class = "app.gunicorn_worker.RelayGeventWorker"
workers = int(os.environ.get("RELAY_WORKERS", os.cpu_count() or 1))
worker_connections = int(os.environ.get("RELAY_WORKER_CONNECTIONS", 1000))

# The app sizes its PhoneBurner connection pool to match a worker's concurrency.
os.environ["RELAY_POOL_SIZE"] = str(worker_connections)

# A worker silent this long is restarted; a PhoneBurner call never blocks the heartbeat under gevent.
timeout = 30
keepalive = 5

# gunicorn 25.1 and later open a control socket for gunicornc at one path per user ($HOME/.gunicorn/gunicorn.ctl),
# which every gunicorn of the same user would share. The relay is managed with signals, so it opens none.
control_socket_disable = True

# Bounds on the request line and headers, which a sender controls before the app receives the request.
# The request line contains the URL, query token included, and the header limits allow the headers that
# browsers and proxies add. Longer lines get 414, more or larger headers 431, both as the relay's JSON
# envelope. Headers that take longer than `keepalive` seconds to arrive close the connection, and the app
# bounds the body with [limits].body_timeout.
limit_request_line = int(os.environ.get("RELAY_LIMIT_REQUEST_LINE", 4094))
limit_request_fields = int(os.environ.get("RELAY_LIMIT_REQUEST_FIELDS", 100))
limit_request_field_size = int(os.environ.get("RELAY_LIMIT_REQUEST_FIELD_SIZE", 8190))

def _graceful_timeout() -> int:
    """Return the whole seconds a worker gets after SIGTERM to finish its requests in flight.

    It is the longest a request waits, its inline attempt ([delivery].inline_budget) or a
    repeat's wait ([delivery].repeat_wait), plus a margin for the store: 18 s by default.
    """
    from app.config import ConfigError, load_settings

    try:
        # Gunicorn takes whole seconds only.
        return math.ceil(load_settings().web_graceful_timeout)
    except ConfigError:
        # on_starting prints the problems and stops the server.
        return 30


# On SIGTERM the master stops accepting, and each worker finishes its requests in flight
# within this many seconds before it is killed. SIGINT and SIGQUIT stop at once.
graceful_timeout = _graceful_timeout()

# JSON access lines without query strings, which may carry a sender's token.
accesslog = "-"
errorlog = "-"
logger_class = "app.gunicorn_logging.RelayLogger"


def on_starting(server):
    """Refuse to start with an invalid configuration, naming each bad key once, and prepare the metrics directory."""
    from app import metrics_dir
    from app.config import ConfigError
    from app.gunicorn_reload import load_and_pin

    try:
        settings = load_and_pin()
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(1)

    # Before the workers fork and import prometheus_client, which reads the variable once.
    directory, warning = metrics_dir.prepare_for_server(settings.path)
    if warning:
        server.log.warning(warning)
    server.log.info("metrics directory: %s", directory)
    server.log.use_format(settings.logging.format)


def when_ready(server):
    """Reload on SIGHUP only when the relay's configuration loads, and otherwise log why and keep the workers."""
    from app.gunicorn_reload import check_before_reload

    check_before_reload(server)


def child_exit(server, worker):
    """Drop a finished worker's breaker state from the metrics; its counters stay in the sums."""
    from app import metrics_dir

    metrics_dir.mark_process_dead(worker.pid)
