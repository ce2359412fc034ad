"""The meeting itself, in the practice order (practice rules 12-17).

Opening: the confidentiality statement read, attendance (present, apologies, information sent
in, observers with a signed statement), then the review of outstanding actions. Then each
case: the referrer's reason and risks, the victim's views (IDVA), what each agency shares,
the chair's risk summary, the primary-aggressor note for counter-allegations, who tells the
victim; actions volunteered by agencies (each becomes a task on the agency's to-do list); or
deferral when the referrer is absent and unbriefed. The chair closes the meeting; the
coordinator then has 3 working days to send out the minutes (a system-rule task).

Everything here refuses to change the record once the minutes are approved (they are locked;
``meetings.minutes.amend_minutes`` adds a revision instead). Every page that shows a case
opens it through the gate first (``open_item``) and shows it through ``meetings.presenters``.

Every change to a case's record asks the gate first whether the actor may act on the case at
all (``act_on``: walls, must-not-receive, need to know), so a forged post for a case the actor
may not know gets the concealed 404 and changes nothing. Writing the record of a case
(discussion, what was shared, actions, review notes) needs the minutes of that case too: a
person whose case page withholds them cannot read what they would be changing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select

from agencies.models import Agency, Member, MemberStatus
from agencies.services import actor_for
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import casefile, lifecycle
from cases import services as referrals
from cases.facts import case_facts, facts_many, knowable
from cases.lifecycle import Decision
from cases.models import Referral
from consent import gate
from consent.categories import Category
from consent.gate import Disclosure
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Conflict, Refused, ValidationFailed
from hub.core.events import publish
from meetings import presenters, services
from meetings.events import ActionAgreed, MeetingClosed
from meetings.models import (
    DISCUSSION_FIELDS,
    Action,
    ActionReview,
    ActionStatus,
    AgendaItem,
    Attendance,
    AttendanceKind,
    CaseDiscussion,
    Contribution,
    DeferralKind,
    ItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesStatus,
)
from meetings.presenters import CaseRecord, ReviewRow

MAX_SECTION = 8000
TEXT_FIELDS = [name for name, _label, _required in DISCUSSION_FIELDS]
#: Fields the chair's page may save, besides the text sections.
OTHER_FIELDS = [
    "informs_victim_agency_id",
    "informs_victim_name",
    "include_whereabouts",
    "whereabouts_reason",
]
MIN_WHEREABOUTS_REASON = 10


def _editable(actor: Actor, meeting: Meeting) -> None:
    services.require_runner(actor, meeting)
    if meeting.status == MeetingStatus.PLANNED:
        raise Conflict("Circulate the agenda before the meeting starts.")
    services.ensure_record_open(meeting)


def writes_record(actor: Actor, referral: Referral, operation: str) -> None:
    """The record of a case is written only by someone who may read it (its minutes).

    Asked after ``act_on``: the actor knows the case, so the refusal is a plain 403 that
    names what is missing, and it is recorded.
    """
    decided = gate.preview(actor, case_facts(referral), [Category.MINUTES])
    if not decided.allows(Category.MINUTES):
        raise referrals.forbid(
            actor,
            referral,
            operation,
            "The record of this case is withheld from you "
            f"({decided.reason_withheld(Category.MINUTES)}): nothing was changed. "
            "Someone who may read its minutes must write it.",
        )


def open_item(
    actor: Actor, meeting: Meeting, item: AgendaItem, action: str = LedgerAction.MEETING_CASE_OPENED
) -> tuple[Referral, Disclosure]:
    """A case on the chair's page, through the gate (who, the risk, children, minutes)."""
    services.require_runner(actor, meeting)
    return referrals.open_case(
        actor,
        item.referral_id,
        [Category.IDENTITY, Category.RISK, Category.CHILDREN, Category.MINUTES],
        action=action,
    )


@dataclass
class CasePage:
    """The chair's page for one case: the case file's view, the record, and where it sits."""

    referral_id: int
    view: Any
    record: CaseRecord
    #: The number this person sees the case under, of how many they may know.
    number: int
    total: int
    previous_item_id: int | None
    next_item_id: int | None
    owners: list[tuple[int, str]]
    referrer_present: bool
    #: May this person mark the case discussed or deferred now?
    can_outcome: bool
    #: May this person change the record of this case now (and read it)?
    editable: bool
    #: May this person put the victim's whereabouts in the minutes (the chair only)?
    may_include_whereabouts: bool


