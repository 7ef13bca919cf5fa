# The relay as a container: gunicorn with gevent workers, run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RELAY_CONFIG=/app/config/relay.toml \
    RELAY_BIND=0.0.0.0:8080

WORKDIR /app

# Dependencies first, so code changes reuse this layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY app/ app/
COPY config/ config/
COPY wsgi.py .

# The git commit GET /version and relay_build_info report: docker build --build-arg RELAY_BUILD_COMMIT=$(git rev-parse HEAD)
ARG RELAY_BUILD_COMMIT=""
RUN if [ -n "$RELAY_BUILD_COMMIT" ]; then printf '%s\n' "$RELAY_BUILD_COMMIT" > BUILD; fi

# The SQLite store's default folder, writable by the relay's user; mount a volume here.
RUN useradd --system --uid 10001 --no-create-home relay && mkdir /app/var && chown relay /app/var
USER relay
VOLUME ["/app/var"]

EXPOSE 8080

# Probes the port RELAY_BIND names, so overriding the bind keeps the check true.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['RELAY_BIND'].rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]

CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
