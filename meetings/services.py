"""Scheduling conferences, building and circulating agendas, and who may see a meeting.

Every use case takes the actor explicitly, may flush, and never commits. Nothing here returns
case content: agenda rows come from ``meetings.presenters`` with the gate's decision for each
case, and each such row is a disclosure with its ledger entry. Every list of a meeting's
cases is filtered in the query to the cases the person may know (``knowable``), and every
change to a line of the agenda asks the gate first (``load_item``).

API
===

``schedule_meetings(actor, ScheduleData) -> list[Meeting]``
    One meeting (ad hoc, emergency) or a series at a cadence (weekly, fortnightly,
    three-weekly, monthly: the same weekday of the same week of each month). The cut-off day
    is ``held_on - area.agenda_cutoff_days``.
``get_meeting(actor, meeting_id) -> Meeting``
    The coordinator and chair of the area see every meeting; a member of another agency
    only a circulated meeting its agency was invited to. Anyone else: NotFound.
``build_agenda(actor, meeting) -> list[AgendaItem]``
    Add every accepted referral received by the cut-off that is not already waiting on
    another agenda, every case deferred at an earlier meeting, and the other half of each
    counter-allegation; flag each; keep counter-allegations adjacent. Safe to run again.
``add_case(actor, meeting, reference, reason="")``, ``move_item(actor, meeting, item_id,
direction)``, ``defer_item(actor, meeting, item_id, reason)``, ``remove_item(...)``
    The coordinator's changes. After the cut-off a case is added only with a reason. A case
    the actor may not know answers as one that does not exist: a reference as "no case", an
    agenda line as the concealed 404, recorded, and nothing changes.
``load_item(actor, meeting, item_id, operation) -> AgendaItem``
    An agenda line, once the gate has said the actor may act on its case.
``circulate_agenda(actor, meeting, agency_ids=None) -> list[MeetingInvitation]``
    Invite agencies (by default every active agency of the area; the referring agencies are
    always invited). From then on they need to know every case on the agenda (a grant row
    per case and agency, which the gate reads), and their to-do templates run.
``agenda_rows(actor, meeting) -> list[AgendaRow]``
    What this person may see of the agenda: only the cases they may know, numbered as they
    see them; identity, and the late and deferral reasons only with the minutes category.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from agencies.models import Agency, Cadence, MaracArea, Member
from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_refusal
from cases import services as referrals
from cases.facts import case_facts, facts_many, knowable
from cases.models import GrantKind, Referral, ReferralStatus
from consent import gate
from consent.categories import Category, Purpose
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Conflict, Forbidden, NotFound, Refused, ValidationFailed
from hub.core.events import publish
from meetings import presenters
from meetings.events import CasesCirculated
from meetings.models import (
    AgendaItem,
    DeferralKind,
    ItemStatus,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Minutes,
    MinutesStatus,
)
from meetings.presenters import AgendaRow

#: Longest series scheduled in one go (a year of weekly meetings).
MAX_SERIES = 52
#: Shortest reason the coordinator may give for a late addition or a deferral.
MIN_REASON = 10
NO_MEETING = "There is no such meeting."
#: The largest id a row can have (a 64-bit signed integer); a larger one in a URL names nothing.
MAX_ID = 2**63 - 1


# --- the gate's need to know --------------------------------------------------------------


def _grant_invited(actor: Actor, meeting: Meeting, items: Iterable[AgendaItem]) -> None:
    """Every agency invited to a circulated meeting needs to know every case on its agenda.

    Written as grant rows the gate reads: once an agency has received an agenda it keeps its
    need to know for that case (it may hold actions from the meeting, and the minutes about
    the case go to it), even if the case later leaves the agenda.
    """
    if meeting.circulated_at is None:
        return
    for item in items:
        for agency_id in sorted(meeting.invited_agency_ids):
            referrals.grant_need_to_know(
                actor,
                item.referral_id,
                agency_id,
                GrantKind.INVITED,
                purpose=Purpose.MARAC,
                source=f"meeting:{meeting.id}",
            )


# --- access -------------------------------------------------------------------------------


def is_runner(actor: Actor, meeting: Meeting) -> bool:
    """The area's coordinator or chair: they build, run and minute the meeting."""
    return actor.can(Permission.MEETINGS_RUN) and actor.area_id == meeting.area_id


