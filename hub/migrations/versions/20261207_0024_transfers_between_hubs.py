"""Transfers between hubs: the other hub and area, the sealed package and its receipt

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 23:45:00

A transfer to or from another hub has no local area (or old case) on one side: those
columns may be empty, and the other hub's identifier and area name are kept instead, with
the package's identifier (unique: a replayed package is refused), the sealed package as
sent and the signed receipt the receiving hub answered with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = hub.core.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("transfers") as batch:
        batch.alter_column("referral_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("from_area_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("to_area_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("peer_hub", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("peer_area", sa.String(120), nullable=False, server_default=""))
        batch.add_column(sa.Column("package_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("package", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("receipt", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("receipt_at", when, nullable=True))
        batch.create_index("ix_transfers_package_id", ["package_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_index("ix_transfers_package_id")
        for column in ("receipt_at", "receipt", "package", "package_id", "peer_area", "peer_hub"):
            batch.drop_column(column)
