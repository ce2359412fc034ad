"""Restriction of processing (UK GDPR Art. 18) on a case

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 00:50:00

While a case is restricted, the gate discloses it to nobody but its area's coordinator and
the data protection officer answering a subject access request. The ground is one of the
four in Art. 18(1); the officer's note stays here, never in the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = hub.core.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("restricted_at", when, nullable=True))
        batch.add_column(sa.Column("restricted_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("restriction_ground", sa.String(30), nullable=True))
        batch.add_column(
            sa.Column("restriction_note", sa.Text(), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            "fk_referrals_restricted_by_id_members", "members", ["restricted_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_constraint("fk_referrals_restricted_by_id_members", type_="foreignkey")
        for column in ("restriction_note", "restriction_ground", "restricted_by_id"):
            batch.drop_column(column)
        batch.drop_column("restricted_at")
