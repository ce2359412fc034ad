"""Sealing under concurrency on PostgreSQL: writer processes, a leader, crashes, takeovers.

Writers are real processes (the 'spawn' start method, each with its own engine), because
the property at stake is about concurrent transactions on the server: entries committed
in any order by many sessions get dense indexes with no gap and no fork, and an entry
whose transaction rolls back never appears.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from audit import merkle, services, verifier
from audit.ledger import SEALER_LOCK_KEY, NodeStore, Subject, build_entry, record_in
from audit.note import generate_signer_key
from audit.sealer import run_sealer
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork

pytestmark = pytest.mark.postgres_only

SPAWN = multiprocessing.get_context("spawn")
WRITERS = 8
WRITE_SECONDS = 3.0


# --- child processes (top level, so 'spawn' can import them) -----------------------------------


def _writer(url: str, number: int, seconds: float, ready: Any, go: Any, out: Any) -> None:
    """Commit entries for a while; roll some transactions back after inserting on purpose."""
    database = Database(url, pool_size=1, max_overflow=0)
    actor = Actor.system(f"writer-{number}")
    rng = random.Random(number)
    committed: list[str] = []
    rolled_back: list[str] = []
    try:
        with database.engine.connect() as conn:  # connect before the clock starts
            conn.execute(text("SELECT 1"))
        ready.put(number)
        go.wait(60)
        deadline = time.monotonic() + seconds
        sequence = 0
        while time.monotonic() < deadline:
            uow = UnitOfWork(database)
            try:
                ids = []
                for _ in range(rng.choice((1, 1, 1, 2, 5))):
                    sequence += 1
                    entry = record_in(
                        uow.session,
                        actor,
                        "case:viewed",
                        Subject("referral", sequence),
                        {"writer": number, "seq": sequence},
                    )
                    ids.append(json.loads(entry.body)["id"])
                if rng.random() < 0.1:
                    # Keep the transaction open a while: later transactions commit first,
                    # and the sealer must not skip this one's entries.
                    time.sleep(rng.uniform(0.01, 0.15))
                if rng.random() < 0.2:
                    uow.rollback()
                    rolled_back += ids
                else:
                    uow.commit()
                    committed += ids
            finally:
                uow.close()
        out.put((number, committed, rolled_back, None))
    except BaseException as error:  # report, so the test fails with the reason
        out.put((number, committed, rolled_back, repr(error)))
    finally:
        database.dispose()


def _seal_forever(url: str, limit: int, started: Any) -> None:
    """Seal in small batches until nothing is left (or until killed)."""
    database = Database(url)
    from audit.ledger import seal_pending

    started.put(os.getpid())
    while seal_pending(database, limit=limit):
        pass


def _seal_repeatedly(url: str, seconds: float, go: Any, out: Any) -> None:
    """Call the non-leader seal over and over, as `hub audit seal` run in a loop would."""
    database = Database(url)
    errors: list[str] = []
    sealed = 0
    go.wait(60)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sealed += services.seal(database)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {str(error)[:300]}")
    out.put((sealed, errors))
    database.dispose()


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Sealer:
    """A run_sealer thread in this process, with what it reported."""

    database: Database
    stop: threading.Event = field(default_factory=threading.Event)
    leader: threading.Event = field(default_factory=threading.Event)
    batches: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Sealer:
        def run() -> None:
            try:
                run_sealer(
                    self.database,
                    self.stop,
                    poll_seconds=0.05,
                    on_batch=self.batches.append,
                    on_leader=self.leader.set,
                )
            except BaseException as error:
                self.errors.append(error)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
            assert not self.thread.is_alive(), "the sealer did not stop"
        self.database.dispose()


@pytest.fixture
def sealers(database_url: str) -> Iterator[Callable[[], Sealer]]:
    made: list[Sealer] = []

    def make() -> Sealer:
        sealer = Sealer(Database(database_url)).start()
        made.append(sealer)
        return sealer

    yield make
    for sealer in made:
        sealer.close()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def unsealed(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM audit_entries e WHERE NOT EXISTS "
                    "(SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)"
                )
            ).scalar_one()
        )


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


def record_some(database: Database, count: int, name: str = "test") -> list[str]:
    uow = UnitOfWork(database)
    try:
        ids = [
            json.loads(
                record_in(uow.session, Actor.system(name), "case:viewed", None, {"seq": n}).body
            )["id"]
            for n in range(count)
        ]
        uow.commit()
    finally:
        uow.close()
    return ids


def check_tree(database: Database) -> dict[str, int]:
    """Assert the sealed ledger is whole; return {entry uuid: leaf index}."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.idx, l.entry_id, e.body, n.hash FROM audit_leaves l "
                "JOIN audit_entries e ON e.id = l.entry_id "
                "LEFT JOIN audit_nodes n ON n.level = 0 AND n.idx = l.idx ORDER BY l.idx"
            )
        ).all()
        batches = conn.execute(
            text("SELECT first_idx, count, horizon FROM audit_seal_batches ORDER BY first_idx")
        ).all()
        entries = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one()
    n = len(rows)
    # No gap and no fork: indexes are exactly 0..n-1, and no entry holds two of them.
    assert [int(r[0]) for r in rows] == list(range(n))
    assert len({int(r[1]) for r in rows}) == n
    assert entries == n, "every entry is sealed"
    leaf_hashes = []
    by_uuid: dict[str, int] = {}
    for idx, _, body, stored in rows:
        digest = merkle.leaf_hash(bytes(body))
        assert stored is not None and bytes(stored) == digest, f"leaf hash {idx}"
        leaf_hashes.append(digest)
        uuid = json.loads(bytes(body))["id"]
        assert uuid not in by_uuid, f"entry {uuid} sealed twice"
        by_uuid[uuid] = int(idx)
    # The batches tile the leaves exactly, with horizons that never go back.
    position = 0
    horizons = []
    for first, count, horizon in batches:
        assert first == position, "seal batches overlap or leave a gap"
        position += count
        horizons.append(horizon)
    assert position == n
    assert horizons == sorted(horizons)
    # The root from the leaves, recomputed here, is the root of the stored subtree hashes.
    session = database.session_factory()
    try:
        assert merkle.root(n, NodeStore(session)) == merkle.root_from_leaves(leaf_hashes)
    finally:
        session.close()
    return by_uuid


