"""to-do lists: versioned agency templates, tasks and their history, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:10:36.634109
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("last_digest_on", sa.Date(), nullable=True),
        sa.Column("updated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_notification_preferences_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "todo_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("based_on", sa.String(length=200), nullable=False),
        sa.Column("change", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_todo_templates_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["members.id"], name=op.f("fk_todo_templates_created_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_templates")),
        sa.UniqueConstraint(
            "agency_id", "version", name=op.f("uq_todo_templates_agency_id_version")
        ),
    )
    with op.batch_alter_table("todo_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_todo_templates_agency_id"), ["agency_id"], unique=False
        )

    op.create_table(
        "todo_template_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("due_in_working_days", sa.Integer(), nullable=False),
        sa.Column("priority_rule", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("to_queue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["todo_templates.id"],
            name=op.f("fk_todo_template_items_template_id_todo_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_template_items")),
        sa.UniqueConstraint(
            "template_id", "key", name=op.f("uq_todo_template_items_template_id_key")
        ),
    )
    with op.batch_alter_table("todo_template_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_todo_template_items_template_id"), ["template_id"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_member_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_key", sa.String(length=160), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("template_item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_tasks_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["members.id"], name=op.f("fk_tasks_created_by_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["owner_member_id"], ["members.id"], name=op.f("fk_tasks_owner_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_tasks_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["todo_templates.id"], name=op.f("fk_tasks_template_id_todo_templates")
        ),
        sa.ForeignKeyConstraint(
            ["template_item_id"],
            ["todo_template_items.id"],
            name=op.f("fk_tasks_template_item_id_todo_template_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("agency_id", "source_key", name=op.f("uq_tasks_agency_id_source_key")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_agency_state_due", ["agency_id", "state", "due_on"], unique=False
        )
        batch_op.create_index(
            "ix_tasks_owner_state_due", ["owner_member_id", "state", "due_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tasks_referral_id"), ["referral_id"], unique=False)
        batch_op.create_index("ix_tasks_state_due", ["state", "due_on"], unique=False)
        batch_op.create_index(
            "ix_tasks_queue",
            ["agency_id", "state", "due_on"],
            unique=False,
            postgresql_where=sa.text("owner_member_id IS NULL"),
            sqlite_where=sa.text("owner_member_id IS NULL"),
        )

    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_task_events_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_events_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_events")),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_events_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hub.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", hub.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_task_notifications_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_notifications_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_notifications")),
    )
    with op.batch_alter_table("task_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_notifications_member_sent", ["member_id", "sent_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_task_notifications_task_id"), ["task_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("task_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_notifications_task_id"))
        batch_op.drop_index("ix_task_notifications_member_sent")

    op.drop_table("task_notifications")
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_events_task_id"))

    op.drop_table("task_events")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_queue")
        batch_op.drop_index("ix_tasks_state_due")
        batch_op.drop_index(batch_op.f("ix_tasks_referral_id"))
        batch_op.drop_index("ix_tasks_owner_state_due")
        batch_op.drop_index("ix_tasks_agency_state_due")

    op.drop_table("tasks")
    with op.batch_alter_table("todo_template_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_todo_template_items_template_id"))

    op.drop_table("todo_template_items")
    with op.batch_alter_table("todo_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_todo_templates_agency_id"))

    op.drop_table("todo_templates")
    op.drop_table("notification_preferences")