def case_page(actor: Actor, meeting: Meeting, item: AgendaItem) -> CasePage:
    """The chair's page for a case: everything of the case through the gate's decision."""
    referral, disclosure = open_item(actor, meeting, item)
    agencies = {a.id: a.name for a in services.area_agencies(meeting.area_id)}
    record = presenters.case_record(
        item,
        referral,
        disclosure,
        agencies=agencies,
        members=names_for(item.actions)["member"],
        partner_known=bool(services.partners_known(actor, [referral])),
    )
    ordered = [i.id for i, _referral in services.known_items(actor, meeting)]
    index = ordered.index(item.id)
    can_outcome = can_record(actor, meeting)
    editable = can_outcome and record.shown
    owners = (
        [(m.id, f"{m.agency.name} – {m.name}") for m in eligible_owners(meeting, referral)]
        if editable
        else []
    )
    return CasePage(
        referral_id=referral.id,
        view=casefile.case_view(referral, disclosure),
        record=record,
        number=index + 1,
        total=len(ordered),
        previous_item_id=ordered[index - 1] if index > 0 else None,
        next_item_id=ordered[index + 1] if index + 1 < len(ordered) else None,
        owners=owners,
        referrer_present=referrer_present(meeting, referral),
        can_outcome=can_outcome,
        editable=editable,
        may_include_whereabouts=editable and may_include_whereabouts(actor, meeting, referral),
    )


def next_item_id(actor: Actor, meeting: Meeting, item: AgendaItem) -> int | None:
    """The case after this one, as this person sees the agenda."""
    ordered = [i.id for i, _referral in services.known_items(actor, meeting)]
    index = ordered.index(item.id) if item.id in ordered else len(ordered)
    return ordered[index + 1] if index + 1 < len(ordered) else None


# --- opening ------------------------------------------------------------------------------


def mark_confidentiality_read(actor: Actor, meeting: Meeting) -> Meeting:
    """Record that the confidentiality statement was read out."""
    _editable(actor, meeting)
    meeting.confidentiality_read_at = now()
    meeting.confidentiality_read_by_id = actor.member_id
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_CONFIDENTIALITY_READ,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
    )
    return meeting


@dataclass
class AttendanceData:
    kind: str
    agency_id: int | None = None
    name: str = ""
    role: str = ""
    information_received_on: date | None = None
    confidentiality_signed: bool = False


def record_attendance(actor: Actor, meeting: Meeting, data: AttendanceData) -> Attendance:
    """Add one line to the attendance: present, apologies, information sent in, observer."""
    _editable(actor, meeting)
    errors: dict[str, str] = {}
    try:
        kind = AttendanceKind(data.kind)
    except ValueError:
        raise ValidationFailed(
            {"kind": "Choose present, apologies, information sent in or observer"}
        ) from None
    agency = session().get(Agency, data.agency_id) if data.agency_id else None
    if agency is not None and (agency.area_id != meeting.area_id or agency.is_disabled):
        errors["agency_id"] = "Select an agency of this MARAC"
    if agency is None and kind is not AttendanceKind.OBSERVER:
        errors["agency_id"] = "Select the agency"
    name = " ".join(data.name.split())
    if kind in (AttendanceKind.PRESENT, AttendanceKind.OBSERVER) and not name:
        errors["name"] = "Enter the name of the person attending"
    if len(name) > 160 or len(data.role) > 160:
        errors["name"] = "Keep the name and role to 160 characters each"
    if kind is AttendanceKind.INFORMATION_SENT:
        if data.information_received_on is None:
            errors["information_received_on"] = "Enter the date the information was received"
        elif data.information_received_on > today_london():
            errors["information_received_on"] = "The date received cannot be in the future"
    if kind is AttendanceKind.OBSERVER and not data.confidentiality_signed:
        errors["confidentiality_signed"] = (
            "An observer must sign the confidentiality statement before the meeting"
        )
    if errors:
        raise ValidationFailed(errors)
    row = Attendance(
        kind=kind.value,
        agency_id=agency.id if agency else None,
        name=name,
        role=" ".join(data.role.split()),
        information_received_on=data.information_received_on
        if kind is AttendanceKind.INFORMATION_SENT
        else None,
        confidentiality_signed=data.confidentiality_signed
        if kind is AttendanceKind.OBSERVER
        else False,
        recorded_by_id=actor.member_id,
        recorded_at=now(),
    )
    meeting.attendance.append(row)
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_ATTENDANCE_RECORDED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        kind=kind.value,
        agency=row.agency_id,
    )
    return row


