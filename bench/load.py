"""Load from wrk: the lead each request carries, one run, and its parsed figures."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, request

from app.config import load_settings
from app.intake.bodies import read_body
from app.phoneburner.query import build_put_contact
from app.relay import build_handler
from bench import servers

LUA_SCRIPT = Path(__file__).resolve().parent / "lead.lua"

# Stands in for each request's own email while the put_contact URL is built once.
_EMAIL_MARK = "bench.email.mark@example.com"

# The lead the simulator-alone runs send as put_contact parameters; the same body as lead.lua's.
SAMPLE_BODY = {
    "first_name": "Mateo",
    "last_name": "Gutiérrez",
    "email": _EMAIL_MARK,
    "phone": "(949) 555-0181",
    "address1": "12 Fixture St",
    "city": "Santa Ana",
    "state": "California",
    "zip": "92701",
    "interest": "solar and battery",
    "timeframe": "within 3 months",
}


class WrkFailed(RuntimeError):
    """wrk exited with an error or printed no summary."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: how many answers, by HTTP status, in how long, and their latency."""

    requests: int
    seconds: float
    statuses: dict[str, int]
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    output: str

    @property
    def rate(self) -> float:
        """Return the answers per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def accepted(self) -> int:
        """Return how many answers had a 2xx status."""
        return sum(count for status, count in self.statuses.items() if status.startswith("2"))


def wrk_path() -> str | None:
    """Return the wrk executable, or None when it is not installed."""
    return shutil.which("wrk")


def put_contact_template(config_path: Path, put_contact_url: str) -> tuple[str, str]:
    """Return the put_contact path and query around the email, exactly as the relay builds them.

    The relay's own adapter, schema and URL builder map SAMPLE_BODY, so the
    simulator-alone runs send what the relay sends for the same lead.
    """
    settings = load_settings(str(config_path), servers.relay_environment(config_path))
    handler = build_handler(settings.sources[servers.SOURCE])
    flask_app = Flask("bench")
    with flask_app.test_request_context(method="POST", data=json.dumps(SAMPLE_BODY), content_type="application/json"):
        body = read_body(request, settings.limits)
    lead = handler.schema.load_lead(handler.adapter.unwrap(body.document, body.pairs).fields)

    built = build_put_contact(
        base_url=put_contact_url, vendor_key=servers.VENDOR_KEY, user_id=servers.USER_ID, cm_id=servers.CM_ID,
        lead=lead,
    )
    path_and_query = "/" + built.url.split("://", 1)[1].split("/", 1)[1]
    prefix, suffix = path_and_query.split(_EMAIL_MARK.replace("@", "%40"))
    return prefix, suffix


def run_wrk(
    url: str, *, connections: int, seconds: float, mode_args: list[str], timeout_seconds: float = 10
) -> WrkResult:
    """Run wrk with lead.lua for `seconds` at `connections` and return its figures."""
    executable = wrk_path()
    if executable is None:
        raise WrkFailed("wrk is not installed; install it with: apt-get install wrk")

    nonce = secrets.token_hex(4)
    command = [
        executable, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_seconds:g}s",
        "--latency", "-s", str(LUA_SCRIPT), url, "--", mode_args[0], nonce, *mode_args[1:],
    ]
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout_seconds + 60)
    except subprocess.TimeoutExpired:
        raise WrkFailed(f"wrk did not finish within {seconds + timeout_seconds + 60:.0f} s") from None
    if finished.returncode != 0:
        raise WrkFailed(f"wrk exited with {finished.returncode}: {finished.stderr.strip()[:500]}")
    return parse_wrk_output(finished.stdout)


def parse_wrk_output(output: str) -> WrkResult:
    """Read the BENCH_RESULT line that lead.lua's done() prints."""
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            document = json.loads(line.removeprefix("BENCH_RESULT "))
            break
    else:
        raise WrkFailed(f"wrk printed no BENCH_RESULT line:\n{output[-1000:]}")

    latency = document["latency_us"]
    return WrkResult(
        requests=document["requests"],
        seconds=document["duration_us"] / 1e6,
        statuses=document["statuses"],
        errors=document["errors"],
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        output=output,
    )
