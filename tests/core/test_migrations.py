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


def test_people_recorded_before_the_key_table_get_their_keys(tmp_path: Path) -> None:
    # Repeat matching reads the key table only: a person recorded before it existed must be
    # found there after the upgrade, or their next referral would never be called a repeat.
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from agencies.models import MaracArea
    from cases import matching
    from cases.models import Person

    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    upgrade(url, "0015")
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            area = MaracArea(name="Keyshire MARAC")
            session.add(area)
            session.flush()
            person = Person(
                area_id=area.id,
                given_name="Zoë",
                family_name="O'Brien",
                aliases="Jo Smith",
                match_key=matching.match_key("Zoë", "O'Brien", "Jo Smith"),
            )
            session.add(person)
            session.flush()
            person_id = person.id
        upgrade(url)
        with engine.connect() as connection:
            keys = connection.execute(
                text("SELECT key FROM person_match_keys WHERE person_id = :p"), {"p": person_id}
            ).scalars()
            assert sorted(keys) == sorted(matching.name_keys("Zoë", "O'Brien", "Jo Smith"))
    finally:
        engine.dispose()
