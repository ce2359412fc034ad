"""Recording into the ledger and sealing entries into the Merkle tree.

An entry is inserted in the same transaction as the disclosure it records, without any
global lock. Sealing gives committed entries their dense leaf indexes:

* SQLite runs one writer at a time (every transaction begins IMMEDIATE), so an entry is
  sealed inline, in its own transaction; a rollback removes entry and leaf together.
* PostgreSQL writers never wait for each other. One sealer at a time (an advisory lock)
  seals, in a REPEATABLE READ snapshot, the committed entries it has not sealed yet. Each
  entry carries its transaction's id (``txid``, set by the column's default: the
  application cannot choose it), and the sealer remembers what its previous snapshot left
  open: the transactions then in progress and the first id not yet assigned (``xmax``).
  An entry it has not sealed can only belong to one of those, so the next batch looks only
  there (two index probes), and an entry is sealed as soon as its own commit is visible,
  whatever else is still open on the server. A rolled-back entry never appears; the unique
  leaf-per-entry and index primary keys make a fork impossible.
  Each batch also records a ``horizon``: the oldest transaction of this database still
  running at its snapshot (one of another database on the server can never write an entry
  here). Every entry of a transaction below it is sealed (or was rolled back). A sealer
  that starts, or that finds a batch it did not write, rescans from the horizon before the
  latest one (an anti-join over that span), so it never relies on a record it cannot check.
  Writers take no lock at all, not even at commit: the sealer polls rather than being
  woken by NOTIFY, since every notifying transaction takes one database-wide lock from
  just before its commit until the commit is flushed, one commit per disk flush.

The search references (which case, person, agency, member an entry names) are written with
the entry, in the same statement, and derived from the entry itself (``refs_of``): they can
be rebuilt from the ledger, and nothing can file an entry under identifiers it does not hold.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from audit import merkle
from audit.actions import LedgerAction
from audit.models import AuditEntry, AuditEntryRef, AuditLeaf, AuditNode, AuditSealBatch
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now

log = logging.getLogger(__name__)
ACTION_PATTERN = re.compile(r"^[a-z][a-z_]*:[a-z][a-z_]*$")
_CATALOGUE = frozenset(LedgerAction)
#: Detail keys whose values are identifiers the auditor can search by.
REF_KINDS = (
    "area",
    "case",
    "person",
    "agency",
    "member",
    "referral",
    "meeting",
    "task",
    "consent",
    "idp",
    "client",
)
#: The plural detail key that holds a list of a kind's identifiers, where not kind + "s".
PLURALS = {"agency": "agencies"}
MAX_TEXT = 200
SEALER_LOCK_KEY = 0x4D41524143  # "MARAC": the advisory lock of the one PostgreSQL sealer


class LedgerError(ValueError):
    """A service tried to record something the ledger must not hold."""


class SealingRefused(RuntimeError):
    """The ledger's seal records contradict what the sealer sees; it seals nothing on them.

    Nothing a sealer writes can look like this: someone else wrote a seal batch (an
    impossible horizon, or leaves the batches do not account for). Sealing stops loudly
    until an operator has looked, rather than carrying on from a record it cannot trust.
    """


class LeadershipLost(RuntimeError):
    """The sealer no longer holds its lock (its connection died): another may be sealing."""


def canonical_json(value: Any) -> bytes:
    """Encode canonically: sorted keys, no insignificant whitespace, UTF-8, no floats."""
    _check(value, "entry")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check(value: Any, where: str) -> None:
    # Only identifiers, codes and category names belong in the ledger: no floats (their
    # JSON form is not canonical across languages) and no long free text.
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise LedgerError(f"{where}: text longer than {MAX_TEXT} characters")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(item, where)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise LedgerError(f"{where}: keys must be ASCII strings")
            _check(item, f"{where}.{key}")
        return
    raise LedgerError(f"{where}: {type(value).__name__} is not allowed in a ledger entry")


@dataclass(frozen=True)
class Subject:
    """What an entry is about: a type and an identifier."""

    type: str
    id: int | str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id}


def refs_of(entry: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The identifiers an entry names, as (kind, value) pairs, for the auditor's search.

    The acting member and agency (and the actor's area, unless the entry names areas of its
    own), the subject, and every detail named after a REF_KINDS kind: singular for one
    identifier, plural (``agencies``, ``cases``) for a list. Read from the entry itself,
    never from elsewhere.
    """
    refs: set[tuple[str, str]] = set()
    actor = entry.get("actor")
    # An entry about a case is filed under the case's area ("area" / "areas"), which is not
    # always the actor's: another area's refused attempt belongs to the area whose case it
    # was, and must not show that area's case ids to the actor's own auditors.
    own_area = "area" not in entry and "areas" not in entry
    if isinstance(actor, Mapping):
        refs.update(
            (kind, str(actor[kind]))
            for kind in ("member", "agency", *(("area",) if own_area else ()))
            if _is_id(actor.get(kind))
        )
    subject = entry.get("subject")
    if isinstance(subject, Mapping) and "type" in subject and "id" in subject:
        refs.add((str(subject["type"]), str(subject["id"])))
    for kind in REF_KINDS:
        for key in (kind, PLURALS.get(kind, kind + "s")):
            value = entry.get(key)
            if value is None:
                continue
            values = value if isinstance(value, list | tuple) else [value]
            refs.update((kind, str(item)) for item in values if _is_id(item))
    return {(kind[:30], ref[:64]) for kind, ref in refs}


