"""Subject access use cases, each taking the acting data protection officer explicitly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from agencies.models import Member
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import matching
from cases.models import Person, PersonKey, Referral, ReferralStatus, RestrictionGround
from hub.core.access import Actor, Role
from hub.core.clock import LONDON, now, today_london
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from subject_access import bundle as bundles
from subject_access.models import (
    TRANSITIONS,
    Exemption,
    Redaction,
    RequestStatus,
    SubjectAccessRequest,
)

MIN_REASON = 10


def _months_after(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (ICO: a calendar month)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for candidate in range(day.day, 27, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    return date(year, month + 1, min(day.day, 28))


def due_on(received_on: date, *, extended: bool = False) -> date:
    return _months_after(received_on, 3 if extended else 1)


def _officer(actor: Actor) -> int:
    if actor.kind != "member" or not actor.has_role(Role.AUDITOR) or actor.area_id is None:
        raise Forbidden("Only the data protection officer answers subject access requests.")
    return actor.area_id


def _subject(request: SubjectAccessRequest) -> Subject:
    return Subject("sar", request.id)


@dataclass(frozen=True)
class RequestData:
    requester_name: str
    requester_capacity: str
    given_name: str
    family_name: str
    born_on: date | None
    received_on: date | None


def receive_request(actor: Actor, data: RequestData) -> SubjectAccessRequest:
    area = _officer(actor)
    errors = {}
    if not data.requester_name.strip():
        errors["requester_name"] = "Enter the requester's name"
    if not data.given_name.strip():
        errors["given_name"] = "Enter the subject's first name"
    if not data.family_name.strip():
        errors["family_name"] = "Enter the subject's last name"
    if data.received_on is None:
        errors["received_on"] = "Enter the date the request was received"
    elif data.received_on > today_london():
        errors["received_on"] = "The date received must be today or in the past"
    if errors:
        raise ValidationFailed(errors)
    assert data.received_on is not None
    request = SubjectAccessRequest(
        area_id=area,
        requester_name=data.requester_name.strip(),
        requester_capacity=data.requester_capacity.strip() or "self",
        subject_given_name=data.given_name.strip(),
        subject_family_name=data.family_name.strip(),
        subject_born_on=data.born_on,
        received_on=data.received_on,
        due_on=due_on(data.received_on),
        created_by_id=actor.member_id,
    )
    session().add(request)
    session().flush()
    record(actor, LedgerAction.SAR_RECEIVED, _subject(request), area=area)
    return request


def get_request(actor: Actor, request_id: int) -> SubjectAccessRequest:
    area = _officer(actor)
    request = session().get(SubjectAccessRequest, request_id)
    if request is None or request.area_id != area:
        raise NotFound("No such request.")
    return request


def list_requests(actor: Actor) -> list[SubjectAccessRequest]:
    area = _officer(actor)
    return list(
        session()
        .execute(
            select(SubjectAccessRequest)
            .where(SubjectAccessRequest.area_id == area)
            .order_by(SubjectAccessRequest.due_on, SubjectAccessRequest.id)
        )
        .scalars()
    )


@dataclass(frozen=True)
class OpenCount:
    open: int
    overdue: int


def open_count(actor: Actor, today: date) -> OpenCount:
    """For the officer's home page: requests still to answer, and how many are late."""
    waiting = [
        r
        for r in list_requests(actor)
        if r.status not in {RequestStatus.SENT, RequestStatus.REFUSED}
    ]
    return OpenCount(len(waiting), sum(1 for r in waiting if r.is_overdue(today)))


@dataclass(frozen=True)
class Candidate:
    person_id: int
    name: str
    born_on: date | None
    level: str
    reasons: list[str]
    roles: list[str]


