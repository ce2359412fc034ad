"""Reading the ledger in tests: what an entry says, by the identifiers it names."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from audit.models import AuditEntry, AuditEntryRef
from hub.core import db


def entries_naming(kind: str, ref: int | str, action: str | None = None) -> list[dict[str, Any]]:
    """Every entry filed under an identifier (as the auditor's search finds them)."""
    with db.unit_of_work() as uow:
        query = (
            select(AuditEntry.body)
            .join(AuditEntryRef, AuditEntryRef.entry_id == AuditEntry.id)
            .where(AuditEntryRef.kind == kind, AuditEntryRef.ref == str(ref))
            .order_by(AuditEntry.id)
        )
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return [json.loads(body) for body in uow.session.execute(query).scalars()]


def refusals_of(member_id: int, case_id: int) -> int:
    """How many refusals of this case to this member the ledger holds."""
    return sum(
        1
        for entry in entries_naming("member", member_id, "access:denied")
        if entry.get("case") == case_id
    )
