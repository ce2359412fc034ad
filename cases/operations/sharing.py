"""Giving an agency the case, the case team, and conflict walls.

Services take the actor explicitly and never commit."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from agencies.models import Agency, Member
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases.events import CaseGiven, GivenBy
from cases.facts import case_facts
from cases.models import (
    CaseTeamMember,
    ConflictWall,
    GrantKind,
    Referral,
    ReferralShare,
    ReferralStatus,
)
from cases.operations.access import act_on, forbid, grant_need_to_know
from consent import gate
from consent.categories import (
    CASE_CATEGORIES,
    Category,
    Purpose,
)
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Conflict, ValidationFailed
from hub.core.events import publish

# --- sharing, teams, walls ----------------------------------------------------------------

#: What a share is judged on: what the recipient needs to act (whereabouts stay masked behind
#: the reveal, and equality details go only to the data return, whatever the basis).
SHARE_JUDGED = tuple(
    c for c in CASE_CATEGORIES if c not in (Category.WHEREABOUTS, Category.DIVERSITY)
)


@dataclasses.dataclass(frozen=True)
class SharePreview:
    """What an agency would see of the case once given it, under today's consent and
    decisions: for the sharer's warning, never output of the case itself."""

    agency_id: int
    agency_name: str
    shown: tuple[Category, ...]
    withheld: tuple[Category, ...]

    @property
    def identifies(self) -> bool:
        """Whether the agency could tell who the person is (without it, no hands-on work)."""
        return Category.IDENTITY in self.shown


def _stand_in(agency: Agency) -> Actor:
    """The agency's MARAC representative (who receives a shared case for the agency), for
    asking the gate what the agency itself would see."""
    return Actor(
        kind="member",
        member_id=None,
        agency_id=agency.id,
        area_id=agency.area_id,
        roles=frozenset({Role.MARAC_REP, Role.PRACTITIONER}),
        name="preview",
    )


def agency_preview(referral: Referral, agency: Agency, purpose: Purpose | None) -> SharePreview:
    """What ``agency`` would see of the case, given it for ``purpose`` (None: as things are).

    The gate decides, on the case's facts with that share added; nothing is recorded and
    nothing of the case is returned, only which categories would be shown or withheld."""
    facts = case_facts(referral)
    if purpose is not None:
        purposes = {**facts.shared_purposes}
        purposes[agency.id] = frozenset({*purposes.get(agency.id, frozenset()), purpose.value})
        facts = dataclasses.replace(facts, shared_purposes=purposes)
    decided = gate.preview(_stand_in(agency), facts, SHARE_JUDGED)
    shown = tuple(c for c in SHARE_JUDGED if not decided.refused and decided.allows(c))
    withheld = tuple(c for c in SHARE_JUDGED if c not in shown)
    return SharePreview(agency.id, agency.name, shown, withheld)


def share_preview(
    actor: Actor, referral: Referral, agency_id: int, purpose: Purpose
) -> SharePreview:
    """The sharer's warning: what the chosen agency would see, before it is given the case."""
    act_on(actor, referral, LedgerAction.REFERRAL_SHARED)
    agency = session().get(Agency, agency_id)
    if agency is None or agency.area_id != referral.area_id or agency.is_disabled:
        raise ValidationFailed({"agency_id": "Select an agency of this MARAC"})
    return agency_preview(referral, agency, purpose)


#: Sharing, and sending to another MARAC, are disclosures a restriction stops (UK GDPR Art. 18).
RESTRICTED = (
    "Processing of this case is restricted: it cannot be shared or sent to another MARAC "
    "until the data protection officer lifts the restriction."
)


def share_case(
    actor: Actor,
    referral: Referral,
    agency_id: int,
    purpose: Purpose,
    *,
    allow_triage: bool = False,
) -> ReferralShare:
    """Give an agency the case: it then has need to know (the gate still needs a basis)."""
    act_on(actor, referral, LedgerAction.REFERRAL_SHARED)
    if referral.restricted_at is not None:
        raise Conflict(RESTRICTED)
    allowed = (
        actor.agency_id == referral.referring_agency_id and actor.can(Permission.REFERRALS_READ)
    ) or (allow_triage or actor.can(Permission.REFERRALS_TRIAGE))
    if not allowed:
        raise forbid(
            actor,
            referral,
            LedgerAction.REFERRAL_SHARED,
            "Only the referring agency or the coordinator can share this case.",
        )
    agency = session().get(Agency, agency_id)
    if agency is None or agency.area_id != referral.area_id or agency.is_disabled:
        raise ValidationFailed({"agency_id": "Select an agency of this MARAC"})
    if agency.id == referral.referring_agency_id:
        raise ValidationFailed({"agency_id": "This agency made the referral"})
    blocked = {m.member_id for m in referral.must_not_receive if m.member_id}
    existing = next((s for s in referral.shares if s.agency_id == agency.id), None)
    if existing is not None:
        return existing
    share = ReferralShare(
        agency_id=agency.id, purpose=purpose.value, shared_by_id=actor.member_id, shared_at=now()
    )
    referral.shares.append(share)
    session().flush()
    grant_need_to_know(
        actor, referral.id, agency.id, GrantKind.SHARED, purpose=purpose, source=f"share:{share.id}"
    )
    record(
        actor,
        LedgerAction.REFERRAL_SHARED,
        Subject("case", referral.id),
        case=referral.id,
        agency=agency.id,
        purpose=purpose.value,
        blocked_members=len(blocked),
    )
    publish(CaseGiven(actor, referral.id, agency.id, GivenBy.SHARED))
    return share


