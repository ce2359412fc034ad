"""Ledger operations for pages, commands and jobs: checkpoints, proofs, export, search."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from audit import merkle, note
from audit.bundle import write_bundle
from audit.ledger import NodeStore, seal_pending, tree_size
from audit.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditEntryRef,
    AuditLeaf,
    AuditNode,
    AuditSealBatch,
)
from hub.core import db
from hub.core.clock import now


class LedgerKeyError(RuntimeError):
    """No usable checkpoint signing key is configured."""


@dataclass(frozen=True)
class SigningKey:
    """The hub's checkpoint signer: private key text (from configuration) and its origin."""

    skey: str
    origin: str

    @property
    def vkey(self) -> str:
        return note.vkey_from_skey(self.skey)


def load_signing_key(
    *, key: str, key_file: str, origin: str, instance_path: str, production: bool
) -> SigningKey:
    """Read the signing key from configuration; off production, generate one once."""
    if key:
        return SigningKey(key.strip(), origin)
    if key_file:
        return SigningKey(Path(key_file).read_text().strip(), origin)
    if production:
        raise LedgerKeyError("no ledger signing key configured")
    path = Path(instance_path) / "ledger-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(note.generate_signer_key(origin.split("/")[0] or "marac-hub"))
    return SigningKey(path.read_text().strip(), origin)


def current_size() -> int:
    return tree_size(db.session())


def current_root(session: Session, size: int) -> bytes:
    if not size:
        return merkle.EMPTY_ROOT
    store = NodeStore(session)
    store.prefetch(merkle.border_positions(size))  # the root is made of these, in one query
    return merkle.root(size, store)


def sign_checkpoint(
    session: Session,
    key: SigningKey,
    *,
    force: bool = False,
    max_age_seconds: float | None = None,
) -> AuditCheckpoint | None:
    """Sign the tree as it stands; skip when nothing was sealed since the last checkpoint.

    With ``max_age_seconds``, an unchanged tree is signed again once the last checkpoint is
    that old, so the served checkpoint's age tells witnesses whether signing goes on.
    """
    size = tree_size(session)
    last = latest_checkpoint_in(session)
    unchanged = last is not None and last.tree_size == size and not force
    if unchanged and (
        max_age_seconds is None
        or last is None
        or (now() - last.signed_at).total_seconds() < max_age_seconds
    ):
        return None
    root = current_root(session, size)
    body = note.format_checkpoint(key.origin, size, root)
    checkpoint = AuditCheckpoint(
        tree_size=size, root_hash=root, note=note.sign_note(body, key.skey), signed_at=now()
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def latest_checkpoint_in(session: Session) -> AuditCheckpoint | None:
    return session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()


def recent_checkpoints(session: Session, count: int = 5) -> list[AuditCheckpoint]:
    """The latest signed checkpoints, newest first (the auditor's home page)."""
    return list(
        session.execute(
            select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(count)
        ).scalars()
    )


def latest_checkpoint() -> AuditCheckpoint | None:
    return latest_checkpoint_in(db.session())


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes
    checkpoint: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "proof": [p.hex() for p in self.proof],
            "root": self.root.hex(),
            "checkpoint": self.checkpoint.decode(),
        }


def prove_inclusion(session: Session, index: int) -> InclusionProof | None:
    """An inclusion proof of leaf ``index`` against the latest checkpoint covering it."""
    checkpoint = latest_checkpoint_in(session)
    if checkpoint is None or not 0 <= index < checkpoint.tree_size:
        return None
    store = NodeStore(session)
    store.prefetch_inclusion(index, checkpoint.tree_size)
    proof = merkle.inclusion_proof(index, checkpoint.tree_size, store)
    leaf = store(0, index)
    merkle.verify_inclusion(index, checkpoint.tree_size, leaf, proof, checkpoint.root_hash)
    return InclusionProof(
        index, checkpoint.tree_size, leaf, proof, checkpoint.root_hash, checkpoint.note
    )


