"""The database roles on PostgreSQL: the application role cannot seal, only the sealer can.

The roles are set up the way deploy/runbook-operations.md says: created once on the server
(deploy/postgres-roles.sql does it in production), then `hub db grant` run as the owner.
The web processes connect as the application role; a compromised web process must not be
able to write a seal batch (one with a huge horizon used to stop sealing silently), a leaf,
a subtree hash or a checkpoint, nor stamp an entry with another transaction's id.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from audit import note, services
from audit.ledger import record_in, seal_pending
from hub.cli import main
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork
from tests.support.pgserver import PostgresServer
from tests.support.processes import HUB, HubProcess, as_role, free_port, hub_env, wait_for

pytestmark = pytest.mark.postgres_only

APP, SEALER = "marac_app", "marac_sealer"
FORGERIES = {
    "a seal batch": "INSERT INTO audit_seal_batches (first_idx, count, horizon, sealed_at) "
    "VALUES (0, 0, 9223372036854775000, now())",
    "a leaf": "INSERT INTO audit_leaves (idx, entry_id, sealed_at) "
    "SELECT 1000000, max(id), now() FROM audit_entries",
    "a subtree node": "INSERT INTO audit_nodes (level, idx, hash) "
    "VALUES (3, 1000000, decode(repeat('ab', 32), 'hex'))",
    "a checkpoint": "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at) "
    "VALUES (0, decode(repeat('ab', 32), 'hex'), 'forged', now())",
}


@pytest.fixture(scope="session")
def roles(pg_server: PostgresServer) -> tuple[str, str]:
    """The application and sealer roles, created once on the test server."""
    with pg_server.connect() as conn:
        for role in (APP, SEALER):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                continue
            pg_server.create_role(role)
    return APP, SEALER


@pytest.fixture
def granted(database_url: str, roles: tuple[str, str], tmp_path: Path) -> str:
    """A fresh database whose owner has run `hub db grant`."""
    result = CliRunner().invoke(
        main,
        ["db", "grant", "--app-role", APP, "--sealer-role", SEALER],
        env={"DATABASE_URL": database_url, "HUB_INSTANCE_PATH": str(tmp_path / "instance")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return database_url


@pytest.fixture
def app_db(granted: str) -> Iterator[Database]:
    database = Database(as_role(granted, APP))
    yield database
    database.dispose()


@pytest.fixture
def sealer_db(granted: str) -> Iterator[Database]:
    database = Database(as_role(granted, SEALER))
    yield database
    database.dispose()


def record_one(database: Database, name: str = "web") -> int:
    uow = UnitOfWork(database)
    try:
        entry = record_in(uow.session, Actor.system(name), "case:viewed", None, {"case": 1})
        uow.commit()
    finally:
        uow.close()
    return entry.id


def refused(database: Database, statement: str) -> bool:
    """Whether the database refuses the statement for lack of privilege (nothing is kept)."""
    with database.engine.connect() as conn:
        try:
            conn.execute(text(statement))
        except ProgrammingError as error:
            denied = isinstance(error.orig, psycopg.errors.InsufficientPrivilege)
            if not denied:
                raise
            return True
        finally:
            conn.rollback()
    return False


@pytest.mark.parametrize("what", list(FORGERIES))
def test_the_application_role_cannot_write_what_only_the_sealer_writes(
    app_db: Database, sealer_db: Database, what: str
) -> None:
    record_one(app_db)  # it may append entries: every disclosure does
    assert refused(app_db, FORGERIES[what]), f"the application role could insert {what}"
    assert not refused(sealer_db, FORGERIES[what]), f"the sealer role could not insert {what}"


def test_the_application_role_cannot_choose_an_entrys_transaction(app_db: Database) -> None:
    # An entry filed under a transaction long ended would never be sealed.
    assert refused(
        app_db,
        "INSERT INTO audit_entries (body, action, at, txid) VALUES ('{}', 'x:y', now(), 1)",
    )
    entry_id = record_one(app_db)
    with app_db.engine.connect() as conn:
        txid, xmax = conn.execute(
            text(
                "SELECT txid, pg_snapshot_xmax(pg_current_snapshot())::text::bigint "
                "FROM audit_entries WHERE id = :id"
            ),
            {"id": entry_id},
        ).one()
    assert txid is not None and 0 < txid < xmax, "the default stamps the writer's transaction"


def test_nobody_may_rewrite_the_ledger(app_db: Database, sealer_db: Database) -> None:
    record_one(app_db)
    for database in (app_db, sealer_db):
        for statement in (
            "UPDATE audit_entries SET action = 'x:y'",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
            "DELETE FROM audit_seal_batches",
        ):
            assert refused(database, statement), statement


def test_the_sealer_role_seals_and_signs_what_the_application_wrote(
    app_db: Database, sealer_db: Database
) -> None:
    ids = [record_one(app_db) for _ in range(3)]
    with pytest.raises(ProgrammingError, match="permission denied"):
        seal_pending(app_db)
    assert seal_pending(sealer_db) == 3
    key = services.SigningKey(note.generate_signer_key("test.example"), "test.example/ledger")
    uow = UnitOfWork(sealer_db)
    try:
        signed = services.sign_checkpoint(uow.session, key)
        uow.commit()
    finally:
        uow.close()
    assert signed is not None and signed.tree_size == 3
    with app_db.engine.connect() as conn:
        sealed = conn.execute(text("SELECT entry_id FROM audit_leaves ORDER BY idx")).scalars()
        assert list(sealed) == ids


def production_env(url: str, instance: Path) -> dict[str, str]:
    return hub_env(
        url,
        instance,
        HUB_ENV="production",
        HUB_BASE_URL="https://hub.test.example",  # production refuses an http address
        HUB_LEDGER_SIGNING_KEY=note.generate_signer_key("test.example"),
        HUB_LEDGER_ORIGIN="test.example/ledger",
    )


def test_hub_serve_in_production_refuses_a_role_that_may_seal(granted: str, tmp_path: Path) -> None:
    port = str(free_port())
    refused_run = subprocess.run(
        [str(HUB), "serve", "--port", port, "--workers", "1"],
        env=production_env(as_role(granted, SEALER), tmp_path / "instance"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused_run.returncode != 0
    assert "refuses to run with a database role that may write" in refused_run.stderr

    # With the application role it serves.
    web = HubProcess(
        "web",
        ["serve", "--port", port, "--workers", "1"],
        production_env(as_role(granted, APP), tmp_path / "instance"),
        tmp_path,
    )
    try:
        page = wait_for(lambda: _get(f"http://127.0.0.1:{port}/ledger/public-key"), 60, "it serves")
        assert page.status_code == 200
    finally:
        web.stop()


def test_hub_scheduler_refuses_a_role_that_cannot_seal(granted: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(HUB), "scheduler"],
        env=hub_env(as_role(granted, APP), tmp_path / "instance"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "may not seal the ledger" in run.stderr


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None


def test_the_deploy_script_and_hub_db_grant_set_up_the_roles(tmp_path: Path) -> None:
    """deploy/postgres-roles.sql as a superuser, then the owner's upgrade and grant."""
    from tests.support.pgserver import find_bindir

    script = Path(__file__).resolve().parents[2] / "deploy" / "postgres-roles.sql"
    with PostgresServer() as server:
        done = subprocess.run(
            [
                str(find_bindir() / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                *("-v", "owner_password=o", "-v", "app_password=a", "-v", "sealer_password=s"),
                "-f",
                str(script),
                server.libpq_url(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        owner = as_role(server.admin_url("marac"), "marac_owner")
        for args in (["db", "upgrade"], ["db", "grant"]):
            run = subprocess.run(
                [str(HUB), *args],
                env=hub_env(owner, tmp_path / "instance"),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert run.returncode == 0, run.stderr
        app = Database(as_role(owner, "marac_app"))
        sealer = Database(as_role(owner, "marac_sealer"))
        try:
            record_one(app)
            for statement in FORGERIES.values():
                assert refused(app, statement)
            assert seal_pending(sealer) == 1
            with app.engine.connect() as conn:
                timeout = conn.execute(text("SHOW statement_timeout")).scalar_one()
            assert timeout == "30s"
        finally:
            app.dispose()
            sealer.dispose()