def candidates(actor: Actor, request: SubjectAccessRequest) -> list[Candidate]:
    """The area's people who may be the subject, by the case matching's keys; never merged."""
    _officer(actor)
    keys = matching.name_keys(request.subject_given_name, request.subject_family_name)
    if not keys:
        return []
    people = (
        session()
        .execute(
            select(Person)
            .where(
                Person.id.in_(
                    select(PersonKey.person_id).where(
                        PersonKey.area_id == request.area_id, PersonKey.key.in_(sorted(keys))
                    )
                )
            )
            .order_by(Person.id)
        )
        .scalars()
    )
    query = matching.MatchInput(
        request.subject_given_name, request.subject_family_name, born_on=request.subject_born_on
    )
    found = []
    for person in people:
        score = matching.score_match(
            matching.MatchInput(
                person.given_name, person.family_name, person.aliases, person.born_on
            ),
            query,
        )
        if score.level == "none":
            continue
        roles = sorted(set(bundles.subject_roles(person.id).values()))
        if not roles:
            continue
        found.append(
            Candidate(
                person.id, person.display_name, person.born_on, score.level, score.reasons, roles
            )
        )
    found.sort(key=lambda c: (c.level != "strong", c.person_id))
    return found


def _move(request: SubjectAccessRequest, to: RequestStatus) -> None:
    if to not in TRANSITIONS[request.status]:
        raise Conflict(
            f"A request that is {request.status.label.lower()} cannot become {to.label.lower()}."
        )
    request.status = to


def choose_subject(actor: Actor, request: SubjectAccessRequest, person_id: int | None) -> None:
    if request.status is not RequestStatus.RECEIVED:
        raise Conflict("The subject can be chosen only before the identity is checked.")
    offered = {c.person_id for c in candidates(actor, request)}
    if person_id is None or person_id not in offered:
        raise ValidationFailed({"person": "Select the person this request is about"})
    request.subject_person_id = person_id
    request.is_perpetrator = bundles.is_perpetrator(person_id)
    record(
        actor,
        LedgerAction.SAR_SUBJECT_CHOSEN,
        _subject(request),
        area=request.area_id,
        person=person_id,
        perpetrator=request.is_perpetrator,
    )


def check_identity(actor: Actor, request: SubjectAccessRequest, method: str) -> None:
    _officer(actor)
    if request.subject_person_id is None:
        raise ValidationFailed({"method": "Choose the subject before checking the identity"})
    if len(method.strip()) < MIN_REASON:
        raise ValidationFailed({"method": "Say how the identity was checked, in a sentence"})
    _move(request, RequestStatus.IDENTITY_CHECKED)
    request.identity_method = method.strip()
    request.identity_checked_by_id = actor.member_id
    request.identity_checked_at = now()
    record(actor, LedgerAction.SAR_IDENTITY_CHECKED, _subject(request), area=request.area_id)


def extend(actor: Actor, request: SubjectAccessRequest, reason: str) -> None:
    _officer(actor)
    if request.is_extended:
        raise Conflict("The request has already been extended.")
    if request.status in {RequestStatus.SENT, RequestStatus.REFUSED}:
        raise Conflict("A closed request cannot be extended.")
    if len(reason.strip()) < MIN_REASON:
        raise ValidationFailed({"reason": "Give the reason for the extension"})
    if today_london() > request.due_on:
        raise ValidationFailed(
            {"reason": "The requester must be told of an extension within the first month"}
        )
    request.extension_reason = reason.strip()
    request.extended_at = now()
    request.due_on = due_on(request.received_on, extended=True)
    record(actor, LedgerAction.SAR_EXTENDED, _subject(request), area=request.area_id)


def refuse(actor: Actor, request: SubjectAccessRequest, reason: str) -> None:
    _officer(actor)
    if len(reason.strip()) < MIN_REASON:
        raise ValidationFailed({"reason": "Give the reason for refusing the request"})
    _move(request, RequestStatus.REFUSED)
    request.refusal_reason = reason.strip()
    record(actor, LedgerAction.SAR_REFUSED, _subject(request), area=request.area_id)


def start_review(actor: Actor, request: SubjectAccessRequest) -> None:
    _officer(actor)
    _move(request, RequestStatus.IN_REVIEW)
    record(actor, LedgerAction.SAR_REVIEW_STARTED, _subject(request), area=request.area_id)


def area_chairs(actor: Actor, request: SubjectAccessRequest) -> list[Member]:
    """The chairs of the request's area, for the perpetrator review."""
    from agencies.models import Agency, MemberRole

    _officer(actor)
    return list(
        session()
        .execute(
            select(Member)
            .join(Agency, Agency.id == Member.agency_id)
            .join(MemberRole, MemberRole.member_id == Member.id)
            .where(Agency.area_id == request.area_id, MemberRole.role == Role.CHAIR.value)
            .order_by(Member.name)
        )
        .scalars()
        .unique()
    )