def start_writers(url: str, count: int, seconds: float) -> tuple[list[Any], Any]:
    ready, go, out = SPAWN.Queue(), SPAWN.Event(), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_writer, args=(url, number, seconds, ready, go, out), daemon=True)
        for number in range(count)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=60)
    go.set()
    return procs, out


def collect(procs: list[Any], out: Any, seconds: float) -> tuple[list[str], list[str]]:
    committed: list[str] = []
    rolled_back: list[str] = []
    for _ in procs:
        number, done, undone, error = out.get(timeout=seconds + 60)
        assert error is None, f"writer {number} failed: {error}"
        committed += done
        rolled_back += undone
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0
    return committed, rolled_back


# --- the tests ---------------------------------------------------------------------------------


def test_eight_writers_and_a_sealer_give_dense_whole_history(
    database_url: str, database: Database, sealers: Callable[[], Sealer], tmp_path: Path
) -> None:
    sealer = sealers()
    wait_until(sealer.leader.is_set, 10, "the sealer leads")
    procs, out = start_writers(database_url, WRITERS, WRITE_SECONDS)
    committed, rolled_back = collect(procs, out, WRITE_SECONDS)
    wait_until(lambda: unsealed(database) == 0, 20, "the sealer catches up")
    sealer.close()
    assert not sealer.errors

    # Thousands on an idle machine; a floor that still holds on a loaded one.
    assert len(committed) > 150, "the writers barely wrote: nothing was tested"
    assert len(rolled_back) > 10
    sealed = check_tree(database)
    assert set(sealed) == set(committed)
    assert len(sealed) == len(committed) == len(set(committed))
    assert not set(rolled_back) & set(sealed)
    # The sealer really ran alongside the writers, batch after batch.
    assert len(sealer.batches) > 3
    assert sum(sealer.batches) == len(committed)

    # The whole thing exports and verifies offline.
    key = services.SigningKey(generate_signer_key("test.example"), "test.example/ledger")
    session = database.session_factory()
    try:
        services.sign_checkpoint(session, key)
        session.commit()
        services.export_bundle(session, key, tmp_path / "bundle")
    finally:
        session.close()
    report = verifier.verify_bundle(tmp_path / "bundle")
    assert report.ok, report.summary()
    assert report.entries == len(committed)


def _bulk_unsealed(database: Database, total: int, per_transaction: int) -> None:
    """Insert unsealed entries quickly, each transaction with its own txid."""
    actor = Actor.system("bulk")
    bodies = [
        build_entry(actor, "case:viewed", Subject("referral", n), {"seq": n}) for n in range(total)
    ]
    with database.engine.connect() as conn:
        for start in range(0, total, per_transaction):
            conn.execute(
                text(
                    "INSERT INTO audit_entries (body, action, at, txid) "
                    "SELECT b, 'case:viewed', now(), pg_current_xact_id()::text::bigint "
                    "FROM unnest(CAST(:bodies AS bytea[])) WITH ORDINALITY AS t(b, n) ORDER BY n"
                ),
                {"bodies": bodies[start : start + per_transaction]},
            )
            conn.commit()


