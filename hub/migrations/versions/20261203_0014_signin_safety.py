"""sign-in safety: provider client authentication and claims seen, enrolment secrets kept on
the server, reset requests approved by the member's agency

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "token_auth_method",
                sa.String(length=30),
                nullable=False,
                server_default="client_secret_basic",
            )
        )
        batch_op.add_column(
            sa.Column("assertion_alg", sa.String(length=10), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("auth_params", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column(
                "email_verification", sa.String(length=20), nullable=False, server_default="claim"
            )
        )

    op.create_table(
        "identity_provider_claims",
        sa.Column("idp_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_names", sa.JSON(), nullable=False),
        sa.Column("role_values", sa.JSON(), nullable=False),
        sa.Column("nested_keys", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["identity_providers.id"],
            name=op.f("fk_identity_provider_claims_idp_id_identity_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("idp_id", name=op.f("pk_identity_provider_claims")),
    )

    with op.batch_alter_table("local_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_pending_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("totp_pending_at", hub.core.db.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "credential_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_credential_resets_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["members.id"],
            name=op.f("fk_credential_resets_requested_by_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["members.id"],
            name=op.f("fk_credential_resets_decided_by_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_resets")),
    )
    with op.batch_alter_table("credential_resets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_resets_member_id"), ["member_id"], unique=False
        )

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=10), nullable=False, server_default="new")
        )
        batch_op.add_column(sa.Column("reset_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invitations_reset_id_credential_resets"),
            "credential_resets",
            ["reset_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_invitations_reset_id_credential_resets"), type_="foreignkey"
        )
        batch_op.drop_column("reset_id")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("credential_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_resets_member_id"))
    op.drop_table("credential_resets")
    with op.batch_alter_table("local_credentials", schema=None) as batch_op:
        batch_op.drop_column("totp_pending_at")
        batch_op.drop_column("totp_pending_secret")
    op.drop_table("identity_provider_claims")
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.drop_column("email_verification")
        batch_op.drop_column("auth_params")
        batch_op.drop_column("assertion_alg")
        batch_op.drop_column("token_auth_method")
