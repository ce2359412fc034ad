"""MARAC-to-MARAC transfers inside one hub

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:30:00

A transfer: the old case, from and to areas, reason, the two SafeLives branch questions,
status with the date and actor of each step, the pack as sent, the new case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = hub.core.db.UTCDateTime(timezone=True)
    members = sa.ForeignKey("members.id")
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("referral_id", sa.Integer(), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("from_area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("to_area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("heard_here", sa.Boolean(), nullable=False),
        sa.Column("agenda_circulated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pack", sa.JSON(), nullable=False),
        sa.Column("new_referral_id", sa.Integer(), sa.ForeignKey("referrals.id")),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("created_by_id", sa.Integer(), members),
        sa.Column("sent_at", when, nullable=True),
        sa.Column("sent_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("acknowledged_at", when, nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("listed_at", when, nullable=True),
        sa.Column("listed_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("listed_meeting_id", sa.Integer(), sa.ForeignKey("meetings.id")),
        sa.Column("heard_at", when, nullable=True),
        sa.Column("closed_at", when, nullable=True),
        sa.Column("declined_at", when, nullable=True),
        sa.Column("declined_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("kind", sa.String(20), nullable=False),
    )
    for column in ("referral_id", "from_area_id", "to_area_id", "status"):
        op.create_index(f"ix_transfers_{column}", "transfers", [column])


def downgrade() -> None:
    op.drop_table("transfers")
