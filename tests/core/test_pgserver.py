"""Checks that the throwaway PostgreSQL server starts, clones, isolates and cleans up."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
import sqlalchemy

from tests.support.pgserver import ENV_URL, PostgresServer, find_bindir, free_port

#: These start and stop real PostgreSQL servers: not for the SQLite-only fast lane.
pytestmark = pytest.mark.postgres_only


def _new_server() -> PostgresServer:
    """Start a private server; without PostgreSQL binaries this fails (make test installs them)."""
    find_bindir()
    return PostgresServer().start()


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = _new_server()
    try:
        yield server
    finally:
        server.stop()


def _table_names(server: PostgresServer, dbname: str) -> set[str]:
    with server.connect(dbname) as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'")
        return {row[0] for row in rows}


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_server_listens_on_its_port_with_fast_settings(pg: PostgresServer) -> None:
    assert pg.host == "127.0.0.1"
    assert pg.admin_url() == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
    assert pg.socket_dir is not None and os.path.isdir(pg.socket_dir)
    with pg.connect() as conn:
        settings = dict(
            conn.execute(
                "select name, setting from pg_settings where name in"
                " ('port', 'fsync', 'max_connections', 'listen_addresses')"
            ).fetchall()
        )
    assert settings == {
        "port": str(pg.port),
        "fsync": "off",
        "max_connections": "200",
        "listen_addresses": "127.0.0.1",
    }


def test_create_database_then_select_1_through_sqlalchemy(pg: PostgresServer) -> None:
    pg.create_database("pgserver_plain")
    try:
        engine = sqlalchemy.create_engine(pg.admin_url("pgserver_plain"))
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar_one() == 1
            assert conn.execute(sqlalchemy.text("select current_database()")).scalar_one() == (
                "pgserver_plain"
            )
        engine.dispose()
    finally:
        pg.drop_database("pgserver_plain")


def test_template_clones_are_fast_and_isolated(pg: PostgresServer) -> None:
    pg.create_database("pgserver_tmpl")
    with pg.connect("pgserver_tmpl") as conn:
        conn.execute("create table shared (id int primary key)")
    started = time.perf_counter()
    pg.create_database("pgserver_a", template="pgserver_tmpl")
    pg.create_database("pgserver_b", template="pgserver_tmpl")
    elapsed = time.perf_counter() - started
    try:
        with pg.connect("pgserver_a") as conn:
            conn.execute("create table only_in_a (id int)")
        assert _table_names(pg, "pgserver_a") == {"shared", "only_in_a"}
        assert _table_names(pg, "pgserver_b") == {"shared"}
        assert elapsed < 5.0, f"two template clones took {elapsed:.2f}s"
    finally:
        for name in ("pgserver_a", "pgserver_b", "pgserver_tmpl"):
            pg.drop_database(name)
    pg.drop_database("pgserver_a")  # Dropping a missing database is not an error.


def test_create_role_can_log_in(pg: PostgresServer) -> None:
    pg.create_role("pgserver_app", password="not-checked-under-trust")
    with pg.connect(user="pgserver_app") as conn:
        assert conn.execute("select current_user").fetchone() == ("pgserver_app",)


def test_second_server_gets_own_port_and_stop_cleans_up(pg: PostgresServer) -> None:
    other = _new_server()
    try:
        assert other.port != pg.port
        with other.connect() as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        pid, base_dir = other.pid, other.base_dir
        assert pid is not None and base_dir is not None and base_dir.is_dir()
    finally:
        other.stop()
    assert not base_dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    other.stop()  # Idempotent.
    assert not other.running
    with pg.connect() as conn:  # The first server is untouched.
        assert conn.execute("select 1").fetchone() == (1,)


def test_from_env_reuses_an_existing_server(
    pg: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_URL, pg.admin_url())
    external = PostgresServer.from_env()
    assert external.is_external
    assert external.start() is external
    assert (external.host, external.port) == (pg.host, pg.port)
    assert external.admin_url("x") == pg.admin_url("x")
    external.create_database("pgserver_ext")
    external.drop_database("pgserver_ext")
    external.stop()  # A no-op: the server belongs to someone else.
    with pg.connect() as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_from_env_without_variable_gives_a_private_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_URL, raising=False)
    server = PostgresServer.from_env()
    assert not server.is_external and not server.running
