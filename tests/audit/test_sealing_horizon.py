"""Sealing does not wait for transactions that have nothing to do with the entry.

Before, the sealer sealed only entries of transactions older than the oldest transaction
still running anywhere on the server: one left open in another database (a report, another
application's migration) or in the hub's own (a slow request) held every disclosure
unsealed until it ended. Now an entry is sealed once its own commit is visible.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from audit.ledger import record_in
from audit.sealer import run_sealer
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork
from tests.audit.test_ledger_concurrency import check_tree, unsealed, wait_until
from tests.support.pgserver import PostgresServer

pytestmark = pytest.mark.postgres_only


def entry_ids(database: Database, count: int, name: str = "web") -> list[int]:
    uow = UnitOfWork(database)
    try:
        ids = [
            record_in(uow.session, Actor.system(name), "case:viewed", None, {"n": n}).id
            for n in range(count)
        ]
        uow.commit()
    finally:
        uow.close()
    return ids


def sealed(database: Database, ids: list[int]) -> bool:
    with database.engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM audit_leaves WHERE entry_id = ANY(:ids)"), {"ids": ids}
        ).scalar_one()
    return bool(found == len(ids))


@pytest.fixture
def leader(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    stop, led = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=run_sealer, args=(database, stop), kwargs={"on_leader": led.set}, daemon=True
    )
    thread.start()
    wait_until(led.is_set, 10, "the sealer leads")
    yield database
    stop.set()
    thread.join(10)
    database.dispose()


@pytest.fixture
def elsewhere(pg_server: PostgresServer) -> Iterator[Any]:
    """An open transaction that has written, in another database on the same server."""
    name = f"elsewhere_{os.getpid()}"
    pg_server.create_database(name)
    conn = pg_server.connect(name, autocommit=False)
    try:
        conn.execute("CREATE TABLE long_work (note text)")
        conn.commit()
        conn.execute("INSERT INTO long_work VALUES ('a report that runs for hours')")
        yield conn
    finally:
        conn.rollback()
        conn.close()
        pg_server.drop_database(name)


def test_entries_are_sealed_while_transactions_stay_open_here_and_elsewhere(
    leader: Database, elsewhere: Any
) -> None:
    # A request of the hub's own that has written its entry and is still busy.
    slow = UnitOfWork(leader)
    try:
        slow_id = record_in(
            slow.session, Actor.system("slow"), "minutes:downloaded", None, {"n": 0}
        ).id
        slow_txid = slow.session.execute(
            text("SELECT pg_current_xact_id()::text::bigint")
        ).scalar_one()
        # Everyone else's disclosures commit and are sealed meanwhile.
        first = entry_ids(leader, 5)
        wait_until(lambda: sealed(leader, first), 10, "entries seal beside open transactions")
        more = entry_ids(leader, 3)
        wait_until(lambda: sealed(leader, more), 10, "later entries seal too")
        assert not sealed(leader, [slow_id]), "an entry in flight is never sealed"
        slow.commit()
    finally:
        slow.close()
    wait_until(lambda: sealed(leader, [slow_id]), 10, "the slow request's entry seals on commit")
    assert elsewhere.execute("SELECT count(*) FROM long_work").fetchone() == (1,)  # still open
    assert unsealed(leader) == 0
    tree = check_tree(leader)
    assert len(tree) == 9
    # The horizon left the transaction of the other database behind; the slow request's,
    # while it was open, held it.
    foreign = elsewhere.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
    with leader.engine.connect() as conn:
        horizons = (
            conn.execute(text("SELECT horizon FROM audit_seal_batches ORDER BY id")).scalars().all()
        )
    assert horizons[-1] > foreign
    assert min(horizons) <= slow_txid < horizons[-1]


def test_a_rolled_back_transaction_left_open_long_never_appears(leader: Database) -> None:
    doomed = UnitOfWork(leader)
    try:
        body = record_in(doomed.session, Actor.system("doomed"), "case:viewed", None, {}).body
        kept = entry_ids(leader, 4)
        wait_until(lambda: sealed(leader, kept), 10, "the others seal")
        time.sleep(0.2)  # several of the sealer's polls while the doomed one is open
        doomed.rollback()
    finally:
        doomed.close()
    kept += entry_ids(leader, 2)
    wait_until(lambda: sealed(leader, kept), 10, "entries after the rollback seal")
    sealed_uuids = set(check_tree(leader))
    assert json.loads(body)["id"] not in sealed_uuids
    assert len(sealed_uuids) == 6
