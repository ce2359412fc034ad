"""To-do lists: agency templates, tasks, reminders and escalation.

Each use case takes the actor explicitly, may flush, and never commits; notifications go
out only after the caller's commit. Every change lands in the ledger (ids and codes only).

The to-do lists sit above cases and meetings, so they ask the gate themselves:

* every list and count holds a task about a case only when the reader may know that case,
  filtered in the query before paging and counting (``todo.visibility``);
* a task's page and every write on a task (update, note, reassign, take) ask the gate for
  the task's case first; a task of a case the actor may not know is "no such task", the
  same concealed 404 as a task that does not exist, and the refusal is in the ledger;
* a task is given only to someone who may know its case, and nobody is e-mailed about one
  they may not;
* what a page shows of a task comes from ``todo.presenter``, from the gate's disclosure.

API for the layers' event handlers
==================================

``generate_from_template(actor, *, agency, referral_id, trigger, risk_band, context,
owner_member_id=None, start_on=None, occasion=None) -> list[Task]``
    Make the agency's template tasks for a case: when a referral is accepted
    (``Trigger.REFERRAL_ACCEPTED``, for the referring agency, usually with the referrer as
    ``owner_member_id``), when an agency is given the case (``Trigger.CASE_SHARED``: shared,
    or invited to a meeting with it on the agenda; owner empty = the agency's queue), and when
    an agency serving both parties sets up a conflict wall (``Trigger.CONFLICT_WALL``,
    ``referral_id=None`` since the perpetrator's worker must never see the victim's case,
    ``occasion="wall-<id>"``). An owner who may not know the case is not given its tasks:
    they go to the agency's queue. Idempotent: one task per template item per case (or
    occasion) per agency. Returns the new tasks.

``create_task(actor, *, agency_id, owner_member_id, referral_id, source, title, due_on,
priority, details="", source_key=None) -> Task``
    One task: a meeting action (``source=TaskSource.MEETING_ACTION``,
    ``source_key="action-<id>"``, idempotent within the agency). Refuses, with a clear
    message and nothing saved: a due date in the past, an unknown owner or one of another
    agency, an owner who may not know the case (asked of the gate, always).

``system_rule_task(actor, *, rule_key, agency_id, title, due_on, owner_member_id=None,
referral_id=None, priority=Priority.NORMAL, details="") -> tuple[Task, bool]``
    A task the hub itself raises (minutes due, consent expiring, a repeat window ending, an
    approval waiting), idempotent by ``rule_key`` within the agency; returns (task, created).
    A due date already past becomes today; an owner who may not know the case leaves it in
    the agency's queue. ``resolve_system_rule_task`` closes it when the condition no longer
    holds. ``todo.rules`` builds these, and ``todo.jobs.rule_providers`` names what finds them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from agencies.models import Agency, AgencyType, Member, MemberRole, MemberStatus
from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_refusal
from cases import services as cases
from cases.facts import case_facts, facts_many
from cases.models import Referral
from consent import gate
from consent.categories import Category
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import (
    NO_SUCH_CASE,
    Conflict,
    Forbidden,
    NotFound,
    Refused,
    ValidationFailed,
)
from hub.core.workdays import add_working_days, is_working_day
from meetings.models import Action, Meeting
from todo import catalogue, presenter, visibility
from todo.catalogue import CaseContext, ItemSpec
from todo.models import (
    ACTIVE_STATE_VALUES,
    NotificationMode,
    Priority,
    Task,
    TaskEvent,
    TaskSource,
    TaskState,
    TodoTemplate,
    TodoTemplateItem,
    Trigger,
)
from todo.notify import notify_many, notify_member, set_preference

#: The largest id an SQL INTEGER column holds: a larger one names nothing (and must not reach
#: the database, which would refuse the statement rather than find no row).
MAX_ID = 2**31 - 1
#: The one answer for a task that does not exist, of another agency, or of a case the reader
#: may not know: the three must be indistinguishable.
NO_SUCH_TASK = "There is no such task."
STALE = (
    "Someone else changed this task while you were looking at it. "
    "Nothing you entered was saved: review their change below, then try again."
)
STALE_TEMPLATE = (
    "Someone else changed this template while you were looking at it. "
    "Nothing was saved: review the current version, then try again."
)
MAX_TITLE = 200
MAX_NOTE = 2000


# --------------------------------------------------------------------------- helpers


def _is_system(actor: Actor) -> bool:
    return actor.kind == "system"


def _event(task: Task, actor: Actor, kind: str, *, note: str = "", **changes: Any) -> None:
    session().add(
        TaskEvent(task_id=task.id, member_id=actor.member_id, kind=kind, note=note, changes=changes)
    )


def _member_in_agency(member_id: int, agency_id: int, field: str = "owner") -> Member:
    member = session().get(Member, member_id) if 0 < member_id <= MAX_ID else None
    if member is None:
        raise ValidationFailed({field: "Select someone from the list: that person is unknown"})
    if member.agency_id != agency_id:
        raise ValidationFailed(
            {field: "Tasks stay with their agency: choose someone from this agency"}
        )
    if member.disabled_at is not None or member.status != MemberStatus.ACTIVE:
        raise ValidationFailed({field: "That person cannot use the hub at the moment"})
    return member


OWNER_MAY_NOT_KNOW = (
    "That person cannot see this case yet: add them to the case team on the case page first"
)


def _check_owner_may_know(member: Member, referral_id: int | None, field: str = "owner") -> None:
    """The gate, asked every time: a task about a case goes only to someone who may know it."""
    if not visibility.may_know(member.id, referral_id):
        raise ValidationFailed({field: OWNER_MAY_NOT_KNOW})


def _refuse_task(
    actor: Actor, task_id: int, code: str, operation: str, *, task: Task | None = None
) -> None:
    """Record a refusal about a task in a transaction of its own (the request rolls back)."""
    details: dict[str, Any] = {"task": task_id, "reason": code, "attempted": operation}
    if task is not None and task.referral_id is not None:
        details["case"] = task.referral_id  # filed under the case the actor already knows
    record_refusal(actor, LedgerAction.ACCESS_DENIED, Subject("task", task_id), **details)


def _case_of(task: Task) -> Referral:
    referral = session().get(Referral, task.referral_id)
    assert referral is not None  # a task goes with its case (ON DELETE CASCADE)
    return referral


def _act_on_case(actor: Actor, task: Task, operation: str) -> None:
    """Ask the gate whether the actor may act on the task's case at all, before anything
    else. A refusal (recorded by the gate) is "no such task", as for a missing one."""
    if task.referral_id is None:
        return
    try:
        cases.act_on(actor, _case_of(task), operation)
    except Refused as refused:
        raise Refused(NO_SUCH_TASK, conceal=True, code=refused.code) from None


def _check_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise ValidationFailed({"title": "Enter what needs to be done"})
    if len(cleaned) > MAX_TITLE:
        raise ValidationFailed({"title": f"The task must be {MAX_TITLE} characters or fewer"})
    return cleaned


def _check_due(due_on: date | None, field: str = "due_on") -> date:
    if due_on is None:
        raise ValidationFailed({field: "Enter the due date"})
    if due_on < today_london():
        raise ValidationFailed({field: "The due date must be today or in the future"})
    return due_on


def _check_note(note: str) -> str:
    cleaned = note.strip()
    if len(cleaned) > MAX_NOTE:
        raise ValidationFailed({"note": f"The note must be {MAX_NOTE} characters or fewer"})
    return cleaned


def _can_act_for_agency(actor: Actor, agency: Agency) -> bool:
    if _is_system(actor):
        return True  # the scheduler and CLI act for the hub
    if actor.area_id != agency.area_id:
        return False  # another MARAC area is another tenant
    if actor.agency_id == agency.id:
        return actor.can(Permission.TASKS_MANAGE)  # a member of the agency
    # Coordinators and chairs record meeting actions for every agency at the table.
    return actor.can(Permission.MEETINGS_RUN)


def _get_agency(agency_id: int) -> Agency:
    agency = session().get(Agency, agency_id)
    if agency is None:
        raise ValidationFailed({"agency_id": "There is no such agency"})
    return agency


def _insert_task(actor: Actor, task: Task) -> Task | None:
    """Add a task; None when its source key already exists in the agency (a repeat)."""
    nested = session().begin_nested()
    try:
        session().add(task)
        session().flush()
    except IntegrityError:
        nested.rollback()
        return None
    nested.commit()
    _event(
        task,
        actor,
        "created",
        source=task.source,
        owner=task.owner_member_id,
        due_on=task.due_on.isoformat(),
        priority=task.priority,
    )
    record(
        actor,
        LedgerAction.TASK_CREATED,
        Subject("task", task.id),
        agency=task.agency_id,
        referral=task.referral_id,
        member=task.owner_member_id,
        source=task.source,
        template=task.template_id,
    )
    if task.owner_member_id is not None and task.owner_member_id != actor.member_id:
        notify_member(task.owner_member_id, "assigned", task_id=task.id)
    return task


def _existing(agency_id: int, source_key: str) -> Task | None:
    return (
        session()
        .execute(select(Task).where(Task.agency_id == agency_id, Task.source_key == source_key))
        .scalar_one_or_none()
    )


# --------------------------------------------------------------------------- templates


def _spec(item: TodoTemplateItem) -> ItemSpec:
    return ItemSpec(
        key=item.key,
        title=item.title,
        due_in_working_days=item.due_in_working_days,
        priority_rule=dict(item.priority_rule),
        triggers=tuple(item.triggers),
        conditions=dict(item.conditions),
        source=item.source,
        to_queue=item.to_queue,
    )


def _latest(agency_id: int) -> TodoTemplate | None:
    return (
        session()
        .execute(
            select(TodoTemplate)
            .where(TodoTemplate.agency_id == agency_id)
            .order_by(TodoTemplate.version.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )


def _write_version(
    actor: Actor,
    agency: Agency,
    version: int,
    items: Sequence[ItemSpec],
    *,
    based_on: str,
    change: str,
    by_hub: bool = False,
) -> TodoTemplate:
    template = TodoTemplate(
        agency_id=agency.id,
        version=version,
        based_on=based_on,
        change=change[:200],
        created_by_id=None if by_hub else actor.member_id,
        items=[
            TodoTemplateItem(
                position=position,
                key=spec.key,
                title=spec.title,
                triggers=list(spec.triggers),
                conditions=dict(spec.conditions),
                due_in_working_days=spec.due_in_working_days,
                priority_rule=dict(spec.priority_rule),
                source=spec.source,
                to_queue=spec.to_queue,
            )
            for position, spec in enumerate(items)
        ],
    )
    nested = session().begin_nested()
    try:
        session().add(template)
        session().flush()
    except IntegrityError:
        nested.rollback()
        raise Conflict(STALE_TEMPLATE) from None
    nested.commit()
    return template


def current_template(actor: Actor, agency: Agency) -> TodoTemplate:
    """The agency's template in force, made from the shipped one the first time it is needed."""
    found = _latest(agency.id)
    if found is not None:
        return found
    items, used = catalogue.starting_items(agency.type)
    try:
        template = _write_version(
            actor,
            agency,
            1,
            items,
            based_on=", ".join(used),
            change="Made from the hub's template for the agency type",
            by_hub=True,
        )
    except Conflict:
        # Another request made the first version a moment ago: use that one.
        found = _latest(agency.id)
        assert found is not None
        return found
    record(
        actor,
        LedgerAction.TODO_TEMPLATE_CREATED,
        Subject("todo_template", template.id),
        agency=agency.id,
        version=1,
        items=len(items),
    )
    return template