def remove_attendance(actor: Actor, meeting: Meeting, attendance_id: int) -> None:
    _editable(actor, meeting)
    row = next((a for a in meeting.attendance if a.id == attendance_id), None)
    if row is None:
        raise ValidationFailed("That line is not in this meeting's attendance.")
    meeting.attendance.remove(row)
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_ATTENDANCE_REMOVED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        kind=row.kind,
        agency=row.agency_id,
    )


# --- review of outstanding actions --------------------------------------------------------


def outstanding_actions(meeting: Meeting, actor: Actor | None = None) -> list[Action]:
    """Open actions from earlier meetings of the area, and those this meeting reviewed.

    With an actor: only those of cases the actor may know, filtered in the query.
    """
    reviewed = select(ActionReview.action_id).where(ActionReview.meeting_id == meeting.id)
    query = (
        select(Action)
        .join(Meeting, Meeting.id == Action.meeting_id)
        .where(
            Meeting.area_id == meeting.area_id,
            Action.meeting_id != meeting.id,
            Meeting.held_on <= meeting.held_on,
            or_(Action.status == ActionStatus.OPEN, Action.id.in_(reviewed)),
        )
        .order_by(Meeting.held_on, Action.id)
    )
    if actor is not None:
        query = query.join(Referral, Referral.id == Action.referral_id).where(knowable(actor))
    return list(session().execute(query).scalars())


def review_rows(
    actor: Actor, meeting: Meeting, *, action: str = LedgerAction.MEETING_REVIEW_VIEWED
) -> list[ReviewRow]:
    """The review list as this person may see it: one gate decision per case."""
    actions = outstanding_actions(meeting, actor)
    reviews = {
        r.action_id: r
        for r in session()
        .execute(select(ActionReview).where(ActionReview.meeting_id == meeting.id))
        .scalars()
    }
    names = names_for(actions)
    cases = {
        r.id: r
        for r in session()
        .execute(select(Referral).where(Referral.id.in_({a.referral_id for a in actions} or {0})))
        .scalars()
    }
    facts = facts_many(list(cases.values()))
    decided = gate.disclose_many(actor, list(facts.values()), [Category.MINUTES], action=action)
    rows = []
    for row in actions:
        disclosure = decided.get(row.referral_id)
        if disclosure is None:
            continue
        rows.append(
            presenters.review_row(
                row,
                cases[row.referral_id],
                disclosure,
                agency=names["agency"].get(row.agency_id, ""),
                owner=names["member"].get(row.owner_member_id, ""),
                review=reviews.get(row.id),
            )
        )
    return rows


def names_for(actions: Iterable[Action]) -> dict[str, dict[int, str]]:
    actions = list(actions)
    agency_ids = {a.agency_id for a in actions}
    member_ids = {a.owner_member_id for a in actions}
    agencies = dict(
        session()
        .execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids or {0})))
        .all()
    )
    members = dict(
        session()
        .execute(select(Member.id, Member.name).where(Member.id.in_(member_ids or {0})))
        .all()
    )
    return {"agency": agencies, "member": members}


def outstanding_action(actor: Actor, meeting: Meeting, action_id: int, operation: str) -> Action:
    """An action on this meeting's review, once the gate has said the actor may act on its
    case; one that is not there answers as one whose case is concealed."""
    target = next((a for a in outstanding_actions(meeting) if a.id == action_id), None)
    if target is None:
        from audit.ledger import record_refusal

        record_refusal(
            actor,
            LedgerAction.ACCESS_DENIED,
            Subject("meeting", meeting.id),
            meeting=meeting.id,
            action_id=action_id,
            reason="no_such_action",
            attempted=operation,
        )
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_action")
    referrals.act_on(actor, referrals.get_referral(target.referral_id), operation)
    return target


