"""the quarterly data return's settings per area

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:20:00

Where each agency type's referrals are counted in the SafeLives return, the repeat
definition in use, the adult female population with its source and year, and the national
figures for comparison with their date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "return_settings",
        sa.Column(
            "area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), primary_key=True
        ),
        sa.Column("agency_categories", sa.JSON(), nullable=False),
        sa.Column("repeat_definition", sa.String(30), nullable=False),
        sa.Column("female_population", sa.Integer(), nullable=True),
        sa.Column("population_source", sa.String(200), nullable=False),
        sa.Column("population_year", sa.Integer(), nullable=True),
        sa.Column("national", sa.JSON(), nullable=False),
        sa.Column("national_as_of", sa.Date(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=True),
        sa.Column("updated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("return_settings")
