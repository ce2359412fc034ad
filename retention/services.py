"""The review queue, its decisions, legal holds, and the nightly run.

Every use case takes the actor explicitly, may flush, and never commits. The queue names
cases by reference and dates only (as the inbox names rejected referrals): it shows no case
content, and the case itself opens only through the gate.

API
===

``queue_expired(actor, area_id, today) -> Counter``
    Put each record class whose period has ended (with time under a legal hold added) in
    the queue; take out what is no longer due (a hold, a longer policy).
``destroy_due(actor, area_id, today) -> Destroyed``
    Destroy what the coordinator confirmed (and, for classes whose action is "delete",
    what has waited out the notice), never a held case; one ledger entry of counts.
``queue(actor)``, ``confirm(actor, key)``, ``extend(actor, key, until, reason)``
    The coordinator's page and decisions, a case (``case-<id>``) or file (``sar-<id>``).
``set_hold(actor, HoldData)``, ``lift_hold(actor, hold_id, reason)``, ``holds(actor)``
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, update

from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases.facts import knowable
from cases.models import Referral, ReferralStatus
from hub.core.access import Actor, Permission
from hub.core.clock import now, to_london
from hub.core.db import session
from hub.core.errors import Conflict, NotFound, ValidationFailed
from meetings.models import AgendaItem, Meeting
from retention import destroy
from retention.models import (
    Erasure,
    HoldKind,
    LegalHold,
    RecordClass,
    RetentionAction,
    RetentionReview,
    ReviewStatus,
    Trigger,
)
from retention.policy import REPEAT_WINDOW_MONTHS, Policy, area_of, current
from subject_access.models import RequestStatus, SubjectAccessRequest

#: Days a class whose action is "delete" waits in the queue before the run destroys it.
NOTICE_DAYS = 30
#: The longest a coordinator may keep records past their period in one extension.
MAX_EXTENSION_YEARS = 10
CASE_CLASSES = tuple(c for c in RecordClass if c is not RecordClass.SUBJECT_ACCESS)
OPEN = (ReviewStatus.DUE, ReviewStatus.CONFIRMED, ReviewStatus.EXTENDED)


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day if it is short)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _day(moment: datetime | None) -> date | None:
    return None if moment is None else to_london(moment).date()


@dataclass
class _Case:
    id: int
    reference: str
    referred_on: date
    previous_id: int | None
    closed_on: date | None
    last_meeting_on: date | None = None
    last_referral_on: date | None = None
    held: bool = False
    held_days: int = 0


def _cases(area_id: int) -> dict[int, _Case]:
    rows = session().execute(
        select(
            Referral.id,
            Referral.reference,
            Referral.referred_on,
            Referral.created_at,
            Referral.previous_referral_id,
            Referral.closed_at,
        ).where(
            Referral.area_id == area_id,
            # A draft has not reached the MARAC: its coordinator may not learn of it (the
            # referring agency's own drafts are not retention's to review).
            Referral.status != ReferralStatus.DRAFT,
        )
    )
    found = {
        r.id: _Case(
            r.id,
            r.reference,
            r.referred_on or _day(r.created_at),
            r.previous_referral_id,
            _day(r.closed_at),
        )
        for r in rows
    }
    meetings = session().execute(
        select(AgendaItem.referral_id, func.max(Meeting.held_on))
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(Meeting.area_id == area_id)
        .group_by(AgendaItem.referral_id)
    )
    for case_id, held_on in meetings:
        if case_id in found:
            found[case_id].last_meeting_on = held_on
    # A later referral for the same victim and perpetrator restarts the earlier case's clock:
    # "the last referral" of a case is the newest referral of its chain of repeats.
    later: dict[int, list[int]] = defaultdict(list)
    for case in found.values():
        if case.previous_id in found:
            later[case.previous_id].append(case.id)

    def last_of(case_id: int, seen: set[int]) -> date:
        case = found[case_id]
        if case.last_referral_on is None:
            seen.add(case_id)
            dates = [case.referred_on]
            dates += [last_of(n, seen) for n in later.get(case_id, []) if n not in seen]
            case.last_referral_on = max(dates)
        return case.last_referral_on

    for case_id in found:
        last_of(case_id, set())
    for hold in session().execute(select(LegalHold).where(LegalHold.area_id == area_id)).scalars():
        case = found.get(hold.case_id)
        if case is None:
            continue
        if hold.lifted_at is None:
            case.held = True
        else:
            case.held_days += max((hold.lifted_at - hold.set_at).days, 0)
    return found


def _trigger_on(case: _Case, trigger: Trigger) -> date | None:
    if trigger is Trigger.LAST_REFERRAL:
        return case.last_referral_on
    if trigger is Trigger.CASE_CLOSED:
        return case.closed_on
    if trigger is Trigger.MEETING_DATE:
        return case.last_meeting_on
    return None


def due_on(case: _Case, record_class: RecordClass, policy: Policy) -> date | None:
    """When the class's period ends for the case, or None while its clock has not started."""
    rule = policy.rules[record_class]
    start = _trigger_on(case, rule.trigger)
    if start is None:
        return None
    due = months_after(start, rule.months) + timedelta(days=case.held_days)
    if record_class is RecordClass.CASE:
        assert case.last_referral_on is not None
        due = max(due, months_after(case.last_referral_on, REPEAT_WINDOW_MONTHS))
    return due


