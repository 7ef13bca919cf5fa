"""Smoke tests of bench/: each script runs for a second or two and prints its output.

No figure is checked, because a benchmark's numbers depend on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def wrk():
    if shutil.which("wrk") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is missing; .ci/run installs it with apt-get")
        pytest.skip("wrk is not installed (apt-get install wrk)")


def test_bench_quick_prints_table(wrk):
    environ = {**os.environ, "BENCH_PYTHON": sys.executable}
    command = [
        str(ROOT / "bench" / "run"), "--quick", "--duration", "1", "--warmup", "0",
        "--only", "sqlite", "--concurrency", "4", "--upstream-ms", "0",
    ]
    finished = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "| what | upstream | senders | leads/s |" in finished.stdout
    relay_rows = [line for line in finished.stdout.splitlines() if line.startswith("| (c) relay, SQLite | 0 ms | 4 |")]
    assert len(relay_rows) == 1
    # Every lead got a 2xx: a 401 or 429 here would mean the benchmark measured refusals, not leads.
    assert relay_rows[0].endswith("| none |")
    # Leads from a new client address each were all accepted too.
    clients_rows = [line for line in finished.stdout.splitlines()
                    if line.startswith("| (c) relay, SQLite, a new client address per lead | 0 ms | 4 |")]
    assert len(clients_rows) == 1
    assert clients_rows[0].endswith("| none |")
    assert "## Targets" in finished.stdout

    written = finished.stderr.strip().splitlines()[-1].removeprefix("written to ")
    report = Path(written)
    assert report.parent == ROOT / "bench" / "results"
    assert report.read_text() == finished.stdout.rstrip("\n") + "\n"
    report.unlink()
    report.with_suffix(".json").unlink()


def test_store_cpu_prints_both_stores():
    environ = {**os.environ, "BENCH_PYTHON": sys.executable}
    command = [str(ROOT / "bench" / "store-cpu"), "--leads", "5", "--rounds", "2"]
    finished = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)

    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.splitlines()
    assert lines[0].startswith("SQLite: ")
    assert lines[0].endswith(" ms elapsed")
    if lines[1].startswith("PostgreSQL: skipped") and os.environ.get("CI") != "true":
        pytest.skip(f"no PostgreSQL server: {lines[1]}")
    assert lines[1].startswith("PostgreSQL: ")
    assert lines[1].endswith(" ms elapsed")


@pytest.mark.parametrize("options, view_frame", [
    ([], "receive_lead (app/intake/views.py)"),
    (["--minimal"], "relay (bench/minimal_relay.py)"),
])
def test_profile_samples_chosen_server(wrk, options, view_frame):
    environ = {**os.environ, "BENCH_PYTHON": sys.executable}
    command = [str(ROOT / "bench" / "profile"), "--seconds", "1", "--senders", "2", *options]
    finished = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert " leads/s at 2 senders while sampling" in finished.stdout
    assert view_frame in finished.stdout

    # The last line of stderr is "written to <collapsed stacks> and <flame graph>".
    written = finished.stderr.strip().splitlines()[-1].removeprefix("written to ").split(" and ")
    assert len(written) == 2
    for path in written:
        assert Path(path).parent == ROOT / "bench" / "results"
        Path(path).unlink()
