"""Conferences feed the to-do lists: each invited agency's template for the cases it now
knows, a task for each agreed action, and the coordinator's "send out the minutes" task.

The to-do lists sit above meetings in the import order: these handlers read the meeting
tables directly and are subscribed to the meetings' events by the app shell.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from agencies.models import Agency, Member
from cases.models import Referral
from hub.core.clock import today_london
from hub.core.db import session
from hub.core.workdays import add_working_days
from meetings import services as meeting_services
from meetings.events import (
    ActionAgreed,
    CasesCirculated,
    MeetingClosed,
    MinutesAmended,
    MinutesDistributed,
)
from meetings.models import (
    Action,
    AgendaItem,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesCopy,
    MinutesStatus,
)
from todo import rules
from todo import services as tasks
from todo.models import Priority, Task, TaskSource

#: The research task each invited agency gets for each case on a circulated agenda.
RESEARCH_TITLE = "Research your agency's records for this case before the MARAC meeting"


def cases_circulated(event: CasesCirculated) -> None:
    """Give each invited agency one task per case on the agenda: research its records before
    the meeting (in the agency's queue, due the working day before).

    An invited agency is not given its whole to-do template for a case it knows only from
    the agenda: its hands-on work is what the meeting agrees (each action becomes its
    owner's task), or its template once the case is shared with it.
    """
    meeting = session().get(Meeting, event.meeting_id)
    if meeting is None:
        return
    only = set(event.agency_ids) if event.agency_ids is not None else None
    agencies = [
        a
        for a in meeting_services.area_agencies(meeting.area_id)
        if a.id in meeting.invited_agency_ids and (only is None or a.id in only)
    ]
    due_on = max(add_working_days(meeting.held_on, -1), today_london())
    held_on = f"{meeting.held_on:%-d %B %Y}"
    for item_id in event.item_ids:
        item = session().get(AgendaItem, item_id)
        referral = session().get(Referral, item.referral_id) if item is not None else None
        if referral is None:
            continue
        high = referral.assessment is not None and referral.assessment.band == "high"
        for agency in agencies:
            if agency.id == referral.referring_agency_id:
                continue  # the referrer knows its own case, and its template ran on acceptance
            tasks.create_task(
                event.actor,
                agency_id=agency.id,
                owner_member_id=None,
                referral_id=referral.id,
                source=TaskSource.SYSTEM_RULE,
                title=RESEARCH_TITLE,
                due_on=due_on,
                priority=Priority.HIGH if high else Priority.NORMAL,
                details=(
                    f"The case is on the agenda of the MARAC meeting on {held_on}. Check what "
                    "your agency's records hold and write it on the meeting's research page, "
                    "so that your representative can share what is relevant."
                ),
                source_key=f"research:meeting-{meeting.id}:case-{referral.id}",
            )


def action_agreed(event: ActionAgreed) -> None:
    """Put an agreed action on its owner's to-do list."""
    action = session().get(Action, event.action_id)
    if action is None:
        return
    meeting = session().get(Meeting, action.meeting_id)
    referral = session().get(Referral, action.referral_id)
    assert meeting is not None and referral is not None
    band = referral.assessment.band if referral.assessment is not None else None
    text = action.text
    title = text if len(text) <= tasks.MAX_TITLE else text[: tasks.MAX_TITLE - 1] + "…"
    task = tasks.create_task(
        event.actor,
        agency_id=action.agency_id,
        owner_member_id=action.owner_member_id,
        referral_id=referral.id,
        source=TaskSource.MEETING_ACTION,
        title=" ".join(title.split()),
        due_on=action.due_on,
        priority=Priority.HIGH if band == "high" else Priority.NORMAL,
        details=f"Agreed at the MARAC meeting on {meeting.held_on:%d %B %Y}.\n\n{text}",
        source_key=f"action-{action.id}",
    )
    action.task_id = task.id
    action.task_state = task.state
    session().flush()


def task_changed(task: Task) -> None:
    """Keep a meeting action's view of its task's state (shown at the next review)."""
    if task.source != TaskSource.MEETING_ACTION:
        return
    for action in session().execute(select(Action).where(Action.task_id == task.id)).scalars():
        action.task_state = task.state


def _coordinator(meeting: Meeting) -> Member | None:
    if meeting.coordinator_id is not None:
        member = session().get(Member, meeting.coordinator_id)
        if member is not None and member.disabled_at is None:
            return member
    return meeting_services.default_chair_and_coordinator(meeting.area_id)[1]


def minutes_rule(meeting: Meeting) -> rules.RuleTask | None:
    """The coordinator's "send out the minutes within 3 working days" task, as a rule."""
    coordinator = _coordinator(meeting)
    if coordinator is None:
        return None
    spec = rules.minutes_due(
        meeting_id=meeting.id,
        held_on=meeting.held_on,
        agency_id=coordinator.agency_id,
        owner_member_id=coordinator.id,
    )
    minutes = session().get(Minutes, meeting.id)
    if minutes is not None and minutes.status == MinutesStatus.DISTRIBUTED:
        return rules.RuleTask(rule_key=spec.rule_key, agency_id=spec.agency_id, resolved=True)
    return spec


def meeting_closed(event: MeetingClosed) -> None:
    meeting = session().get(Meeting, event.meeting_id)
    spec = minutes_rule(meeting) if meeting is not None else None
    if spec is None or spec.resolved or spec.due_on is None:
        return
    tasks.system_rule_task(
        event.actor,
        rule_key=spec.rule_key,
        agency_id=spec.agency_id,
        title=spec.title,
        due_on=spec.due_on,
        owner_member_id=spec.owner_member_id,
        priority=spec.priority,
    )


def minutes_distributed(event: MinutesDistributed) -> None:
    meeting = session().get(Meeting, event.meeting_id)
    spec = minutes_rule(meeting) if meeting is not None else None
    if spec is not None:
        tasks.resolve_system_rule_task(
            event.actor, rule_key=spec.rule_key, agency_id=spec.agency_id
        )


#: Working days a holder of an earlier copy has to replace it with the amended minutes.
REPLACE_COPY_DAYS = 2


def minutes_amended(event: MinutesAmended) -> None:
    """Tell each member holding an earlier copy that the amendment touches to replace it.

    A full copy is touched by every amendment; an agency's extract only when it held one of
    the amended cases. One task per member and revision (its e-mail follows the member's
    own notification settings); the task names the meeting and the revision, never a case.
    """
    meeting = session().get(Meeting, event.meeting_id)
    if meeting is None:
        return
    amended = set(event.case_ids)
    holders: dict[int, tuple[int, int]] = {}  # member -> (agency, earliest revision held)
    for copy in (
        session()
        .execute(
            select(MinutesCopy).where(
                MinutesCopy.meeting_id == meeting.id, MinutesCopy.revision < event.revision
            )
        )
        .scalars()
    ):
        if copy.scope != "full" and not amended & set(copy.case_ids):
            continue
        agency, earliest = holders.get(copy.member_id, (copy.agency_id, copy.revision))
        holders[copy.member_id] = (agency, min(earliest, copy.revision))
    if not holders:
        return
    live = {
        m.id
        for m in session()
        .execute(select(Member).where(Member.id.in_(list(holders)), Member.disabled_at.is_(None)))
        .scalars()
    }
    held_on = f"{meeting.held_on:%-d %B %Y}"
    for member_id, (agency_id, earliest) in sorted(holders.items()):
        if member_id not in live:
            continue
        tasks.create_task(
            event.actor,
            agency_id=agency_id,
            owner_member_id=member_id,
            referral_id=None,
            source=TaskSource.SYSTEM_RULE,
            title=f"Replace your copy of the minutes of the MARAC meeting on {held_on}",
            due_on=add_working_days(today_london(), REPLACE_COPY_DAYS),
            priority=Priority.HIGH,
            details=(
                f"The minutes of the meeting on {held_on} were amended (revision "
                f"{event.revision}). You downloaded revision {earliest}. Download the amended "
                "copy from the meeting's page, and destroy the earlier one as your agency's "
                "information sharing protocol says."
            ),
            source_key=(
                f"minutes-amended:meeting-{meeting.id}:revision-{event.revision}:member-{member_id}"
            ),
        )


def minutes_due_provider(today: date) -> list[rules.RuleTask]:
    """For the scheduler: a task for each held meeting whose minutes are not yet sent out,
    and the task resolved once they are."""
    found = []
    held = (
        session()
        .execute(
            select(Meeting).where(
                Meeting.status == MeetingStatus.HELD,
                Meeting.held_on >= today - timedelta(days=366),
            )
        )
        .scalars()
    )
    for meeting in held:
        spec = minutes_rule(meeting)
        if spec is not None:
            found.append(spec)
    return found


__all__ = [
    "Agency",
    "action_agreed",
    "cases_circulated",
    "meeting_closed",
    "minutes_amended",
    "minutes_distributed",
    "minutes_due_provider",
    "task_changed",
]
