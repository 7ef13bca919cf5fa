"""Benchmark the relay beside the PhoneBurner simulator alone and a minimal relay.

Run it as `bench/run` from anywhere; `bench/run --help` lists the options.
Everything runs on loopback with free ports: the simulator, the servers under
test and wrk. The Markdown report is printed and written to bench/results/.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import load, procstats, report, servers, stores
from bench.report import Point, Run

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = ("sim", "minimal", "sqlite", "postgres", "outage")
STORES = ("sqlite", "postgres")

# The relay's inline attempt gives up after its budget (8 s by default); the breaker opens after that.
OUTAGE_WARMUP_SECONDS = 10
# The soak's first samples are taken while caches and pools fill; growth is measured from this minute on.
SOAK_BASELINE_MINUTES = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs for development and the smoke test: 1 s warm-up, 2 s runs, one run per point")
    parser.add_argument("--duration", type=float, help="seconds of each measured run (default: 10, 2 with --quick)")
    parser.add_argument("--warmup", type=float,
                        help="seconds of load before a point's first run (default: 3, 1 with --quick)")
    parser.add_argument("--runs", type=int, help="runs per point (default: 2, 1 with --quick)")
    parser.add_argument("--only", help=f"comma-separated groups to run, of: {', '.join(GROUPS)} (default: all)")
    parser.add_argument("--concurrency", default="1,16,64", help="senders (wrk connections) per point")
    parser.add_argument("--upstream-ms", default="0,250", help="the simulator's reply delays to measure, in ms")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="gunicorn workers of the relay and the minimal relay (default: the CPU count)")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="also run the SQLite relay under steady load this long and report RSS growth")
    parser.add_argument("--history", type=int, metavar="N",
                        help="also rerun the relay points at 0 ms upstream on stores pre-filled with N delivered leads")
    parser.add_argument("--postgres-admin-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                        stores.DEFAULT_POSTGRES_ADMIN_URL),
                        help="libpq URL of an existing database; a fresh one is created beside it and dropped")
    parser.add_argument("--keep-work", action="store_true", help="keep the servers' logs and stores for a look")
    options = parser.parse_args(argv)

    quick_defaults = {"duration": 2.0, "warmup": 1.0, "runs": 1}
    full_defaults = {"duration": 10.0, "warmup": 3.0, "runs": 2}
    for name, default in (quick_defaults if options.quick else full_defaults).items():
        if getattr(options, name) is None:
            setattr(options, name, default)
    options.only = set((options.only or ",".join(GROUPS)).split(","))
    unknown = options.only - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown group {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    options.concurrency = sorted(int(value) for value in options.concurrency.split(","))
    options.upstream_ms = [int(value) for value in options.upstream_ms.split(",")]
    return options


def ensure_wrk(progress) -> None:
    """Install wrk from Debian's packages when it is missing."""
    if load.wrk_path():
        return
    progress("wrk is missing; installing it with apt-get")
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=environ, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=environ, capture_output=True, check=False)
        subprocess.run(install, env=environ, capture_output=True, check=False)
    if not load.wrk_path():
        raise SystemExit("bench/run: wrk is missing and apt-get could not install it; install wrk and rerun")