def is_chair(actor: Actor, meeting: Meeting) -> bool:
    return actor.can(Permission.MEETINGS_CHAIR) and actor.area_id == meeting.area_id


def is_invited(actor: Actor, meeting: Meeting) -> bool:
    return (
        meeting.status != MeetingStatus.PLANNED
        and actor.agency_id is not None
        and actor.agency_id in meeting.invited_agency_ids
    )


def get_meeting(actor: Actor, meeting_id: int) -> Meeting:
    """Load a meeting this person may know about; any other is simply not found."""
    if not 0 < meeting_id <= MAX_ID:
        raise NotFound(NO_MEETING)  # no row has such an id; never ask the database
    meeting = session().get(Meeting, meeting_id)
    if meeting is None or meeting.area_id != actor.area_id:
        raise NotFound(NO_MEETING)  # another area is another tenant
    if is_runner(actor, meeting) or is_invited(actor, meeting):
        return meeting
    raise NotFound(NO_MEETING)  # an agency not invited does not learn the meeting exists


def _no_such_item(actor: Actor, meeting: Meeting, item_id: int, operation: str) -> Refused:
    """An agenda line that is not there answers exactly as one whose case is concealed."""
    record_refusal(
        actor,
        LedgerAction.ACCESS_DENIED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        item=item_id,
        reason="no_such_item",
        attempted=operation,
    )
    return Refused(NO_SUCH_CASE, conceal=True, code="no_such_item")


def load_item(actor: Actor, meeting: Meeting, item_id: int, operation: str) -> AgendaItem:
    """An agenda line of this meeting, once the gate has said the actor may act on its case.

    A line that is not there, and one whose case the actor may not know (walls,
    must-not-receive, no need to know), both get the concealed 404 of a missing case, and
    both are recorded.
    """
    item = next((i for i in meeting.items if i.id == item_id), None)
    if item is None:
        raise _no_such_item(actor, meeting, item_id, operation)
    referrals.act_on(actor, referrals.get_referral(item.referral_id), operation)
    return item


def require_runner(actor: Actor, meeting: Meeting) -> None:
    if not is_runner(actor, meeting):
        raise Forbidden("Only the MARAC coordinator or chair can do this.")


def require_chair(actor: Actor, meeting: Meeting) -> None:
    if not is_chair(actor, meeting):
        raise Forbidden("Only the chair can do this.")


def minutes_of(meeting: Meeting) -> Minutes | None:
    return session().get(Minutes, meeting.id)


def ensure_record_open(meeting: Meeting) -> None:
    """Refuse changes to the meeting's record once the minutes are approved (locked)."""
    minutes = minutes_of(meeting)
    if minutes is not None and minutes.is_locked:
        raise Conflict(
            "These minutes are approved and locked: nothing was changed. "
            "The chair can make an amendment, which keeps the approved text."
        )


@dataclass
class MeetingRow:
    """A meeting in the list, with the number of its cases this person may know of."""

    meeting: Meeting
    cases: int


def list_meetings(actor: Actor) -> list[MeetingRow]:
    """Meetings of the actor's area this person may see, soonest first."""
    found = [
        m
        for m in session()
        .execute(
            select(Meeting)
            .where(Meeting.area_id == actor.area_id)
            .order_by(Meeting.held_on, Meeting.start_time, Meeting.id)
        )
        .scalars()
        if is_runner(actor, m) or is_invited(actor, m)
    ]
    return _with_counts(actor, found)


