"""scripts/run-demo: the demo starts with an admin token and prints it with the console's URL.

The script runs as `make run` runs it, in a folder that links to the
repository's files and whose .venv/bin runs the Python running the tests.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, free_port

# Variables the demo reads. The test removes the caller's values, which would change what the demo does.
DEMO_VARIABLES = ("RELAY_CONFIG", "RELAY_ADMIN_TOKEN", "RELAY_STORAGE_URL", "PHONEBURNER_VENDOR_KEY",
                  "ACME_LANDING_TOKEN", "ACME_ZAPIER_TOKEN", "GUNICORN_CMD_ARGS", "RELAY_BIND")
READY_LINE = "Press Ctrl-C to stop."


def demo_tree(root: Path) -> Path:
    """Lay out the files the demo needs under root, with wrappers as .venv/bin's python and gunicorn."""
    root.mkdir()
    for name in ("app", "config", "wsgi.py"):
        (root / name).symlink_to(ROOT / name)
    (root / "scripts").mkdir()
    (root / "scripts" / "run-demo").symlink_to(ROOT / "scripts" / "run-demo")

    bin_folder = root / ".venv" / "bin"
    bin_folder.mkdir(parents=True)
    wrappers = {"python": f'exec "{sys.executable}" "$@"', "gunicorn": f'exec "{sys.executable}" -m gunicorn "$@"'}
    for name, command in wrappers.items():
        wrapper = bin_folder / name
        wrapper.write_text(f"#!/bin/sh\n{command}\n")
        wrapper.chmod(0o755)
    return root


def wait_for_output(process: subprocess.Popen, output_path: Path, seconds: float = 60) -> str:
    """Return the demo's output once it prints READY_LINE, and fail the test if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        output = output_path.read_text()
        if READY_LINE in output:
            return output
        if process.poll() is not None:
            pytest.fail(f"run-demo exited with {process.returncode}:\n{output}")
        time.sleep(0.1)
    pytest.fail(f"run-demo printed no {READY_LINE!r} within {seconds} s:\n{output_path.read_text()}")


@pytest.fixture
def demo(tmp_path):
    """Start run-demo on free ports without RELAY_ADMIN_TOKEN, yield its port and output, then stop it."""
    root = demo_tree(tmp_path / "relay")
    port = free_port()
    environ = {name: value for name, value in os.environ.items() if name not in DEMO_VARIABLES}
    environ.update({"RELAY_PORT": str(port), "SIMULATOR_PORT": str(free_port()), "RELAY_WORKERS": "1"})
    output_path = tmp_path / "demo.out"
    with output_path.open("wb") as output_file:
        # A session of its own, so stopping the demo's process group stops every process it started.
        process = subprocess.Popen(
            ["bash", str(root / "scripts" / "run-demo")],
            cwd=root,
            env=environ,
            stdout=output_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port, wait_for_output(process, output_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_demo_prints_working_admin_token(demo):
    port, output = demo
    landing_token = re.search(r"Authorization: Bearer (\S+?)'", output).group(1)
    admin_token = re.search(r"admin token: (\S+)", output)

    posted = requests.post(
        f"http://127.0.0.1:{port}/v1/leads/acme-landing",
        data={"email": "jeffsample@example.com", "phone_number": "(949) 555-1212"},
        headers={"Authorization": f"Bearer {landing_token}"},
        timeout=30,
    )
    assert admin_token is not None, output
    status = requests.get(
        f"http://127.0.0.1:{port}/v1/leads/{posted.json()['lead_id']}",
        headers={"Authorization": f"Bearer {admin_token.group(1)}"},
        timeout=30,
    )
    console = requests.get(f"http://127.0.0.1:{port}/console/login", timeout=30)

    assert posted.status_code == 201
    assert f"http://127.0.0.1:{port}/console/" in output
    assert len(admin_token.group(1)) >= 32
    assert status.status_code == 200
    assert status.json()["status"] == "delivered"
    assert console.status_code == 200