def _is_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def build_entry(
    actor: Actor, action: str, subject: Subject | None, details: Mapping[str, Any]
) -> bytes:
    """The entry's canonical bytes, exactly as they are stored and hashed."""
    return canonical_json(_entry(actor, action, subject, details))


def _entry(
    actor: Actor, action: str, subject: Subject | None, details: Mapping[str, Any]
) -> dict[str, Any]:
    if not ACTION_PATTERN.match(action):
        raise LedgerError(f"action {action!r} is not named subject:verb")
    if action not in _CATALOGUE:
        raise LedgerError(f"action {action!r} is not in the catalogue (audit/actions.py)")
    reserved = {"v", "id", "at", "action", "actor", "subject", "request"} & set(details)
    if reserved:
        raise LedgerError(f"details may not set {sorted(reserved)}")
    body: dict[str, Any] = {
        "v": 1,
        "id": uuid.uuid4().hex,
        "at": now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": str(action),
        "actor": actor.ref,
        "request": actor.request_id,
    }
    if subject is not None:
        body["subject"] = subject.as_json()
    body.update(details)
    return body


def record(actor: Actor, action: str, subject: Subject | None = None, **details: Any) -> AuditEntry:
    """Record an event in the current unit of work: it commits, or vanishes, with it."""
    return record_in(db.session(), actor, action, subject, details)


def record_refusal(
    actor: Actor, action: str, subject: Subject | None = None, **details: Any
) -> None:
    """Record a refusal in its own short transaction, since the request's will roll back."""
    build_entry(actor, action, subject, details)  # fail now, in the caller, on bad content

    def write(session: Session) -> None:
        record_in(session, actor, action, subject, details)

    db.in_own_transaction(write)


def record_in(
    session: Session,
    actor: Actor,
    action: str,
    subject: Subject | None,
    details: Mapping[str, Any],
) -> AuditEntry:
    fields = _entry(actor, action, subject, details)
    body = canonical_json(fields)
    refs = sorted(refs_of(fields))
    moment = now()
    if session.get_bind().dialect.name == "postgresql":
        # On the driver's own connection, inside the session's transaction: this runs for
        # every disclosure, and the ORM's statement machinery would cost more client CPU than
        # the insert costs the server. One round trip, prepared once per connection.
        raw: Any = session.connection().connection.driver_connection
        row = raw.execute(
            _RECORD_PG,
            # References as one JSON text: identifiers may hold commas, quotes and braces.
            (body, action, moment, json.dumps(refs)),
            prepare=True,
        ).fetchone()
        # A transient copy for callers that want the id or bytes; the row is already written.
        return AuditEntry(id=row[0], body=body, action=action, at=moment)
    entry = AuditEntry(body=body, action=action, at=moment)
    session.add(entry)
    session.flush()
    if refs:
        session.execute(
            insert(AuditEntryRef),
            [{"entry_id": entry.id, "kind": kind, "ref": ref} for kind, ref in refs],
        )
    # SQLite runs one writer at a time: seal at once, in the same transaction.
    _seal_entries(session, [(entry.id, body)], horizon=None)
    return entry


