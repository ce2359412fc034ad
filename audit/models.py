"""Ledger tables. All are insert-only: the database refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.clock import now
from hub.core.db import Base

LEDGER_TABLES = (
    "audit_entries",
    "audit_entry_refs",
    "audit_leaves",
    "audit_nodes",
    "audit_seal_batches",
    "audit_checkpoints",
)


class AuditEntry(Base):
    """One recorded event, stored as the exact canonical bytes that are hashed."""

    __tablename__ = "audit_entries"

    #: Insertion order only; the ledger's own order is the dense leaf index.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    #: Canonical JSON (sorted keys, no insignificant whitespace, UTF-8): never re-serialised.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    #: The `subject:verb` action, copied out of the body for searching.
    action: Mapped[str] = mapped_column(String(60), index=True)
    #: When it was recorded (also inside the body).
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    #: PostgreSQL: the inserting transaction's id (xid8 as a number), set by the column's
    #: default (migration 0010; the application role may not write it), so the sealer knows
    #: which entries may still commit. Empty on SQLite, which seals inline.
    txid: Mapped[int | None] = mapped_column(BigInteger, index=True)


class AuditEntryRef(Base):
    """An identifier an entry names (case, person, agency, member), for the auditor's search.

    Derived from the entry itself (audit.ledger.refs_of) and written with it. No foreign
    key: entries can never be deleted, and the key would cost each reference a row lock.
    """

    __tablename__ = "audit_entry_refs"
    __table_args__ = (Index("ix_audit_entry_refs_kind_ref", "kind", "ref"),)

    entry_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    #: case, person, agency, member, referral, meeting, ...
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditLeaf(Base):
    """The dense position of an entry in the Merkle tree: 0, 1, 2, ... with no gaps."""

    __tablename__ = "audit_leaves"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    sealed_at: Mapped[datetime] = mapped_column(default=now)


class AuditNode(Base):
    """A complete subtree hash, stored when it closes (level 0 holds the leaf hashes)."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditSealBatch(Base):
    """One sealing run: which leaves it placed and up to which transaction horizon."""

    __tablename__ = "audit_seal_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_idx: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int]
    #: PostgreSQL: every entry with txid below this was considered (sealed, or rolled back).
    horizon: Mapped[int | None] = mapped_column(BigInteger)
    sealed_at: Mapped[datetime] = mapped_column(default=now)


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint signed note) of the tree at some size."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: The full signed note, exactly as served and exported.
    note: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(default=now)