def _requests_closed(area_id: int) -> dict[int, date]:
    rows = session().execute(
        select(
            SubjectAccessRequest.id, SubjectAccessRequest.sent_at, SubjectAccessRequest.created_at
        ).where(
            SubjectAccessRequest.area_id == area_id,
            SubjectAccessRequest.status.in_([RequestStatus.SENT, RequestStatus.REFUSED]),
        )
    )
    return {r.id: _day(r.sent_at or r.created_at) for r in rows}  # type: ignore[misc]


def queue_expired(actor: Actor, area_id: int, today: date) -> Counter[str]:
    """Queue the area's records whose period has ended; drop those no longer due."""
    policy = current(area_id)
    queued: Counter[str] = Counter()
    if not policy.is_adopted:
        return queued  # no local policy: nothing is queued, nothing destroyed
    existing = {
        (r.record_class, r.case_id, r.sar_id): r
        for r in session()
        .execute(select(RetentionReview).where(RetentionReview.area_id == area_id))
        .scalars()
    }
    wanted: dict[tuple[RecordClass, int, int], tuple[str, date]] = {}
    held: set[int] = set()
    for case in _cases(area_id).values():
        if case.held:
            held.add(case.id)
            continue
        for record_class in CASE_CLASSES:
            due = due_on(case, record_class, policy)
            if due is not None and due <= today:
                wanted[(record_class, case.id, 0)] = (case.reference, due)
    sar_rule = policy.rules[RecordClass.SUBJECT_ACCESS]
    for request_id, closed_on in _requests_closed(area_id).items():
        due = months_after(closed_on, sar_rule.months)
        if due <= today:
            wanted[(RecordClass.SUBJECT_ACCESS, 0, request_id)] = (f"SAR-{request_id}", due)
    for key, review in existing.items():
        if review.status is ReviewStatus.DESTROYED or review.case_id in held:
            continue  # a held case stays in the queue, visibly, and is never destroyed
        if key not in wanted and review.status is not ReviewStatus.EXTENDED:
            session().delete(review)  # no longer due (a longer policy, time under a hold)
        elif (
            review.status is ReviewStatus.EXTENDED
            and review.extended_until is not None
            and review.extended_until <= today
        ):
            review.status = ReviewStatus.DUE
            review.policy_version = policy.version
            queued[review.record_class.value] += 1
    for (record_class, case_id, sar_id), (reference, due) in wanted.items():
        if (record_class, case_id, sar_id) in existing:
            continue
        session().add(
            RetentionReview(
                area_id=area_id,
                record_class=record_class,
                case_id=case_id,
                sar_id=sar_id,
                reference=reference,
                due_on=due,
                status=ReviewStatus.DUE,
                policy_version=policy.version,
                reason="",
            )
        )
        queued[record_class.value] += 1
    session().flush()
    if queued:
        record(
            actor,
            LedgerAction.RETENTION_QUEUED,
            Subject("area", area_id),
            area=area_id,
            policy_version=policy.version,
            counts=dict(sorted(queued.items())),
        )
    return queued


