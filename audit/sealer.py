"""The one PostgreSQL sealer: a leader that seals entries as soon as their commit is visible.

Leadership is a session-level advisory lock held on a dedicated connection for the life of
the process, so a second sealer waits until the first dies (its connection closes and the
lock goes with it).

The leader polls: every ``poll_seconds`` it asks, on its own connection, whether any entry
has committed at or above the last batch's horizon (one index probe), and seals when one
has. Writers do not NOTIFY: a notifying transaction takes a database-wide lock from just
before its commit until the commit is flushed, which would serialise every disclosure on
the disk. Under load (a batch of ``gather_from`` entries or more), the leader pauses
``gather_seconds`` before the next batch so it gathers more entries: a batch costs a
transaction and a commit whatever its size.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from audit.ledger import SEALER_LOCK_KEY, seal_pending
from hub.core.db import Database

log = logging.getLogger(__name__)


def libpq_url(database: Database) -> str:
    url = database.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def run_sealer(
    database: Database,
    stop: threading.Event,
    *,
    poll_seconds: float = 0.02,
    gather_seconds: float = 0.05,
    gather_from: int = 8,
    on_batch: Callable[[int], None] | None = None,
    on_leader: Callable[[], None] | None = None,
) -> None:
    """Seal until ``stop`` is set; wait for leadership first if another sealer holds it."""
    if database.dialect != "postgresql":
        return  # SQLite seals inline in each writer's transaction
    while not stop.is_set():
        try:
            _lead(database, stop, poll_seconds, (gather_seconds, gather_from), on_batch, on_leader)
        except psycopg.OperationalError:
            # The lock's connection died (server restart, network): leadership went with it.
            # Reconnect and wait for it again rather than leave the ledger unsealed.
            log.exception("ledger sealer lost its connection; reconnecting")
            stop.wait(1)


def _lead(
    database: Database,
    stop: threading.Event,
    poll_seconds: float,
    gather: tuple[float, int],
    on_batch: Callable[[int], None] | None,
    on_leader: Callable[[], None] | None,
) -> None:
    with psycopg.connect(libpq_url(database), autocommit=True) as conn:
        while not stop.is_set():
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (SEALER_LOCK_KEY,)).fetchone()
            if got and got[0]:
                break
            stop.wait(0.5)
        else:
            return
        log.info("ledger sealer is the leader")
        if on_leader:
            on_leader()
        gather_seconds, gather_from = gather
        while not stop.is_set():
            try:
                count = seal_pending(database, leader=True)
            except Exception:
                log.exception("sealing failed; retrying")
                time.sleep(1)
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
            # Nothing sealable now: wait until an entry at or above the horizon commits.
            # (One committed behind a transaction still open is found here but cannot be
            # sealed yet; then this polls at the same pace until that transaction ends.)
            while not stop.wait(poll_seconds):
                if conn.execute(_PENDING).fetchone() != (False,):
                    break


#: Whether any committed entry lies at or above the latest batch's horizon: both lookups
#: are by index, so an idle hub's poll costs the server next to nothing.
_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE txid >= coalesce("
    "(SELECT horizon FROM audit_seal_batches ORDER BY id DESC LIMIT 1), 0))"
)
