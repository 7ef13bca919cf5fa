"""Profile one relay worker under steady load with py-spy, to find where a lead's CPU time goes.

Run it as `bench/profile` from anywhere. It starts the simulator and the relay
on loopback, with one gunicorn worker on SQLite (or PostgreSQL with --store
postgres), and drives the relay with wrk. py-spy samples the worker, and the
functions that took the most time are printed, by their own time and with
what they called. The flame graph (SVG) and the collapsed stacks are written
beside the benchmark's results. py-spy must be installed (it is in
requirements-dev.txt) and allowed to read other processes' memory, which
root always is. With --minimal it samples the minimal relay instead, the
benchmark's yardstick, to compare where each spends its time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path

from bench import load, servers, stores

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="bench/profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="seconds of sampling (default: 20)")
    parser.add_argument("--senders", type=int, default=16, help="wrk connections (default: 16)")
    parser.add_argument("--upstream-ms", type=int, default=0, help="the simulator's reply delay (default: 0)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--minimal", action="store_true",
                        help="profile bench/minimal_relay.py, with one worker, instead of the relay")
    parser.add_argument("--top", type=int, default=40, help="functions to print (default: 40)")
    parser.add_argument("--gil", action="store_true",
                        help="keep only samples that hold the GIL: the worker's CPU time in Python, without its "
                             "waits for disk syncs, sockets and locks")
    parser.add_argument("--postgres-admin-url", default=stores.DEFAULT_POSTGRES_ADMIN_URL,
                        help="libpq URL of an existing database; a fresh one is created beside it and dropped")
    return parser.parse_args(argv)


def py_spy() -> str:
    """Return py-spy's path: beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        sys.exit("py-spy is not installed; run: .venv/bin/pip install -r requirements-dev.txt")
    return found


def record(pid: int, seconds: float, output: Path, output_format: str, gil: bool = False) -> subprocess.Popen:
    """Start py-spy sampling `pid` for `seconds`, writing `output` in `output_format`."""
    command = [py_spy(), "record", "--pid", str(pid), "--duration", str(round(seconds)), "--rate", "250",
               "--format", output_format, "--output", str(output), "--nonblocking"]
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def summarize(collapsed: Path, top: int) -> str:
    """Return the functions with the most samples in `collapsed`, by own and by total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            # Sampling without pausing the worker (--nonblocking) can tear a read, leaving a garbled line.
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[_short(frames[-1])] += count
        for frame in {_short(frame) for frame in frames}:
            total[frame] += count

    lines = [f"{samples:,} samples", "", "own time:"]
    lines += [f"  {count / samples:6.1%}  {name}" for name, count in own.most_common(top)]
    lines += ["", "with callees:"]
    lines += [f"  {count / samples:6.1%}  {name}" for name, count in total.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # A frame reads "function (path/to/file.py:line)"; the line number would split one function into many.
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def main(argv: list[str] | None = None) -> int:
    """Start the servers, sample one worker under load, print and write the profile."""
    options = parse_args(argv)
    if load.wrk_path() is None:
        sys.exit("wrk is not installed; run bench/run once, or: apt-get install wrk")
    RESULTS.mkdir(exist_ok=True)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    workdir = Path(tempfile.mkdtemp(prefix="profile-", dir=RESULTS))
    started: list[servers.Server] = []
    database = None
    try:
        simulator = servers.start_simulator(workdir)
        started.append(simulator)
        servers.set_upstream(simulator, latency_ms=options.upstream_ms)
        if options.minimal:
            server = servers.start_minimal_relay(workdir, simulator, workers=1)
        else:
            if options.store == "postgres":
                database = stores.PostgresDatabase(options.postgres_admin_url)
                database.create()
                storage_url = database.url
            else:
                storage_url = stores.sqlite_url(workdir, "profile")
            config = servers.write_relay_config(workdir, simulator, storage_url, "profile")
            servers.migrate(config)
            server = servers.start_relay(workdir, config, "profile", workers=1)
        started.append(server)
        url = f"{server.base_url}/v1/leads/{servers.SOURCE}"
        mode_args = ["post"] if options.minimal else ["post", servers.TOKEN]

        # Warm-up, so the profile shows steady state rather than imports and first connections.
        load.run_wrk(url, connections=options.senders, seconds=3, mode_args=mode_args)
        worker = server.worker_pids()[0]
        collapsed = RESULTS / f"profile-{stamp}.txt"
        flame = RESULTS / f"profile-{stamp}.svg"
        samplers = [record(worker, options.seconds, collapsed, "raw", options.gil),
                    record(worker, options.seconds, flame, "flamegraph", options.gil)]
        outcome = {}
        driver = threading.Thread(target=lambda: outcome.update(result=load.run_wrk(
            url, connections=options.senders, seconds=options.seconds + 2, mode_args=mode_args)))
        driver.start()
        for sampler in samplers:
            _, errors = sampler.communicate(timeout=options.seconds + 120)
            if sampler.returncode != 0:
                sys.exit(f"py-spy failed: {errors.strip()[-500:]}")
        driver.join()
    finally:
        for server in reversed(started):
            server.stop()
        if database is not None:
            database.drop()
        shutil.rmtree(workdir, ignore_errors=True)

    result = outcome.get("result")
    if result is not None:
        print(f"{result.rate:,.0f} leads/s at {options.senders} senders while sampling")
    print(summarize(collapsed, options.top))
    print(f"\nwritten to {collapsed} and {flame}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