@dataclass
class Destroyed:
    area_id: int
    policy_version: int
    #: {record class: cases (or files) destroyed}.
    classes: Counter[str] = field(default_factory=Counter)
    #: {table: rows removed}.
    rows: Counter[str] = field(default_factory=Counter)
    case_ids: list[int] = field(default_factory=list)


def destroy_due(actor: Actor, area_id: int, today: date) -> Destroyed:
    """Destroy the area's confirmed records (and "delete" ones past their notice), in the
    caller's one unit of work, and append one ledger entry of classes and counts."""
    policy = current(area_id)
    result = Destroyed(area_id, policy.version)
    reviews = (
        session()
        .execute(
            select(RetentionReview).where(
                RetentionReview.area_id == area_id,
                RetentionReview.status.in_([ReviewStatus.DUE, ReviewStatus.CONFIRMED]),
            )
        )
        .scalars()
        .all()
    )
    if not reviews:
        return result
    held = set(
        session()
        .execute(
            select(LegalHold.case_id).where(
                LegalHold.area_id == area_id, LegalHold.lifted_at.is_(None)
            )
        )
        .scalars()
    )
    notice = now() - timedelta(days=NOTICE_DAYS)
    chosen: list[RetentionReview] = []
    for review in reviews:
        if review.case_id in held:
            continue
        automatic = (
            review.status is ReviewStatus.DUE
            and policy.rules[review.record_class].action is RetentionAction.DELETE
            and review.queued_at <= notice
        )
        if review.status is ReviewStatus.CONFIRMED or automatic:
            chosen.append(review)
    if not chosen:
        return result
    by_class: dict[RecordClass, set[int]] = defaultdict(set)
    for review in chosen:
        by_class[review.record_class].add(review.sar_id or review.case_id)
    whole = by_class.pop(RecordClass.CASE, set())
    requests = by_class.pop(RecordClass.SUBJECT_ACCESS, set())
    for record_class, ids in sorted(by_class.items()):
        ids -= whole  # destroyed with the whole case below
        if ids:
            result.rows.update(destroy.destroy_class(session(), record_class, sorted(ids)))
            result.classes[record_class.value] += len(ids)
    if whole:
        references: dict[int, str] = {}
        for chunk in destroy.chunks(whole):
            rows = session().execute(
                select(Referral.id, Referral.reference).where(Referral.id.in_(chunk))
            )
            references.update((row[0], row[1]) for row in rows)
        result.rows.update(destroy.destroy_cases(session(), sorted(whole)))
        result.classes[RecordClass.CASE.value] += len(whole)
        result.case_ids = sorted(whole)
        moment = now()
        session().execute(
            insert(Erasure),
            [
                {
                    "case_id": case_id,
                    "area_id": area_id,
                    "reference": references.get(case_id, ""),
                    "policy_version": policy.version,
                    "erased_at": moment,
                }
                for case_id in sorted(whole)
            ],
        )
    if requests:
        result.rows.update(destroy.destroy_requests(session(), sorted(requests)))
        result.classes[RecordClass.SUBJECT_ACCESS.value] += len(requests)
    moment = now()
    picked = {review.id for review in chosen}
    for column, ids in ((RetentionReview.id, picked), (RetentionReview.case_id, whole)):
        for chunk in destroy.chunks(ids):
            session().execute(
                update(RetentionReview)
                .where(
                    RetentionReview.area_id == area_id,
                    RetentionReview.status.in_(OPEN),
                    column.in_(chunk),
                )
                .values(status=ReviewStatus.DESTROYED, destroyed_at=moment)
                .execution_options(synchronize_session=False)
            )
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_DESTROYED,
        Subject("area", area_id),
        area=area_id,
        policy_version=policy.version,
        classes=dict(sorted(result.classes.items())),
        rows=dict(sorted((k, v) for k, v in result.rows.items() if v)),
        cases=result.case_ids,
    )
    return result