def template_versions(agency_id: int) -> list[TodoTemplate]:
    return list(
        session()
        .execute(
            select(TodoTemplate)
            .where(TodoTemplate.agency_id == agency_id)
            .order_by(TodoTemplate.version.desc())
        )
        .scalars()
    )


def _manage_template(actor: Actor, agency: Agency) -> None:
    if _is_system(actor):
        return
    if not actor.can(Permission.TEMPLATES_MANAGE) or actor.agency_id != agency.id:
        # Only the agency's own MARAC representative adapts its template.
        raise Forbidden("Only your agency's MARAC representative can change its template.")


def _change_template(
    actor: Actor,
    agency: Agency,
    base_version: int,
    change: Callable[[list[ItemSpec]], list[ItemSpec]],
    summary: str,
    **details: Any,
) -> TodoTemplate:
    _manage_template(actor, agency)
    current = current_template(actor, agency)
    if current.version != base_version:
        raise Conflict(STALE_TEMPLATE)
    items = change([_spec(i) for i in current.items])
    template = _write_version(
        actor,
        agency,
        current.version + 1,
        items,
        based_on=f"version {current.version}",
        change=summary,
    )
    record(
        actor,
        LedgerAction.TODO_TEMPLATE_CHANGED,
        Subject("todo_template", template.id),
        agency=agency.id,
        version=template.version,
        previous=current.id,
        **details,
    )
    return template