def export_bundle(
    session: Session,
    key: SigningKey,
    out: Path,
    *,
    batch: int = 10_000,
    max_seal_lag_seconds: float | None = None,
) -> int:
    """Write the ledger as an offline-verifiable bundle; return the number of entries.

    The manifest also says how many committed entries were still waiting to be sealed and
    since when, so the verifier fails a bundle exported while sealing had stopped.
    """
    from audit.health import waiting

    latest = latest_checkpoint_in(session)
    covered = latest.tree_size if latest else 0
    unsealed = waiting(session)

    def entries() -> Iterator[bytes]:
        start = 0
        while start < covered:
            rows = (
                session.execute(
                    select(AuditEntry.body)
                    .join(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
                    .where(AuditLeaf.idx >= start, AuditLeaf.idx < min(start + batch, covered))
                    .order_by(AuditLeaf.idx)
                )
                .scalars()
                .all()
            )
            if not rows:
                return
            yield from rows
            start += batch

    def level_hashes(level: int) -> Iterator[bytes]:
        # The complete subtrees of this level within the covered tree, in order.
        count = covered >> level
        start = 0
        while start < count:
            rows = (
                session.execute(
                    select(AuditNode.hash)
                    .where(
                        AuditNode.level == level,
                        AuditNode.idx >= start,
                        AuditNode.idx < min(start + batch, count),
                    )
                    .order_by(AuditNode.idx)
                )
                .scalars()
                .all()
            )
            if not rows:
                return
            yield from rows
            start += batch

    def subtree_hashes() -> Iterator[bytes]:
        level = 1
        while covered >> level:
            yield from level_hashes(level)
            level += 1

    checkpoints = [
        (c.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"), c.note)
        for c in session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).scalars()
    ]
    write_bundle(
        out,
        origin=key.origin,
        entries=entries(),
        leaf_hashes=level_hashes(0),
        checkpoints=checkpoints,
        vkey=key.vkey,
        tree_size=covered,
        subtree_hashes=subtree_hashes(),
        waiting=(unsealed.count, unsealed.oldest_at),
        max_seal_lag_seconds=max_seal_lag_seconds,
    )
    return covered


@dataclass(frozen=True)
class LedgerStatus:
    size: int
    unsealed: int
    checkpoint_size: int
    checkpoint_at: datetime | None
    oldest_unsealed_at: datetime | None


def status(session: Session) -> LedgerStatus:
    """Sizes and sealing lag, for operators and the auditor's page."""
    from audit.health import waiting

    size = tree_size(session)
    # Count and oldest time in one statement: two would each see other entries.
    unsealed = waiting(session)
    last = latest_checkpoint_in(session)
    return LedgerStatus(
        size,
        unsealed.count,
        last.tree_size if last else 0,
        last.signed_at if last else None,
        unsealed.oldest_at,
    )


@dataclass
class SearchFilters:
    case: str = ""
    person: str = ""
    agency: str = ""
    member: str = ""
    action: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    #: The searcher's MARAC area: only entries filed under it, or under no area at all
    #: (hub-wide events such as checkpoints). None searches everything (the CLI).
    area: int | None = None


def _in_area(area: int) -> Any:
    """Entries an auditor of this area may read: filed under the area, or under none."""
    refs = AuditEntryRef.__table__
    mine = exists().where(
        refs.c.entry_id == AuditEntry.id, refs.c.kind == "area", refs.c.ref == str(area)
    )
    anywhere = exists().where(refs.c.entry_id == AuditEntry.id, refs.c.kind == "area")
    return or_(mine, ~anywhere)


@dataclass
class FoundEntry:
    entry_id: int
    index: int | None
    action: str
    at: datetime
    body: bytes
    proven: bool


def search(
    session: Session, filters: SearchFilters, *, limit: int = 200, offset: int = 0
) -> list[FoundEntry]:
    """Find entries by the identifiers they name, action and date; newest first."""
    query = select(AuditEntry, AuditLeaf.idx).outerjoin(
        AuditLeaf, AuditLeaf.entry_id == AuditEntry.id
    )
    for kind, value in (
        ("case", filters.case),
        ("person", filters.person),
        ("agency", filters.agency),
        ("member", filters.member),
    ):
        if value:
            ref = AuditEntryRef.__table__.alias(f"ref_{kind}")
            query = query.join(
                ref,
                and_(
                    ref.c.entry_id == AuditEntry.id, ref.c.kind == kind, ref.c.ref == value.strip()
                ),
            )
    if filters.area is not None:
        query = query.where(_in_area(filters.area))
    if filters.action:
        query = query.where(AuditEntry.action == filters.action.strip())
    if filters.date_from:
        query = query.where(AuditEntry.at >= filters.date_from)
    if filters.date_to:
        query = query.where(AuditEntry.at < filters.date_to)
    rows = session.execute(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    checkpoint = latest_checkpoint_in(session)
    covered = checkpoint.tree_size if checkpoint else 0
    found = []
    for entry, index in rows:
        found.append(
            FoundEntry(
                entry.id,
                index,
                entry.action,
                entry.at,
                entry.body,
                index is not None and index < covered,
            )
        )
    return found


def get_entry(session: Session, entry_id: int, *, area: int | None = None) -> FoundEntry | None:
    query = (
        select(AuditEntry, AuditLeaf.idx)
        .outerjoin(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
        .where(AuditEntry.id == entry_id)
    )
    if area is not None:
        query = query.where(_in_area(area))
    row = session.execute(query).first()
    if row is None:
        return None
    entry, index = row
    checkpoint = latest_checkpoint_in(session)
    covered = checkpoint.tree_size if checkpoint else 0
    return FoundEntry(
        entry.id, index, entry.action, entry.at, entry.body, index is not None and index < covered
    )


def seal(database: db.Database) -> int:
    """Seal what is pending (PostgreSQL); a no-op on SQLite, which seals inline."""
    total = 0
    while True:
        count = seal_pending(database)
        total += count
        if count == 0:
            return total


__all__ = ["AuditSealBatch", "InclusionProof", "LedgerKeyError", "SigningKey"]
