"""The one PostgreSQL sealer: a leader that seals entries as soon as their commit is visible.

Leadership is a session-level advisory lock held on a dedicated connection, so a second
sealer waits until the first dies (its connection closes and the lock goes with it). A
leader does not take its lock on trust: every batch checks, in its own snapshot, that the
lock is still held by that connection, and a leader that lost it (a database restart, a
cut connection) stands down and waits for the lock again instead of sealing beside the
sealer that took over.

The leader polls: every ``poll_seconds`` it asks, on its own connection, whether any entry
it has not sealed has committed (two index probes: transactions that were running at its
last snapshot, and those begun since), and seals when one has. Writers do not NOTIFY: a
notifying transaction takes a database-wide lock from just before its commit until the
commit is flushed, which would serialise every disclosure on the disk. Under load (a batch
of ``gather_from`` entries or more), the leader pauses ``gather_seconds`` before the next
batch so it gathers more entries: a batch costs a transaction and a commit whatever its
size.

Seal records that no sealer could have written (an impossible horizon) stop sealing
loudly: the sealer logs the refusal at CRITICAL every ``refused_seconds`` and seals nothing
until the record is dealt with, and `hub audit status`, the verifier and ``/healthz`` report
the entries left waiting as a failure.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from audit.ledger import (
    SEALER_LOCK_KEY,
    LeadershipLost,
    SealingRefused,
    SealState,
    seal_batch,
)
from hub.core.db import Database

log = logging.getLogger(__name__)


def libpq_url(database: Database) -> str:
    url = database.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


#: How a lock connection notices a dead server or network: keepalives, and a bound on any
#: statement it sends (it only ever sends tiny ones).
LOCK_CONNECTION: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "options": "-c statement_timeout=5000",
}


def run_sealer(
    database: Database,
    stop: threading.Event,
    *,
    poll_seconds: float = 0.02,
    gather_seconds: float = 0.05,
    gather_from: int = 8,
    refused_seconds: float = 10.0,
    on_batch: Callable[[int], None] | None = None,
    on_leader: Callable[[], None] | None = None,
) -> None:
    """Seal until ``stop`` is set; wait for leadership first if another sealer holds it."""
    if database.dialect != "postgresql":
        return  # SQLite seals inline in each writer's transaction
    while not stop.is_set():
        try:
            _lead(
                database,
                stop,
                poll_seconds,
                (gather_seconds, gather_from),
                refused_seconds,
                on_batch,
                on_leader,
            )
        except psycopg.OperationalError as error:
            # The lock's connection died (server restart, network): leadership went with it.
            # Reconnect and wait for it again rather than leave the ledger unsealed.
            log.warning("ledger sealer lost its connection (%s); reconnecting", error)
            stop.wait(1)
        except LeadershipLost:
            log.warning("ledger sealer lost its lock; standing down until it can lead again")
            stop.wait(1)


def _lead(
    database: Database,
    stop: threading.Event,
    poll_seconds: float,
    gather: tuple[float, int],
    refused_seconds: float,
    on_batch: Callable[[int], None] | None,
    on_leader: Callable[[], None] | None,
) -> None:
    with psycopg.connect(
        libpq_url(database),
        application_name=f"hub ledger sealer {os.getpid()}",
        **LOCK_CONNECTION,
    ) as conn:
        while not stop.is_set():
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (SEALER_LOCK_KEY,)).fetchone()
            if got and got[0]:
                break
            stop.wait(0.5)
        else:
            return
        holder = conn.info.backend_pid
        log.info("ledger sealer is the leader")
        if on_leader:
            on_leader()
        gather_seconds, gather_from = gather
        state: SealState | None = None
        while not stop.is_set():
            try:
                count, state = seal_batch(database, holder_pid=holder, state=state)
            except LeadershipLost:
                raise
            except SealingRefused as refusal:
                log.critical("ledger sealing refused: %s", refusal)
                state = None
                stop.wait(refused_seconds)
                continue
            except Exception:
                # A failed batch may or may not have committed: rescan from the record.
                log.exception("sealing failed; retrying")
                state = None
                time.sleep(1)
                _check_alive(conn)
                continue
            if count:
                if on_batch:
                    on_batch(count)
                if count >= gather_from:
                    # Under load, let the next batch gather for a moment: each batch costs a
                    # transaction and a commit whatever its size, so sealing after every
                    # commit would spend the writers' CPU on the sealer. A quiet hub's
                    # entries are sealed at once.
                    stop.wait(gather_seconds)
                continue
            if state is None:
                stop.wait(poll_seconds)  # a rescan left the rest for the next one
                continue
            # Nothing sealable now: wait until an entry this sealer has not sealed commits.
            # One of a transaction still open is not visible here, so it does not wake the
            # sealer until it commits; nothing else that is open holds sealing back.
            watched = (state.xmax, list(state.in_flight))
            while not stop.wait(poll_seconds):
                if conn.execute(_PENDING, watched).fetchone() != (False,):
                    break


def _check_alive(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    # Raises OperationalError when the lock's connection is gone, so leadership is retaken.
    conn.execute("SELECT 1")


#: Whether an entry the sealer has not sealed has committed since its last snapshot: one
#: index probe for transactions begun since, one per transaction that was running then.
_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE txid >= %s) "
    "OR EXISTS (SELECT 1 FROM audit_entries WHERE txid = ANY(%s::bigint[]))"
)
