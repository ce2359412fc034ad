"""possible repeats found at submission, so lists never match the area's history again

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:00:00

Referrals submitted before this revision have no stored candidates: the hub had no live
deployment when it was written, and the coordinator's earlier answers are kept as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "possible_repeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("earlier_id", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_possible_repeats_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["earlier_id"],
            ["referrals.id"],
            name=op.f("fk_possible_repeats_earlier_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_possible_repeats")),
        sa.UniqueConstraint(
            "referral_id", "earlier_id", name=op.f("uq_possible_repeats_referral_id_earlier_id")
        ),
    )
    op.create_index(
        op.f("ix_possible_repeats_referral_id"), "possible_repeats", ["referral_id"]
    )
    # Matching by identifiers and dates of birth, bounded by the area and the 12-month window.
    op.create_index("ix_people_area_nhs", "people", ["area_id", "nhs_number"])
    op.create_index("ix_people_area_police", "people", ["area_id", "police_person_id"])
    op.create_index("ix_referrals_area_referred_on", "referrals", ["area_id", "referred_on"])


def downgrade() -> None:
    op.drop_index("ix_referrals_area_referred_on", table_name="referrals")
    op.drop_index("ix_people_area_police", table_name="people")
    op.drop_index("ix_people_area_nhs", table_name="people")
    op.drop_index(op.f("ix_possible_repeats_referral_id"), table_name="possible_repeats")
    op.drop_table("possible_repeats")