@dataclass(frozen=True)
class ItemInput:
    """What a MARAC representative types for an item."""

    title: str
    due_in_working_days: int | None
    priority: str
    priority_when_high: str


def _check_item(data: ItemInput) -> tuple[str, int, dict[str, str]]:
    errors: dict[str, str] = {}
    title = " ".join(data.title.split())
    if not title:
        errors["title"] = "Enter what needs to be done"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"The item must be {MAX_TITLE} characters or fewer"
    due = data.due_in_working_days
    if due is None:
        errors["due_in_working_days"] = "Enter the number of working days"
    elif not 0 <= due <= catalogue.MAX_OFFSET:
        errors["due_in_working_days"] = (
            f"Enter a number of working days from 0 to {catalogue.MAX_OFFSET}"
        )
    priorities = {p.value for p in Priority}
    if data.priority not in priorities:
        errors["priority"] = "Select a priority"
    if data.priority_when_high not in priorities:
        errors["priority_when_high"] = "Select a priority for high-risk cases"
    if errors:
        raise ValidationFailed(errors)
    rule = {"default": data.priority}
    if data.priority_when_high != data.priority:
        rule["high"] = data.priority_when_high
    assert due is not None
    return title, due, rule


def add_template_item(
    actor: Actor, agency: Agency, *, base_version: int, data: ItemInput
) -> TodoTemplate:
    """Add an item at the end of the agency's template (a new version)."""
    title, due, rule = _check_item(data)
    key = f"custom.{uuid.uuid4().hex[:10]}"
    spec = ItemSpec(
        key=key, title=title, due_in_working_days=due, priority_rule=rule, source="agency"
    )
    return _change_template(
        actor, agency, base_version, lambda items: [*items, spec], "Added an item", item=key
    )


def _find(items: list[ItemSpec], key: str) -> int:
    for index, item in enumerate(items):
        if item.key == key:
            return index
    raise NotFound("That item is not in the current version of the template.")


def update_template_item(
    actor: Actor, agency: Agency, *, base_version: int, key: str, data: ItemInput
) -> TodoTemplate:
    """Change an item's wording, due offset or priority (a new version)."""
    title, due, rule = _check_item(data)

    def change(items: list[ItemSpec]) -> list[ItemSpec]:
        index = _find(items, key)
        items[index] = replace(
            items[index], title=title, due_in_working_days=due, priority_rule=rule
        )
        return items

    return _change_template(actor, agency, base_version, change, "Changed an item", item=key)


def remove_template_item(
    actor: Actor, agency: Agency, *, base_version: int, key: str
) -> TodoTemplate:
    """Take an item off the template (a new version); tasks it made stay as they are."""

    def change(items: list[ItemSpec]) -> list[ItemSpec]:
        del items[_find(items, key)]
        return items

    return _change_template(actor, agency, base_version, change, "Removed an item", item=key)


def move_template_item(
    actor: Actor, agency: Agency, *, base_version: int, key: str, direction: str
) -> TodoTemplate:
    """Move an item one place up or down (a new version)."""
    if direction not in {"up", "down"}:
        raise ValidationFailed({"direction": "Choose up or down"})

    def change(items: list[ItemSpec]) -> list[ItemSpec]:
        index = _find(items, key)
        target = index - 1 if direction == "up" else index + 1
        if not 0 <= target < len(items):
            end = "top" if direction == "up" else "bottom"
            raise ValidationFailed({"direction": f"That item is already at the {end}"})
        items[index], items[target] = items[target], items[index]
        return items

    return _change_template(
        actor, agency, base_version, change, f"Moved an item {direction}", item=key
    )


# --------------------------------------------------------------------------- generation


def generate_from_template(
    actor: Actor,
    *,
    agency: Agency,
    referral_id: int | None,
    trigger: Trigger | str,
    risk_band: str | None,
    context: CaseContext | None = None,
    owner_member_id: int | None = None,
    start_on: date | None = None,
    occasion: str | None = None,
) -> list[Task]:
    """Make the agency's template tasks for a case and trigger; see the module docstring."""
    trigger = Trigger(trigger)
    if referral_id is None and not occasion:
        raise ValueError("generate_from_template needs a referral_id or an occasion")
    if not _is_system(actor) and actor.area_id != agency.area_id:
        # The caller (accepting or sharing a referral) has decided the agency is involved;
        # only the tenant boundary is checked here.
        raise Forbidden("You cannot create tasks for an agency of another MARAC area.")
    if agency.disabled_at is not None:
        return []  # the agency has left the hub: nobody would see the tasks
    if owner_member_id is not None:
        _member_in_agency(owner_member_id, agency.id)
        if not visibility.may_know(owner_member_id, referral_id):
            owner_member_id = None  # behind a wall, or must not receive it: the queue takes it
    context = context or CaseContext()
    template = current_template(actor, agency)
    today = today_london()
    start = max(start_on or today, today)
    scope = occasion or f"case-{referral_id}"
    made: list[Task] = []
    for item in template.items:
        spec = _spec(item)
        if not catalogue.applies(spec, trigger.value, context, agency.type):
            continue
        source_key = f"tpl:{scope}:{item.key}"
        if _existing(agency.id, source_key) is not None:
            continue  # made before, by this or another trigger
        task = Task(
            agency_id=agency.id,
            owner_member_id=None if item.to_queue else owner_member_id,
            referral_id=referral_id,
            source=TaskSource.TEMPLATE_ITEM,
            source_key=source_key,
            template_id=template.id,
            template_item_id=item.id,
            title=item.title,
            due_on=add_working_days(start, item.due_in_working_days),
            priority=catalogue.priority_for(item.priority_rule, risk_band).value,
            state=TaskState.OPEN,
            created_by_id=actor.member_id,
        )
        inserted = _insert_task(actor, task)
        if inserted is not None:
            made.append(inserted)
    return made