def review_perpetrator_request(
    actor: Actor, request: SubjectAccessRequest, chair_id: int | None, note: str
) -> None:
    """Record the DPO's and the chair's review of a request from a perpetrator."""
    _officer(actor)
    if not request.is_perpetrator:
        raise Conflict("Only a request from a perpetrator needs this review.")
    if request.status is not RequestStatus.IN_REVIEW:
        raise Conflict("Start the review first.")
    errors = {}
    if chair_id not in {c.id for c in area_chairs(actor, request)}:
        errors["chair"] = "Select the chair who reviewed the request with you"
    if len(note.strip()) < MIN_REASON:
        errors["note"] = "Say what you and the chair decided"
    if errors:
        raise ValidationFailed(errors)
    request.dpo_reviewed_by_id = actor.member_id
    request.dpo_reviewed_at = now()
    request.chair_reviewer_id = chair_id
    request.review_note = note.strip()
    record(
        actor,
        LedgerAction.SAR_PERPETRATOR_REVIEWED,
        _subject(request),
        area=request.area_id,
        member=chair_id,
    )


def build(actor: Actor, request: SubjectAccessRequest) -> bundles.Bundle:
    _officer(actor)
    if request.status not in {RequestStatus.IN_REVIEW, RequestStatus.SENT}:
        raise Conflict("Check the requester's identity and start the review first.")
    return bundles.build_bundle(actor, request)


def decide_redaction(
    actor: Actor,
    request: SubjectAccessRequest,
    item_key: str,
    *,
    withhold: bool,
    exemption: str,
    reason: str,
) -> None:
    """Withhold an item under an exemption with a reason, or release a pre-marked one."""
    if request.status is not RequestStatus.IN_REVIEW:
        raise Conflict("Redactions are decided while the request is in review.")
    found = build(actor, request).item(item_key)
    if found is None:
        raise NotFound("No such item in the bundle.")
    errors = {}
    if found.blocked and not withhold:
        errors["decision"] = "This item can never be released to this requester"
    code: Exemption | None = None
    if withhold:
        try:
            code = Exemption(exemption)
        except ValueError:
            errors["exemption"] = "Select the exemption that applies"
    if len(reason.strip()) < MIN_REASON:
        errors["reason"] = "Give the reason for the decision"
    if errors:
        raise ValidationFailed(errors)
    row = next((r for r in request.redactions if r.item_key == item_key), None)
    if row is None:
        row = Redaction(item_key=item_key)
        request.redactions.append(row)
    row.withheld, row.exemption, row.reason = withhold, code, reason.strip()
    row.decided_by_id, row.decided_at = actor.member_id, now()
    session().flush()
    record(
        actor,
        LedgerAction.SAR_REDACTION_CHANGED,
        _subject(request),
        area=request.area_id,
        item=item_key,
        withheld=withhold,
        exemption=code.value if code else "",
    )


def may_produce(request: SubjectAccessRequest) -> str:
    """Why the response cannot be produced yet, or ""."""
    if request.status is not RequestStatus.IN_REVIEW:
        return "The request must be in review."
    if request.is_perpetrator and request.dpo_reviewed_at is None:
        return "The subject is a perpetrator on a case: the DPO and the chair must review it first."
    return ""


def produce_pdf(actor: Actor, request: SubjectAccessRequest, base_url: str) -> bytes:
    """Render the response PDF and record its production: identifiers and codes only."""
    from subject_access import pdf

    _officer(actor)
    stop = may_produce(request)
    if stop:
        raise Conflict(stop)
    found = build(actor, request)
    member = session().get(Member, actor.member_id) if actor.member_id else None
    data = pdf.render(found, request, member.name if member else actor.name, base_url)
    request.pdf_sha256 = hashlib.sha256(data).hexdigest()
    request.produced_at = now()
    items = found.items
    codes: dict[str, int] = {}
    for item in items:
        if item.withheld:
            key = item.exemption.value if item.exemption else "blocked"
            codes[key] = codes.get(key, 0) + 1
    record(
        actor,
        LedgerAction.SAR_PRODUCED,
        _subject(request),
        area=request.area_id,
        person=request.subject_person_id,
        cases=[c.case_id for c in found.cases],
        items=len(items),
        withheld=codes,
        sha256=request.pdf_sha256,
    )
    return data


