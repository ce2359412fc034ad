"""The migrations: one head, and the models and the migrated schema agree on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import hub.models
from hub.core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "hub" / "migrations"))
    return ScriptDirectory.from_config(config)


def test_the_migrations_have_one_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"two migrations branch from the same parent: {heads}"


def _drift(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            return [
                diff
                for diff in compare_metadata(context, hub.models.metadata)
                if not _ignored(diff)
            ]
    finally:
        engine.dispose()


def _ignored(diff: object) -> bool:
    # SQLite reports no difference between these; the ledger's own guard tables and the
    # scheduler's job store are created outside the models on purpose.
    text = repr(diff)
    return "apscheduler" in text


def test_the_models_match_the_migrated_sqlite_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drift.sqlite3'}"
    upgrade(url)
    assert _drift(url) == []


@pytest.mark.postgres_only
def test_the_models_match_the_migrated_postgresql_schema(pg_server) -> None:
    pg_server.create_database("hub_drift")
    try:
        url = pg_server.admin_url("hub_drift")
        upgrade(url)
        assert _drift(url) == []
    finally:
        pg_server.drop_database("hub_drift")