# --- the coordinator's queue ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One case (or file) in the queue: its classes due, its status and any hold."""

    key: str
    reference: str
    is_case: bool
    case_id: int
    classes: list[RecordClass]
    due_on: date
    status: ReviewStatus
    held: bool
    extended_until: date | None
    reason: str
    policy_version: int


def _reviews_of(actor: Actor, area_id: int, key: str) -> list[RetentionReview]:
    kind, _, raw = key.partition("-")
    if kind not in {"case", "sar"} or not raw.isdigit() or len(raw) > 12:
        raise NotFound("There is no such record in the queue.")
    column = RetentionReview.case_id if kind == "case" else RetentionReview.sar_id
    found = (
        session()
        .execute(
            select(RetentionReview).where(
                RetentionReview.area_id == area_id,
                column == int(raw),
                RetentionReview.status.in_(OPEN),
            )
        )
        .scalars()
        .all()
    )
    if not found or (kind == "case" and not _known(actor, {int(raw)})):
        raise NotFound("There is no such record in the queue.")
    return list(found)


def _known(actor: Actor, case_ids: set[int]) -> set[int]:
    """Of these cases, those the actor may know exist: a coordinator on a case's
    must-not-receive list never sees its reference here either."""
    found: set[int] = set()
    for chunk in destroy.chunks(case_ids):
        found.update(
            session()
            .execute(select(Referral.id).where(Referral.id.in_(chunk), knowable(actor)))
            .scalars()
        )
    return found


def _active_holds(area_id: int) -> set[int]:
    return set(
        session()
        .execute(
            select(LegalHold.case_id).where(
                LegalHold.area_id == area_id, LegalHold.lifted_at.is_(None)
            )
        )
        .scalars()
    )


def _row(key: str, reviews: list[RetentionReview], held: set[int]) -> QueueRow:
    whole = [r for r in reviews if r.record_class is RecordClass.CASE]
    first = whole[0] if whole else min(reviews, key=lambda r: r.due_on)
    statuses = {r.status for r in reviews}
    status = next(
        s
        for s in (ReviewStatus.DUE, ReviewStatus.CONFIRMED, ReviewStatus.EXTENDED)
        if s in statuses
    )
    return QueueRow(
        key=key,
        reference=first.reference,
        is_case=not first.sar_id,
        case_id=first.case_id,
        classes=sorted((r.record_class for r in reviews), key=list(RecordClass).index),
        due_on=first.due_on,
        status=status,
        held=bool(first.case_id) and first.case_id in held,
        extended_until=max((r.extended_until for r in reviews if r.extended_until), default=None),
        reason=next((r.reason for r in reviews if r.reason), ""),
        policy_version=max(r.policy_version for r in reviews),
    )


def _permission(kind: str) -> Permission:
    """Cases are the coordinator's to review; subject access files only the data
    protection officer's (nobody else may learn that a request was made)."""
    return Permission.RETENTION_FILES if kind == "sar" else Permission.RETENTION_MANAGE


