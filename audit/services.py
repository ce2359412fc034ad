"""Ledger queries for pages and commands: sizes, checkpoints, proofs."""

from __future__ import annotations

from sqlalchemy import select

from audit.ledger import tree_size
from audit.models import AuditCheckpoint
from hub.core.db import session


def current_size() -> int:
    return tree_size(session())


def latest_checkpoint() -> AuditCheckpoint | None:
    return session().execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