def review_action(
    actor: Actor, meeting: Meeting, action_id: int, outcome: str, note: str = ""
) -> ActionReview:
    """Record what became of an earlier action: done, not possible, not done, still open."""
    operation = LedgerAction.MEETING_ACTION_REVIEWED
    target = outstanding_action(actor, meeting, action_id, operation)
    _editable(actor, meeting)
    writes_record(actor, referrals.get_referral(target.referral_id), operation)
    try:
        status = ActionStatus(outcome)
    except ValueError:
        raise ValidationFailed(
            {"outcome": "Choose done, not possible, not done or still open"}
        ) from None
    if status in (ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE) and not note.strip():
        raise ValidationFailed({"note": "Say briefly why it was not done"})
    if len(note) > 2000:
        raise ValidationFailed({"note": "Keep the note to 2,000 characters or fewer"})
    review = (
        session()
        .execute(
            select(ActionReview).where(
                ActionReview.meeting_id == meeting.id, ActionReview.action_id == target.id
            )
        )
        .scalar_one_or_none()
    )
    if review is None:
        review = ActionReview(meeting_id=meeting.id, action_id=target.id, outcome=status.value)
        session().add(review)
    review.outcome = status.value
    review.note = note.strip()
    review.reviewed_by_id = actor.member_id
    review.reviewed_at = now()
    target.status = status.value
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_ACTION_REVIEWED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=target.referral_id,
        action_id=target.id,
        outcome=status.value,
    )
    return review


# --- the cases ----------------------------------------------------------------------------


def discussion_of(item: AgendaItem) -> CaseDiscussion:
    if item.discussion is None:
        item.discussion = CaseDiscussion()
        session().flush()
    return item.discussion


def may_include_whereabouts(actor: Actor, meeting: Meeting, referral: Referral) -> bool:
    """Whether this person may put the victim's whereabouts into the minutes of this case.

    Only the chair, and only one who could reveal them with a reason themself: not from the
    other side of a counter-allegation, nor from an agency that knows the case only from an
    agenda. Each copy of the minutes still reveals them through the gate for its recipient.
    """
    if not services.is_chair(actor, meeting) or not actor.can(Permission.WHEREABOUTS_REVEAL):
        return False
    decided = gate.preview(actor, case_facts(referral), [Category.WHEREABOUTS])
    decision = decided.decisions.get(Category.WHEREABOUTS)
    return not decided.refused and decision is not None and decision.code == "masked"


