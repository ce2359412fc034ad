"""meeting actions keep their task's state

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:00:00

The to-do lists moved above meetings in the import order; the review of outstanding actions
reads the task's state from the action instead of reaching up into the to-do tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("task_state", sa.String(length=40), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE meeting_actions SET task_state = "
        "(SELECT tasks.state FROM tasks WHERE tasks.id = meeting_actions.task_id) "
        "WHERE task_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("meeting_actions", schema=None) as batch_op:
        batch_op.drop_column("task_state")
