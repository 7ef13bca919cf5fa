"""Real processes on loopback: the PhoneBurner simulator and the relay under gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENDOR_KEY = "e2e-vendor-key-0001"
TOKEN = "e2e-token-aaaaaaaaaaaa"
ADMIN_TOKEN = "e2e-admin-token-bbbbbbbbbbbb"
FORM_CONFIG = """
[phoneburner]
url = "http://127.0.0.1:{sim_port}/api/vendor/put_contact"
vendor_key = "${{E2E_VENDOR_KEY}}"
connect_timeout = 1
read_timeout = 1.5
allow_insecure_url = true

[logging]
format = "json"

[limits]
# Every test posts from 127.0.0.1, and the rate limits have tests of their own.
per_ip = "1000000/minute"
per_source = "1000000/minute"

[storage]
url = "sqlite:///{store_path}"

[delivery]
inline_budget = 3
backoff_initial = 1
backoff_max = 2
poll_interval = 0.1
# Outage tests fail many attempts in a row; the breaker has its own tests.
breaker_threshold = 1000

[admin]
token = "${{E2E_ADMIN_TOKEN}}"

[customers.acme]
user_id = "123456"
[customers.acme.leadstreams]
default = "YYYY"

[customers.broken]
user_id = "123456"
[customers.broken.leadstreams]
default = "NOT-A-CM-ID"

[sources.form]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
extras_unmapped = true

[sources.always-200]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
response_mode = "always_200"

[sources.broken]
customer = "broken"
tokens = ["${{E2E_TOKEN}}"]

[sources.typeform]
customer = "acme"
adapter = "typeform"
auth = "signature"
signing_secret = "fixture_typeform_secret"

[sources.zapier-json]
customer = "acme"
tokens = ["${{E2E_TOKEN}}"]
extras_unmapped = true
ignore = ["meta__*"]

[sources.zapier-json.fields]
firstname = "lead__first_name"
lastname = "lead__last_name"
email = "lead__email"
phone = "lead__phone"
address1 = "lead__address__street"
city = "lead__address__city"
state = "lead__address__state"
zip = "lead__address__zip"
"""


# One token-authenticated source per adapter, named after it.
ADAPTER_SOURCES = ("zapier", "cf7", "unbounce", "jotform", "gravity_forms", "elementor", "webflow", "meta_lead_ads")


def adapter_sources() -> str:
    return "".join(
        f'\n[sources.{name}]\ncustomer = "acme"\nadapter = "{name}"\ntokens = ["${{E2E_TOKEN}}"]\n'
        for name in ADAPTER_SOURCES
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode} before serving")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Simulator:
    """Test-side handle on the simulator process's control endpoints."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def reset(self) -> None:
        requests.post(f"{self.base}/_sim/reset", timeout=5).raise_for_status()

    def received(self) -> list[dict]:
        return requests.get(f"{self.base}/_sim/received", timeout=5).json()

    def params(self) -> list[list[tuple[str, str]]]:
        return [[tuple(pair) for pair in item["params"]] for item in self.received()]

    def calls_for(self, email: str) -> list[list[tuple[str, str]]]:
        """Return the calls for one email: the worker may deliver other tests' queued leads meanwhile."""
        return [params for params in self.params() if ("email", email) in params]

    def fault(self, *queue: str) -> None:
        requests.post(f"{self.base}/_sim/faults", json={"queue": list(queue)}, timeout=5).raise_for_status()


def start_simulator(port: int, *, hang_seconds: float = 30) -> subprocess.Popen:
    """Start the simulator on `port` with the e2e vendor key and account, and wait until it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app.phoneburner.simulator", "--port", str(port), "--key", VENDOR_KEY,
         "--user", "123456:YYYY", "--hang-seconds", str(hang_seconds)],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(f"http://127.0.0.1:{port}/_sim/health", process)
    return process


def launch_simulator() -> tuple[subprocess.Popen, Simulator]:
    """Start a simulator process on a free port that accepts user 123456 with cm_id YYYY; return both."""
    port = free_port()
    return start_simulator(port), Simulator(port)


@pytest.fixture(scope="session")
def simulator():
    process, simulator = launch_simulator()
    yield simulator
    stop(process)


class Relay:
    """The relay's base URL and the log file its process writes."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def post(self, source: str, body: bytes | str, content_type: str, headers: dict | None = None):
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}", **(headers or {})}
        return requests.post(f"{self.base}/v1/leads/{source}", data=body, headers=headers, timeout=10,
                             allow_redirects=False)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def status(self, lead_id: str) -> dict:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return requests.get(f"{self.base}/v1/leads/{lead_id}", headers=headers, timeout=5).json()

    def wait_for_status(self, lead_id: str, wanted: str, seconds: float = 20) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            document = self.status(lead_id)
            if document["status"] == wanted or time.monotonic() > deadline:
                return document
            time.sleep(0.1)


def relay_environ(config) -> dict[str, str]:
    """Return the environment of the relay's processes: the config's path and the secrets it names."""
    return {
        **os.environ,
        "RELAY_CONFIG": str(config),
        "E2E_VENDOR_KEY": VENDOR_KEY,
        "E2E_TOKEN": TOKEN,
        "E2E_ADMIN_TOKEN": ADMIN_TOKEN,
    }


def launch_relay(
    config, log_path, *, web_workers: int, with_worker: bool, gunicorn_args: str = "", boot_seconds: float = 20
) -> tuple[list[subprocess.Popen], Relay]:
    """Migrate the config's store, then start gunicorn and, if asked, a delivery worker; return both.

    `boot_seconds` bounds the wait for /healthz, which grows with the number of web workers to import.
    """
    port = free_port()
    environ = {
        **relay_environ(config),
        "RELAY_WORKERS": str(web_workers),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} {gunicorn_args}".strip(),
        # The default metrics directory lives in the temporary directory; keep it beside the config.
        "TMPDIR": str(Path(config).parent),
        # So is the home folder, so that nothing a test relay writes there reaches the real one.
        "HOME": str(Path(config).parent),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environ.pop("XDG_RUNTIME_DIR", None)
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=environ, check=True, capture_output=True)

    commands = [[sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]]
    if with_worker:
        commands.append([sys.executable, "-m", "app", "worker"])
    with log_path.open("wb") as log_file:
        processes = [
            subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log_file, stderr=subprocess.STDOUT)
            for command in commands
        ]

    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", processes[0], boot_seconds)
    except RuntimeError:
        for process in processes:
            stop(process)
        raise
    return processes, Relay(port, log_path)


@pytest.fixture(scope="session")
def relay(simulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("relay")
    config = directory / "relay.toml"
    sim_port = simulator.base.rsplit(":", 1)[1]
    config.write_text(FORM_CONFIG.format(sim_port=sim_port, store_path=directory / "relay.db") + adapter_sources())
    log_path = directory / "relay.log"

    processes, relay = launch_relay(config, log_path, web_workers=1, with_worker=True)
    yield relay
    for process in processes:
        stop(process)


@pytest.fixture(autouse=True)
def clean_simulator(simulator):
    simulator.reset()
