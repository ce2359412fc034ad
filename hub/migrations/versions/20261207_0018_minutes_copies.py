"""who holds which revision of a meeting's minutes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 01:10:00

Each download of approved minutes is kept as a copy held (member, agency, revision, the
cases it held), so that an amendment tells exactly the people with an earlier copy to
replace it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_minutes_copies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meeting_id",
            sa.Integer(),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("downloaded_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_meeting_minutes_copies_meeting_id", "meeting_minutes_copies", ["meeting_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_meeting_minutes_copies_meeting_id", table_name="meeting_minutes_copies")
    op.drop_table("meeting_minutes_copies")
