"""the referral's own lawful basis for referring to the MARAC

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 21:00:00

A referral to the MARAC is itself a disclosure to the area's coordinator and chair: the
referrer records the Article 6 basis it relies on. Referrals sent before this revision get
their agency sector's usual basis (police: DPA 2018 Part 3; other statutory agencies: public
task; the voluntary sector: legitimate interests).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_basis", sa.String(length=30), nullable=True))
    op.execute(
        "UPDATE referrals SET referral_basis = ("
        "SELECT CASE WHEN agencies.type = 'police' THEN 'dpa2018-part3' "
        "WHEN agencies.sector = 'voluntary' THEN '6(1)(f)' ELSE '6(1)(e)' END "
        "FROM agencies WHERE agencies.id = referrals.referring_agency_id) "
        "WHERE status != 'draft'"
    )


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("referral_basis")