class Benchmark:
    """One benchmark run: its servers, its points and its results."""

    def __init__(self, options: argparse.Namespace, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.points: list[Point] = []
        self.started: list[servers.Server] = []
        self.databases: list[stores.PostgresDatabase] = []
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.soak_samples: list[tuple[float, list[float]]] = []
        self.soak_growth: float | None = None
        self.simulator: servers.Server | None = None

    def progress(self, message: str) -> None:
        """Print a progress line to stderr."""
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    # --- the run as a whole --------------------------------------------------

    def run(self) -> None:
        """Measure every selected group, then the history and the soak when asked."""
        only = self.options.only
        self.simulator = self._keep(servers.start_simulator(self.workdir))
        steps = []
        if "sim" in only:
            steps.append(("sim", self.measure_simulator))
        if "minimal" in only:
            steps.append(("minimal", self.measure_minimal))

        outage = "outage" in only
        chosen_stores = [store for store in STORES if store in only] or (list(STORES) if outage else [])
        for store in chosen_stores:
            steps.append((store, functools.partial(self.measure_relay, store, healthy=store in only, outage=outage)))
        if self.options.history:
            for store in chosen_stores or STORES:
                history = functools.partial(self.measure_relay, store, healthy=True, outage=False,
                                            history=self.options.history)
                steps.append((f"history-{store}", history))
        if self.options.soak:
            steps.append(("soak", functools.partial(self.soak, self.options.soak)))

        for name, step in steps:
            self._run_step(name, step)

    def _run_step(self, name: str, step) -> None:
        """Run one group; a failure is noted in the report and the next group still runs."""
        try:
            step()
        except Exception as error:
            # A group's server is stopped by the group itself; the simulator must survive for the next one.
            self.failures.append(f"{name}: {type(error).__name__}: {str(error)[:2000]}")
            self.progress(f"{name} stopped: {traceback.format_exc()}")
            if self.simulator.process.poll() is not None:
                raise

    def stop_all(self) -> None:
        """Stop every server started and drop every database created."""
        for server in reversed(self.started):
            server.stop()
        for database in self.databases:
            try:
                database.drop()
            except Exception as error:
                self.progress(f"could not drop database {database.name}: {error}")

    def _keep(self, server: servers.Server) -> servers.Server:
        self.started.append(server)
        return server

    def _stop(self, server: servers.Server) -> None:
        server.stop()
        self.started.remove(server)

    # --- groups ---------------------------------------------------------------

    def measure_simulator(self) -> None:
        """(a) wrk sends put_contact GETs straight to the simulator."""
        config = servers.write_relay_config(self.workdir, self.simulator, "sqlite://", "template")
        prefix, suffix = load.put_contact_template(config, self.simulator.extra["put_contact_url"])
        self._sweep("sim", self.simulator, self.simulator.base_url + "/", ["get", prefix, suffix])

    def measure_minimal(self) -> None:
        """(b) the minimal Flask + requests relay."""
        minimal = self._keep(servers.start_minimal_relay(self.workdir, self.simulator, workers=self.options.workers))
        try:
            self._sweep("minimal", minimal, f"{minimal.base_url}/v1/leads/{servers.SOURCE}", ["post"])
        finally:
            self._stop(minimal)

    def measure_relay(self, store: str, *, healthy: bool, outage: bool, history: int | None = None) -> None:
        """(c), (c') and (d): this relay on one store, healthy upstream and then hanging."""
        storage_url = self._new_store(store)
        if storage_url is None:
            return
        name = f"{store}-history" if history else store
        config = servers.write_relay_config(self.workdir, self.simulator, storage_url, name)
        servers.migrate(config)
        if history:
            seconds = stores.prefill_history(storage_url, history, progress=self.progress)
            self.notes.append(f"{store}: {history:,} delivered leads stored in {seconds:.0f} s first")

        relay = self._keep(servers.start_relay(self.workdir, config, name, workers=self.options.workers))
        url = f"{relay.base_url}/v1/leads/{servers.SOURCE}"
        try:
            if healthy:
                group = f"history-{store}" if history else store
                upstreams = [0] if history else self.options.upstream_ms
                self._sweep(group, relay, url, ["post", servers.TOKEN], upstreams=upstreams)
                if store == "sqlite" and not history and 0 in upstreams:
                    self._many_clients(store, relay, url)
            if outage:
                self._outage(store, relay, url, storage_url)
        finally:
            servers.set_upstream(self.simulator)
            self._stop(relay)

    def _new_store(self, store: str) -> str | None:
        if store == "sqlite":
            return stores.sqlite_url(self.workdir, f"relay-{len(self.databases)}-{time.monotonic_ns()}")

        reason = stores.postgres_available(self.options.postgres_admin_url)
        if reason is not None:
            self.notes.append(f"PostgreSQL points skipped: the server did not answer ({reason})")
            self.progress(self.notes[-1])
            return None
        database = stores.PostgresDatabase(self.options.postgres_admin_url)
        database.create()
        self.databases.append(database)
        return database.url

    def _many_clients(self, store: str, relay: servers.Server, url: str) -> None:
        """(c) again, each lead from its own client address: the rate limits then count a new key per lead."""
        servers.set_upstream(self.simulator)
        point = Point(f"clients-{store}", "0 ms", self.options.concurrency[-1])
        self.points.append(point)
        self._measure(point, relay, url, ["clients", servers.TOKEN], warmup=self.options.warmup)

    def _outage(self, store: str, relay: servers.Server, url: str, storage_url: str) -> None:
        """(d) the simulator hangs every call: the relay must keep accepting and storing."""
        servers.set_upstream(self.simulator, hang=True)
        top = self.options.concurrency[-1]
        self.progress(f"outage-{store}: opening the breaker with {OUTAGE_WARMUP_SECONDS} s of load")
        point = Point(f"outage-{store}", "hanging", top)
        self.points.append(point)
        self._measure(point, relay, url, ["post", servers.TOKEN], warmup=OUTAGE_WARMUP_SECONDS,
                      storage_url=storage_url)

    # --- points ---------------------------------------------------------------

    def _sweep(self, group: str, server: servers.Server, url: str, mode_args: list[str],
               upstreams: list[int] | None = None) -> None:
        for latency_ms in upstreams if upstreams is not None else self.options.upstream_ms:
            servers.set_upstream(self.simulator, latency_ms=latency_ms)
            for concurrency in self.options.concurrency:
                point = Point(group, f"{latency_ms} ms", concurrency)
                self.points.append(point)
                self._measure(point, server, url, mode_args, warmup=self.options.warmup)

    def _measure(self, point: Point, server: servers.Server, url: str, mode_args: list[str], *, warmup: float,
                 storage_url: str | None = None) -> None:
        """Warm up, then run wrk `runs` times, reading CPU and memory around each run."""
        if warmup > 0:
            load.run_wrk(url, connections=point.concurrency, seconds=warmup, mode_args=mode_args)

        for number in range(1, self.options.runs + 1):
            stored_before = stores.count_leads(storage_url) if storage_url else None
            pids = server.pids()
            cpu_before = procstats.cpu_seconds(pids)
            result = load.run_wrk(url, connections=point.concurrency, seconds=self.options.duration,
                                  mode_args=mode_args)
            cpu_used = procstats.cpu_seconds(pids) - cpu_before
            if server.process.poll() is not None:
                raise servers.ServerFailed(f"{server.name} exited during a run:\n{server.log_tail()}")

            stored = None
            if storage_url:
                # Requests still in flight when wrk stopped are stored by now or never answered.
                time.sleep(0.5)
                stored = stores.count_leads(storage_url) - stored_before
            run = Run(
                rate=result.rate, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
                cpu_ms_per_lead=cpu_used * 1000 / result.requests if result.requests else None,
                peak_rss_mib=procstats.peak_rss_mib(server.worker_pids()),
                statuses=result.statuses, errors=result.errors, requests=result.requests,
                stored=stored, accepted=result.accepted if storage_url else None,
            )
            point.runs.append(run)
            self.progress(
                f"{point.group} {point.upstream} x{point.concurrency} run {number}: {run.rate:,.0f} leads/s, "
                f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.1f} ms, statuses {run.statuses}"
            )

    # --- soak -----------------------------------------------------------------

    def soak(self, minutes: float) -> None:
        """Run the SQLite relay under steady load and sample each worker's RSS."""
        storage_url = stores.sqlite_url(self.workdir, "soak")
        config = servers.write_relay_config(self.workdir, self.simulator, storage_url, "soak")
        servers.migrate(config)
        relay = self._keep(servers.start_relay(self.workdir, config, "soak", workers=self.options.workers))
        servers.set_upstream(self.simulator)
        url = f"{relay.base_url}/v1/leads/{servers.SOURCE}"
        concurrency = 16
        self.progress(f"soak: {minutes:g} minutes at {concurrency} senders")

        outcome: dict[str, object] = {}

        def drive() -> None:
            try:
                outcome["result"] = load.run_wrk(url, connections=concurrency, seconds=minutes * 60,
                                                 mode_args=["post", servers.TOKEN])
            except load.WrkFailed as error:
                outcome["error"] = error

        driver = threading.Thread(target=drive, daemon=True)
        started = time.monotonic()
        driver.start()
        interval = max(5.0, minutes * 60 / 20)
        workers = relay.worker_pids()
        while driver.is_alive():
            driver.join(timeout=interval)
            elapsed = (time.monotonic() - started) / 60
            if self.soak_samples and elapsed - self.soak_samples[-1][0] < interval / 60 / 2:
                # wrk ended just after the last sample, which already shows the end of the soak.
                continue
            rss = [(procstats.memory_kib(pid, "VmRSS") or 0) / 1024 for pid in workers]
            self.soak_samples.append((elapsed, rss))
        self._stop(relay)

        if "error" in outcome:
            raise outcome["error"]
        baseline_minutes = min(SOAK_BASELINE_MINUTES, minutes / 2)
        later = [rss for elapsed, rss in self.soak_samples if elapsed >= baseline_minutes]
        baseline = later[0] if later else self.soak_samples[0][1]
        final = self.soak_samples[-1][1]
        self.soak_growth = max((last - first) / first for first, last in zip(baseline, final, strict=True) if first)
        result = outcome["result"]
        self.notes.append(f"soak: {result.requests:,} leads in {minutes:g} minutes ({result.rate:,.0f} leads/s) "
                          f"at {concurrency} senders, RSS growth measured from minute {baseline_minutes:g} on")