#: The entry and its search references. The column's default stamps it with this
#: transaction's id (the application role may not set that column itself). No NOTIFY (see
#: the module's docstring).
_RECORD_PG = (
    "WITH e AS (INSERT INTO audit_entries (body, action, at) "
    "VALUES (%s, %s, %s) RETURNING id), "
    "r AS (INSERT INTO audit_entry_refs (entry_id, kind, ref) "
    "SELECT e.id, w.value ->> 0, w.value ->> 1 "
    "FROM e, json_array_elements(CAST(%s AS json)) AS w) "
    "SELECT e.id FROM e"
)


_PREFETCH_PG = text(
    "SELECT n.level, n.idx, n.hash FROM unnest(CAST(:levels AS integer[]), "
    "CAST(:idxs AS bigint[])) AS w(level, idx) "
    "JOIN audit_nodes n ON n.level = w.level AND n.idx = w.idx"
)


class NodeStore:
    """Reads complete subtree hashes from the database, caching within one operation."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self.cache.get(key)
        if found is None:
            found = self.session.execute(
                select(AuditNode.hash).where(AuditNode.level == level, AuditNode.idx == index)
            ).scalar_one()
            self.cache[key] = found
        return found

    def prefetch(self, positions: Iterable[tuple[int, int]]) -> None:
        """Read many subtree hashes in one query, so a proof costs one round trip, not 20."""
        wanted = sorted(set(positions) - self.cache.keys())
        if not wanted:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            # A join on two arrays: one index probe per node, and one statement text the
            # driver can prepare. PostgreSQL plans the equivalent row IN (...) as a bitmap
            # OR that costs more to plan than to run.
            rows = self.session.execute(
                _PREFETCH_PG,
                {"levels": [level for level, _ in wanted], "idxs": [idx for _, idx in wanted]},
            )
        else:
            rows = self.session.execute(
                select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(
                    tuple_(AuditNode.level, AuditNode.idx).in_(wanted)
                )
            )
        for level, index, digest in rows:
            self.cache[(level, index)] = digest

    def prefetch_inclusion(self, index: int, size: int) -> None:
        """Prefetch the leaf and every node the inclusion proof of ``index`` will read."""
        positions = [(0, index)]

        def record_position(level: int, idx: int) -> bytes:
            positions.append((level, idx))
            return bytes(merkle.HASH_SIZE)

        # Which nodes a proof reads depends on the tree's shape only, not on the hashes.
        merkle.inclusion_proof(index, size, record_position)
        self.prefetch(positions)


def tree_size(session: Session) -> int:
    """Number of sealed leaves (the next index to assign)."""
    top = session.execute(select(func.max(AuditLeaf.idx))).scalar_one_or_none()
    return 0 if top is None else int(top) + 1


def _seal_entries(
    session: Session,
    entries: Iterable[tuple[int, bytes]],
    *,
    horizon: int | None,
    size: int | None = None,
) -> tuple[int, int | None]:
    """Append entries as leaves; return how many and (PostgreSQL) the batch record's id."""
    if size is None:
        size = tree_size(session)
    store = NodeStore(session)
    store.prefetch(merkle.border_positions(size))
    builder = merkle.TreeBuilder.resume(size, store)
    leaves: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    sealed_at = now()
    first = size
    for entry_id, body in entries:
        for level, index, digest in builder.append(merkle.leaf_hash(body)):
            nodes.append({"level": level, "idx": index, "hash": digest})
        leaves.append({"idx": size, "entry_id": entry_id, "sealed_at": sealed_at})
        size += 1
    if not leaves:
        return 0, None
    if session.get_bind().dialect.name == "postgresql":
        # One statement for the whole batch, whatever its size: row-by-row inserts cost the
        # sealer more CPU than everything else it does.
        batch_id = session.execute(
            _SEAL_PG,
            {
                "entry_ids": _id_list(leaf["entry_id"] for leaf in leaves),
                "levels": _id_list(node["level"] for node in nodes),
                "node_idxs": _id_list(node["idx"] for node in nodes),
                "hashes": b"".join(node["hash"] for node in nodes),
                "sealed_at": sealed_at,
                "first": first,
                "count": len(leaves),
                "horizon": horizon,
            },
        ).scalar_one()
        return len(leaves), int(batch_id)
    session.execute(insert(AuditLeaf), leaves)
    session.execute(insert(AuditNode), nodes)
    session.execute(
        insert(AuditSealBatch),
        [{"first_idx": first, "count": len(leaves), "horizon": horizon, "sealed_at": sealed_at}],
    )
    return len(leaves), None