def save_discussion(
    actor: Actor, meeting: Meeting, item: AgendaItem, values: Mapping[str, Any]
) -> CaseDiscussion:
    """Save some or all of a case's sections (the chair's page autosaves field by field)."""
    operation = LedgerAction.MEETING_DISCUSSION_SAVED
    referral = referrals.get_referral(item.referral_id)
    referrals.act_on(actor, referral, operation)
    _editable(actor, meeting)
    writes_record(actor, referral, operation)
    unknown = set(values) - set(TEXT_FIELDS) - set(OTHER_FIELDS)
    if unknown:
        raise ValidationFailed({sorted(unknown)[0]: "This is not part of the case record"})
    errors: dict[str, str] = {}
    for name in TEXT_FIELDS:
        if name in values and len(str(values[name] or "")) > MAX_SECTION:
            errors[name] = f"Keep this to {MAX_SECTION:,} characters or fewer"
    if values.get("primary_aggressor") and not item.is_counter_allegation:
        errors["primary_aggressor"] = "A primary-aggressor note is only for counter-allegations"
    agency_id = values.get("informs_victim_agency_id")
    if agency_id not in (None, ""):
        agency = session().get(Agency, int(agency_id))
        if agency is None or agency.area_id != meeting.area_id:
            errors["informs_victim_agency_id"] = "Select an agency of this MARAC"
    if len(str(values.get("informs_victim_name") or "")) > 160:
        errors["informs_victim_name"] = "Keep the name to 160 characters or fewer"
    include = values.get("include_whereabouts")
    reason = str(values.get("whereabouts_reason") or "").strip()
    current = item.discussion
    changes_whereabouts = "include_whereabouts" in values and (
        bool(include) != bool(current and current.include_whereabouts)
        or (bool(include) and reason != (current.whereabouts_reason if current else ""))
    )
    if changes_whereabouts and not services.is_chair(actor, meeting):
        errors["include_whereabouts"] = (
            "Only the chair decides whether the victim's whereabouts are in the minutes"
        )
    elif changes_whereabouts and include and not may_include_whereabouts(actor, meeting, referral):
        errors["include_whereabouts"] = (
            "The victim's whereabouts cannot go into the minutes of this case: you could not "
            "reveal them yourself"
        )
    elif include and len(reason) < MIN_WHEREABOUTS_REASON:
        errors["whereabouts_reason"] = (
            "Say why the victim's whereabouts must be in the "
            "minutes: they are left out unless there is a reason"
        )
    if errors:
        raise ValidationFailed(errors)
    discussion = discussion_of(item)
    for name in TEXT_FIELDS:
        if name in values:
            setattr(discussion, name, str(values[name] or "").replace("\r\n", "\n").strip())
    if "informs_victim_agency_id" in values:
        discussion.informs_victim_agency_id = (
            int(agency_id) if agency_id not in (None, "") else None
        )
    if "informs_victim_name" in values:
        discussion.informs_victim_name = " ".join(str(values["informs_victim_name"]).split())
    if changes_whereabouts:
        if bool(include) != bool(discussion.include_whereabouts):
            record(
                actor,
                LedgerAction.MEETING_WHEREABOUTS_INCLUDED
                if include
                else LedgerAction.MEETING_WHEREABOUTS_EXCLUDED,
                Subject("meeting", meeting.id),
                meeting=meeting.id,
                case=item.referral_id,
            )
        discussion.include_whereabouts = bool(include)
        discussion.whereabouts_reason = reason if include else ""
    discussion.updated_by_id = actor.member_id
    discussion.updated_at = now()
    session().flush()
    return discussion


def add_contribution(
    actor: Actor, meeting: Meeting, item: AgendaItem, agency_id: int | None, text: str
) -> Contribution:
    """Record what an agency shared at the meeting (only this enters the minutes)."""
    operation = LedgerAction.MEETING_INFORMATION_SHARED
    referral = referrals.get_referral(item.referral_id)
    referrals.act_on(actor, referral, operation)
    _editable(actor, meeting)
    writes_record(actor, referral, operation)
    agency = session().get(Agency, agency_id) if agency_id else None
    errors = {}
    if agency is None or agency.area_id != meeting.area_id:
        errors["agency_id"] = "Select the agency that shared the information"
    if not text.strip():
        errors["text"] = "Enter what the agency shared"
    elif len(text) > MAX_SECTION:
        errors["text"] = f"Keep this to {MAX_SECTION:,} characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    assert agency is not None
    row = Contribution(
        agency_id=agency.id,
        text=text.replace("\r\n", "\n").strip(),
        recorded_by_id=actor.member_id,
        recorded_at=now(),
    )
    item.contributions.append(row)
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_INFORMATION_SHARED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
        agency=agency.id,
        contribution=row.id,
    )
    return row