def create_task(
    actor: Actor,
    *,
    agency_id: int,
    owner_member_id: int | None,
    referral_id: int | None,
    source: TaskSource | str,
    title: str,
    due_on: date | None,
    priority: Priority | str = Priority.NORMAL,
    details: str = "",
    source_key: str | None = None,
) -> Task:
    """Create one task (a meeting action, or work someone adds by hand)."""
    if referral_id is not None:
        cases.case_for_action(actor, referral_id, LedgerAction.TASK_CREATED)  # the gate first
    agency = _get_agency(agency_id)
    if not _can_act_for_agency(actor, agency):
        raise Forbidden("You cannot create tasks for that agency.")
    errors: dict[str, str] = {}
    for check in (lambda: _check_title(title), lambda: _check_due(due_on)):
        try:
            check()
        except ValidationFailed as error:
            errors.update(error.errors)
    try:
        source = TaskSource(source)
    except ValueError:
        errors["source"] = "Unknown task source"
    try:
        priority = Priority(priority)
    except ValueError:
        errors["priority"] = "Select a priority"
    if owner_member_id is not None:
        try:
            owner = _member_in_agency(owner_member_id, agency.id)
            _check_owner_may_know(owner, referral_id)
        except ValidationFailed as error:
            errors.update(error.errors)
    if errors:
        raise ValidationFailed(errors)
    if source_key is not None:
        found = _existing(agency.id, source_key)
        if found is not None:
            return found
    assert due_on is not None
    task = Task(
        agency_id=agency.id,
        owner_member_id=owner_member_id,
        referral_id=referral_id,
        source=TaskSource(source).value,
        source_key=source_key,
        title=_check_title(title),
        details=details.strip(),
        due_on=due_on,
        priority=Priority(priority).value,
        state=TaskState.OPEN,
        created_by_id=actor.member_id,
    )
    inserted = _insert_task(actor, task)
    if inserted is None:  # the same key, created by a concurrent request
        found = _existing(agency.id, source_key or "")
        assert found is not None
        return found
    return inserted


def system_rule_task(
    actor: Actor,
    *,
    rule_key: str,
    agency_id: int,
    title: str,
    due_on: date,
    owner_member_id: int | None = None,
    referral_id: int | None = None,
    priority: Priority | str = Priority.NORMAL,
    details: str = "",
) -> tuple[Task, bool]:
    """Raise a hub-made task once per rule key and agency; returns (task, created)."""
    if not rule_key or len(rule_key) > 150:
        raise ValueError("a rule key is 1 to 150 characters")
    source_key = f"rule:{rule_key}"
    found = _existing(agency_id, source_key)
    if found is not None:
        return found, False
    agency = _get_agency(agency_id)
    if owner_member_id is not None:
        try:
            owner = _member_in_agency(owner_member_id, agency.id)
            _check_owner_may_know(owner, referral_id)
        except ValidationFailed:
            owner_member_id = None  # the person left, or may not know the case: the queue
    task = Task(
        agency_id=agency.id,
        owner_member_id=owner_member_id,
        referral_id=referral_id,
        source=TaskSource.SYSTEM_RULE,
        source_key=source_key,
        title=_check_title(title),
        details=details.strip(),
        due_on=max(due_on, today_london()),
        priority=Priority(priority).value,
        state=TaskState.OPEN,
        created_by_id=actor.member_id,
    )
    inserted = _insert_task(actor, task)
    if inserted is None:
        found = _existing(agency_id, source_key)
        assert found is not None
        return found, False
    return inserted, True


def resolve_system_rule_task(actor: Actor, *, rule_key: str, agency_id: int) -> Task | None:
    """Close a rule's open task because its condition no longer holds (consent renewed...)."""
    task = _existing(agency_id, f"rule:{rule_key}")
    if task is None or not task.is_active:
        return None
    before = task.state
    task.state = TaskState.DONE
    task.closed_at = now()
    session().flush()
    _event(task, actor, "resolved", state=[before, task.state])
    record(actor, LedgerAction.TASK_RESOLVED, Subject("task", task.id), agency=task.agency_id)
    return task


# --------------------------------------------------------------------------- reading


def get_task_for(actor: Actor, task_id: int, operation: str = LedgerAction.TASK_VIEWED) -> Task:
    """A task of the actor's own agency; any other is simply not found (and recorded).

    For code about to change the task: every write service asks the gate about the task's
    case itself. A page shows a task only through ``open_task``.
    """
    task = session().get(Task, task_id) if 0 < task_id <= MAX_ID else None
    if task is None or actor.agency_id is None or task.agency_id != actor.agency_id:
        _refuse_task(actor, task_id, "no_such_task" if task is None else "other_agency", operation)
        raise NotFound(NO_SUCH_TASK)
    return task


def task_for_change(actor: Actor, task_id: int, operation: str) -> Task:
    """A task the actor is about to change: their own agency's, of a case they may act on
    (asked of the gate before anything else; a refusal is "no such task", recorded)."""
    task = get_task_for(actor, task_id, operation)
    _act_on_case(actor, task, operation)
    return task


