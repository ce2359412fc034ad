"""ledger search references without a foreign key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:10:00

The foreign key protected nothing (entries can never be deleted: the guards refuse it) and
cost each reference of every disclosure a row lock on its entry.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FK = "fk_audit_entry_refs_entry_id_audit_entries"


def _sqlite_guards() -> None:
    # SQLite rebuilds the table to change a constraint, and the rebuild drops its triggers.
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_entry_refs_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER audit_entry_refs_no_{verb.lower()} BEFORE {verb} ON audit_entry_refs "
            f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {verb} on audit_entry_refs "
            "refused'); END"
        )


def upgrade() -> None:
    with op.batch_alter_table("audit_entry_refs", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_guards()


def downgrade() -> None:
    with op.batch_alter_table("audit_entry_refs", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "audit_entries", ["entry_id"], ["id"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_guards()