def shareable_agencies(actor: Actor, referral: Referral) -> list[Agency]:
    """Agencies the actor could give this case to (none unless they may share it)."""
    if referral.status == ReferralStatus.DRAFT or not (
        actor.agency_id == referral.referring_agency_id or actor.can(Permission.REFERRALS_TRIAGE)
    ):
        return []
    given = {s.agency_id for s in referral.shares} | {referral.referring_agency_id}
    return [
        a
        for a in session()
        .execute(
            select(Agency)
            .where(Agency.area_id == referral.area_id, Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
        if a.id not in given
    ]


def blockable_members(actor: Actor, referral: Referral) -> list[tuple[int, str]]:
    """People of the area who could be put on the case's must-not-receive list, as
    (member id, "name – agency"): everyone but the referrer themselves."""
    rows = session().execute(
        select(Member.id, Member.name, Agency.name)
        .join(Agency, Agency.id == Member.agency_id)
        .where(Agency.area_id == referral.area_id, Member.disabled_at.is_(None))
        .order_by(Member.name)
    )
    return [(mid, f"{name} – {agency}") for mid, name, agency in rows if mid != actor.member_id]


@dataclasses.dataclass(frozen=True)
class Colleague:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class TeamChoices:
    """The colleagues a MARAC representative could put on the case team or wall off."""

    colleagues: list[Colleague]
    wall_candidates: list[Colleague]


def team_choices(
    actor: Actor, referral: Referral, facts: gate.CaseFacts | None = None
) -> TeamChoices:
    """Who the case page offers for the case team and for a conflict wall (one query).

    ``facts``: those the page's disclosure was decided on, when the caller has them.
    """
    if not actor.has_role(Role.MARAC_REP) or actor.agency_id is None:
        return TeamChoices([], [])
    facts = facts if facts is not None and facts.id == referral.id else case_facts(referral)
    excluded = facts.team_member_ids | facts.walled_member_ids | facts.blocked_member_ids
    members = [
        Colleague(member_id, name)
        for member_id, name in session().execute(
            select(Member.id, Member.name)
            .where(Member.agency_id == actor.agency_id, Member.disabled_at.is_(None))
            .order_by(Member.name)
        )
        if member_id != actor.member_id
    ]
    return TeamChoices(
        colleagues=[m for m in members if m.id not in excluded],
        wall_candidates=[m for m in members if m.id not in facts.walled_member_ids],
    )


def add_to_team(actor: Actor, referral: Referral, member_id: int) -> CaseTeamMember:
    """A MARAC representative puts a colleague on the case team (need to know in the agency)."""
    act_on(actor, referral, LedgerAction.CASE_TEAM_ADDED)
    if not actor.has_role(Role.MARAC_REP):
        raise forbid(
            actor,
            referral,
            LedgerAction.CASE_TEAM_ADDED,
            "Only your agency's MARAC representative can change the case team.",
        )
    member = session().get(Member, member_id)
    if member is None or member.agency_id != actor.agency_id:
        raise ValidationFailed({"member_id": "Select someone from your own agency"})
    facts = case_facts(referral)
    if member.id in facts.walled_member_ids or member.id in facts.blocked_member_ids:
        raise ValidationFailed({"member_id": "This person must not work on this case"})
    existing = next((t for t in referral.team if t.member_id == member.id), None)
    if existing is not None:
        return existing
    row = CaseTeamMember(member_id=member.id, added_by_id=actor.member_id, added_at=now())
    referral.team.append(row)
    session().flush()
    record(
        actor,
        LedgerAction.CASE_TEAM_ADDED,
        Subject("case", referral.id),
        case=referral.id,
        member=member.id,
    )
    return row


def add_conflict_wall(
    actor: Actor, referral: Referral, *, perpetrator_worker_id: int, victim_worker_id: int | None
) -> ConflictWall:
    """Record that the agency serves both parties: the perpetrator's worker never sees this."""
    act_on(actor, referral, LedgerAction.CONFLICT_WALL_ADDED)
    if not actor.has_role(Role.MARAC_REP):
        raise forbid(
            actor,
            referral,
            LedgerAction.CONFLICT_WALL_ADDED,
            "Only your agency's MARAC representative can set up a conflict wall.",
        )
    worker = session().get(Member, perpetrator_worker_id)
    if worker is None or worker.agency_id != actor.agency_id:
        raise ValidationFailed({"perpetrator_worker_id": "Select someone from your own agency"})
    if victim_worker_id == perpetrator_worker_id:
        raise ValidationFailed(
            {"victim_worker_id": "The victim and the perpetrator need separate caseworkers"}
        )
    wall = ConflictWall(
        agency_id=actor.agency_id,
        referral_id=referral.id,
        perpetrator_worker_id=worker.id,
        victim_worker_id=victim_worker_id,
        created_by_id=actor.member_id,
    )
    session().add(wall)
    referral.team = [t for t in referral.team if t.member_id != worker.id]
    session().flush()
    record(
        actor,
        LedgerAction.CONFLICT_WALL_ADDED,
        Subject("case", referral.id),
        case=referral.id,
        member=worker.id,
    )
    return wall
