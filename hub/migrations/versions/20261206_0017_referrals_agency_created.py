"""an index for the agency's referral list, newest first

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:10:00

The list of an agency's referrals is read a page at a time, newest first
(``created_at DESC, id DESC``); without this index every page sorted all the agency's
referrals ever made.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_referrals_agency_created", "referrals", ["referring_agency_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_referrals_agency_created", table_name="referrals")