def mark_sent(actor: Actor, request: SubjectAccessRequest) -> None:
    _officer(actor)
    if not request.pdf_sha256:
        raise Conflict("Produce the response before marking it sent.")
    _move(request, RequestStatus.SENT)
    request.sent_at = now()
    record(
        actor,
        LedgerAction.SAR_SENT,
        _subject(request),
        area=request.area_id,
        sha256=request.pdf_sha256,
    )


@dataclass(frozen=True)
class RestrictableCase:
    """A case of the request's subject, by reference, and whether it is restricted."""

    referral_id: int
    reference: str
    role: str
    restricted_on: date | None
    ground: str | None

    @property
    def ground_label(self) -> str:
        found = RestrictionGround._value2member_map_.get(self.ground or "")
        return found.label if isinstance(found, RestrictionGround) else ""


def restriction_grounds() -> list[tuple[str, str]]:
    """The four grounds of UK GDPR Art. 18(1), as (code, label)."""
    return [(g.value, g.label) for g in RestrictionGround]


def restrictable_cases(actor: Actor, request: SubjectAccessRequest) -> list[RestrictableCase]:
    """The sent cases of the subject in the officer's area (references only, no content)."""
    area_id = _officer(actor)
    if request.subject_person_id is None or request.status is RequestStatus.RECEIVED:
        return []
    roles = bundles.subject_roles(request.subject_person_id)
    rows = session().execute(
        select(
            Referral.id,
            Referral.reference,
            Referral.restricted_at,
            Referral.restriction_ground,
        )
        .where(
            Referral.id.in_(list(roles)),
            Referral.area_id == area_id,
            Referral.status != ReferralStatus.DRAFT,
        )
        .order_by(Referral.id)
    )
    return [
        RestrictableCase(
            referral_id,
            reference,
            roles[referral_id],
            restricted_at.astimezone(LONDON).date() if restricted_at else None,
            ground,
        )
        for referral_id, reference, restricted_at, ground in rows
    ]


def _restrictable(actor: Actor, request: SubjectAccessRequest, referral_id: int) -> Referral:
    offered = {c.referral_id for c in restrictable_cases(actor, request)}
    referral = session().get(Referral, referral_id) if referral_id in offered else None
    if referral is None:
        raise ValidationFailed({"case": "Select one of the subject's cases"})
    return referral


def restrict_case(
    actor: Actor, request: SubjectAccessRequest, referral_id: int, ground: str, note: str
) -> Referral:
    """Restrict the processing of one of the subject's cases (UK GDPR Art. 18): from now on
    the gate shows it to nobody but the area's coordinator and the officer's own door."""
    errors = {}
    if ground not in RestrictionGround._value2member_map_:
        errors["ground"] = "Select the ground the person relies on"
    if len(note.strip()) < MIN_REASON:
        errors["note"] = "Say what the person asked for, in a sentence"
    referral = _restrictable(actor, request, referral_id) if not errors else None
    if errors or referral is None:
        raise ValidationFailed(errors)
    if referral.restricted_at is not None:
        raise Conflict(f"Processing of {referral.reference} is already restricted.")
    referral.restricted_at = now()
    referral.restricted_by_id = actor.member_id
    referral.restriction_ground = ground
    referral.restriction_note = note.strip()
    record(
        actor,
        LedgerAction.SAR_CASE_RESTRICTED,
        Subject("case", referral.id),
        case=referral.id,
        area=referral.area_id,
        sar=request.id,
        ground=ground,
    )
    return referral


def lift_restriction(actor: Actor, request: SubjectAccessRequest, referral_id: int) -> Referral:
    """Lift a restriction: the case is disclosed again as the gate's other rules allow."""
    referral = _restrictable(actor, request, referral_id)
    if referral.restricted_at is None:
        raise Conflict(f"Processing of {referral.reference} is not restricted.")
    ground = referral.restriction_ground
    referral.restricted_at = None
    referral.restricted_by_id = None
    referral.restriction_ground = None
    referral.restriction_note = ""
    record(
        actor,
        LedgerAction.SAR_CASE_RESTRICTION_LIFTED,
        Subject("case", referral.id),
        case=referral.id,
        area=referral.area_id,
        sar=request.id,
        ground=ground,
    )
    return referral
