"""The multiprocess metrics directory: its default, its safety checks, and cleaning at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import metrics_dir
from app.metrics_dir import ENV, MetricsDirectoryError


@pytest.fixture
def temporary_root(tmp_path, monkeypatch):
    """Point the temporary directory, where the default metrics directory lives, at tmp_path."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path


def test_default_directory_shared_by_same_config(temporary_root, tmp_path, monkeypatch):
    config = tmp_path / "relay.toml"
    config.touch()
    monkeypatch.chdir(tmp_path)

    assert metrics_dir.default_directory("relay.toml") == metrics_dir.default_directory(str(config))
    assert metrics_dir.default_directory(str(config)).parent == temporary_root


def test_default_directory_differs_by_config(temporary_root):
    assert metrics_dir.default_directory("/etc/relay/a.toml") != metrics_dir.default_directory("/etc/relay/b.toml")


def test_prepare_creates_private_default(temporary_root):
    environ: dict[str, str] = {}

    directory = metrics_dir.prepare("/etc/relay/relay.toml", environ)

    assert environ[ENV] == str(directory)
    assert directory.is_dir()
    assert directory.stat().st_mode & 0o777 == 0o700


def test_prepare_refuses_shared_default(temporary_root):
    directory = metrics_dir.default_directory("/etc/relay/relay.toml")
    directory.mkdir(mode=0o777)
    directory.chmod(0o777)

    with pytest.raises(MetricsDirectoryError, match="not a private directory"):
        metrics_dir.prepare("/etc/relay/relay.toml", {})


def test_prepare_refuses_symlinked_default(temporary_root, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    metrics_dir.default_directory("/etc/relay/relay.toml").symlink_to(target)

    with pytest.raises(MetricsDirectoryError):
        metrics_dir.prepare("/etc/relay/relay.toml", {})


def test_prepare_uses_operator_directory(tmp_path):
    environ = {ENV: str(tmp_path / "metrics" / "relay")}

    directory = metrics_dir.prepare("/etc/relay/relay.toml", environ)

    assert directory == tmp_path / "metrics" / "relay"
    assert directory.is_dir()


def test_prepare_reports_unusable_operator_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(MetricsDirectoryError, match=ENV):
        metrics_dir.prepare("/etc/relay/relay.toml", {ENV: str(blocker / "metrics")})


def test_server_falls_back_to_private_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(ENV, str(blocker / "metrics"))

    directory, warning = metrics_dir.prepare_for_server("/etc/relay/relay.toml")

    assert directory.is_dir()
    assert os.environ[ENV] == str(directory)
    assert "no delivery worker shares" in warning
    directory.rmdir()


def test_dead_process_files_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    for name in (f"counter_{dead_pid}.db", f"gauge_livemax_{dead_pid}.db", f"histogram_{os.getpid()}.db",
                 f"counter_{os.getpid()}.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")

    removed = metrics_dir.remove_dead_process_files(tmp_path)

    assert removed == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"histogram_{os.getpid()}.db", f"counter_{os.getpid()}.db", "notes.txt"]
    )


def test_directory_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    assert not metrics_dir.directory_missing()

    monkeypatch.setenv(ENV, str(tmp_path / "gone"))
    assert metrics_dir.directory_missing()

    monkeypatch.delenv(ENV)
    assert not metrics_dir.directory_missing()