def queue(actor: Actor, *, files: bool = False) -> list[QueueRow]:
    """The area's open queue of cases (or, for the officer, of subject access files), a row
    each, soonest due first: references and dates only."""
    area_id = area_of(actor, _permission("sar" if files else "case"))
    held = _active_holds(area_id)
    grouped: dict[str, list[RetentionReview]] = defaultdict(list)
    for review in (
        session()
        .execute(
            select(RetentionReview).where(
                RetentionReview.area_id == area_id, RetentionReview.status.in_(OPEN)
            )
        )
        .scalars()
    ):
        if bool(review.sar_id) != files:
            continue
        key = f"sar-{review.sar_id}" if review.sar_id else f"case-{review.case_id}"
        grouped[key].append(review)
    known = _known(actor, {r[0].case_id for r in grouped.values() if r[0].case_id})
    rows = [
        _row(key, reviews, held)
        for key, reviews in grouped.items()
        if not reviews[0].case_id or reviews[0].case_id in known
    ]
    rows.sort(key=lambda r: (r.due_on, r.reference))
    if rows:
        record(
            actor,
            LedgerAction.RETENTION_QUEUE_LISTED,
            Subject("area", area_id),
            area=area_id,
            cases=[r.case_id for r in rows if r.is_case],
            results=len(rows),
        )
    return rows


def queue_row(actor: Actor, key: str) -> QueueRow:
    """One case or file of the queue, for its extension page (no ledger entry: the queue
    page that led here recorded the listing)."""
    area_id = area_of(actor, _permission(key.partition("-")[0]))
    reviews = _reviews_of(actor, area_id, key)
    return _row(key, reviews, _active_holds(area_id))


def _subject_of(reviews: list[RetentionReview]) -> Subject:
    first = reviews[0]
    return Subject("sar", first.sar_id) if first.sar_id else Subject("case", first.case_id)


def confirm(actor: Actor, key: str) -> list[RetentionReview]:
    """The coordinator confirms destruction: the next nightly run destroys it."""
    area_id = area_of(actor, _permission(key.partition("-")[0]))
    reviews = _reviews_of(actor, area_id, key)
    if reviews[0].case_id and reviews[0].case_id in _active_holds(area_id):
        raise Conflict("This case is on legal hold: lift the hold before confirming destruction.")
    moment = now()
    for review in reviews:
        review.status = ReviewStatus.CONFIRMED
        review.decided_by_id = actor.member_id
        review.decided_at = moment
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_CONFIRMED,
        _subject_of(reviews),
        area=area_id,
        classes=sorted(r.record_class.value for r in reviews),
        policy_version=max(r.policy_version for r in reviews),
    )
    return reviews


def extend(actor: Actor, key: str, until: date | None, reason: str, today: date) -> None:
    """Keep the records longer, until a date, with a reason (kept here, not in the ledger)."""
    area_id = area_of(actor, _permission(key.partition("-")[0]))
    reviews = _reviews_of(actor, area_id, key)
    errors: dict[str, str] = {}
    if until is None:
        errors["until"] = "Enter the date to keep the records until"
    elif until <= today:
        errors["until"] = "The date to keep the records until must be in the future"
    elif until > months_after(today, 12 * MAX_EXTENSION_YEARS):
        errors["until"] = f"Keep the records for at most {MAX_EXTENSION_YEARS} years more"
    if not reason.strip():
        errors["reason"] = "Enter why the records must be kept longer"
    elif len(reason) > 2000:
        errors["reason"] = "The reason must be 2,000 characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    assert until is not None
    moment = now()
    for review in reviews:
        review.status = ReviewStatus.EXTENDED
        review.extended_until = until
        review.reason = reason.strip()
        review.decided_by_id = actor.member_id
        review.decided_at = moment
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_EXTENDED,
        _subject_of(reviews),
        area=area_id,
        classes=sorted(r.record_class.value for r in reviews),
        until=until.isoformat(),
    )


# --- legal holds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldData:
    reference: str
    kind: str
    reason: str


@dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    reference: str


def holds(actor: Actor) -> list[HoldRow]:
    """The area's legal holds in force, newest first (references only)."""
    area_id = area_of(actor, Permission.RETENTION_MANAGE)
    rows = session().execute(
        select(LegalHold, Referral.reference)
        .join(Referral, Referral.id == LegalHold.case_id)
        .where(LegalHold.area_id == area_id, LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.set_at.desc(), LegalHold.id.desc())
    )
    found = [HoldRow(hold, reference) for hold, reference in rows]
    known = _known(actor, {row.hold.case_id for row in found})
    return [row for row in found if row.hold.case_id in known]