def meetings_ahead(actor: Actor, limit: int = 5) -> list[MeetingRow]:
    """The meetings this person has work for (their home page), soonest first.

    For the coordinator and the chair: every meeting not yet held, and each held one whose
    minutes are not yet sent out. For an invited agency: each circulated meeting (research
    to do, then the meeting itself) until the chair closes it."""
    if actor.area_id is None or not actor.can(Permission.MEETINGS_READ):
        return []
    runner = actor.can(Permission.MEETINGS_RUN)
    statement = select(Meeting).where(Meeting.area_id == actor.area_id)
    if runner:
        unsent = (
            select(Minutes.meeting_id)
            .where(Minutes.meeting_id == Meeting.id, Minutes.status == MinutesStatus.DISTRIBUTED)
            .exists()
        )
        statement = statement.where((Meeting.status != MeetingStatus.HELD) | ~unsent)
    else:
        statement = statement.where(Meeting.status == MeetingStatus.CIRCULATED)
    found = [
        m
        for m in session()
        .execute(statement.order_by(Meeting.held_on, Meeting.start_time, Meeting.id))
        .scalars()
        if runner or is_invited(actor, m)
    ][:limit]
    return _with_counts(actor, found)


def _with_counts(actor: Actor, found: list[Meeting]) -> list[MeetingRow]:
    """Each meeting with the number of its cases this person may know of, in one query."""
    counts: dict[int, int] = {}
    if found:
        counts = dict(
            session()
            .execute(
                select(AgendaItem.meeting_id, func.count())
                .join(Referral, Referral.id == AgendaItem.referral_id)
                .where(AgendaItem.meeting_id.in_([m.id for m in found]), knowable(actor))
                .group_by(AgendaItem.meeting_id)
            )
            .all()
        )
    return [MeetingRow(m, counts.get(m.id, 0)) for m in found]


# --- what this person may know of an agenda ------------------------------------------------


def known_items(actor: Actor, meeting: Meeting) -> list[tuple[AgendaItem, Referral]]:
    """The agenda lines whose case this person may know, in order, filtered in the query."""
    return list(
        session()
        .execute(
            select(AgendaItem, Referral)
            .join(Referral, Referral.id == AgendaItem.referral_id)
            .where(AgendaItem.meeting_id == meeting.id, knowable(actor))
            .order_by(AgendaItem.position, AgendaItem.id)
            .options(selectinload(Referral.victim))
        )
        .all()
    )


