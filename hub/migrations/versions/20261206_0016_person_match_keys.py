"""each person's name keys in a table of their own, for indexed repeat matching

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:40:00

Finding earlier referrals naming the same people searched ``people.match_key`` with
``LIKE '% key %'``, which no index serves: every submission read every person the area ever
recorded. Each key now has a row, indexed by area and key. Existing people get theirs from
their stored match_key (its keys, words joined by "+", separated by spaces).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_match_keys",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["marac_areas.id"],
            name=op.f("fk_person_match_keys_area_id_marac_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_match_keys_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "key", name=op.f("pk_person_match_keys")),
    )
    op.create_index("ix_person_match_keys_area_key", "person_match_keys", ["area_id", "key"])
    people = sa.table(
        "people",
        sa.column("id", sa.Integer),
        sa.column("area_id", sa.Integer),
        sa.column("match_key", sa.String),
    )
    keys = sa.table(
        "person_match_keys",
        sa.column("person_id", sa.Integer),
        sa.column("key", sa.String),
        sa.column("area_id", sa.Integer),
    )
    connection = op.get_bind()
    rows = []
    for person_id, area_id, stored in connection.execute(
        sa.select(people.c.id, people.c.area_id, people.c.match_key)
    ):
        for key in sorted(set((stored or "").split())):
            rows.append({"person_id": person_id, "key": key.replace("+", " "), "area_id": area_id})
            if len(rows) >= 5000:
                connection.execute(keys.insert(), rows)
                rows = []
    if rows:
        connection.execute(keys.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_person_match_keys_area_key", table_name="person_match_keys")
    op.drop_table("person_match_keys")
