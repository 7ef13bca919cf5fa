"""Health and readiness: /healthz touches nothing, /readyz checks the store and its migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.store.engine import make_engine
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