def known_case_ids(actor: Actor, case_ids: Iterable[int]) -> set[int]:
    """Which of these cases this person may know exist (one query)."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return set()
    return set(
        session()
        .execute(select(Referral.id).where(Referral.id.in_(wanted), knowable(actor)))
        .scalars()
    )


def partners_known(actor: Actor, referrals_: Iterable[Referral]) -> set[int]:
    """The cases among these whose counter-allegation partner this person may know."""
    pairs = {r.id: r.counter_allegation_id for r in referrals_ if r.counter_allegation_id}
    known = known_case_ids(actor, pairs.values())
    return {case_id for case_id, other in pairs.items() if other in known}


def seen_number(actor: Actor, meeting: Meeting, item: AgendaItem) -> int:
    """The number this person sees an agenda line under (counting only lines they may know)."""
    ids = [i.id for i, _referral in known_items(actor, meeting)]
    return ids.index(item.id) + 1 if item.id in ids else 0


# --- scheduling ---------------------------------------------------------------------------


@dataclass
class ScheduleData:
    first_on: date | None
    start_time: time | None
    venue: str
    kind: MeetingKind
    #: For a scheduled series: how often; ignored for ad hoc and emergency meetings.
    cadence: Cadence | None = None
    count: int = 1


def _nth_weekday(day: date) -> tuple[int, int]:
    """Which weekday and which occurrence of it in the month (e.g. the 2nd Tuesday)."""
    return day.weekday(), (day.day - 1) // 7


def _same_weekday_next_month(first: date, months: int) -> date:
    weekday, nth = _nth_weekday(first)
    year = first.year + (first.month - 1 + months) // 12
    month = (first.month - 1 + months) % 12 + 1
    days = calendar.monthrange(year, month)[1]
    candidates = [
        date(year, month, d)
        for d in range(1, days + 1)
        if date(year, month, d).weekday() == weekday
    ]
    return candidates[min(nth, len(candidates) - 1)]  # a 5th Tuesday becomes the last one


def series_dates(first: date, cadence: Cadence, count: int) -> list[date]:
    """The meeting days of a series starting on ``first``."""
    if cadence is Cadence.MONTHLY:
        return [_same_weekday_next_month(first, n) for n in range(count)]
    step = {Cadence.WEEKLY: 7, Cadence.FORTNIGHTLY: 14, Cadence.THREE_WEEKLY: 21}[cadence]
    return [first + timedelta(days=step * n) for n in range(count)]


def schedule_meetings(actor: Actor, data: ScheduleData) -> list[Meeting]:
    """Schedule one meeting or a recurring series for the actor's area."""
    if not actor.can(Permission.MEETINGS_RUN) or actor.area_id is None:
        raise Forbidden("Only the MARAC coordinator or chair can schedule meetings.")
    area = session().get(MaracArea, actor.area_id)
    assert area is not None
    errors: dict[str, str] = {}
    if data.first_on is None:
        errors["first_on"] = "Enter the date of the meeting"
    elif data.first_on < today_london():
        errors["first_on"] = "The date of the meeting must be today or in the future"
    if data.start_time is None:
        errors["start_time"] = "Enter the time the meeting starts, like 10:00"
    if not data.venue.strip():
        errors["venue"] = "Enter where the meeting is held, or 'Virtual'"
    elif len(data.venue) > 200:
        errors["venue"] = "The venue must be 200 characters or fewer"
    count = data.count if data.kind is MeetingKind.SCHEDULED else 1
    if data.kind is MeetingKind.SCHEDULED and not 1 <= count <= MAX_SERIES:
        errors["count"] = f"Schedule between 1 and {MAX_SERIES} meetings at a time"
    if errors:
        raise ValidationFailed(errors)
    assert data.first_on is not None and data.start_time is not None
    cadence = data.cadence or Cadence(area.meeting_cadence)
    days = (
        series_dates(data.first_on, cadence, count)
        if data.kind is MeetingKind.SCHEDULED
        else [data.first_on]
    )
    made = []
    for day in days:
        cutoff = (
            day
            if data.kind is MeetingKind.EMERGENCY
            else (day - timedelta(days=area.agenda_cutoff_days))
        )
        meeting = Meeting(
            area_id=area.id,
            held_on=day,
            start_time=data.start_time,
            venue=data.venue.strip(),
            kind=data.kind.value,
            cadence=cadence.value if data.kind is MeetingKind.SCHEDULED else "",
            cutoff_on=cutoff,
            status=MeetingStatus.PLANNED,
            chair_id=actor.member_id if actor.has_role(Role.CHAIR) else None,
            coordinator_id=actor.member_id if actor.has_role(Role.COORDINATOR) else None,
            created_by_id=actor.member_id,
            created_at=now(),
        )
        session().add(meeting)
        session().flush()
        record(
            actor,
            LedgerAction.MEETING_SCHEDULED,
            Subject("meeting", meeting.id),
            meeting=meeting.id,
            kind=meeting.kind,
            held_on=day.isoformat(),
        )
        made.append(meeting)
    return made


# --- the agenda ---------------------------------------------------------------------------


def _waiting_elsewhere(referral_id: int, meeting: Meeting) -> AgendaItem | None:
    """The item holding this case on another meeting that has not yet been held."""
    return (
        session()
        .execute(
            select(AgendaItem)
            .join(Meeting)
            .where(
                AgendaItem.referral_id == referral_id,
                AgendaItem.meeting_id != meeting.id,
                AgendaItem.status == ItemStatus.LISTED,
                Meeting.status != MeetingStatus.HELD,
            )
            .limit(1)
        )
        .scalar_one_or_none()
    )


