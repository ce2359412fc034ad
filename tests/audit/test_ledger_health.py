"""Sealing cannot stop silently: refused loudly, and reported as a failure everywhere.

The attack the roles now prevent (tests/audit/test_ledger_roles.py) is replayed here as
the database's owner could still do it: one seal-batch row with a huge horizon. Before,
`hub audit seal` said "Sealed 0", export and verify said OK, and only `hub audit status`
showed entries waiting, with exit status 0.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from audit import services
from audit.ledger import record_in
from audit.sealer import run_sealer
from hub.cli import main
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork

FORGED_BATCH = (
    "INSERT INTO audit_seal_batches (first_idx, count, horizon, sealed_at) "
    "SELECT coalesce(max(idx) + 1, 0), 0, 9223372036854775000, now() FROM audit_leaves"
)


def record_some(database: Database, count: int) -> None:
    uow = UnitOfWork(database)
    try:
        for n in range(count):
            record_in(uow.session, Actor.system("web"), "case:viewed", None, {"seq": n})
        uow.commit()
    finally:
        uow.close()


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Any:
    env = {
        "DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_ENV": "development",
        "HUB_LEDGER_MAX_SEAL_LAG_SECONDS": "1",
    }

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def database(database_url: str) -> Any:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.mark.postgres_only
def test_a_forged_seal_batch_stops_sealing_loudly_and_everything_says_so(
    hub: Any, database: Database, tmp_path: Path
) -> None:
    record_some(database, 5)
    assert hub("audit", "seal").output.strip() == "Sealed 5 entries."
    assert hub("audit", "checkpoint").exit_code == 0
    record_some(database, 3)
    with database.engine.begin() as conn:
        conn.execute(text(FORGED_BATCH))

    sealed = hub("audit", "seal")
    assert sealed.exit_code != 0
    assert "sealing refused" in sealed.output and "horizon" in sealed.output

    time.sleep(1.2)  # past the lag limit of 1 s set for this test
    status = hub("audit", "status")
    assert status.exit_code == 1, status.output
    assert "waiting to seal:    3" in status.output
    assert "ALERT: seal batch" in status.output and "claims a horizon" in status.output
    assert "ALERT: 3 committed entries are not sealed" in status.output

    exported = hub("audit", "export", str(tmp_path / "bundle"))
    assert exported.exit_code == 0
    verified = hub("audit", "verify", str(tmp_path / "bundle"))
    assert verified.exit_code == 1, verified.output
    assert "3 committed entries were waiting to be sealed at export" in verified.output


@pytest.mark.postgres_only
def test_the_leading_sealer_refuses_the_forged_batch_at_critical_level(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with database.engine.begin() as conn:
        conn.execute(text(FORGED_BATCH))
    record_some(database, 2)
    stop, batches = threading.Event(), []
    caplog.set_level(logging.CRITICAL, logger="audit.sealer")
    sealer = threading.Thread(
        target=run_sealer,
        args=(database, stop),
        kwargs={"on_batch": batches.append, "refused_seconds": 0.2},
        daemon=True,
    )
    sealer.start()
    try:
        deadline = time.monotonic() + 10
        while not any("sealing refused" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the sealer did not say it refused"
            time.sleep(0.05)
    finally:
        stop.set()
        sealer.join(10)
    assert not batches, "nothing may be sealed on a record no sealer wrote"
    refusal = next(r for r in caplog.records if "sealing refused" in r.getMessage())
    assert refusal.levelno == logging.CRITICAL


def test_status_is_ok_when_everything_is_sealed_and_signed(hub: Any, database: Database) -> None:
    record_some(database, 4)
    hub("audit", "seal")
    assert hub("audit", "checkpoint").exit_code == 0
    status = hub("audit", "status")
    assert status.exit_code == 0, status.output
    assert "waiting to seal:    0" in status.output
    assert "oldest waiting" not in status.output
    assert status.output.rstrip().endswith("OK")


def test_a_stale_checkpoint_is_an_alert(hub: Any, database: Database) -> None:
    record_some(database, 2)
    hub("audit", "seal")
    assert hub("audit", "checkpoint").exit_code == 0
    with database.engine.begin() as conn:
        # A checkpoint of the same tree signed long ago is the latest one.
        conn.execute(
            text(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at) "
                "SELECT tree_size, root_hash, note, :at FROM audit_checkpoints"
            ),
            {"at": "2026-01-01 00:00:00+00:00"},
        )
    status = hub("audit", "status")
    assert status.exit_code == 1
    assert "ALERT: the latest checkpoint was signed" in status.output


@pytest.mark.postgres_only
def test_the_waiting_count_and_oldest_time_describe_the_same_entries(
    database: Database,
) -> None:
    """An entry committing while the status is read never shows as 0 waiting with a time."""
    record_some(database, 1)
    services.seal(database)
    other = Database(database.url)
    fired: list[bool] = []

    def commit_an_entry_between_statements(
        _conn: Any, _cursor: Any, statement: str, *_: Any
    ) -> None:
        # Right after the statement that counts what waits, an entry commits.
        if not fired and "count(" in statement:
            fired.append(True)
            record_some(other, 1)

    session = database.session_factory()
    event.listen(database.engine, "after_cursor_execute", commit_an_entry_between_statements)
    try:
        state = services.status(session)
    finally:
        event.remove(database.engine, "after_cursor_execute", commit_an_entry_between_statements)
        session.close()
        other.dispose()
    assert fired
    assert (state.unsealed == 0) == (state.oldest_unsealed_at is None), state


def test_an_unchanged_tree_is_signed_again_when_its_checkpoint_is_due(
    database: Database,
) -> None:
    from audit import note

    record_some(database, 1)
    services.seal(database)
    key = services.SigningKey(note.generate_signer_key("test.example"), "test.example/ledger")
    session = database.session_factory()
    try:
        first = services.sign_checkpoint(session, key)
        session.commit()
        assert first is not None
        assert services.sign_checkpoint(session, key, max_age_seconds=3600) is None
        time.sleep(0.05)
        again = services.sign_checkpoint(session, key, max_age_seconds=0.01)
        session.commit()
        assert again is not None and again.tree_size == first.tree_size
        assert again.signed_at > first.signed_at
    finally:
        session.close()