def git_description() -> str:
    """Return the commit, branch and whether the tree has uncommitted changes."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=servers.ROOT, capture_output=True, text=True).stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('rev-parse', '--short', 'HEAD')} on {git('rev-parse', '--abbrev-ref', 'HEAD')}{dirty}"


def render(benchmark: Benchmark, *, load_before: str, load_after: str, started: datetime) -> str:
    """Return the whole report as Markdown."""
    options = benchmark.options
    machine = procstats.machine_description()
    top = options.concurrency[-1]
    verdicts = report.check_targets(benchmark.points, top=top, soak_growth=benchmark.soak_growth)
    lines = [
        f"# Relay benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, Linux {machine['kernel']}, "
        f"Python {machine['python']}",
        f"- code: {git_description()}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
        f"- each point: {options.warmup:g} s warm-up, then {options.runs} run(s) of {options.duration:g} s; "
        f"wrk with 1 thread; {options.workers} gunicorn workers per server",
        "- each cell gives every run's figure, run 1 / run 2; targets use their mean",
        "",
        report.points_table(benchmark.points),
        "",
        "## Targets",
        "",
        *[verdict.line() for verdict in verdicts],
    ]
    if benchmark.soak_samples:
        lines += ["", "## Soak", "", report.soak_table(benchmark.soak_samples)]
    if benchmark.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in benchmark.notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its report; return the exit status."""
    options = parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="work-", dir=RESULTS))
    benchmark = Benchmark(options, workdir)
    ensure_wrk(benchmark.progress)

    # SIGTERM from a supervisor stops the servers as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    load_before = procstats.load_average()
    failure = None
    try:
        benchmark.run()
    except (servers.ServerFailed, load.WrkFailed) as error:
        failure = str(error)
        benchmark.progress(f"benchmark stopped: {failure}")
    except Exception:
        # An unattended run still writes what it measured, with the reason it stopped.
        failure = traceback.format_exc()
        benchmark.progress(f"benchmark stopped: {failure}")
    finally:
        benchmark.stop_all()
        if not options.keep_work:
            shutil.rmtree(workdir, ignore_errors=True)

    text = render(benchmark, load_before=load_before, load_after=procstats.load_average(), started=started)
    failures = [*benchmark.failures, *([failure] if failure else [])]
    if failures:
        text += "\n## Failures\n\n" + "".join(f"- {reason}\n" for reason in failures)
    stem = RESULTS / f"bench-{started:%Y%m%d-%H%M%S}"
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps([asdict(point) for point in benchmark.points], indent=1))
    print(text)
    print(f"written to {stem.with_suffix('.md')}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
