"""Research before a meeting: each invited agency's own notes on each case.

Research is private to the agency that wrote it (``Category.RESEARCH``: the gate allows it to
every reader who may know the case, and the presenter shows only the reader's own agency's).
Every function looks research up by ``(agenda item, actor's agency)``, so no path returns
another agency's rows, and ``meetings.presenters.research_view`` refuses any other. Opening
the page is a disclosure of the case (identity and research) through the gate, because the
agency must need to know the case; saving and sharing ask the gate whether the actor may act
on the case first. Each view and save is in the ledger with the research row's id, so an
auditor sees that research exists and who touched it, never its content.

Research leaves the agency only when the agency shares it at the meeting
(``share_at_meeting``): then it is recorded as shared and enters the minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import services as referrals
from cases.models import Referral
from consent.categories import Category
from consent.gate import Disclosure
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from meetings import presenters, services
from meetings.models import (
    AgendaItem,
    Contribution,
    Meeting,
    MeetingStatus,
    ResearchSubmission,
    ResearchWithheld,
)

MAX_TEXT = 20_000
#: Most held-back items one research record lists.
MAX_WITHHELD = 50
STALE = (
    "Someone else in your agency saved this research while you were editing it. "
    "Nothing you entered was saved: reload the page, then add your changes again."
)


@dataclass
class WithheldRow:
    item: str
    reason: str


@dataclass
class ResearchData:
    facts: str = ""
    opinions: str = ""
    to_share: str = ""
    withheld: list[WithheldRow] = field(default_factory=list)
    #: The version the person started from, for optimistic locking (None: no check).
    version: int | None = None


def _may_research(actor: Actor, meeting: Meeting) -> None:
    if actor.agency_id is None or not actor.can(Permission.RESEARCH_WRITE):
        raise Forbidden("Only a member of an invited agency can research cases.")
    if not services.is_invited(actor, meeting):
        raise NotFound("There is no such meeting.")  # not invited: the agenda is not yours


def open_for_research(
    actor: Actor, meeting: Meeting, item: AgendaItem
) -> tuple[Referral, Disclosure]:
    """The case, through the gate (identity, research), for a member of an invited agency."""
    _may_research(actor, meeting)
    return referrals.open_case(
        actor,
        item.referral_id,
        [Category.IDENTITY, Category.RESEARCH],
        action=LedgerAction.RESEARCH_CASE_OPENED,
    )


def _own(actor: Actor, item: AgendaItem) -> ResearchSubmission | None:
    """This agency's research on this case; never any other agency's."""
    return (
        session()
        .execute(
            select(ResearchSubmission).where(
                ResearchSubmission.agenda_item_id == item.id,
                ResearchSubmission.agency_id == actor.agency_id,
            )
        )
        .scalar_one_or_none()
    )


def research_of(
    actor: Actor, meeting: Meeting, item: AgendaItem
) -> tuple[Referral, Disclosure, presenters.ResearchView | None]:
    """Open the case and read the actor's own agency's research on it (recorded when there
    is some)."""
    referral, disclosure = open_for_research(actor, meeting, item)
    row = _own(actor, item)
    if row is None:
        return referral, disclosure, None
    record(
        actor,
        LedgerAction.RESEARCH_VIEWED,
        Subject("research", row.id),
        meeting=meeting.id,
        case=item.referral_id,
        agency=row.agency_id,
    )
    return referral, disclosure, presenters.research_view(row, item.referral_id, disclosure)


def _validate(data: ResearchData) -> list[WithheldRow]:
    errors: dict[str, str] = {}
    for name in ("facts", "opinions", "to_share"):
        if len(getattr(data, name)) > MAX_TEXT:
            errors[name] = f"Keep this to {MAX_TEXT:,} characters or fewer"
    kept = []
    if sum(1 for r in data.withheld if r.item.strip() or r.reason.strip()) > MAX_WITHHELD:
        errors["facts"] = f"List at most {MAX_WITHHELD} items held back"
    for number, row in enumerate(data.withheld):
        item, reason = row.item.strip(), row.reason.strip()
        if not item and not reason:
            continue
        if not reason:
            errors[f"withheld_reason_{number}"] = "Say why this is not shared"
        if not item:
            errors[f"withheld_item_{number}"] = "Describe what is held but not shared"
        if len(item) > 2000 or len(reason) > 2000:
            errors[f"withheld_item_{number}"] = "Keep each item and reason to 2,000 characters"
        kept.append(WithheldRow(item, reason))
    if errors:
        raise ValidationFailed(errors)
    return kept


def save_research(
    actor: Actor, meeting: Meeting, item: AgendaItem, data: ResearchData
) -> ResearchSubmission:
    """Save the agency's research: facts and opinion apart, and what it will not share."""
    referrals.act_on(actor, referrals.get_referral(item.referral_id), LedgerAction.RESEARCH_SAVED)
    _may_research(actor, meeting)
    if meeting.status == MeetingStatus.HELD:
        raise Conflict("The meeting has been held: research for it is closed.")
    withheld = _validate(data)
    row = _own(actor, item)
    created = row is None
    if row is None:
        row = ResearchSubmission(
            agenda_item_id=item.id,
            agency_id=actor.agency_id,
            created_by_id=actor.member_id,
            created_at=now(),
        )
        session().add(row)
    elif data.version is not None and data.version != row.version:
        raise Conflict(STALE)
    row.facts = data.facts.strip()
    row.opinions = data.opinions.strip()
    row.to_share = data.to_share.strip()
    row.withheld = [ResearchWithheld(item=w.item, reason=w.reason) for w in withheld]
    row.updated_by_id = actor.member_id
    row.updated_at = now()
    try:
        session().flush()
    except StaleDataError:
        raise Conflict(STALE) from None
    record(
        actor,
        LedgerAction.RESEARCH_SAVED,
        Subject("research", row.id),
        meeting=meeting.id,
        case=item.referral_id,
        agency=row.agency_id,
        created=created,
        withheld_items=len(withheld),
    )
    return row


def share_at_meeting(actor: Actor, meeting: Meeting, item: AgendaItem) -> Contribution:
    """Share what the agency prepared to share: it is recorded as shared and enters the
    minutes. The rest of the research stays with the agency."""
    referrals.act_on(actor, referrals.get_referral(item.referral_id), LedgerAction.RESEARCH_SHARED)
    _may_research(actor, meeting)
    if meeting.status != MeetingStatus.CIRCULATED:
        raise Conflict("Information is shared while the meeting is running.")
    services.ensure_record_open(meeting)
    row = _own(actor, item)
    if row is None or not row.to_share:
        raise ValidationFailed(
            {"to_share": "Write what your agency will share first, then save it"}
        )
    contribution = Contribution(
        agenda_item_id=item.id,
        agency_id=actor.agency_id,
        text=row.to_share,
        from_research=True,
        recorded_by_id=actor.member_id,
        recorded_at=now(),
    )
    session().add(contribution)
    session().flush()
    record(
        actor,
        LedgerAction.MEETING_INFORMATION_SHARED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        case=item.referral_id,
        agency=actor.agency_id,
        research=row.id,
        contribution=contribution.id,
    )
    return contribution