def _owner_candidates(meeting: Meeting, referral: Referral, facts: gate.CaseFacts) -> list[Member]:
    """People of the agencies at the table who work on the case: the referrer, its case team,
    each agency's MARAC representative, the area's coordinator; never anyone walled off or
    on the must-not-receive list."""
    agency_ids = meeting.invited_agency_ids | {referral.referring_agency_id}
    members = (
        session()
        .execute(
            select(Member)
            .join(Agency)
            .where(
                Agency.area_id == meeting.area_id,
                Member.disabled_at.is_(None),
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(Agency.name, Member.name)
        )
        .scalars()
    )
    chosen = []
    for member in members:
        if member.id in facts.walled_member_ids or member.id in facts.blocked_member_ids:
            continue
        roles = member.roles
        in_case = member.id == facts.referrer_id or member.id in facts.team_member_ids
        at_table = member.agency_id in agency_ids and (in_case or Role.MARAC_REP in roles)
        # The coordinator knows every case of the area, unless a colleague referred it.
        coordinates = Role.COORDINATOR in roles and member.agency_id != referral.referring_agency_id
        if at_table or coordinates:
            chosen.append(member)
    return chosen


def owner_may_read(
    member: Member, referral: Referral, facts: gate.CaseFacts | None = None
) -> gate.Disclosure:
    """What the gate would decide on this case's minutes for this member (recording nothing).

    An action's text is MINUTES: its owner must be able to read it, on the task and in the
    extract, so an action goes only to someone the gate would give this case's minutes.
    """
    return gate.preview(actor_for(member), facts or case_facts(referral), [Category.MINUTES])


def eligible_owners(meeting: Meeting, referral: Referral) -> list[Member]:
    """Who may own an action on this case: the people at the table who work on it and whom
    the gate would give its minutes (an action's text is MINUTES)."""
    facts = case_facts(referral)
    return [
        m
        for m in _owner_candidates(meeting, referral, facts)
        if owner_may_read(m, referral, facts).allows(Category.MINUTES)
    ]


@dataclass
class ActionData:
    text: str
    owner_member_id: int | None
    due_on: date | None


def add_action(actor: Actor, meeting: Meeting, item: AgendaItem, data: ActionData) -> Action:
    """Agree an action: it goes onto the owning agency's to-do list as a task."""
    operation = LedgerAction.MEETING_ACTION_AGREED
    referral = referrals.get_referral(item.referral_id)
    referrals.act_on(actor, referral, operation)
    _editable(actor, meeting)
    writes_record(actor, referral, operation)
    errors: dict[str, str] = {}
    text = data.text.replace("\r\n", "\n").strip()
    if not text:
        errors["text"] = "Enter the action"
    elif len(text) > 2000:
        errors["text"] = "Keep the action to 2,000 characters or fewer"
    owner = None
    if data.owner_member_id is None:
        errors["owner_member_id"] = "Select who owns this action"
    else:
        facts = case_facts(referral)
        owner = next(
            (
                m
                for m in _owner_candidates(meeting, referral, facts)
                if m.id == data.owner_member_id
            ),
            None,
        )
        decided = owner_may_read(owner, referral, facts) if owner is not None else None
        if owner is None or decided is None or decided.refused:
            errors["owner_member_id"] = (
                "Select someone from the list: that person cannot see this case"
            )
            owner = None
        elif not decided.allows(Category.MINUTES):
            errors["owner_member_id"] = (
                f"{owner.agency.name} may not read the minutes of this case, so it cannot "
                f"own an action on it: record consent or a decision to share covering "
                f"{owner.agency.name} first"
            )
            owner = None
    if data.due_on is None:
        errors["due_on"] = "Enter the date the action is due"
    elif data.due_on < today_london():
        errors["due_on"] = "The due date must be today or in the future"
    if item.status == ItemStatus.DEFERRED:
        errors["text"] = "This case was deferred: it has no actions at this meeting"
    if errors:
        raise ValidationFailed(errors)
    assert owner is not None and data.due_on is not None
    action = Action(
        meeting_id=meeting.id,
        agenda_item_id=item.id,
        referral_id=referral.id,
        text=text,
        agency_id=owner.agency_id,
        owner_member_id=owner.id,
        due_on=data.due_on,
        status=ActionStatus.OPEN,
        created_by_id=actor.member_id,
        created_at=now(),
    )
    session().add(action)
    session().flush()
    publish(ActionAgreed(actor, action.id))  # the owner's to-do list takes it
    record(
        actor,
        LedgerAction.MEETING_ACTION_AGREED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=referral.id,
        agency=owner.agency_id,
        member=owner.id,
        task=action.task_id,
        action_id=action.id,
    )
    return action


def set_outcome(
    actor: Actor, meeting: Meeting, item: AgendaItem, outcome: str, reason: str = ""
) -> AgendaItem:
    """Mark a case discussed, deferred because the referrer is absent, or back to discuss."""
    referrals.act_on(
        actor, referrals.get_referral(item.referral_id), LedgerAction.MEETING_CASE_OUTCOME
    )
    _editable(actor, meeting)
    if outcome == "discussed":
        item.status = ItemStatus.DISCUSSED
        item.deferral_kind = ""
        item.deferral_reason = ""
    elif outcome == "referrer_absent":
        if session().execute(select(Action.id).where(Action.agenda_item_id == item.id)).first():
            raise ValidationFailed(
                {"outcome": "Actions were agreed for this case: it was discussed, not deferred"}
            )
        return services.defer_item(
            actor, meeting, item.id, reason, kind=DeferralKind.REFERRER_ABSENT
        )
    elif outcome == "listed":
        item.status = ItemStatus.LISTED
        item.deferral_kind = ""
        item.deferral_reason = ""
    else:
        raise ValidationFailed({"outcome": "Choose discussed or deferred"})
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_CASE_DISCUSSED
        if outcome == "discussed"
        else LedgerAction.MEETING_CASE_REOPENED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
    )
    return item


