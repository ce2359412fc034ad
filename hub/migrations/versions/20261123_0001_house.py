"""house: areas, agencies, members, sign-in, ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-23 01:28:09.936270
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoints_tree_size"), ["tree_size"], unique=False
        )

    op.create_table(
        "audit_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_action"), ["action"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_entries_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_entries_txid"), ["txid"], unique=False
        )

    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_nodes")),
    )
    op.create_table(
        "audit_seal_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_idx", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=True),
        sa.Column("sealed_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seal_batches")),
    )
    op.create_table(
        "marac_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("meeting_cadence", sa.String(length=20), nullable=False),
        sa.Column("escalation_threshold", sa.Integer(), nullable=False),
        sa.Column("agenda_cutoff_days", sa.Integer(), nullable=False),
        sa.Column("band_standard_max", sa.Integer(), nullable=False),
        sa.Column("band_medium_max", sa.Integer(), nullable=False),
        sa.Column("high_risk_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marac_areas")),
        sa.UniqueConstraint("name", name=op.f("uq_marac_areas_name")),
    )
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("sector", sa.String(length=20), nullable=False),
        sa.Column("isp_signed_on", sa.Date(), nullable=True),
        sa.Column("isp_signed_by", sa.String(length=160), nullable=True),
        sa.Column("isp_review_due_on", sa.Date(), nullable=True),
        sa.Column("email_domains", sa.String(length=500), nullable=False),
        sa.Column("disabled_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["marac_areas.id"],
            name=op.f("fk_agencies_area_id_marac_areas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("area_id", "name", name=op.f("uq_agencies_area_id_name")),
    )
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agencies_area_id"), ["area_id"], unique=False
        )

    op.create_table(
        "audit_entry_refs",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_audit_entry_refs_entry_id_audit_entries"),
        ),
        sa.PrimaryKeyConstraint(
            "entry_id", "kind", "ref", name=op.f("pk_audit_entry_refs")
        ),
    )
    with op.batch_alter_table("audit_entry_refs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_entry_refs_kind_ref", ["kind", "ref"], unique=False
        )

    op.create_table(
        "audit_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("sealed_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_audit_leaves_entry_id_audit_entries"),
        ),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_leaves_entry_id")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("job_title", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_signed_in_at", hub.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_members_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("email", name=op.f("uq_members_email")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_members_agency_id"), ["agency_id"], unique=False
        )

    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_invitations_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitations_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "local_credentials",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column(
            "totp_confirmed_at", hub.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until", hub.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column(
            "password_changed_at",
            hub.core.db.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_local_credentials_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_local_credentials")),
    )
    op.create_table(
        "member_roles",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_roles_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "role", name=op.f("pk_member_roles")),
    )
    op.create_table(
        "member_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "authenticated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_seen_at", hub.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("ended_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("idp_id", sa.Integer(), nullable=True),
        sa.Column("id_token_hint", sa.String(length=4000), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_sessions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_sessions")),
    )
    with op.batch_alter_table("member_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_sessions_member_id"), ["member_id"], unique=False
        )
    create_ledger_guards()


LEDGER_TABLES = (
    "audit_entries",
    "audit_entry_refs",
    "audit_leaves",
    "audit_nodes",
    "audit_seal_batches",
    "audit_checkpoints",
)


def create_ledger_guards() -> None:
    """Make the database itself refuse UPDATE, DELETE and TRUNCATE on ledger tables."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
    else:
        # SQLite has no TRUNCATE; its DELETE without WHERE fires the delete trigger.
        for table in LEDGER_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {verb} on {table} "
                    "refused'); END"
                )


def drop_ledger_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LEDGER_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
    else:
        for table in LEDGER_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def downgrade() -> None:
    drop_ledger_guards()
    with op.batch_alter_table("member_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_sessions_member_id"))

    op.drop_table("member_sessions")
    op.drop_table("member_roles")
    op.drop_table("local_credentials")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_member_id"))

    op.drop_table("invitations")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_agency_id"))

    op.drop_table("members")
    op.drop_table("audit_leaves")
    with op.batch_alter_table("audit_entry_refs", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_refs_kind_ref")

    op.drop_table("audit_entry_refs")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agencies_area_id"))

    op.drop_table("agencies")
    op.drop_table("marac_areas")
    op.drop_table("audit_seal_batches")
    op.drop_table("audit_nodes")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_txid"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_at"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_action"))

    op.drop_table("audit_entries")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_tree_size"))

    op.drop_table("audit_checkpoints")