def _id_list(values: Iterable[int]) -> str:
    # Integers as one comma-separated string, split by the server: the driver's array
    # adapter costs more per element than the rest of sealing.
    return ",".join(map(str, values))


#: One round trip per batch: leaves (consecutive indexes from :first, in entry order), the
#: subtree hashes that closed (32-byte hashes concatenated) and the batch record.
_SEAL_PG = text(
    "WITH l AS (INSERT INTO audit_leaves (idx, entry_id, sealed_at) "
    "SELECT :first + w.n - 1, w.entry_id, :sealed_at "
    "FROM unnest(CAST(string_to_array(:entry_ids, ',') AS bigint[])) "
    "WITH ORDINALITY AS w(entry_id, n)), "
    "n AS (INSERT INTO audit_nodes (level, idx, hash) "
    "SELECT w.level, w.idx, substring(CAST(:hashes AS bytea) FROM CAST(w.n AS integer) * 32 - 31 "
    "FOR 32) FROM unnest(CAST(string_to_array(:levels, ',') AS integer[]), "
    "CAST(string_to_array(:node_idxs, ',') AS bigint[])) WITH ORDINALITY AS w(level, idx, n)) "
    "INSERT INTO audit_seal_batches (first_idx, count, horizon, sealed_at) "
    "VALUES (:first, :count, :horizon, :sealed_at) RETURNING id"
)


@dataclass(frozen=True)
class SealState:
    """What a leading sealer saw at its last batch: where the next batch must look.

    Every committed entry it has not sealed belongs to a transaction that was running at
    that snapshot (``in_flight``) or started after it (txid at or above ``xmax``).
    """

    xmax: int
    in_flight: tuple[int, ...]
    #: The latest seal batch when this was taken; another one means someone else sealed.
    batch_id: int | None


def _lock_parts(key: int) -> dict[str, int]:
    # pg_locks shows a bigint advisory key as classid (high half) and objid (low half).
    return {"hi": key >> 32, "lo": key & 0xFFFFFFFF}


#: One round trip at the start of a batch: the snapshot (its xmax, the transactions in
#: progress, and the oldest of those that may belong to this database: one of another
#: database can never write an entry here), whether the sealer's lock is still held by its
#: connection, the latest two seal batches and the tree's size. A transaction counts as
#: another database's only if pg_stat_activity shows it there; one it does not show (a
#: prepared transaction, say) counts as this database's.
_BEGIN_PG = text(
    "SELECT (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x WHERE NOT EXISTS ("
    "SELECT 1 FROM pg_stat_activity a WHERE a.datid <> (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) "
    "AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)), "
    "pg_snapshot_xmax(s)::text::bigint, "
    "ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x), "
    "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = :hi AND objid = :lo AND objsubid = 1 AND pid = :holder), "
    "b.id, b.first_idx, b.count, b.horizon, "
    "(SELECT p.horizon FROM audit_seal_batches p WHERE p.id < b.id ORDER BY p.id DESC LIMIT 1), "
    "(SELECT max(idx) FROM audit_leaves) "
    "FROM pg_current_snapshot() AS s LEFT JOIN LATERAL (SELECT id, first_idx, count, horizon "
    "FROM audit_seal_batches ORDER BY id DESC LIMIT 1) AS b ON true"
)
#: Entries of transactions that started after the last snapshot or were running then.
_CANDIDATES_PG = text(
    "SELECT id, body, txid FROM audit_entries "
    "WHERE txid >= :xmax OR txid = ANY(CAST(:in_flight AS bigint[])) "
    "ORDER BY txid, id LIMIT :limit"
)
#: Every committed entry not sealed yet from a horizon on (a start, or a record not ours).
_RESCAN_PG = text(
    "SELECT e.id, e.body, e.txid FROM audit_entries e WHERE e.txid >= :since "
    "AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id) "
    "ORDER BY e.txid, e.id LIMIT :limit"
)