def _last_deferral(referral_id: int, meeting: Meeting) -> AgendaItem | None:
    """The item that deferred this case at an earlier meeting, if its latest was deferred."""
    latest = (
        session()
        .execute(
            select(AgendaItem)
            .join(Meeting)
            .where(
                AgendaItem.referral_id == referral_id,
                AgendaItem.meeting_id != meeting.id,
                Meeting.held_on <= meeting.held_on,
            )
            .order_by(Meeting.held_on.desc(), AgendaItem.id.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )
    if latest is not None and latest.status == ItemStatus.DEFERRED:
        return latest
    return None


def _received_on(referral: Referral) -> date | None:
    from hub.core.clock import to_london

    if referral.submitted_at is not None:
        return to_london(referral.submitted_at).date()
    return referral.referred_on


def _new_item(
    actor: Actor, meeting: Meeting, referral: Referral, *, late_reason: str = "", late: bool = False
) -> AgendaItem:
    deferred = _last_deferral(referral.id, meeting)
    item = AgendaItem(
        referral_id=referral.id,
        position=len(meeting.items) + 1,
        is_repeat=referral.is_repeat,
        is_counter_allegation=referral.counter_allegation_id is not None,
        transferred_from=referral.transferred_from or "",
        is_emergency=meeting.is_emergency,
        deferred_from_item_id=deferred.id if deferred is not None else None,
        added_after_cutoff=late,
        late_reason=late_reason.strip(),
        status=ItemStatus.LISTED,
        added_by_id=actor.member_id,
        added_at=now(),
    )
    meeting.items.append(item)
    session().flush()
    _grant_invited(actor, meeting, [item])
    record(
        actor,
        LedgerAction.AGENDA_CASE_ADDED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=referral.id,
        late=late,
        deferred_from=item.deferred_from_item_id,
        flags=item.flag_codes,
    )
    return item


def _ensure_agenda_open(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.HELD:
        raise Conflict("The meeting has been held: its agenda can no longer change.")


def build_agenda(actor: Actor, meeting: Meeting) -> list[AgendaItem]:
    """Put every eligible case on the agenda, flagged; returns the items added."""
    require_runner(actor, meeting)
    _ensure_agenda_open(meeting)
    on_agenda = {i.referral_id for i in meeting.items}
    # Never a case this person may not know (walls, must-not-receive): another coordinator
    # of the area lists it. Filtered in the query; nothing here says that such a case exists.
    accepted = (
        session()
        .execute(
            select(Referral)
            .where(
                Referral.area_id == meeting.area_id,
                Referral.status == ReferralStatus.ACCEPTED,
                knowable(actor),
            )
            .order_by(Referral.submitted_at, Referral.id)
        )
        .scalars()
        .all()
    )
    by_id = {r.id: r for r in accepted}
    added: list[AgendaItem] = []
    for referral in accepted:
        if referral.id in on_agenda or _waiting_elsewhere(referral.id, meeting) is not None:
            continue
        deferred = _last_deferral(referral.id, meeting) is not None
        received = _received_on(referral)
        in_time = received is not None and received <= meeting.cutoff_on
        if meeting.is_emergency or not (in_time or deferred):
            continue  # emergency meetings take named cases only; late ones wait
        added.append(_new_item(actor, meeting, referral))
        on_agenda.add(referral.id)
    # Counter-allegations are heard together: bring in the other half if it is accepted (and
    # this person may know both halves).
    for item, referral in known_items(actor, meeting):
        if not item.is_counter_allegation:
            continue
        other_id = referral.counter_allegation_id
        other = by_id.get(other_id) if other_id else None
        if other is None or other.id in on_agenda or _waiting_elsewhere(other.id, meeting):
            continue
        added.append(
            _new_item(
                actor,
                meeting,
                other,
                late=not _in_time(other, meeting),
                late_reason="Heard together with its counter-allegation",
            )
        )
        on_agenda.add(other.id)
    _arrange(meeting)
    return added


def _in_time(referral: Referral, meeting: Meeting) -> bool:
    received = _received_on(referral)
    return received is not None and received <= meeting.cutoff_on


def is_past_cutoff(meeting: Meeting, today: date | None = None) -> bool:
    return not meeting.is_emergency and (today or today_london()) > meeting.cutoff_on


def reference_example(meeting: Meeting) -> str:
    """A case reference in the meeting's area's format, for the page's hint."""
    return referrals.reference_example(session().get_one(MaracArea, meeting.area_id))


def add_case(actor: Actor, meeting: Meeting, reference: str, reason: str = "") -> AgendaItem:
    """Add one accepted case by its reference; after the cut-off only with a reason."""
    require_runner(actor, meeting)
    _ensure_agenda_open(meeting)
    wanted = reference.strip().upper()
    if not wanted:
        raise ValidationFailed(
            {"reference": f"Enter the case reference, like {reference_example(meeting)}"}
        )
    referral = (
        session()
        .execute(
            select(Referral).where(
                Referral.reference == wanted, Referral.area_id == meeting.area_id
            )
        )
        .scalar_one_or_none()
    )
    no_case = "There is no case with that reference in this MARAC"
    if referral is None:
        raise ValidationFailed({"reference": no_case})
    if not gate.would_know(actor, case_facts(referral)):
        # Exactly as if it did not exist, and recorded.
        gate.refuse(
            actor,
            referral.id,
            "no_need_to_know",
            area_id=referral.area_id,
            attempted=LedgerAction.AGENDA_CASE_ADDED,
        )
        raise ValidationFailed({"reference": no_case})
    if referral.status != ReferralStatus.ACCEPTED:
        raise ValidationFailed(
            {
                "reference": "Only a case the coordinator has accepted can go "
                f"on the agenda (this one is "
                f"{referral.status.label.lower()})"
            }
        )
    if any(i.referral_id == referral.id for i in meeting.items):
        raise ValidationFailed({"reference": "This case is already on the agenda"})
    elsewhere = _waiting_elsewhere(referral.id, meeting)
    if elsewhere is not None:
        raise ValidationFailed(
            {
                "reference": "This case is already on the agenda of the meeting "
                f"on {elsewhere.meeting.held_on:%d %B %Y}: defer "
                "it there first"
            }
        )
    late = is_past_cutoff(meeting) or (not meeting.is_emergency and not _in_time(referral, meeting))
    if late and len(reason.strip()) < MIN_REASON:
        raise ValidationFailed(
            {
                "reason": "The cut-off has passed: give the reason this case "
                "cannot wait for the next meeting"
            }
        )
    item = _new_item(actor, meeting, referral, late=late, late_reason=reason if late else "")
    _arrange(meeting)
    if meeting.status == MeetingStatus.CIRCULATED:
        _give_invited(actor, meeting, [item])
    return item


def get_item(meeting: Meeting, item_id: int) -> AgendaItem:
    """An agenda line by id, for code acting as the hub itself; people go through
    ``load_item``, which asks the gate."""
    for item in meeting.items:
        if item.id == item_id:
            return item
    raise NotFound("There is no such case on this agenda.")


def _partner(meeting: Meeting, item: AgendaItem) -> AgendaItem | None:
    if not item.is_counter_allegation:
        return None
    referral = session().get(Referral, item.referral_id)
    other = referral.counter_allegation_id if referral else None
    return next((i for i in meeting.items if i.referral_id == other), None)


def _blocks(meeting: Meeting) -> list[list[AgendaItem]]:
    """The agenda in order, each counter-allegation pair as one block."""
    ordered = sorted(meeting.items, key=lambda i: (i.position, i.id))
    placed: set[int] = set()
    blocks = []
    for item in ordered:
        if item.id in placed:
            continue
        block = [item]
        partner = _partner(meeting, item)
        if partner is not None and partner.id not in placed:
            block.append(partner)
        placed.update(i.id for i in block)
        blocks.append(block)
    return blocks


def _renumber(blocks: Iterable[list[AgendaItem]]) -> None:
    position = 1
    for block in blocks:
        for item in block:
            item.position = position
            position += 1
    session().flush()


def _arrange(meeting: Meeting) -> None:
    """Keep each counter-allegation pair adjacent and positions 1..n."""
    _renumber(_blocks(meeting))


def move_item(actor: Actor, meeting: Meeting, item_id: int, direction: str) -> None:
    """Move a case (with its counter-allegation partner) one place up or down.

    One place as this person sees the agenda: lines they may not know keep their places,
    so a move never seems to do nothing because of a case they cannot see.
    """
    item = load_item(actor, meeting, item_id, LedgerAction.AGENDA_REORDERED)
    require_runner(actor, meeting)
    _ensure_agenda_open(meeting)
    if direction not in {"up", "down"}:
        raise ValidationFailed({"direction": "Choose up or down"})
    blocks = _blocks(meeting)
    known = {i.id for i, _referral in known_items(actor, meeting)}
    index = next(n for n, block in enumerate(blocks) if any(i.id == item.id for i in block))
    step = -1 if direction == "up" else 1
    target = index + step
    while 0 <= target < len(blocks) and not any(i.id in known for i in blocks[target]):
        target += step
    if 0 <= target < len(blocks):
        blocks[index], blocks[target] = blocks[target], blocks[index]
    _renumber(blocks)
    record(
        actor,
        LedgerAction.AGENDA_REORDERED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
        direction=direction,
    )


def defer_item(
    actor: Actor,
    meeting: Meeting,
    item_id: int,
    reason: str,
    *,
    kind: DeferralKind = DeferralKind.COORDINATOR,
) -> AgendaItem:
    """Defer a case to the next meeting, with the reason; it comes back flagged."""
    item = load_item(actor, meeting, item_id, LedgerAction.AGENDA_CASE_DEFERRED)
    require_runner(actor, meeting)
    ensure_record_open(meeting)
    if kind is DeferralKind.REFERRER_ABSENT and not reason.strip():
        reason = "The referrer was absent and had not briefed a representative."
    if len(reason.strip()) < MIN_REASON:
        raise ValidationFailed({"reason": "Give the reason for deferring this case"})
    if len(reason) > 2000:
        raise ValidationFailed({"reason": "The reason must be 2,000 characters or fewer"})
    item.status = ItemStatus.DEFERRED
    item.deferral_kind = kind.value
    item.deferral_reason = reason.strip()
    session().flush()
    record(
        actor,
        LedgerAction.AGENDA_CASE_DEFERRED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
        kind=kind.value,
    )
    return item


def remove_item(actor: Actor, meeting: Meeting, item_id: int) -> None:
    """Take a case off an agenda that has not been circulated (nobody has seen it yet)."""
    item = load_item(actor, meeting, item_id, LedgerAction.AGENDA_CASE_REMOVED)
    require_runner(actor, meeting)
    if meeting.status != MeetingStatus.PLANNED:
        raise Conflict("The agenda has been circulated: defer the case instead, with a reason.")
    meeting.items.remove(item)
    session().flush()
    _arrange(meeting)
    record(
        actor,
        LedgerAction.AGENDA_CASE_REMOVED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
    )


# --- circulation --------------------------------------------------------------------------


def area_agencies(area_id: int) -> list[Agency]:
    return list(
        session()
        .execute(
            select(Agency)
            .where(Agency.area_id == area_id, Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
    )


def circulate_agenda(
    actor: Actor, meeting: Meeting, agency_ids: Iterable[int] | None = None
) -> list[MeetingInvitation]:
    """Send the agenda to agencies: they are invited, need to know its cases, and research."""
    require_runner(actor, meeting)
    _ensure_agenda_open(meeting)
    if not meeting.items:
        raise ValidationFailed({"agency_ids": "Put at least one case on the agenda first"})
    active = {a.id: a for a in area_agencies(meeting.area_id)}
    chosen = set(active) if agency_ids is None else set(agency_ids)
    if not chosen:
        raise ValidationFailed({"agency_ids": "Select the agencies to invite"})
    unknown = chosen - set(active)
    if unknown:
        raise ValidationFailed({"agency_ids": "Select agencies of this MARAC"})
    referring = {
        r
        for (r,) in session().execute(
            select(Referral.referring_agency_id).where(
                Referral.id.in_([i.referral_id for i in meeting.items])
            )
        )
    }
    chosen |= referring & set(active)  # the referrer presents the case: always invited
    existing = meeting.invited_agency_ids
    made = []
    for agency_id in sorted(chosen - existing):
        invitation = MeetingInvitation(
            agency_id=agency_id, invited_by_id=actor.member_id, invited_at=now()
        )
        meeting.invitations.append(invitation)
        made.append(invitation)
    meeting.status = MeetingStatus.CIRCULATED
    if meeting.circulated_at is None:
        meeting.circulated_at = now()
        meeting.circulated_by_id = actor.member_id
    session().flush()
    _grant_invited(actor, meeting, meeting.items)
    record(
        actor,
        LedgerAction.AGENDA_CIRCULATED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        agencies=sorted(i.agency_id for i in made),
        cases=[i.referral_id for i in meeting.items],
    )
    _give_invited(
        actor,
        meeting,
        meeting.items,
        only_agencies={i.agency_id for i in made} if existing else None,
    )
    return made


def _give_invited(
    actor: Actor,
    meeting: Meeting,
    items: Iterable[AgendaItem],
    *,
    only_agencies: set[int] | None = None,
) -> None:
    """Each invited agency's to-do template runs for each case it now knows."""
    publish(
        CasesCirculated(
            actor,
            meeting.id,
            tuple(i.id for i in items),
            tuple(sorted(only_agencies)) if only_agencies is not None else None,
        )
    )


# --- what a person sees of the agenda -----------------------------------------------------


def _rows(
    actor: Actor,
    meeting: Meeting,
    pairs: list[tuple[AgendaItem, Referral]],
    *,
    action: str,
    numbers: dict[int, int] | None = None,
) -> list[AgendaRow]:
    referral_rows = [r for _item, r in pairs]
    facts = facts_many(referral_rows)
    # Only what each line shows is disclosed: identity, and the minutes where a line has a
    # written reason to show.
    reasons = [facts[r.id] for i, r in pairs if presenters.has_reasons(i)]
    plain = [facts[r.id] for i, r in pairs if not presenters.has_reasons(i)]
    decided = gate.disclose_many(
        actor, reasons, [Category.IDENTITY, Category.MINUTES], action=action
    )
    decided.update(gate.disclose_many(actor, plain, [Category.IDENTITY], action=action))
    partners = partners_known(actor, referral_rows)
    agencies = {a.id: a.name for a in area_agencies(meeting.area_id)}
    rows: list[AgendaRow] = []
    for item, referral in pairs:
        disclosure = decided.get(referral.id)
        if disclosure is None:
            continue  # refused after all (the list raced a change): nothing of it is shown
        rows.append(
            presenters.agenda_row(
                item,
                referral,
                disclosure,
                number=numbers[item.id] if numbers else len(rows) + 1,
                referring_agency=agencies.get(referral.referring_agency_id, ""),
                partner_known=referral.id in partners,
            )
        )
    return rows


def agenda_rows(
    actor: Actor, meeting: Meeting, *, action: str = LedgerAction.AGENDA_VIEWED
) -> list[AgendaRow]:
    """The agenda through the gate: one decision per case, each recorded.

    Only the cases this person may know are listed (filtered in the query), numbered 1, 2,
    3 ... as they see them: a case they may not know leaves no gap, no count, no reference.
    """
    return _rows(actor, meeting, known_items(actor, meeting), action=action)


def agenda_row(actor: Actor, meeting: Meeting, item: AgendaItem, *, action: str) -> AgendaRow:
    """One line of the agenda through the gate (the defer page); a concealed case is a 404."""
    pairs = known_items(actor, meeting)
    numbers = {i.id: n for n, (i, _referral) in enumerate(pairs, start=1)}
    rows = _rows(
        actor, meeting, [p for p in pairs if p[0].id == item.id], action=action, numbers=numbers
    )
    if not rows:
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_need_to_know")
    return rows[0]


def default_chair_and_coordinator(area_id: int) -> tuple[Member | None, Member | None]:
    """The area's first active chair and coordinator (for meetings scheduled by the CLI)."""
    from agencies.models import MemberRole

    def first(role: Role) -> Member | None:
        return (
            session()
            .execute(
                select(Member)
                .join(Agency)
                .join(MemberRole)
                .where(
                    Agency.area_id == area_id,
                    MemberRole.role == role.value,
                    Member.disabled_at.is_(None),
                )
                .order_by(Member.id)
                .limit(1)
            )
            .scalar_one_or_none()
        )

    return first(Role.CHAIR), first(Role.COORDINATOR)
