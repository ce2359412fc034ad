"""the quarterly data return's versions: validated, submitted, corrected

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:25:00

Each version of an area's return for a quarter holds the figures as validated and as sent
(counts per meeting date only), the warnings validation raised, and who sent it and why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarterly_returns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("quarter", sa.String(7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("validated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("validated_by_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=True),
        sa.Column("submitted_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint(
            "area_id", "quarter", "version", name=op.f("uq_quarterly_returns_area_id_quarter_version")
        ),
    )
    op.create_index("ix_quarterly_returns_area_id", "quarterly_returns", ["area_id"])


def downgrade() -> None:
    op.drop_index("ix_quarterly_returns_area_id", table_name="quarterly_returns")
    op.drop_table("quarterly_returns")
