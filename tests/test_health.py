"""Health and readiness: /healthz touches nothing, /readyz checks the store and its migrations."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app import __version__
from app.build import build_commit, build_info
from app.store.engine import MIGRATIONS, SCHEMA_REVISION, make_engine
from app.store.tables import metadata
from tests.conftest import base_document, build_app


def test_ready_with_migrated_store(store_url):
    document = base_document()
    document["storage"] = {"url": store_url}

    response = build_app(document).test_client().get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_not_ready_before_migrations(tmp_path):
    (tmp_path / "empty.db").touch()
    document = base_document()
    document["storage"] = {"url": f"sqlite:///{tmp_path / 'empty.db'}"}

    response = build_app(document).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "migrations_pending"


def test_not_ready_when_store_unreachable(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    document = base_document()
    document["storage"] = {"url": f"sqlite:///{blocker / 'relay.db'}"}

    response = build_app(document).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "store_unreachable"


def test_healthz_ignores_store(tmp_path):
    document = base_document()
    document["storage"] = {"url": f"sqlite:///{tmp_path / 'empty.db'}"}

    assert build_app(document).test_client().get("/healthz").status_code == 200


def test_migrations_match_tables(store_url):
    engine = make_engine(store_url)

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    engine.dispose()
    assert differences == []


def test_store_file_folder_created(tmp_path):
    folder = tmp_path / "new" / "folder"
    make_engine(f"sqlite:///{folder / 'relay.db'}")

    assert Path(folder).is_dir()


def test_not_ready_when_store_file_removed(tmp_path):
    document = base_document()
    document["storage"] = {"url": f"sqlite:///{tmp_path / 'gone.db'}"}

    response = build_app(document).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "store_file_missing"


def test_not_ready_when_postgresql_unreachable():
    document = base_document()
    document["storage"] = {"url": f"postgresql+psycopg://relay@127.0.0.1:{closed_port()}/relay"}

    response = build_app(document).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "store_unreachable"


def test_not_ready_after_store_file_removed(tmp_path):
    app = build_app(base_document())
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    Path(app.extensions["relay"].store.engine.url.database).unlink()
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "store_file_missing"


def test_ready_lists_no_problems():
    response = build_app(base_document()).test_client().get("/readyz")

    assert response.get_json()["problems"] == []


def test_ready_reports_customers_on_hold_by_count():
    app = build_app(base_document())
    app.extensions["relay"].store.hold("acme", "UNKNOWN USER", now=time.time())

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    problems = response.get_json()["problems"]
    assert [problem["reason"] for problem in problems] == ["customers_on_hold"]
    assert problems[0]["count"] == 1
    assert "acme" not in response.get_data(as_text=True)


def test_ready_reports_missing_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "removed"))

    response = build_app(base_document()).test_client().get("/readyz")

    assert response.status_code == 200
    assert [problem["reason"] for problem in response.get_json()["problems"]] == ["metrics_directory_missing"]


def test_version_reports_build(monkeypatch):
    monkeypatch.setenv("RELAY_BUILD_COMMIT", "0123abcd")
    build_info.cache_clear()

    try:
        response = build_app(base_document()).test_client().get("/version")
    finally:
        build_info.cache_clear()

    assert response.status_code == 200
    assert response.get_json() == {"version": __version__, "commit": "0123abcd", "python": platform.python_version()}


def test_build_commit_from_file(tmp_path):
    build_file = tmp_path / "BUILD"
    build_file.write_text("9f8e7d6c5b4a\n")

    assert build_commit({}, build_file) == "9f8e7d6c5b4a"


def test_build_commit_environment_wins(tmp_path):
    build_file = tmp_path / "BUILD"
    build_file.write_text("from-file\n")

    assert build_commit({"RELAY_BUILD_COMMIT": "from-env"}, build_file) == "from-env"


def test_build_commit_unknown(tmp_path):
    assert build_commit({}, tmp_path / "absent") is None


def test_build_commit_rejects_odd_text(tmp_path):
    assert build_commit({"RELAY_BUILD_COMMIT": "abc <script>"}, tmp_path / "absent") is None


def closed_port() -> int:
    """Return a loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_schema_revision_is_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_web_app_leaves_alembic_unimported():
    # alembic adds about 10 MiB to each web worker; only `migrate` needs it.
    code = "import sys, app.factory, app.health; print('alembic' in sys.modules)"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert finished.stdout.strip() == "False"
