"""How the ledger is doing, for operators: sealing lag, checkpoint age, the horizon.

`hub audit status`, `/healthz` and the export bundle's manifest all read it. An entry that
committed but has waited longer than the limit to be sealed, a checkpoint older than twice
its schedule, or seal records no sealer could have written are failures, never "OK":
sealing that stopped must not look like a quiet hub.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from audit.ledger import tree_size
from audit.models import AuditCheckpoint, AuditEntry, AuditLeaf


@dataclass(frozen=True)
class OpenTransaction:
    """The oldest transaction in the hub's database that holds an id."""

    pid: int
    database: str
    #: When it began; PostgreSQL shows this only for the role's own sessions.
    started_at: datetime | None
    state: str | None


@dataclass(frozen=True)
class Waiting:
    """Committed entries not sealed yet."""

    count: int
    oldest_at: datetime | None


@dataclass(frozen=True)
class LedgerHealth:
    size: int
    waiting: Waiting
    checkpoint_size: int
    checkpoint_at: datetime | None
    #: PostgreSQL: the latest seal batch's horizon (every entry below it is sealed).
    horizon: int | None
    oldest_open: OpenTransaction | None
    #: What is wrong with sealing (entries waiting too long, seal records no sealer wrote).
    sealing_problems: tuple[str, ...]
    #: What is wrong with checkpoints (none, or too old).
    checkpoint_problems: tuple[str, ...]
    #: When this was measured.
    at: datetime

    @property
    def problems(self) -> tuple[str, ...]:
        return self.sealing_problems + self.checkpoint_problems

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def oldest_waiting_seconds(self) -> float:
        if self.waiting.oldest_at is None:
            return 0.0
        return max(0.0, (self.at - self.waiting.oldest_at).total_seconds())

    @property
    def checkpoint_age_seconds(self) -> float | None:
        if self.checkpoint_at is None:
            return None
        return max(0.0, (self.at - self.checkpoint_at).total_seconds())


#: Every committed entry without a leaf, counted and dated in one statement (so the count
#: and the oldest time always describe the same entries).
_WAITING_ALL = select(func.count(), func.min(AuditEntry.at)).where(
    ~exists().where(AuditLeaf.entry_id == AuditEntry.id)
)
#: The same, bounded by indexes for a frequent probe: entries newer than the newest sealed
#: one, and those from the latest horizon on. Sealing that stopped shows up here at once.
_WAITING_RECENT_PG = text(
    "SELECT count(*), min(e.at) FROM audit_entries e "
    "WHERE (e.id > (SELECT coalesce(max(entry_id), 0) FROM audit_leaves) "
    "OR e.txid >= (SELECT horizon FROM audit_seal_batches ORDER BY id DESC LIMIT 1)) "
    "AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)"
)
_HORIZON_PG = text(
    "SELECT b.id, b.horizon, pg_snapshot_xmax(pg_current_snapshot())::text::bigint "
    "FROM audit_seal_batches b ORDER BY b.id DESC LIMIT 1"
)
#: The oldest transaction holding an id in this database: it holds the horizon back.
_OLDEST_OPEN_PG = text(
    "SELECT pid, datname, xact_start, state FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
    "AND datname = current_database() ORDER BY age(backend_xid) DESC LIMIT 1"
)
_LATEST_CHECKPOINT = (
    select(AuditCheckpoint.tree_size, AuditCheckpoint.signed_at)
    .order_by(AuditCheckpoint.id.desc())
    .limit(1)
)


def waiting(session: Session) -> Waiting:
    """Every committed entry not sealed yet, and the oldest one's time, in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        # The anti-join grows with the ledger: this one statement may take its time.
        session.execute(text("SET LOCAL statement_timeout = 0"))
    count, oldest = session.execute(_WAITING_ALL).one()
    return Waiting(int(count), _aware(oldest) if count else None)


def check(
    session: Session,
    *,
    moment: datetime,
    max_seal_lag_seconds: float,
    checkpoint_max_age_seconds: float,
    thorough: bool = True,
) -> LedgerHealth:
    """Measure the ledger's health now.

    ``thorough`` counts every entry still waiting (an anti-join over the whole ledger: for
    the status command and exports); otherwise only those an index can find at once (for
    a health probe called every few seconds).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    sealing: list[str] = []
    stale: list[str] = []
    if thorough or not postgres:
        found = waiting(session)
    else:
        count, oldest = session.execute(_WAITING_RECENT_PG).one()
        found = Waiting(int(count), _aware(oldest) if count else None)
    size = tree_size(session)
    checkpoint = session.execute(_LATEST_CHECKPOINT).first()
    checkpoint_size = int(checkpoint[0]) if checkpoint else 0
    checkpoint_at = _aware(checkpoint[1]) if checkpoint else None
    horizon = None
    oldest_open = None
    if postgres:
        latest = session.execute(_HORIZON_PG).first()
        if latest is not None:
            batch_id, horizon, xmax = latest
            if horizon is not None and horizon > xmax:
                sealing.append(
                    f"seal batch {batch_id} claims a horizon ({horizon}) beyond every "
                    f"transaction begun so far ({xmax}): no sealer wrote it, and sealing "
                    "stops on it"
                )
        row = session.execute(_OLDEST_OPEN_PG).first()
        if row is not None:
            oldest_open = OpenTransaction(int(row[0]), row[1] or "", _aware(row[2]), row[3])
    health = LedgerHealth(
        size=size,
        waiting=found,
        checkpoint_size=checkpoint_size,
        checkpoint_at=checkpoint_at,
        horizon=None if horizon is None else int(horizon),
        oldest_open=oldest_open,
        sealing_problems=(),
        checkpoint_problems=(),
        at=moment,
    )
    lag = health.oldest_waiting_seconds
    if found.count and lag > max_seal_lag_seconds:
        sealing.append(
            f"{found.count} committed entries are not sealed; the oldest has waited "
            f"{lag:.0f} s (the limit is {max_seal_lag_seconds:.0f} s): sealing has stopped "
            "or fallen behind"
        )
    age = health.checkpoint_age_seconds
    if age is None and size:
        stale.append(f"no checkpoint has been signed, and {size} entries are sealed")
    elif age is not None and age > checkpoint_max_age_seconds:
        stale.append(
            f"the latest checkpoint was signed {age / 60:.0f} minutes ago (the limit is "
            f"{checkpoint_max_age_seconds / 60:.0f}): checkpoints are not being signed"
        )
    return replace(health, sealing_problems=tuple(sealing), checkpoint_problems=tuple(stale))


def _aware(value: datetime | None) -> datetime | None:
    from hub.core.clock import UTC

    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
