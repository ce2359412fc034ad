"""identity providers: agencies' own sign-in, federated identities, API clients

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:50:14.696909
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_env", sa.String(length=100), nullable=True),
        sa.Column("client_secret_file", sa.String(length=500), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("roles_claim", sa.String(length=200), nullable=False),
        sa.Column("role_mapping", sa.JSON(), nullable=False),
        sa.Column("email_domains", sa.String(length=500), nullable=False),
        sa.Column("trust_role_mapping", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"],
            name=op.f("fk_identity_providers_agency_id_agencies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_identity_providers_agency_id")),
    )

    op.create_table(
        "federated_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("idp_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("suggested_roles", sa.String(length=200), nullable=False),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_signed_in_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["idp_id"], ["identity_providers.id"],
            name=op.f("fk_federated_identities_idp_id_identity_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"],
            name=op.f("fk_federated_identities_member_id_members"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identities")),
        sa.UniqueConstraint(
            "issuer", "subject", name=op.f("uq_federated_identities_issuer_subject")
        ),
    )
    with op.batch_alter_table("federated_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federated_identities_idp_id"), ["idp_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_federated_identities_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("disabled_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_api_clients_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint(
            "agency_id", "client_id", name=op.f("uq_api_clients_agency_id_client_id")
        ),
    )
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_clients_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "oidc_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idp_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("return_to", sa.String(length=500), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["idp_id"], ["identity_providers.id"],
            name=op.f("fk_oidc_requests_idp_id_identity_providers"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"],
            name=op.f("fk_oidc_requests_member_id_members"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_requests")),
    )


def downgrade() -> None:
    op.drop_table("oidc_requests")
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_clients_agency_id"))
    op.drop_table("api_clients")
    with op.batch_alter_table("federated_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federated_identities_member_id"))
        batch_op.drop_index(batch_op.f("ix_federated_identities_idp_id"))
    op.drop_table("federated_identities")
    op.drop_table("identity_providers")