def task_history(task_id: int) -> list[TaskEvent]:
    return list(
        session()
        .execute(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id))
        .scalars()
    )


def _held_on(tasks: Sequence[Task]) -> dict[int, date]:
    """The date of the meeting that agreed each meeting action's task: {task id: date}.

    A meeting action's task carries the action's id in its key ("action-<id>").
    """
    wanted = [t for t in tasks if presenter.carries_minutes(t)]
    if not wanted:
        return {}
    by_key = {
        int(t.source_key.removeprefix("action-")): t.id
        for t in wanted
        if t.source_key and t.source_key.removeprefix("action-").isdigit()
    }
    if not by_key:
        return {}
    # By the action's own key (its primary key): a lookup that does not grow with history.
    rows = session().execute(
        select(Action.id, Meeting.held_on)
        .join(Meeting, Meeting.id == Action.meeting_id)
        .where(Action.id.in_(list(by_key)))
    )
    return {by_key[action_id]: held_on for action_id, held_on in rows}


def open_task(actor: Actor, task_id: int) -> presenter.TaskPage:
    """A task's page through the gate: its case's disclosure decides what of it is shown.

    The view of a task about a case is a disclosure of that case (minutes: a meeting action's
    wording; research: the agency's own notes) and is recorded; a case the actor may not know
    is "no such task", recorded as a refusal.
    """
    task = get_task_for(actor, task_id)
    disclosure = None
    reference = None
    if task.referral_id is not None:
        referral = _case_of(task)
        disclosure = gate.disclose(
            actor,
            case_facts(referral),
            [Category.MINUTES, Category.RESEARCH],
            action=LedgerAction.TASK_VIEWED,
        )
        if disclosure.refused:
            raise Refused(NO_SUCH_TASK, conceal=True, code=disclosure.refusal_code)
        reference = disclosure.reference
    template_version = None
    if task.template_id is not None:
        template = session().get(TodoTemplate, task.template_id)
        template_version = template.version if template else None
    return presenter.page(
        task,
        reference,
        disclosure,
        task_history(task.id),
        held_on=_held_on([task]).get(task.id),
        template_version=template_version,
    )


def names_on(shown: presenter.TaskPage) -> dict[int, str]:
    """The names of the members a task's page mentions (its owner, creator, history)."""
    mentioned: list[int | None] = [shown.task.owner_member_id, shown.created_by_id]
    for line in shown.history:
        mentioned.append(line.member_id)
        owner = line.changes.get("owner")
        mentioned.extend(owner if isinstance(owner, list) else [owner])
    return member_names(m for m in mentioned if isinstance(m, int))