def referrer_present(meeting: Meeting, referral: Referral) -> bool:
    return any(
        a.kind == AttendanceKind.PRESENT and a.agency_id == referral.referring_agency_id
        for a in meeting.attendance
    )


# --- closing ------------------------------------------------------------------------------


#: What closing or approving says about a line this person may not know: no reference, no count.
RECORD_INCOMPLETE = "The meeting's record is not complete yet"


def missing_for_close(meeting: Meeting, actor: Actor | None = None) -> dict[str, str]:
    """What stops the meeting closing. A case the actor may not know is never named."""
    missing = {}
    if meeting.held_on > today_london():
        missing["held_on"] = (
            f"The meeting is on {meeting.held_on:%-d %B %Y}: it can be closed on that day, "
            "once it has been held"
        )
    if meeting.confidentiality_read_at is None:
        missing["confidentiality"] = "Record that the confidentiality statement was read"
    if not any(a.kind == AttendanceKind.PRESENT for a in meeting.attendance):
        missing["attendance"] = "Record who was present"
    listed = [i for i in meeting.items if i.status == ItemStatus.LISTED]
    known = (
        {r.id: r for _i, r in services.known_items(actor, meeting)}
        if actor is not None
        else {r.id: r for r in facts_referrals(listed)}
    )
    for item in listed:
        referral = known.get(item.referral_id)
        if referral is None:
            missing["record"] = RECORD_INCOMPLETE
            continue
        missing[f"item-{item.id}"] = f"Case {referral.reference}: mark it discussed or deferred"
    return missing


def facts_referrals(items: Iterable[AgendaItem]) -> list[Referral]:
    ids = sorted({i.referral_id for i in items})
    if not ids:
        return []
    return list(session().execute(select(Referral).where(Referral.id.in_(ids))).scalars())


def close_meeting(actor: Actor, meeting: Meeting) -> Meeting:
    """The chair closes the meeting: cases heard, minutes drafted, minutes due in 3 days."""
    services.require_chair(actor, meeting)
    if meeting.status != MeetingStatus.CIRCULATED:
        raise Conflict(
            "Only a meeting whose agenda was circulated, and that is not yet closed, can be closed."
        )
    missing = missing_for_close(meeting, actor)
    if missing:
        raise ValidationFailed(missing)
    meeting.status = MeetingStatus.HELD
    meeting.closed_at = now()
    meeting.closed_by_id = actor.member_id
    if session().get(Minutes, meeting.id) is None:
        session().add(Minutes(meeting_id=meeting.id, status=MinutesStatus.DRAFT))
    for item in meeting.items:
        if item.status != ItemStatus.DISCUSSED:
            continue
        referral = session().get(Referral, item.referral_id)
        if referral is not None and referral.status in lifecycle.MOVES[Decision.HEAR].start:
            lifecycle.move(referral, Decision.HEAR)
            record(
                actor,
                LedgerAction.REFERRAL_HEARD,
                Subject("case", referral.id),
                case=referral.id,
                meeting=meeting.id,
            )
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_CLOSED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        discussed=sum(i.status == ItemStatus.DISCUSSED for i in meeting.items),
        deferred=sum(i.status == ItemStatus.DEFERRED for i in meeting.items),
    )
    publish(MeetingClosed(actor, meeting.id))  # the minutes are due: the coordinator's task
    return meeting


def can_record(actor: Actor, meeting: Meeting) -> bool:
    """Whether this person may change the meeting's record now (for showing the forms)."""
    if not services.is_runner(actor, meeting) or meeting.status == MeetingStatus.PLANNED:
        return False
    minutes = services.minutes_of(meeting)
    return minutes is None or not minutes.is_locked
