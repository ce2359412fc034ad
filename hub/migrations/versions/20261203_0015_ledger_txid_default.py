"""ledger entries take their transaction id from the column's default

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:00:00

On PostgreSQL the sealer trusts each entry's txid to know when its transaction has ended.
The default stamps it, and the application role is granted INSERT on the other columns
only (`hub db grant`), so the application cannot file an entry under another transaction
(one that would never be sealed). SQLite seals inline and keeps the column empty.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE audit_entries ALTER COLUMN txid "
            "SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_entries ALTER COLUMN txid DROP DEFAULT")
