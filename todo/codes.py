"""The to-do lists' codes: task states, sources, priorities, triggers, notification modes.

Plain enums with no database: the pages and forms use them without touching the models.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task stands; the last two follow the MARAC minutes checklist's distinction."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    #: Could not be done because the circumstances changed (e.g. the victim moved away).
    NOT_POSSIBLE = "not_possible_circumstances_changed"
    #: The agency did not do it.
    NOT_DONE = "not_done"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


STATE_LABELS = {
    TaskState.OPEN: "Open",
    TaskState.IN_PROGRESS: "In progress",
    TaskState.DONE: "Done",
    TaskState.NOT_POSSIBLE: "Not possible: circumstances changed",
    TaskState.NOT_DONE: "Not done",
}
ACTIVE_STATES = (TaskState.OPEN, TaskState.IN_PROGRESS)
ACTIVE_STATE_VALUES = tuple(s.value for s in ACTIVE_STATES)


class TaskSource(StrEnum):
    """What made a task."""

    TEMPLATE_ITEM = "template_item"
    MEETING_ACTION = "meeting_action"
    SYSTEM_RULE = "system_rule"

    @property
    def label(self) -> str:
        return {
            "template_item": "Agency to-do template",
            "meeting_action": "MARAC action",
            "system_rule": "Reminder from the hub",
        }[self.value]


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Trigger(StrEnum):
    """When an agency's template makes tasks."""

    #: The agency's referral was accepted for the MARAC (the referring agency).
    REFERRAL_ACCEPTED = "referral_accepted"
    #: The agency was given the case: shared with it, or invited to a meeting with it on the
    #: agenda.
    CASE_SHARED = "case_shared"
    #: The agency serves both victim and perpetrator and has set up a conflict wall: tasks for
    #: the perpetrator's caseworker and for front desk and security.
    CONFLICT_WALL = "conflict_wall"

    @property
    def label(self) -> str:
        return {
            "referral_accepted": "Referral accepted",
            "case_shared": "Case given to the agency",
            "conflict_wall": "Agency serves the perpetrator too",
        }[self.value]


class NotificationMode(StrEnum):
    EACH = "each"
    DIGEST = "digest"

    @property
    def label(self) -> str:
        return {"each": "An e-mail for each event", "digest": "One e-mail a day"}[self.value]
