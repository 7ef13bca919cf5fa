"""The servers under test: the simulator, the minimal relay and this relay, on loopback ports."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]

VENDOR_KEY = "bench-vendor-key-" + secrets.token_hex(8)
TOKEN = "bench-token-" + secrets.token_hex(12)
USER_ID = "123456"
CM_ID = "YYYY"
SOURCE = "bench"

# How long a server may take to answer its health check after it was started.
START_SECONDS = 60

# The relay's configuration for the benchmark: production defaults, one form source.
RELAY_CONFIG = """
[phoneburner]
url = "{phoneburner_url}"
vendor_key = "${{BENCH_VENDOR_KEY}}"
allow_insecure_url = true

# The "clients" points give every lead its own address in X-Forwarded-For, which the relay believes from loopback.
[server]
trusted_proxies = ["127.0.0.1/32"]

[storage]
url = "{storage_url}"

[logging]
level = "INFO"
format = "json"

# wrk sends every lead from one address, so the default per-IP limit would respond with 429 after 120 leads.
# The limits are still checked on every request, in each process's memory as by default.
[limits]
per_ip = "100000000/minute"
per_source = "100000000/minute"

[customers.acme]
user_id = "{user_id}"
[customers.acme.leadstreams]
default = "{cm_id}"

[sources.{source}]
customer = "acme"
adapter = "form"
tokens = ["${{BENCH_TOKEN}}"]
extras_unmapped = true
"""

_SIMULATOR_URL = re.compile(r"listening on (http://\S+)")


@dataclass
class Server:
    """A started server: its process, its base URL and the file its output goes to."""

    name: str
    process: subprocess.Popen
    base_url: str
    log_path: Path
    extra: dict = field(default_factory=dict)

    def pids(self) -> list[int]:
        """Return the server's process and its children (gunicorn's workers)."""
        return [self.process.pid, *children(self.process.pid)]

    def worker_pids(self) -> list[int]:
        """Return the processes that serve requests: gunicorn's workers, or the process itself."""
        return children(self.process.pid) or [self.process.pid]

    def stop(self) -> None:
        """Stop the server and its workers, killing them if they do not exit within 15 s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, chars: int = 2000) -> str:
        """Return the end of the server's output, to explain a failure."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


class ServerFailed(RuntimeError):
    """A server did not start or stopped answering."""


def children(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may contain spaces; the parent id follows it.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(command: list[str], environ: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log_file:
        # A session of its own, so that a stuck server and its workers can be killed as a group.
        return subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_answering(server: Server, path: str) -> None:
    """Wait until `path` answers 200, or raise ServerFailed with the server's output."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.base_url + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise ServerFailed(f"{server.name} did not answer {path} within {START_SECONDS} s:\n{server.log_tail()}")


def start_simulator(workdir: Path) -> Server:
    """Start the PhoneBurner simulator on a free port; hanging requests stay open 600 s."""
    log_path = workdir / "simulator.log"
    command = [
        sys.executable, "-m", "app", "simulator", "--port", "0", "--key", VENDOR_KEY,
        "--user", f"{USER_ID}:{CM_ID}", "--hang-seconds", "600", "--max-received", "1000",
    ]
    process = _spawn(command, dict(os.environ), log_path)

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        match = _SIMULATOR_URL.search(log_path.read_text(errors="replace"))
        if match:
            put_contact_url = match.group(1)
            base_url = put_contact_url.split("/api/", 1)[0]
            server = Server("simulator", process, base_url, log_path, {"put_contact_url": put_contact_url})
            wait_until_answering(server, "/_sim/health")
            return server
        if process.poll() is not None:
            break
        time.sleep(0.05)
    server = Server("simulator", process, "", log_path)
    server.stop()
    raise ServerFailed(f"the simulator did not start:\n{server.log_tail()}")


def set_upstream(simulator: Server, *, latency_ms: int = 0, hang: bool = False) -> None:
    """Make the simulator answer every put_contact after `latency_ms`, or hang, until changed."""
    sticky = None
    if hang:
        sticky = "hang"
    elif latency_ms:
        sticky = f"delay:{latency_ms}"
    reply = requests.post(f"{simulator.base_url}/_sim/faults", json={"queue": [], "sticky": sticky}, timeout=5)
    reply.raise_for_status()


def start_minimal_relay(workdir: Path, simulator: Server, *, workers: int) -> Server:
    """Start bench/minimal_relay.py under gunicorn's gevent workers, as many as the relay gets."""
    port = free_port()
    environ = {
        **os.environ,
        "PHONEBURNER_URL": simulator.extra["put_contact_url"],
        "PHONEBURNER_VENDOR_KEY": VENDOR_KEY,
        "PHONEBURNER_USER_ID": USER_ID,
        "PHONEBURNER_CM_ID": CM_ID,
        "RELAY_POOL_SIZE": "1000",
    }
    command = [
        sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers), "--worker-connections", "1000",
        "-b", f"127.0.0.1:{port}", "bench.minimal_relay:app",
    ]
    server = Server("minimal relay", _spawn(command, environ, workdir / "minimal.log"), f"http://127.0.0.1:{port}",
                    workdir / "minimal.log")
    # Any answer means gunicorn serves: the relay route takes POST only.
    wait_until_answering_any(server)
    return server


def wait_until_answering_any(server: Server) -> None:
    """Wait until the server answers any HTTP request, or raise ServerFailed."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            requests.get(server.base_url + "/", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise ServerFailed(f"{server.name} did not answer within {START_SECONDS} s:\n{server.log_tail()}")


def relay_environment(config_path: Path) -> dict[str, str]:
    """Return the environment the relay's processes and commands run with."""
    return {
        **os.environ,
        "RELAY_CONFIG": str(config_path),
        "BENCH_VENDOR_KEY": VENDOR_KEY,
        "BENCH_TOKEN": TOKEN,
    }


def write_relay_config(workdir: Path, simulator: Server, storage_url: str, name: str) -> Path:
    """Write the relay's TOML configuration for one store and return its path."""
    config_path = workdir / f"{name}.toml"
    config_path.write_text(
        RELAY_CONFIG.format(
            phoneburner_url=simulator.extra["put_contact_url"],
            storage_url=storage_url,
            user_id=USER_ID,
            cm_id=CM_ID,
            source=SOURCE,
        )
    )
    return config_path


def migrate(config_path: Path) -> None:
    """Create the store's tables with the relay's own command."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT, env=relay_environment(config_path), capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise ServerFailed(f"python -m app migrate failed:\n{result.stdout}{result.stderr}")


def start_relay(workdir: Path, config_path: Path, name: str, *, workers: int) -> Server:
    """Start this relay with config/gunicorn.conf.py on a free port; its store must be migrated."""
    port = free_port()
    environ = {
        **relay_environment(config_path),
        "RELAY_WORKERS": str(workers),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
    log_path = workdir / f"{name}.log"
    server = Server(name, _spawn(command, environ, log_path), f"http://127.0.0.1:{port}", log_path)
    wait_until_answering(server, "/readyz")
    return server
