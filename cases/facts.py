"""What the gate knows about cases, and which cases a person may learn exist, as a query.

``case_facts`` gathers the identifiers the gate decides on (never content); ``facts_many``
does the same for a list in a constant number of queries. ``knowable(actor)`` is rules 1-3
of the gate written as a SQL condition on ``Referral``, so that every list (the agency's
referrals, the inbox, approvals, search, agendas, to-do lists) is filtered in the query,
before paging and counting, never after. A property test checks that the two agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    String,
    and_,
    exists,
    false,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)

from agencies.models import Agency
from cases.models import (
    CaseTeamMember,
    ConflictWall,
    GrantKind,
    MustNotReceive,
    NeedToKnowGrant,
    Referral,
    ReferralParty,
    ReferralStatus,
)
from consent import gate
from hub.core.access import Actor, Role
from hub.core.clock import today_london
from hub.core.db import session


def case_facts(referral: Referral) -> gate.CaseFacts:
    """The identifiers the gate decides on; the only place they are gathered."""
    return facts_many([referral])[referral.id]


def facts_many(referrals: Sequence[Referral]) -> dict[int, gate.CaseFacts]:
    """``case_facts`` for many cases at once: two queries whatever their number."""
    if not referrals:
        return {}
    ids = [r.id for r in referrals]
    counter_ids = [r.counter_allegation_id for r in referrals if r.counter_allegation_id]
    wanted = sorted(set(ids) | set(counter_ids))
    db = session()
    people: dict[int, list[int]] = defaultdict(list)
    team: dict[int, set[int]] = defaultdict(set)
    blocked: dict[int, set[int]] = defaultdict(set)
    walled: dict[int, set[int]] = defaultdict(set)
    shared: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    invited: dict[int, set[int]] = defaultdict(set)
    for source, referral_id, some_id, kind, purpose, _ in db.execute(_links(ids, wanted)):
        if source == "party":
            people[referral_id].append(some_id)
        elif source == "team":
            team[referral_id].add(some_id)
        elif source == "blocked":
            blocked[referral_id].add(some_id)
        elif source == "walled":
            walled[referral_id].add(some_id)
        elif kind == GrantKind.SHARED.value:
            shared[referral_id][some_id].add(purpose)
        elif kind == GrantKind.INVITED.value:
            invited[referral_id].add(some_id)
    counters = (
        {
            row.id: row
            for row in db.execute(
                select(Referral.id, Referral.referring_agency_id, Referral.referrer_id).where(
                    Referral.id.in_(counter_ids)
                )
            )
        }
        if counter_ids
        else {}
    )
    found: dict[int, gate.CaseFacts] = {}
    for referral in referrals:
        persons = [referral.victim_id] if referral.victim_id else []
        persons += people.get(referral.id, [])
        counter = None
        row = counters.get(referral.counter_allegation_id or 0)
        if row is not None:
            counter = gate.CounterFacts(
                referral_id=row.id,
                referring_agency_id=row.referring_agency_id,
                referrer_id=row.referrer_id,
                team_member_ids=frozenset(team.get(row.id, ())),
            )
        found[referral.id] = gate.CaseFacts(
            id=referral.id,
            reference=referral.reference,
            area_id=referral.area_id,
            status=referral.status,
            referring_agency_id=referral.referring_agency_id,
            referrer_id=referral.referrer_id,
            victim_id=referral.victim_id,
            person_ids=tuple(dict.fromkeys(persons)),
            meets_criteria=referral.meets_criteria,
            shared_purposes={a: frozenset(p) for a, p in shared.get(referral.id, {}).items()},
            invited_agency_ids=frozenset(invited.get(referral.id, ())),
            team_member_ids=frozenset(team.get(referral.id, ())),
            blocked_member_ids=frozenset(blocked.get(referral.id, ())),
            walled_member_ids=frozenset(walled.get(referral.id, ())),
            counter=counter,
            referral_basis=referral.referral_basis,
            restricted=referral.restricted_at is not None,
        )
    return found


def _links(ids: list[int], wanted: list[int]) -> CompoundSelect:
    """Every row that links people, members and agencies to these cases, in one statement:
    (source, case id, person, member or agency id, grant kind, grant purpose), the parties
    in the order they were added."""
    none = null().cast(String)
    return union_all(
        select(
            literal("party"),
            ReferralParty.referral_id,
            ReferralParty.person_id,
            none,
            none,
            ReferralParty.id.label("sort"),
        ).where(ReferralParty.referral_id.in_(ids)),
        select(
            literal("team"),
            CaseTeamMember.referral_id,
            CaseTeamMember.member_id,
            none,
            none,
            literal(0),
        ).where(CaseTeamMember.referral_id.in_(wanted)),
        select(
            literal("blocked"),
            MustNotReceive.referral_id,
            MustNotReceive.member_id,
            none,
            none,
            literal(0),
        ).where(MustNotReceive.referral_id.in_(ids), MustNotReceive.member_id.is_not(None)),
        select(
            literal("walled"),
            ConflictWall.referral_id,
            ConflictWall.perpetrator_worker_id,
            none,
            none,
            literal(0),
        ).where(ConflictWall.referral_id.in_(ids)),
        select(
            literal("grant"),
            NeedToKnowGrant.referral_id,
            NeedToKnowGrant.agency_id,
            NeedToKnowGrant.kind,
            NeedToKnowGrant.purpose,
            literal(0),
        ).where(NeedToKnowGrant.referral_id.in_(ids)),
    ).order_by(text("sort"))


def knowable(actor: Actor, referral: type[Referral] | None = None) -> ColumnElement[bool]:
    """Rules 1-3 of the gate as a condition on ``Referral``: the cases this actor may learn
    exist. Every list of cases is filtered by it in the query.

    Keep in step with ``consent.gate`` (``_first_refusal`` and ``_relation``);
    tests/cases/test_side_doors.py checks the two agree for every persona and case.
    """
    r = referral or Referral
    agency = session().get(Agency, actor.agency_id) if actor.agency_id is not None else None
    if actor.kind not in {"member", "service"} or agency is None:
        return false()  # only members and partner systems see cases
    if agency.is_disabled or not agency.has_current_isp(today_london()):
        return false()  # rule 1: no current information sharing protocol, nothing at all
    member = actor.member_id
    service = actor.kind == "service"
    is_rep = actor.has_role(Role.MARAC_REP)
    runs_marac = actor.has_role(Role.COORDINATOR) or actor.has_role(Role.CHAIR)
    on_team: ColumnElement[bool] = (
        exists().where(CaseTeamMember.referral_id == r.id, CaseTeamMember.member_id == member)
        if member is not None
        else false()
    )
    not_blocked: ColumnElement[bool] = true()
    if member is not None:
        # rule 2: behind a conflict wall, or on the case's must-not-receive list
        not_blocked = and_(
            ~exists().where(
                ConflictWall.referral_id == r.id, ConflictWall.perpetrator_worker_id == member
            ),
            ~exists().where(MustNotReceive.referral_id == r.id, MustNotReceive.member_id == member),
        )
    own_agency = r.referring_agency_id == agency.id
    submitted = r.status != ReferralStatus.DRAFT
    authored = r.referrer_id == member if member is not None else false()
    # those who run the MARAC: a rejected referral is not a case, only its coordinator's
    if actor.has_role(Role.COORDINATOR):
        marac_knows: ColumnElement[bool] = submitted
    elif runs_marac:
        marac_knows = and_(submitted, r.status != ReferralStatus.REJECTED)
    else:
        marac_knows = false()
    # rule 3, the referring agency: a draft only its author (or the agency's systems); once
    # sent, its referrer, case team, representative, and its chair or coordinator
    is_rep_known: ColumnElement[bool] = true() if is_rep else false()
    if service:
        own: ColumnElement[bool] = own_agency
    else:
        own = and_(
            own_agency,
            or_(authored, and_(submitted, or_(on_team, is_rep_known, marac_knows))),
        )
    # rule 3, the MARAC: the area's coordinator and chair know every submitted case
    marac = and_(marac_knows, r.area_id == agency.area_id)
    # rule 3, agencies given or invited: their systems and representatives, or the case team
    granted = and_(
        ~own_agency,
        submitted,
        exists().where(NeedToKnowGrant.referral_id == r.id, NeedToKnowGrant.agency_id == agency.id),
        true() if service or is_rep else on_team,
    )
    # a restriction of processing (UK GDPR Art. 18): only the area's coordinator
    runs_restricted = (
        r.area_id == agency.area_id
        if actor.kind == "member" and actor.has_role(Role.COORDINATOR)
        else false()
    )
    return and_(
        or_(r.area_id == agency.area_id, own_agency),  # another area is another tenant
        not_blocked,
        or_(r.restricted_at.is_(None), runs_restricted),
        or_(own, marac, granted),
    )
