"""Reloading gunicorn with SIGHUP: an invalid configuration or new store leaves the running workers in place,
and workers load the configuration the master checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from bench.servers import children
from tests.e2e.conftest import FORM_CONFIG, ROOT, launch_relay, relay_environ, stop


def wait_for_workers(master_pid: int, changed_from: set[int] | None = None, seconds: float = 20) -> set[int]:
    """Wait until the master has one worker, other than those in `changed_from`; return its pids."""
    deadline = time.monotonic() + seconds
    while True:
        pids = set(children(master_pid))
        if len(pids) == 1 and not (changed_from and pids & changed_from):
            return pids
        assert time.monotonic() < deadline, f"workers {pids}, before {changed_from}"
        time.sleep(0.1)


def wait_for_log(relay, text: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while text not in relay.logs():
        assert time.monotonic() < deadline, relay.logs()[-2000:]
        time.sleep(0.1)


def assert_serving(master, relay) -> None:
    assert master.poll() is None
    assert requests.get(f"{relay.base}/healthz", timeout=5).status_code == 200


@pytest.fixture
def reloadable(simulator, tmp_path):
    config = tmp_path / "relay.toml"
    sim_port = simulator.base.rsplit(":", 1)[1]
    text = FORM_CONFIG.format(sim_port=sim_port, store_path=tmp_path / "relay.db")
    config.write_text(text)

    processes, relay = launch_relay(config, tmp_path / "relay.log", web_workers=1, with_worker=False)
    yield processes[0], relay, config, text
    for process in processes:
        stop(process)


def test_invalid_reload_keeps_workers(reloadable):
    master, relay, config, text = reloadable
    first = wait_for_workers(master.pid)
    assert "inline_budget = 3\n" in text

    config.write_text(text.replace("inline_budget = 3\n", "inline_budget = -5\n"))
    os.kill(master.pid, signal.SIGHUP)
    wait_for_log(relay, "configuration not reloaded")

    assert set(children(master.pid)) == first
    assert "delivery.inline_budget" in relay.logs()
    assert_serving(master, relay)

    config.write_text(text)
    os.kill(master.pid, signal.SIGHUP)

    wait_for_workers(master.pid, changed_from=first)
    assert_serving(master, relay)


def test_file_saved_during_boot_not_loaded(reloadable):
    master, relay, config, text = reloadable
    first = wait_for_workers(master.pid)
    booted = relay.logs().count("Booting worker")

    config.write_text(text.replace("inline_budget = 3\n", "inline_budget = 4\n"))
    os.kill(master.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while relay.logs().count("Booting worker") == booted:
        assert time.monotonic() < deadline, relay.logs()[-2000:]
        time.sleep(0.01)
    # Saved again while the new worker boots: it loads the bytes the master checked instead.
    config.write_text("[phoneburner\n")

    wait_for_workers(master.pid, changed_from=first)
    assert_serving(master, relay)


def test_crashed_worker_restarts_on_checked_config(reloadable):
    master, relay, config, _text = reloadable
    first = wait_for_workers(master.pid)
    config.write_text("[phoneburner\n")

    os.kill(next(iter(first)), signal.SIGKILL)

    wait_for_workers(master.pid, changed_from=first)
    assert_serving(master, relay)


@pytest.mark.parametrize(
    ("store_path", "problem"),
    [
        ("{tmp}", "the new store cannot be opened"),
        ("{tmp}/new/relay.db", "run `python -m app migrate` first"),
    ],
)
def test_new_store_checked_before_reload(reloadable, tmp_path, store_path, problem):
    master, relay, config, text = reloadable
    first = wait_for_workers(master.pid)
    store_path = store_path.format(tmp=tmp_path)

    config.write_text(text.replace(str(tmp_path / "relay.db"), store_path))
    os.kill(master.pid, signal.SIGHUP)
    wait_for_log(relay, "configuration not reloaded")

    assert problem in relay.logs()
    assert set(children(master.pid)) == first
    assert_serving(master, relay)
    # The check creates no file or folder at a path that may be a typo.
    assert not (tmp_path / "new").exists()


def test_new_migrated_store_reloads(reloadable, tmp_path):
    master, relay, config, text = reloadable
    first = wait_for_workers(master.pid)
    config.write_text(text.replace(str(tmp_path / "relay.db"), str(tmp_path / "new" / "relay.db")))
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=relay_environ(config), check=True)

    os.kill(master.pid, signal.SIGHUP)

    wait_for_workers(master.pid, changed_from=first)
    assert_serving(master, relay)
