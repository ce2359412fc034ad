"""Turn tasks into what a person may see: the one place a task's case content becomes output.

A task's own content falls into the gate's categories (``consent.categories``):

* the wording of a task made from a meeting action (its title and details) is what the
  conference recorded: **minutes**, shown only where the gate's ``Disclosure`` for the task's
  case allows minutes; elsewhere the task reads "Action agreed at the MARAC meeting on
  <date>" and says why the wording is withheld. The owner keeps the task and its due date,
  priority and state, so the work is never lost, only its wording.
* the notes members write on a task are their agency's own work (**research**): shown only
  to members of the task's agency, and for a task about a case only through its disclosure.
* template tasks' titles come from the agency's template, and the hub's own reminders from
  fixed wording: neither holds case content.

Every function here that shows case content takes the gate's disclosure and refuses anything
else (``consent.gate.require_disclosure``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from consent.categories import Category
from consent.gate import Disclosure, require_disclosure
from todo.codes import ACTIVE_STATE_VALUES, Priority, TaskSource, TaskState
from todo.models import Task, TaskEvent

#: Why a meeting action's wording is missing where no disclosure could be made for it.
NO_DISCLOSURE = "Withheld: the hub could not decide what you may see of this case."


def neutral_title(held_on: date | None) -> str:
    """What a meeting action's task is called where its wording (minutes) is withheld."""
    if held_on is None:
        return "Action agreed at a MARAC meeting"
    return f"Action agreed at the MARAC meeting on {held_on.day} {held_on:%B %Y}"


def carries_minutes(task: Task) -> bool:
    """Whether the task's title is a meeting action's wording (minutes), not hub wording."""
    return task.referral_id is not None and task.source == TaskSource.MEETING_ACTION


def _minutes(task: Task, disclosure: Disclosure | None) -> tuple[bool, str]:
    """(shown, why withheld) for the task's minutes content."""
    if task.referral_id is None:
        return True, ""  # a task about no case holds no case content
    if disclosure is None:
        return False, NO_DISCLOSURE
    require_disclosure(disclosure, case_id=task.referral_id)
    if disclosure.allows(Category.MINUTES):
        return True, ""
    return False, disclosure.reason_withheld(Category.MINUTES)


@dataclass(frozen=True)
class TaskRow:
    """One line of a to-do list."""

    id: int
    title: str
    #: Why the task's own wording is not shown ("" when it is).
    withheld: str
    referral_id: int | None
    #: The case's reference (which names no one), "" for a task about no case.
    reference: str
    due_on: date
    priority: str
    state: str
    owner_member_id: int | None
    escalated_at: datetime | None
    version: int
    #: The owner's name ("" in the queue), for the lists that show who has it.
    owner_name: str = ""

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATE_VALUES

    @property
    def task_state(self) -> TaskState:
        return TaskState(self.state)

    @property
    def task_priority(self) -> Priority:
        return Priority(self.priority)


def row(
    task: Task,
    reference: str | None,
    disclosure: Disclosure | None,
    held_on: date | None = None,
    owner_name: str | None = None,
) -> TaskRow:
    """A task as a list shows it; ``disclosure`` is the gate's answer for its case (if any)."""
    title, withheld = task.title, ""
    if carries_minutes(task):
        shown, why = _minutes(task, disclosure)
        if not shown:
            title, withheld = neutral_title(held_on), why
    return TaskRow(
        id=task.id,
        title=title,
        withheld=withheld,
        referral_id=task.referral_id,
        reference=reference or "",
        due_on=task.due_on,
        priority=task.priority,
        state=task.state,
        owner_member_id=task.owner_member_id,
        escalated_at=task.escalated_at,
        version=task.version,
        owner_name=owner_name or "",
    )


def rows(
    found: Sequence[tuple[Task, str | None, str | None]],
    disclosures: Mapping[int, Disclosure],
    held_on: Mapping[int, date],
) -> list[TaskRow]:
    """A page of a list. A meeting action's task whose case the gate refused after the list
    was drawn (a wall set up a moment ago) is left out rather than shown without a decision."""
    shown = []
    for task, reference, owner_name in found:
        if carries_minutes(task) and task.referral_id not in disclosures:
            continue
        disclosure = disclosures.get(task.referral_id) if task.referral_id else None
        shown.append(row(task, reference, disclosure, held_on.get(task.id), owner_name))
    return shown


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    member_id: int | None
    kind: str
    changes: Mapping[str, Any]
    #: The member's note; "" where it is not shown.
    note: str


@dataclass(frozen=True)
class TaskPage:
    """One task's page: the row, its details, where it came from, and its history."""

    task: TaskRow
    details: str
    #: Why the details are not shown ("" when they are, or when there are none).
    details_withheld: str
    source: str
    template_version: int | None
    created_at: datetime
    created_by_id: int | None
    agency_id: int
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def task_source(self) -> TaskSource:
        return TaskSource(self.source)


def page(
    task: Task,
    reference: str | None,
    disclosure: Disclosure | None,
    history: Sequence[TaskEvent],
    *,
    held_on: date | None = None,
    template_version: int | None = None,
) -> TaskPage:
    """A task's page for a member of its agency; ``disclosure`` is required for a task
    about a case, and decides its minutes content and whether its notes are shown."""
    if task.referral_id is not None:
        if disclosure is None:
            raise ValueError("a task about a case is shown only through a disclosure")
        require_disclosure(disclosure, case_id=task.referral_id)
    shown_row = row(task, reference, disclosure, held_on)
    details, details_withheld = task.details, ""
    if task.details and task.referral_id is not None:
        shown, why = _minutes(task, disclosure)
        if not shown:
            details, details_withheld = "", why
    notes_shown = (disclosure is None or disclosure.allows(Category.RESEARCH)) and _own_agency(
        task, disclosure
    )
    lines = [
        HistoryLine(
            at=event.at,
            member_id=event.member_id,
            kind=event.kind,
            changes=dict(event.changes),
            note=event.note if notes_shown else "",
        )
        for event in history
    ]
    return TaskPage(
        task=shown_row,
        details=details,
        details_withheld=details_withheld,
        source=task.source,
        template_version=template_version,
        created_at=task.created_at,
        created_by_id=task.created_by_id,
        agency_id=task.agency_id,
        history=lines,
    )


def _own_agency(task: Task, disclosure: Disclosure | None) -> bool:
    # Notes are the agency's own: another agency never reads them, whatever it may know.
    return disclosure is None or disclosure.agency_id == task.agency_id
