"""Shared fixtures: real databases (SQLite and PostgreSQL), the app, clients, people.

Every test that asks for ``app`` runs twice, once on the embedded SQLite default and once
on a real PostgreSQL server the suite starts itself. Each test gets a fresh database cloned
from one migrated by running the real Alembic migrations.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import HubFlask, create_app
from hub.core.config import Settings
from hub.core.migrate import upgrade
from tests.support.pgserver import PostgresServer

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
_counter = itertools.count()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots, PDFs and their PNGs go, for people to look at after a run."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer.from_env().start()
    try:
        server.create_database("hub_template")
        upgrade(server.admin_url("hub_template"))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "hub.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


#: Which databases the tests that ask for one run on: both by default; the fast lane
#: (``make check``) sets HUB_TEST_DATABASES=sqlite.
DATABASES = [
    name.strip()
    for name in os.environ.get("HUB_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip() in {"sqlite", "postgresql"}
] or ["sqlite", "postgresql"]


def _build_world_in(url: str, instance: Path) -> Any:
    """Build the personas' world once into a template database (through the services)."""
    from tests.support.world import build_world

    application = create_app(make_settings(url, instance))
    try:
        return build_world()
    finally:
        application.extensions["hub.db"].dispose()


@pytest.fixture(scope="session")
def sqlite_world_template(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, _fast_password_hashing: None
) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("sqlite-world")
    path = folder / "hub.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return path, _build_world_in(f"sqlite:///{path}", folder / "instance")


@pytest.fixture(scope="session")
def pg_world_template(
    pg_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
    _fast_password_hashing: None,
) -> tuple[str, Any]:
    pg_server.create_database("hub_world_template", template="hub_template")
    world = _build_world_in(
        pg_server.admin_url("hub_world_template"), tmp_path_factory.mktemp("pg-world")
    )
    return "hub_world_template", world


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend.

    A test that asks for ``world`` gets a clone of a template that already holds it (built
    once per run through the real services), instead of building it again.
    """
    wants_world = "world" in request.fixturenames
    if request.param == "sqlite":
        template: Path = (
            request.getfixturevalue("sqlite_world_template")[0]
            if wants_world
            else request.getfixturevalue("sqlite_template")
        )
        target = tmp_path / "hub.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    source = request.getfixturevalue("pg_world_template")[0] if wants_world else "hub_template"
    name = f"hub_test_{os.getpid()}_{next(_counter)}"
    server.create_database(name, template=source)
    try:
        yield server.admin_url(name)
    finally:
        server.drop_database(name)


def make_settings(database_url: str, instance: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "secret_key": "test-secret-key-that-is-long-enough-1234567890",
        "database_url": database_url,
        "instance_path": str(instance),
        "demo": False,
        "base_url": "http://127.0.0.1:5000",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]
) -> Iterator[HubFlask]:
    application = create_app(
        make_settings(database_url, tmp_path / "instance", **settings_overrides)
    )
    # No app context is held open here: Flask would share it (and its `g`) across every
    # request the test client makes. The database is bound to this context by create_app.
    yield application
    application.extensions["hub.db"].dispose()


@pytest.fixture
def client(app: HubFlask) -> Any:
    return app.test_client()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Keep argon2id real but cheap in tests; production keeps the library's defaults."""
    from argon2 import PasswordHasher

    from hub.auth import services

    services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    services._DUMMY_HASH = services._hasher.hash("dummy-password-for-timing")


@pytest.fixture
def world(app: HubFlask, request: pytest.FixtureRequest, database_url: str) -> Any:
    """The personas, already in this test's database (cloned from the world template)."""
    import copy

    key = "sqlite_world_template" if database_url.startswith("sqlite") else "pg_world_template"
    return copy.deepcopy(request.getfixturevalue(key)[1])


#: The one database the browser journeys run on: what a browser does not depend on the
#: backend (the same tests without a browser run on both), and the journeys are the slowest
#: tests in the suite. SQLite, because it is what `make run` gives a newcomer.
BROWSER_DATABASE = "sqlite" if "sqlite" in DATABASES else DATABASES[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) what is not generated for a backend.

    PostgreSQL-only tests are not run on SQLite, and browser journeys run on one database
    only (``BROWSER_DATABASE``) unless they are themselves PostgreSQL-only.
    """
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        postgres_only = item.get_closest_marker("postgres_only") is not None
        browser = item.get_closest_marker("browser") is not None
        not_for_sqlite = backend == "sqlite" and postgres_only
        other_browser_db = browser and backend and not postgres_only
        if not_for_sqlite or (other_browser_db and backend != BROWSER_DATABASE):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