def test_a_sealer_killed_mid_batch_leaves_no_gap_and_no_duplicate(
    database_url: str, database: Database
) -> None:
    total = 20_000
    _bulk_unsealed(database, total, per_transaction=400)
    assert unsealed(database) == total

    started = SPAWN.Queue()
    child = SPAWN.Process(target=_seal_forever, args=(database_url, 1000, started), daemon=True)
    child.start()
    started.get(timeout=60)
    with database.engine.connect() as conn:

        def batches() -> int:
            return int(conn.execute(text("SELECT count(*) FROM audit_seal_batches")).scalar_one())

        wait_until(lambda: batches() >= 1, 30, "the first batch is sealed")
        time.sleep(random.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        conn.rollback()
        at_kill = int(conn.execute(text("SELECT count(*) FROM audit_leaves")).scalar_one())
    assert 0 < at_kill < total, "the kill did not land mid-way: nothing was tested"

    # The killed sealer's transaction rolls back on the server; the next sealer resumes.
    wait_until(
        lambda: services.seal(database) >= 0 and unsealed(database) == 0,
        60,
        "a new sealer seals the rest",
    )
    sealed = check_tree(database)
    assert len(sealed) == total


def test_only_one_sealer_leads_and_another_takes_over(
    database: Database, sealers: Callable[[], Sealer]
) -> None:
    first = sealers()
    wait_until(first.leader.is_set, 10, "the first sealer leads")
    second = sealers()
    time.sleep(1.2)  # more than two of the waiting sealer's polls
    assert not second.leader.is_set()

    # While a leader runs, a one-off seal (hub audit seal) stands aside.
    ids = record_some(database, 5)
    wait_until(lambda: unsealed(database) == 0, 10, "the leader seals")
    assert sum(first.batches) == 5 and not second.batches
    with database.engine.connect() as conn:
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SEALER_LOCK_KEY})
        assert taken.scalar_one() is False, "the leader does not hold the sealer lock"

    first.close()  # its connection closes and the lock goes with it
    wait_until(second.leader.is_set, 5, "the second sealer takes over")
    ids += record_some(database, 4)
    wait_until(lambda: unsealed(database) == 0, 10, "the new leader seals")
    assert not first.errors and not second.errors
    assert set(check_tree(database)) >= set(ids)


def _leader_backend(database: Database) -> int | None:
    with database.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :hi AND objid = :lo AND objsubid = 1"
            ),
            {"hi": SEALER_LOCK_KEY >> 32, "lo": SEALER_LOCK_KEY & 0xFFFFFFFF},
        ).scalar_one_or_none()


def test_a_sealer_whose_connection_dies_comes_back(
    database: Database, sealers: Callable[[], Sealer]
) -> None:
    sealer = sealers()
    wait_until(sealer.leader.is_set, 10, "the sealer leads")
    pid = _leader_backend(database)
    assert pid is not None
    record_some(database, 3)
    wait_until(lambda: unsealed(database) == 0, 10, "the sealer seals")

    # The server ends the leader's connection (a restart, a network cut, an operator).
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    wait_until(
        lambda: _leader_backend(database) not in (None, pid),
        10,
        "the sealer leads again on a new connection",
    )
    record_some(database, 4)
    wait_until(lambda: unsealed(database) == 0, 10, "the sealer seals again")
    assert sealer.thread is not None and sealer.thread.is_alive()
    assert not sealer.errors
    assert len(check_tree(database)) == 7


def test_concurrent_one_off_seals_never_collide(database_url: str, database: Database) -> None:
    # Several `hub audit seal` (or export) runs at once, with no leader, while writers write.
    go, out = SPAWN.Event(), SPAWN.Queue()
    seals = [
        SPAWN.Process(target=_seal_repeatedly, args=(database_url, 3.0, go, out), daemon=True)
        for _ in range(3)
    ]
    for proc in seals:
        proc.start()
    procs, written = start_writers(database_url, 4, 3.0)
    go.set()
    committed, _ = collect(procs, written, 3.0)
    results = [out.get(timeout=60) for _ in seals]
    for proc in seals:
        proc.join(10)
    errors = [e for _, found in results for e in found]
    assert not errors, errors[:3]
    services.seal(database)
    sealed = check_tree(database)
    assert set(sealed) == set(committed)
