"""To-do templates (versioned, per agency), tasks, their history, and notification rows.

A task points at a case by a foreign key to the table ``referrals`` by name. Who may learn
of a task about a case, and what of it they see, is the gate's to decide: the lists filter
in the query (``todo.visibility``), and a task's wording from a meeting action and its
members' notes reach a page only through ``todo.presenter``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.clock import now
from hub.core.db import Base, Code
from todo.codes import (
    ACTIVE_STATE_VALUES,
    ACTIVE_STATES,
    STATE_LABELS,
    NotificationMode,
    Priority,
    TaskSource,
    TaskState,
    Trigger,
)

__all__ = [
    "ACTIVE_STATES",
    "ACTIVE_STATE_VALUES",
    "STATE_LABELS",
    "NotificationMode",
    "NotificationPreference",
    "Priority",
    "Task",
    "TaskEvent",
    "TaskNotification",
    "TaskSource",
    "TaskState",
    "TodoTemplate",
    "TodoTemplateItem",
    "Trigger",
]


class TodoTemplate(Base):
    """One version of an agency's to-do template. Every change makes a new version."""

    __tablename__ = "todo_templates"
    __table_args__ = (UniqueConstraint("agency_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The agency whose template this is.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: 1, 2, 3, ... per agency; the highest is in force.
    version: Mapped[int]
    #: The shipped template(s) the first version was copied from, e.g. "police@1".
    based_on: Mapped[str] = mapped_column(String(200), default="")
    #: What changed from the previous version, in a few words (no case data).
    change: Mapped[str] = mapped_column(String(200), default="")
    #: Who made this version (empty for the version the hub made from the shipped template).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    items: Mapped[list[TodoTemplateItem]] = relationship(
        cascade="all, delete-orphan", order_by="TodoTemplateItem.position", lazy="selectin"
    )


class TodoTemplateItem(Base):
    """One item of one template version."""

    __tablename__ = "todo_template_items"
    __table_args__ = (UniqueConstraint("template_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("todo_templates.id", ondelete="CASCADE"), index=True
    )
    #: Order on the list, from 0.
    position: Mapped[int]
    #: Stable across versions ("police.safety_plan", "custom.3f2a9c"): one task per item per
    #: case, whatever version made it.
    key: Mapped[str] = mapped_column(String(60))
    #: What to do, in a line; generic wording, never case details.
    title: Mapped[str] = mapped_column(String(200))
    #: Trigger values this item answers.
    triggers: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Conditions: {"unless_agency_types": [...], "only_if": [...], "unless": [...],
    #: "agency_types": [...]}; see todo.catalogue.applies.
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Due this many working days after the trigger.
    due_in_working_days: Mapped[int] = mapped_column(default=5)
    #: Priority by risk band: {"default": "normal", "high": "urgent"}.
    priority_rule: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: Where the item comes from (seed file or practice-file source key), or "agency".
    source: Mapped[str] = mapped_column(String(200), default="")
    #: Always to the agency's queue, even when the trigger names an owner (front desk work).
    to_queue: Mapped[bool] = mapped_column(default=False)


class Task(Base):
    """Something an agency has to do, owned by a member or waiting in the agency's queue."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("agency_id", "source_key"),
        # My list: a member's tasks by state, soonest first.
        Index("ix_tasks_owner_state_due", "owner_member_id", "state", "due_on"),
        # The agency's queue and its overdue list.
        Index("ix_tasks_agency_state_due", "agency_id", "state", "due_on"),
        # The scheduler's reminder and escalation sweeps.
        Index("ix_tasks_state_due", "state", "due_on"),
        # The agency's queue: only unowned tasks, so counting and listing it stays small.
        Index(
            "ix_tasks_queue",
            "agency_id",
            "state",
            "due_on",
            postgresql_where=text("owner_member_id IS NULL"),
            sqlite_where=text("owner_member_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The agency that must do it; a task never moves to another agency.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    #: The member doing it; empty while it waits in the agency's queue.
    owner_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: The case (a referral), by table name; empty for tasks about no one case.
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[TaskSource] = mapped_column(Code(TaskSource, 20))
    #: Makes generation idempotent within the agency: "tpl:<case>:<item key>",
    #: "rule:<rule key>", or the caller's key for a meeting action.
    source_key: Mapped[str | None] = mapped_column(String(160))
    #: The template version and item that made it, when a template did.
    template_id: Mapped[int | None] = mapped_column(ForeignKey("todo_templates.id"))
    template_item_id: Mapped[int | None] = mapped_column(ForeignKey("todo_template_items.id"))
    #: What to do, in a line: the template's or the hub's wording, or a meeting action's
    #: (minutes: shown only where the gate discloses the case's minutes, see todo.presenter).
    title: Mapped[str] = mapped_column(String(200))
    #: More detail (a meeting action's wording): minutes, for a task about a case.
    details: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date]
    #: One of Priority.
    priority: Mapped[Priority] = mapped_column(Code(Priority, 10), default=Priority.NORMAL)
    #: One of TaskState.
    state: Mapped[TaskState] = mapped_column(Code(TaskState, 40), default=TaskState.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    #: When it left the active states (done, not possible, not done).
    closed_at: Mapped[datetime | None]
    #: When the due-date reminder went out (once per due date: moving the date clears it).
    reminded_at: Mapped[datetime | None]
    #: When it was escalated to the agency's MARAC representatives as overdue (once).
    escalated_at: Mapped[datetime | None]
    #: Optimistic lock: an edit made against an older version is refused, never merged.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def task_state(self) -> TaskState:
        return TaskState(self.state)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATE_VALUES


class TaskEvent(Base):
    """One line of a task's history: created, a note, a change, a reminder, an escalation."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=now)
    #: The member who did it; empty for the hub itself (scheduler, system rules).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: created, noted, updated, reassigned, taken, reminded, escalated.
    kind: Mapped[str] = mapped_column(String(20))
    #: A note written by a member: the agency's own (research), shown only to its members,
    #: and for a task about a case only to those who may know it.
    note: Mapped[str] = mapped_column(Text, default="")
    #: What changed: {"state": ["open", "done"], "owner": [3, 7], ...}; ids and codes only.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class NotificationPreference(Base):
    """How a member wants task e-mails: one per event, or one digest a day."""

    __tablename__ = "notification_preferences"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    #: One of NotificationMode.
    mode: Mapped[NotificationMode] = mapped_column(
        Code(NotificationMode, 10), default=NotificationMode.EACH
    )
    #: The London date of the last digest sent, so each day gets at most one.
    last_digest_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class TaskNotification(Base):
    """One notification owed to a member; sent at once, or gathered into the daily digest.

    Holds only a kind and ids: the e-mail itself carries a generic sentence and a link.
    """

    __tablename__ = "task_notifications"
    __table_args__ = (Index("ix_task_notifications_member_sent", "member_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    #: reminder, escalation, assigned.
    kind: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    #: When it was handed to the mail server (alone, or in a digest); empty while waiting.
    sent_at: Mapped[datetime | None]
