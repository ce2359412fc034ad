"""A private, durable PostgreSQL cluster for fault tests: they restart it, so it is theirs.

Each test gets a fresh, migrated database on it, with the application and sealer roles
granted by `hub db grant` as in production; the web runs as the application role and the
schedulers as the sealer role.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from hub import dbroles
from hub.core.migrate import upgrade
from tests.support.pgserver import PostgresServer
from tests.support.processes import as_role

APP, SEALER = "marac_app", "marac_sealer"
_counter = itertools.count()


@dataclass(frozen=True)
class Cluster:
    server: PostgresServer
    name: str

    @property
    def admin_url(self) -> str:
        return self.server.admin_url(self.name)

    @property
    def app_url(self) -> str:
        return as_role(self.admin_url, APP)

    @property
    def sealer_url(self) -> str:
        return as_role(self.admin_url, SEALER)


#: An immediate stop loses commits that were not flushed: durable, as in production.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


@pytest.fixture(scope="module")
def fault_server() -> Iterator[PostgresServer]:
    server = PostgresServer(settings=DURABLE).start()
    try:
        for role in (APP, SEALER):
            server.create_role(role)
        server.create_database("faults_template")
        upgrade(server.admin_url("faults_template"))
        engine = create_engine(server.admin_url("faults_template"))
        with engine.begin() as conn:
            dbroles.grant(conn, APP, SEALER)
        engine.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster(fault_server: PostgresServer) -> Iterator[Cluster]:
    name = f"faults_{next(_counter)}"
    fault_server.create_database(name, template="faults_template")
    yield Cluster(fault_server, name)
    fault_server.drop_database(name)


def lock_holders(cluster: Cluster, key: int) -> list[str]:
    """The application names of the sessions holding an advisory lock (at most one)."""
    engine = create_engine(cluster.admin_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT a.application_name FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi "
                        "AND l.objid = :lo AND l.objsubid = 1"
                    ),
                    {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
                ).scalars()
            )
    finally:
        engine.dispose()
