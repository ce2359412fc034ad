"""need-to-know grants: why an agency needs to know a case, as rows the gate reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:00:00

Before this, an invited agency's need to know came from a callback that meetings registered
with the gate at import time, so a process that never imported meetings decided otherwise.
The grants are backfilled from the existing shares and from every circulated agenda.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "need_to_know_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_need_to_know_grants_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_need_to_know_grants_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["members.id"],
            name=op.f("fk_need_to_know_grants_granted_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_to_know_grants")),
        sa.UniqueConstraint(
            "referral_id",
            "agency_id",
            "kind",
            "source",
            name=op.f("uq_need_to_know_grants_referral_id_agency_id_kind_source"),
        ),
    )
    op.create_index(
        op.f("ix_need_to_know_grants_referral_id"), "need_to_know_grants", ["referral_id"]
    )
    op.create_index(op.f("ix_need_to_know_grants_agency_id"), "need_to_know_grants", ["agency_id"])
    op.execute(
        "INSERT INTO need_to_know_grants "
        "(referral_id, agency_id, kind, purpose, source, granted_by_id, granted_at) "
        "SELECT referral_id, agency_id, 'shared', purpose, 'share:' || id, shared_by_id, "
        "shared_at FROM referral_shares"
    )
    op.execute(
        "INSERT INTO need_to_know_grants "
        "(referral_id, agency_id, kind, purpose, source, granted_by_id, granted_at) "
        "SELECT DISTINCT a.referral_id, i.agency_id, 'invited', 'marac', "
        "'meeting:' || i.meeting_id, i.invited_by_id, i.invited_at "
        "FROM meeting_invitations i JOIN agenda_items a ON a.meeting_id = i.meeting_id "
        "JOIN meetings m ON m.id = i.meeting_id WHERE m.circulated_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_need_to_know_grants_agency_id"), table_name="need_to_know_grants")
    op.drop_index(op.f("ix_need_to_know_grants_referral_id"), table_name="need_to_know_grants")
    op.drop_table("need_to_know_grants")
