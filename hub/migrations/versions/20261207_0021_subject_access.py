"""subject access requests and their redactions

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:05:00

A request (requester, subject, identity check, received and due dates, status, the
perpetrator review) and the officer's redaction decisions, each with an exemption code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = hub.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "subject_access_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area_id", sa.Integer(), sa.ForeignKey("marac_areas.id"), nullable=False),
        sa.Column("requester_name", sa.String(200), nullable=False),
        sa.Column("requester_capacity", sa.String(120), nullable=False),
        sa.Column("subject_given_name", sa.String(120), nullable=False),
        sa.Column("subject_family_name", sa.String(120), nullable=False),
        sa.Column("subject_born_on", sa.Date(), nullable=True),
        sa.Column("subject_person_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=False),
        sa.Column("extended_at", when, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("identity_checked_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("identity_method", sa.Text(), nullable=False),
        sa.Column("identity_checked_at", when, nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=False),
        sa.Column("is_perpetrator", sa.Boolean(), nullable=False),
        sa.Column("dpo_reviewed_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("dpo_reviewed_at", when, nullable=True),
        sa.Column("chair_reviewer_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("produced_at", when, nullable=True),
        sa.Column("sent_at", when, nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("created_at", when, nullable=False),
    )
    op.create_index(
        "ix_subject_access_requests_area_id", "subject_access_requests", ["area_id"]
    )
    op.create_index(
        "ix_subject_access_requests_subject_person_id",
        "subject_access_requests",
        ["subject_person_id"],
    )
    op.create_table(
        "subject_access_redactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("subject_access_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item_key", sa.String(120), nullable=False),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("exemption", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("members.id")),
        sa.Column("decided_at", when, nullable=False),
        sa.UniqueConstraint(
            "request_id", "item_key", name=op.f("uq_subject_access_redactions_request_id_item_key")
        ),
    )
    op.create_index(
        "ix_subject_access_redactions_request_id", "subject_access_redactions", ["request_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_subject_access_redactions_request_id", table_name="subject_access_redactions")
    op.drop_table("subject_access_redactions")
    op.drop_index(
        "ix_subject_access_requests_subject_person_id", table_name="subject_access_requests"
    )
    op.drop_index("ix_subject_access_requests_area_id", table_name="subject_access_requests")
    op.drop_table("subject_access_requests")