def seal_batch(
    database: db.Database,
    *,
    holder_pid: int,
    state: SealState | None = None,
    limit: int = 50_000,
    key: int = SEALER_LOCK_KEY,
) -> tuple[int, SealState | None]:
    """Seal one batch on PostgreSQL as the holder of the sealer lock; return (count, state).

    ``holder_pid`` is the server process of the connection holding the lock: the batch
    checks, in its own snapshot, that the lock is still held there, and raises
    LeadershipLost otherwise. ``state`` is what the previous batch returned (None to rescan
    from the horizons on record). Raises SealingRefused when the seal records are not what
    a sealer writes.
    """
    with database.session_factory() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        row = session.execute(_BEGIN_PG, {**_lock_parts(key), "holder": holder_pid}).one()
        oldest_here, xmax, in_flight, held, batch_id, first, count, horizon, before, top = row
        if not held:
            raise LeadershipLost("the sealer's lock is no longer held by its connection")
        size = 0 if top is None else int(top) + 1
        _check_last_batch(batch_id, first, count, horizon, size, int(xmax))
        # Every entry of a transaction below this has been sealed once this batch commits.
        here = int(xmax if oldest_here is None else oldest_here)
        rows: list[Any] | None = None
        if state is not None and state.batch_id == batch_id:
            rows = list(
                session.execute(
                    _CANDIDATES_PG,
                    {"xmax": state.xmax, "in_flight": list(state.in_flight), "limit": limit},
                )
            )
            if len(rows) >= limit:
                rows = None  # more than one batch: take them in order, as a rescan does
        elif state is not None:
            log.error(
                "a seal batch this sealer did not write appeared (batch %s); rescanning", batch_id
            )
        new_horizon = here
        complete = True
        if rows is None:
            # From the horizon before the latest batch's: the latest is checked, not trusted.
            since = int(before or 0)
            # The span grows with the oldest transaction left open: never cut this scan short.
            session.execute(text("SET LOCAL statement_timeout = 0"))
            rows = list(session.execute(_RESCAN_PG, {"since": since, "limit": limit}))
            if len(rows) >= limit:
                complete = False
                rows, new_horizon = _whole_transactions(session, rows, here)
        sealed, new_batch = _seal_entries(
            session, [(r[0], r[1]) for r in rows], horizon=new_horizon, size=size
        )
        session.commit()
    if not complete:
        return sealed, None  # the rest waits for the next rescan
    return sealed, SealState(int(xmax), tuple(int(x) for x in in_flight), new_batch or batch_id)


def _check_last_batch(
    batch_id: int | None,
    first: int | None,
    count: int | None,
    horizon: int | None,
    size: int,
    xmax: int,
) -> None:
    if batch_id is None:
        if size:
            raise SealingRefused(f"the tree holds {size} leaves but no seal batch placed them")
        return
    if horizon is not None and horizon > xmax:
        # A horizon is a transaction id that had been handed out when its batch was sealed:
        # it can never pass the next one to be handed out now.
        raise SealingRefused(
            f"seal batch {batch_id} claims horizon {horizon}, beyond every transaction begun "
            f"so far ({xmax}): no sealer wrote it, and sealing on it would skip entries"
        )
    if first is None or count is None or first + count != size:
        raise SealingRefused(
            f"seal batch {batch_id} says the tree ends at {(first or 0) + (count or 0)}, "
            f"but it holds {size} leaves"
        )


def _whole_transactions(session: Session, rows: list[Any], here: int) -> tuple[list[Any], int]:
    """Cut a full batch at a transaction boundary; return the rows and the batch's horizon."""
    cut = int(rows[-1][2])
    kept = [r for r in rows if r[2] != cut]
    if kept:
        return kept, min(cut, here)
    # One transaction larger than a batch: take all of it.
    rows = list(
        session.execute(
            select(AuditEntry.id, AuditEntry.body, AuditEntry.txid)
            .outerjoin(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
            .where(AuditEntry.txid == cut, AuditLeaf.idx.is_(None))
            .order_by(AuditEntry.id)
        )
    )
    return rows, min(cut + 1, here)


def seal_pending(database: db.Database, *, limit: int = 50_000) -> int:
    """Seal committed PostgreSQL entries not sealed yet (one batch); return how many.

    Returns 0 at once when another sealer holds the lock. SQLite seals inline, so there
    this reports 0.
    """
    if database.dialect == "sqlite":
        return 0
    # Hold the lock from before the sealing transaction's snapshot is taken: a lock taken
    # inside that transaction comes after its snapshot, which may then miss the leaves of a
    # sealer that committed in between (and fail on their duplicate indexes).
    key = {"key": SEALER_LOCK_KEY}
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got, pid = conn.execute(
            text("SELECT pg_try_advisory_lock(:key), pg_backend_pid()"), key
        ).one()
        if not got:
            return 0
        try:
            count, _ = seal_batch(database, holder_pid=int(pid), limit=limit)
            return count
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