def set_hold(actor: Actor, data: HoldData) -> LegalHold:
    """Stop a case's retention clock for a review, inquiry or claim (audited)."""
    area_id = area_of(actor, Permission.RETENTION_MANAGE)
    errors: dict[str, str] = {}
    reference = data.reference.strip().upper()
    case_id = None
    if not reference:
        errors["reference"] = "Enter the case reference, for example NO-2026-0001"
    else:
        case_id = (
            session()
            .execute(
                select(Referral.id).where(
                    Referral.area_id == area_id,
                    Referral.reference == reference,
                    Referral.status != ReferralStatus.DRAFT,
                )
            )
            .scalar_one_or_none()
        )
        if case_id is None or not _known(actor, {case_id}):
            errors["reference"] = "There is no case with that reference in your area"
    if data.kind not in {k.value for k in HoldKind}:
        errors["kind"] = "Select why the case must be kept"
    if not data.reason.strip():
        errors["reason"] = "Enter who asked for the hold and why"
    elif len(data.reason) > 2000:
        errors["reason"] = "The reason must be 2,000 characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    assert case_id is not None
    hold = LegalHold(
        area_id=area_id,
        case_id=case_id,
        kind=HoldKind(data.kind),
        reason=data.reason.strip(),
        set_by_id=actor.member_id,
        lift_reason="",
    )
    session().add(hold)
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_HOLD_SET,
        Subject("case", case_id),
        area=area_id,
        hold=hold.id,
        kind=hold.kind.value,
    )
    return hold


def lift_hold(actor: Actor, hold_id: int, reason: str) -> LegalHold:
    """Lift a hold: the case's clock runs again, with the time under the hold added."""
    area_id = area_of(actor, Permission.RETENTION_MANAGE)
    hold = session().get(LegalHold, hold_id)
    if hold is None or hold.area_id != area_id or not _known(actor, {hold.case_id}):
        raise NotFound("There is no such legal hold.")
    if hold.lifted_at is not None:
        raise Conflict("This legal hold has already been lifted.")
    if not reason.strip():
        raise ValidationFailed({"reason": "Enter why the hold can be lifted"})
    if len(reason) > 2000:
        raise ValidationFailed({"reason": "The reason must be 2,000 characters or fewer"})
    hold.lifted_at = now()
    hold.lifted_by_id = actor.member_id
    hold.lift_reason = reason.strip()
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_HOLD_LIFTED,
        Subject("case", hold.case_id),
        area=area_id,
        hold=hold.id,
        kind=hold.kind.value,
    )
    return hold


def get_hold(actor: Actor, hold_id: int) -> HoldRow:
    area_id = area_of(actor, Permission.RETENTION_MANAGE)
    row = (
        session()
        .execute(
            select(LegalHold, Referral.reference)
            .join(Referral, Referral.id == LegalHold.case_id)
            .where(LegalHold.id == hold_id, LegalHold.area_id == area_id)
        )
        .one_or_none()
    )
    if row is None or not _known(actor, {row[0].case_id}):
        raise NotFound("There is no such legal hold.")
    return HoldRow(row[0], row[1])


def counts(actor: Actor) -> dict[str, int]:
    """For the coordinator's home page: how many cases wait for a decision, and holds."""
    area_id = area_of(actor, Permission.RETENTION_MANAGE)
    due = set(
        session()
        .execute(
            select(RetentionReview.case_id).where(
                RetentionReview.area_id == area_id,
                RetentionReview.status == ReviewStatus.DUE,
                RetentionReview.sar_id == 0,
            )
        )
        .scalars()
    )
    due = _known(actor, due)
    return {"due": len(due), "holds": len(_active_holds(area_id))}
