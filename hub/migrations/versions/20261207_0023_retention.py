"""Retention: each area's policy versions, the review queue, legal holds, erasures

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:40:00

A policy version per area (a period, trigger and action per record class); the queue of
record classes whose period has ended (case named by id and reference, no foreign key, so
the row outlives the case it destroyed); legal holds on cases; and the record that a case
was erased, under which policy version and when.

Indexes on the foreign keys that point at a referral, an agenda item or a task and had
none: deleting a referral made PostgreSQL scan every table that may point at it, once per
row, so destroying 1,000 cases read the referrals table 2,000 times.
"""


from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

#: (table, column) of the foreign keys indexed here.
FOREIGN_KEYS = [
    ("referrals", "previous_referral_id"),
    ("referrals", "counter_allegation_id"),
    ("repeat_reviews", "earlier_id"),
    ("possible_repeats", "earlier_id"),
    ("agenda_items", "deferred_from_item_id"),
    ("meeting_actions", "task_id"),
    ("transfers", "new_referral_id"),
]


def upgrade() -> None:
    when = hub.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint("area_id", "version"),
    )
    op.create_index("ix_retention_policies_area_id", "retention_policies", ["area_id"])
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("record_class", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sar_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(30), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("queued_at", when, nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("decided_at", when, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("extended_until", sa.Date(), nullable=True),
        sa.Column("destroyed_at", when, nullable=True),
        sa.UniqueConstraint("area_id", "record_class", "case_id", "sar_id"),
    )
    op.create_index(
        "ix_retention_reviews_area_status", "retention_reviews", ["area_id", "status"]
    )
    op.create_table(
        "retention_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("set_at", when, nullable=False),
        sa.Column("lifted_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("lifted_at", when, nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_retention_holds_area_id", "retention_holds", ["area_id"])
    op.create_index("ix_retention_holds_case_id", "retention_holds", ["case_id"])
    op.create_table(
        "retention_erasures",
        sa.Column("case_id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("reference", sa.String(30), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("erased_at", when, nullable=False),
    )
    op.create_index("ix_retention_erasures_area_id", "retention_erasures", ["area_id"])
    op.create_index("ix_retention_erasures_reference", "retention_erasures", ["reference"])
    for table, column in FOREIGN_KEYS:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in FOREIGN_KEYS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in ("retention_erasures", "retention_holds", "retention_reviews"):
        op.drop_table(table)
    op.drop_table("retention_policies")