def agency_members(agency_id: int) -> list[Member]:
    """Active members of an agency who can hold tasks, by name."""
    return list(
        session()
        .execute(
            select(Member)
            .where(
                Member.agency_id == agency_id,
                Member.disabled_at.is_(None),
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(Member.name)
        )
        .scalars()
    )


def owner_choices(actor: Actor, task_id: int) -> list[tuple[int, str]]:
    """Who a task could be given to: active members of its agency who may know its case."""
    task = get_task_for(actor, task_id)
    people = agency_members(task.agency_id)
    if task.referral_id is not None:
        knowing = visibility.who_may_know((m.id, task.referral_id) for m in people)
        people = [m for m in people if (m.id, task.referral_id) in knowing]
    return [(m.id, m.name + (f", {m.job_title}" if m.job_title else "")) for m in people]


def member_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session().execute(select(Member.id, Member.name).where(Member.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def task_counts(actor: Actor, today: date) -> tuple[int, int]:
    """(open, overdue) tasks the actor owns and may know of, in one query."""
    if actor.member_id is None:
        return 0, 0
    statement = select(
        func.count(Task.id),
        func.coalesce(func.sum(case((Task.due_on < today, 1), else_=0)), 0),
    ).where(Task.owner_member_id == actor.member_id, Task.state.in_(ACTIVE_STATE_VALUES))
    row = session().execute(visibility.only_knowable(actor, statement)).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class Counts:
    """What the top of a member's list says: their open and overdue tasks, and the queue."""

    open: int
    overdue: int
    queued: int


def my_counts(actor: Actor, today: date) -> Counts:
    """The actor's open and overdue tasks and their agency's queue, in one query, counting
    only tasks the actor may know of."""
    if actor.member_id is None:
        return Counts(0, 0, 0)
    mine = Task.owner_member_id == actor.member_id
    queued = and_(Task.owner_member_id.is_(None), Task.agency_id == actor.agency_id)
    statement = select(
        func.count(Task.id).filter(mine),
        func.count(Task.id).filter(and_(mine, Task.due_on < today)),
        func.count(Task.id).filter(queued),
    ).where(Task.state.in_(ACTIVE_STATE_VALUES), or_(mine, queued))
    row = session().execute(visibility.only_knowable(actor, statement)).one()
    return Counts(int(row[0]), int(row[1]), int(row[2]))


def queue_count(actor: Actor) -> int:
    """How many active tasks the actor may know of wait in their agency's queue."""
    if actor.agency_id is None:
        return 0
    statement = select(func.count(Task.id)).where(
        Task.agency_id == actor.agency_id,
        Task.owner_member_id.is_(None),
        Task.state.in_(ACTIVE_STATE_VALUES),
    )
    return int(session().execute(visibility.only_knowable(actor, statement)).scalar_one())


STATE_FILTERS: dict[str, tuple[str, ...]] = {
    "active": ACTIVE_STATE_VALUES,
    "closed": (TaskState.DONE, TaskState.NOT_POSSIBLE, TaskState.NOT_DONE),
    **{s.value: (s.value,) for s in TaskState},
    "all": tuple(s.value for s in TaskState),
}
DUE_FILTERS = ("any", "overdue", "today", "soon", "later")
SORTS = ("due", "priority", "newest")
PAGE_SIZE = 50


@dataclass(frozen=True)
class ListQuery:
    """Filters and sort for a task list; unknown values fall back to the defaults."""

    state: str = "active"
    due: str = "any"
    sort: str = "due"
    page: int = 1

    def cleaned(self) -> ListQuery:
        return ListQuery(
            state=self.state if self.state in STATE_FILTERS else "active",
            due=self.due if self.due in DUE_FILTERS else "any",
            sort=self.sort if self.sort in SORTS else "due",
            page=max(1, min(self.page, 10_000)),
        )


@dataclass(frozen=True)
class TaskPage:
    """One page of a list, already filtered by the gate and presented."""

    tasks: list[presenter.TaskRow]
    total: int
    query: ListQuery
    #: The reader's own counts, when the list counted them anyway (my list).
    counts: Counts | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


_PRIORITY_RANK = case(
    (Task.priority == Priority.URGENT, 2),
    (Task.priority == Priority.HIGH, 1),
    else_=0,
)


def _present(
    actor: Actor, found: Sequence[tuple[Task, str | None, str | None]]
) -> list[presenter.TaskRow]:
    """Rows through the gate: one disclosure per case whose minutes the page would show
    (a meeting action's wording), in a constant number of queries whatever the page holds."""
    tasks = [task for task, _ref, _name in found]
    with_minutes = sorted(
        {t.referral_id for t in tasks if t.referral_id is not None and presenter.carries_minutes(t)}
    )
    disclosures: dict[int, gate.Disclosure] = {}
    if with_minutes:
        referrals = (
            session().execute(select(Referral).where(Referral.id.in_(with_minutes))).scalars().all()
        )
        disclosures = gate.disclose_many(
            actor,
            list(facts_many(referrals).values()),
            [Category.MINUTES],
            action=LedgerAction.TASK_LISTED,
        )
    withheld = [
        t
        for t in tasks
        if presenter.carries_minutes(t)
        and t.referral_id in disclosures
        and not disclosures[t.referral_id].allows(Category.MINUTES)
    ]
    return presenter.rows(found, disclosures, _held_on(withheld) if withheld else {})


def _listed(
    actor: Actor,
    base: Select[Any],
    query: ListQuery,
    today: date,
    total: int | None = None,
    size: int = PAGE_SIZE,
) -> TaskPage:
    """A page of a list, filtered by the gate before paging; ``total`` when already counted."""
    query = query.cleaned()
    statement = visibility.only_knowable(
        actor, base.where(Task.state.in_(STATE_FILTERS[query.state]))
    )
    soon = add_working_days(today, 5)
    if query.due == "overdue":
        statement = statement.where(Task.due_on < today)
    elif query.due == "today":
        statement = statement.where(Task.due_on == today)
    elif query.due == "soon":
        statement = statement.where(Task.due_on >= today, Task.due_on <= soon)
    elif query.due == "later":
        statement = statement.where(Task.due_on > soon)
    order: tuple[Any, ...]
    if query.sort == "priority":
        order = (_PRIORITY_RANK.desc(), Task.due_on, Task.id)
    elif query.sort == "newest":
        order = (Task.id.desc(),)
    else:
        order = (Task.due_on, _PRIORITY_RANK.desc(), Task.id)
    if total is None:
        total = (
            session()
            .execute(statement.with_only_columns(func.count(Task.id)).order_by(None))
            .scalar_one()
        )
    found = [
        (task, reference, owner_name)
        for task, reference, owner_name in session().execute(
            statement.add_columns(Referral.reference, Member.name)
            .outerjoin(Member, Member.id == Task.owner_member_id)
            .order_by(*order)
            .limit(size)
            .offset((query.page - 1) * size)
        )
    ]
    return TaskPage(tasks=_present(actor, found), total=int(total), query=query)


def list_my_tasks(
    actor: Actor, query: ListQuery, today: date | None = None, size: int = PAGE_SIZE
) -> TaskPage:
    """The tasks the actor owns (``size`` to a page: the home page shows the first few)."""
    if actor.member_id is None:
        return TaskPage([], 0, query.cleaned())
    today = today or today_london()
    query = query.cleaned()
    counts = my_counts(actor, today)
    # Unfiltered, the list's total is the open count the page header shows anyway.
    total = counts.open if (query.state, query.due) == ("active", "any") else None
    base = select(Task).where(Task.owner_member_id == actor.member_id)
    return replace(_listed(actor, base, query, today, total, size), counts=counts)


def list_queue(actor: Actor, query: ListQuery, today: date | None = None) -> TaskPage:
    """The actor's agency's tasks that nobody has taken yet."""
    if actor.agency_id is None:
        return TaskPage([], 0, query.cleaned())
    base = select(Task).where(Task.agency_id == actor.agency_id, Task.owner_member_id.is_(None))
    return _listed(actor, base, query, today or today_london())


@dataclass(frozen=True)
class CaseTasks:
    page: TaskPage
    referral_id: int
    reference: str


def list_case_tasks(
    actor: Actor, referral_id: int, query: ListQuery, today: date | None = None
) -> CaseTasks:
    """Everything the actor's own agency has to do for a case (never other agencies' tasks).

    A case the actor may not know is the concealed 404 of a missing case, recorded.
    """
    if not 0 < referral_id <= MAX_ID:
        gate.refuse(actor, referral_id, "no_such_case", attempted=LedgerAction.TASK_LISTED)
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_case")
    referral = cases.case_for_action(
        actor, referral_id, LedgerAction.TASK_LISTED
    )  # rules 1-3, recorded
    if actor.agency_id is None:
        return CaseTasks(TaskPage([], 0, query.cleaned()), referral.id, referral.reference)
    base = select(Task).where(Task.agency_id == actor.agency_id, Task.referral_id == referral_id)
    page = _listed(actor, base, query, today or today_london())
    return CaseTasks(page, referral.id, referral.reference)


def list_agency_overdue(actor: Actor, query: ListQuery, today: date | None = None) -> TaskPage:
    """Every overdue task of the actor's agency, for its MARAC representatives."""
    if not actor.can(Permission.TASKS_OVERSEE) or actor.agency_id is None:
        raise Forbidden("Only your agency's MARAC representative sees this list.")
    base = select(Task).where(Task.agency_id == actor.agency_id)
    return _listed(
        actor, base, replace(query, due="overdue", state="active"), today or today_london()
    )


# --------------------------------------------------------------------------- changing


def can_change_task(actor: Actor, task: Task | presenter.TaskPage) -> bool:
    agency_id = task.agency_id
    owner = (
        task.task.owner_member_id if isinstance(task, presenter.TaskPage) else task.owner_member_id
    )
    if actor.agency_id != agency_id or not actor.can(Permission.TASKS_MANAGE):
        return False  # only the agency's own members work its tasks
    if actor.can(Permission.TASKS_OVERSEE):
        return True  # the MARAC representative manages every task of the agency
    # The owner works their own; anyone in the agency may take one from the queue.
    return owner in (None, actor.member_id)


def _guard(actor: Actor, task: Task, version: int | None, operation: str) -> None:
    """The gate first (a hidden case is "no such task"), then the agency's own rules."""
    _act_on_case(actor, task, operation)
    if not can_change_task(actor, task):
        _refuse_task(actor, task.id, "not_permitted", operation, task=task)
        raise Forbidden(
            "Only the person doing this task, or your MARAC representative, can change it."
        )
    if version is None or task.version != version:
        raise Conflict(STALE)


@contextmanager
def _versioned(task: Task) -> Iterator[None]:
    """Change a task and flush it in a savepoint: a change someone else saved meanwhile is a
    conflict, and the task reads again as they left it, while the request's transaction
    stays usable (for the page that says so)."""
    nested = session().begin_nested()
    try:
        yield
        session().flush()
    except StaleDataError:
        nested.rollback()
        session().expire(task)
        raise Conflict(STALE) from None
    except BaseException:
        nested.rollback()
        raise
    nested.commit()


@dataclass(frozen=True)
class TaskChange:
    """What a member changes on a task; None leaves a field as it is."""

    state: str | None = None
    due_on: date | None = None
    priority: str | None = None
    note: str = ""


def update_task(actor: Actor, task: Task, *, version: int | None, change: TaskChange) -> Task:
    """Change a task's state, due date or priority, and/or add a note: one history line."""
    _guard(actor, task, version, LedgerAction.TASK_UPDATED)
    errors: dict[str, str] = {}
    changes: dict[str, list[Any]] = {}
    try:
        note = _check_note(change.note)
    except ValidationFailed as error:
        errors.update(error.errors)
        note = ""
    if change.state is not None and change.state != task.state:
        try:
            new_state = TaskState(change.state)
        except ValueError:
            errors["state"] = "Select what has happened to the task"
        else:
            if new_state in (TaskState.NOT_POSSIBLE, TaskState.NOT_DONE) and not note:
                errors["note"] = "Say why in a note: the next meeting reviews it"
            changes["state"] = [task.state, new_state.value]
    if change.due_on is not None and change.due_on != task.due_on:
        try:
            _check_due(change.due_on)
        except ValidationFailed as error:
            errors.update(error.errors)
        else:
            changes["due_on"] = [task.due_on.isoformat(), change.due_on.isoformat()]
    if change.priority is not None and change.priority != task.priority:
        if change.priority not in {p.value for p in Priority}:
            errors["priority"] = "Select a priority"
        else:
            changes["priority"] = [task.priority, change.priority]
    if errors:
        raise ValidationFailed(errors)
    if not changes and not note:
        raise ValidationFailed({"note": "Change something or write a note before saving"})
    with _versioned(task):
        if "state" in changes:
            task.state = changes["state"][1]
            task.closed_at = None if task.state in ACTIVE_STATE_VALUES else now()
        if "due_on" in changes:
            assert change.due_on is not None
            task.due_on = change.due_on
            task.reminded_at = None  # a new due date earns its own reminder
        if "priority" in changes:
            task.priority = changes["priority"][1]
        if changes:
            task.updated_at = now()
    if "state" in changes:
        from todo.meetings import task_changed  # a meeting action mirrors its task's state

        task_changed(task)
    _event(task, actor, "updated" if changes else "noted", note=note, **changes)
    if changes:
        record(
            actor,
            LedgerAction.TASK_UPDATED,
            Subject("task", task.id),
            agency=task.agency_id,
            fields=sorted(changes),
            state=task.state,
            noted=bool(note),
        )
    else:
        record(actor, LedgerAction.TASK_NOTED, Subject("task", task.id), agency=task.agency_id)
    session().flush()
    return task


def reassign_task(
    actor: Actor,
    task: Task,
    *,
    version: int | None,
    owner_member_id: int | None,
    note: str = "",
    operation: str = LedgerAction.TASK_REASSIGNED,
) -> Task:
    """Give a task to someone else in the same agency, or put it back in the queue."""
    _guard(actor, task, version, operation)
    note = _check_note(note)
    if owner_member_id == task.owner_member_id:
        raise ValidationFailed({"owner": "The task is already with that person"})
    if owner_member_id is not None:
        owner = _member_in_agency(owner_member_id, task.agency_id)
        _check_owner_may_know(owner, task.referral_id)
    previous = task.owner_member_id
    with _versioned(task):
        task.owner_member_id = owner_member_id
        task.updated_at = now()
    kind = "taken" if owner_member_id == actor.member_id and previous is None else "reassigned"
    _event(task, actor, kind, note=note, owner=[previous, owner_member_id])
    record(
        actor,
        LedgerAction.TASK_REASSIGNED,
        Subject("task", task.id),
        agency=task.agency_id,
        member=owner_member_id,
        from_member=previous,
    )
    if owner_member_id is not None and owner_member_id != actor.member_id:
        notify_member(owner_member_id, "assigned", task_id=task.id)
    session().flush()
    return task


def take_task(actor: Actor, task: Task, *, version: int | None) -> Task:
    """Take a task from the agency's queue."""
    _act_on_case(actor, task, LedgerAction.TASK_TAKEN)
    if actor.member_id is None:
        raise Forbidden("Only a member can take a task.")
    if task.owner_member_id is not None:
        raise Conflict("Someone has already taken this task.")
    return reassign_task(
        actor,
        task,
        version=version,
        owner_member_id=actor.member_id,
        operation=LedgerAction.TASK_TAKEN,
    )


# --------------------------------------------------------------------------- scheduler


def marac_representatives(agency_ids: Iterable[int]) -> dict[int, list[int]]:
    """Active MARAC representatives of each agency: {agency id: [member ids]}."""
    wanted = set(agency_ids)
    if not wanted:
        return {}
    rows = session().execute(
        select(Member.agency_id, Member.id)
        .join(MemberRole, MemberRole.member_id == Member.id)
        .where(
            Member.agency_id.in_(wanted),
            MemberRole.role == Role.MARAC_REP.value,
            Member.disabled_at.is_(None),
            Member.status == MemberStatus.ACTIVE,
        )
        .order_by(Member.id)
    )
    found: dict[int, list[int]] = {}
    for agency_id, member_id in rows:
        found.setdefault(agency_id, []).append(member_id)
    return found


def send_due_reminders(
    actor: Actor, *, today: date | None = None, working_days: int = 1, limit: int = 1000
) -> int:
    """Remind owners of active tasks due within ``working_days``: once per task and due date.

    A task in the queue reminds the agency's MARAC representatives instead. Returns how many
    tasks were reminded.
    """
    today = today or today_london()
    horizon = add_working_days(today, working_days)
    tasks = list(
        session()
        .execute(
            select(Task)
            .where(
                Task.state.in_(ACTIVE_STATE_VALUES),
                Task.reminded_at.is_(None),
                Task.due_on >= today,
                Task.due_on <= horizon,
            )
            .order_by(Task.due_on, Task.id)
            .limit(limit)
        )
        .scalars()
    )
    reps = marac_representatives(t.agency_id for t in tasks if t.owner_member_id is None)
    wanted = {
        task.id: [task.owner_member_id]
        if task.owner_member_id is not None
        else reps.get(task.agency_id, [])
        for task in tasks
    }
    # Nobody is told of a task whose case they may not (or no longer) know.
    told = notify_many("reminder", tasks, wanted)
    moment = now()
    for task in tasks:
        task.reminded_at = moment
        recipients = told.get(task.id, [])
        _event(task, actor, "reminded", members=recipients)
        record(
            actor,
            LedgerAction.TASK_REMINDED,
            Subject("task", task.id),
            agency=task.agency_id,
            members=recipients,
        )
    session().flush()
    return len(tasks)


def escalation_cutoff(today: date, after_working_days: int) -> date:
    """The latest due date that is overdue by ``after_working_days`` working days today.

    A working day counts once it has begun: a task due on Friday is one working day overdue
    on Monday, but not on a bank-holiday Monday (only on the Tuesday after).
    """
    if after_working_days <= 0:
        return today - timedelta(days=1)
    latest = today if is_working_day(today) else add_working_days(today, -1)
    return add_working_days(latest, -(after_working_days - 1)) - timedelta(days=1)


def escalate_overdue_tasks(
    actor: Actor, *, today: date | None = None, after_working_days: int = 1, limit: int = 1000
) -> int:
    """Pass tasks overdue by ``after_working_days`` to the agency's MARAC representatives.

    Once per task: a history line, a ledger entry and a notification to each representative.
    Returns how many tasks were escalated.
    """
    today = today or today_london()
    cutoff = escalation_cutoff(today, after_working_days)
    tasks = list(
        session()
        .execute(
            select(Task)
            .where(
                Task.state.in_(ACTIVE_STATE_VALUES),
                Task.escalated_at.is_(None),
                Task.due_on < today,  # overdue: past its due date
                Task.due_on <= cutoff,  # by at least the grace in working days
            )
            .order_by(Task.due_on, Task.id)
            .limit(limit)
        )
        .scalars()
    )
    reps = marac_representatives(t.agency_id for t in tasks)
    told = notify_many("escalation", tasks, {t.id: reps.get(t.agency_id, []) for t in tasks})
    moment = now()
    for task in tasks:
        task.escalated_at = moment
        recipients = told.get(task.id, [])
        _event(
            task, actor, "escalated", members=recipients, days_overdue=(today - task.due_on).days
        )
        record(
            actor,
            LedgerAction.TASK_ESCALATED,
            Subject("task", task.id),
            agency=task.agency_id,
            members=recipients,
        )
    session().flush()
    return len(tasks)


# --------------------------------------------------------------------------- for the pages


def choose_notifications(actor: Actor, mode: NotificationMode) -> bool:
    """A member chooses how they are told about tasks; recorded when it changes."""
    if actor.member_id is None:
        raise Forbidden("Only a member chooses how they are told about tasks.")
    changed = set_preference(actor.member_id, mode)
    if changed:
        record(
            actor,
            LedgerAction.NOTIFICATION_PREFERENCE_CHANGED,
            Subject("member", actor.member_id),
            mode=mode.value,
        )
    return changed


def own_agency(actor: Actor) -> Agency:
    """The actor's own agency, for its template pages."""
    agency = session().get(Agency, actor.agency_id) if actor.agency_id else None
    if agency is None:
        raise NotFound("You are not a member of an agency.")
    return agency


@dataclass(frozen=True)
class TemplatePage:
    agency: Agency
    template: TodoTemplate
    versions: list[TodoTemplate]
    names: dict[int, str]


def template_page(actor: Actor) -> TemplatePage:
    """The actor's agency's template in force, its versions and who made them."""
    agency = own_agency(actor)
    template = current_template(actor, agency)
    versions = template_versions(agency.id)
    return TemplatePage(agency, template, versions, member_names(v.created_by_id for v in versions))


def agency_type_label(value: str) -> str:
    try:
        return AgencyType(value).label.lower()
    except ValueError:
        return value
