"""The disclosure gate: every read of case data, and every write on a case, passes here.

``disclose(actor, facts, categories)`` decides, for each data category, whether the actor may
see it, and why; ``authorise(actor, facts, operation)`` decides whether the actor may act on
the case at all. The rules are checked in order and the first failing rule decides
(DESIGN.md section 4):

1. the actor's agency has signed the current information sharing protocol;
2. the actor is not behind a conflict wall for this case, nor on its must-not-receive list,
   and the case is of the actor's MARAC area (or the actor's agency referred it); while the
   case's processing is restricted (UK GDPR Art. 18) only the area's coordinator passes,
   and the data protection officer by the subject access door;
3. need to know: the actor's agency referred the case, was given it, or was invited to a
   meeting with it on the agenda (grant rows, read into ``CaseFacts``); within the agency,
   the actor is the referrer, on the case team, or the agency's MARAC representative; the
   area's coordinator and chair know every submitted case (the referral is itself a
   disclosure to the MARAC);
4. a lawful basis for this recipient and category, judged for the reader's own purposes
   (an IDVA given the case for support is judged on consent for support): the agency's own
   record, consent in force that covers the purpose, recipient and category, or an approved
   decision to share without consent (with the Article 6 basis for the recipient's sector,
   the Article 9 condition for special categories, and vital interests only where the
   person could not be asked);
5. whereabouts stay masked unless the actor reveals them with a written reason; an agency
   that knows the case only through a meeting invitation never reveals them, and nobody on
   the team or in the referring agency of the other half of a counter-allegation does.

Refusals by rules 1-3 all look like "no such case" (a concealed 404), the same as for a case
that does not exist, so case ids cannot be enumerated. The result of ``disclose`` is a
``Disclosure`` sealed by this module: the functions that turn case rows into something a
page, a PDF, an e-mail or the API shows accept nothing else. One ledger entry is written per
disclosure in the caller's transaction (and kept in a transaction of its own when the
response that shows it is a 4xx); a refusal is written in a transaction of its own, because
the request that was refused rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agencies.models import Agency, Sector
from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_in, record_refusal
from consent.categories import (
    CASE_CATEGORIES,
    TRIAGE_CATEGORIES,
    VITAL_INTERESTS_STATES,
    Article6,
    Article9,
    Category,
    ConsentState,
    Purpose,
    allowed_bases,
)
from consent.models import ConsentRecord, SharingDecision
from hub.core import db
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Refused

#: Shortest reason accepted for revealing whereabouts: a word or two is not a reason.
MIN_REVEAL_REASON = 10
_SEAL = object()


class Relation(StrEnum):
    """Why an actor needs to know a case (rule 3)."""

    REFERRER = "referrer"  # the referring agency's referrer, case team or representative
    MARAC = "marac"  # the area's coordinator or chair
    SHARED = "shared"  # an agency the case was given to
    INVITED = "invited"  # an agency invited to a meeting with the case on its agenda
    SUBJECT_ACCESS = "subject_access"  # the area's data protection officer answering Art. 15


@dataclass(frozen=True)
class CounterFacts:
    """Who is on the other side of a counter-allegation (identifiers only)."""

    referral_id: int
    referring_agency_id: int
    referrer_id: int | None
    team_member_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class CaseFacts:
    """What the gate needs to know about a case, built only by the case package.

    Identifiers only: the gate never sees case content.
    """

    id: int
    reference: str
    area_id: int
    status: str
    referring_agency_id: int
    referrer_id: int | None
    victim_id: int | None
    person_ids: tuple[int, ...]
    meets_criteria: bool
    #: Agencies holding a "shared" grant, and the purposes each was given the case for.
    shared_purposes: Mapping[int, frozenset[str]] = field(default_factory=dict)
    #: Agencies holding an "invited" grant (a circulated agenda listed the case).
    invited_agency_ids: frozenset[int] = frozenset()
    team_member_ids: frozenset[int] = frozenset()
    blocked_member_ids: frozenset[int] = frozenset()
    walled_member_ids: frozenset[int] = frozenset()
    #: The other half of a counter-allegation, if any.
    counter: CounterFacts | None = None
    #: The Article 6 basis the referrer recorded for referring the case to the MARAC.
    referral_basis: str | None = None
    #: Processing restricted (UK GDPR Art. 18): only the area's coordinator may know it,
    #: and the data protection officer through the subject access door.
    restricted: bool = False


@dataclass(frozen=True)
class CategoryDecision:
    category: Category
    allowed: bool
    #: A stable code for tests and the ledger, e.g. "consent", "no_basis", "masked".
    code: str
    #: A sentence a practitioner can read: why it is shown or withheld.
    message: str
    basis: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Disclosure:
    """The gate's answer. Only this module can make one that the case views accept."""

    actor: Actor
    case_id: int
    reference: str
    #: The purpose the reader's relation gives first (kept for callers that show it).
    purpose: Purpose
    refused: bool
    #: Why everything was refused (rules 1-3), or "" when the case may be shown.
    refusal_code: str
    refusal_message: str
    decisions: dict[Category, CategoryDecision]
    #: Whether the refusal must look like "no such case" (rules 1-3 always do).
    conceal: bool
    _seal: object = field(default=None, repr=False, compare=False)
    #: Why the reader needs to know the case; None when refused.
    relation: Relation | None = None
    #: The actor's own agency, for presenters that show agency-private content
    #: (research, task notes) only to that agency.
    agency_id: int | None = None
    #: The facts the gate decided on, so that the page built from this answer offers
    #: choices (case team, walls) consistent with it without gathering them again.
    facts: CaseFacts | None = field(default=None, repr=False, compare=False)

    def allows(self, category: Category) -> bool:
        decision = self.decisions.get(category)
        return decision is not None and decision.allowed and not self.refused

    @property
    def shown(self) -> list[Category]:
        return [c for c, d in self.decisions.items() if d.allowed and not self.refused]

    @property
    def withheld(self) -> list[CategoryDecision]:
        return [d for d in self.decisions.values() if not d.allowed]

    def reason_withheld(self, category: Category) -> str:
        decision = self.decisions.get(category)
        return decision.message if decision is not None else "Withheld."

    @property
    def is_genuine(self) -> bool:
        return self._seal is _SEAL


class NotDisclosed(Exception):
    """Raised by code that needs a genuine, sufficient disclosure and did not get one."""


def require_disclosure(
    disclosure: object, *, case_id: int, category: Category | None = None
) -> Disclosure:
    """Check that a disclosure came from the gate, for this case, and (if given) allows a category.

    Every function that turns case rows into output calls this first.
    """
    if not isinstance(disclosure, Disclosure) or not disclosure.is_genuine:
        raise NotDisclosed("case data is shown only through the disclosure gate")
    if disclosure.case_id != case_id:
        raise NotDisclosed("the disclosure is for another case")
    if disclosure.refused:
        raise NotDisclosed("the disclosure was refused")
    if category is not None and not disclosure.allows(category):
        raise NotDisclosed(f"the disclosure does not allow {category.value}")
    return disclosure


@dataclass(frozen=True)
class Permit:
    """The gate's yes to acting on a case (``authorise``); carries the relation it found."""

    actor: Actor
    case_id: int
    relation: Relation
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def is_genuine(self) -> bool:
        return self._seal is _SEAL


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Relation:
    kind: Relation
    #: The purposes the reader holds the case for, in the order they are tried.
    purposes: tuple[Purpose, ...]


def _relation(actor: Actor, facts: CaseFacts, agency: Agency) -> _Relation | None:
    """Rule 3: why this actor needs to know this case, or None."""
    is_rep = actor.has_role(Role.MARAC_REP)
    on_team = actor.member_id is not None and actor.member_id in facts.team_member_ids
    runs_marac = actor.has_role(Role.COORDINATOR) or actor.has_role(Role.CHAIR)
    marac = (Purpose.MARAC,)
    if facts.status == "rejected" and not actor.has_role(Role.COORDINATOR):
        runs_marac = False  # not a case: only the coordinator who decided it answers for it
    if actor.agency_id == facts.referring_agency_id:
        if actor.kind == "service":
            return _Relation(Relation.REFERRER, marac)  # the agency's own records system
        if actor.member_id == facts.referrer_id:
            return _Relation(Relation.REFERRER, marac)
        if facts.status == "draft":
            return None  # a draft is its author's work in progress until it is sent
        if on_team or is_rep:
            return _Relation(Relation.REFERRER, marac)
        if runs_marac:
            return _Relation(Relation.MARAC, marac)  # the chair may work for the referrer
        return None  # a colleague outside the case team: no need to know
    if facts.status == "draft":
        return None  # a draft is the referring agency's own work in progress
    if agency.area_id == facts.area_id and runs_marac:
        return _Relation(Relation.MARAC, marac)  # they run every case of their area
    shared = facts.shared_purposes.get(agency.id)
    invited = agency.id in facts.invited_agency_ids
    if shared is None and not invited:
        return None
    if actor.kind != "service" and not (on_team or is_rep):
        return None  # the agency knows; this member is not on its case team
    purposes = [Purpose(p) for p in sorted(shared or ()) if p in Purpose._value2member_map_]
    if invited and Purpose.MARAC not in purposes:
        purposes.append(Purpose.MARAC)
    kind = Relation.SHARED if shared is not None else Relation.INVITED
    return _Relation(kind, tuple(purposes) or marac)


def _first_refusal(
    actor: Actor, facts: CaseFacts, agency: Agency | None, *, for_subject_access: bool = False
) -> str | None:
    """Rules 1 and 2 (and the area boundary, and a restriction of processing): the code of
    the first that fails."""
    if actor.kind not in {"member", "service"} or agency is None:
        return "no_actor"
    if agency.is_disabled or not agency.has_current_isp(today_london()):
        return "isp_not_current"
    if actor.member_id is not None and actor.member_id in facts.walled_member_ids:
        return "conflict_wall"
    if actor.member_id is not None and actor.member_id in facts.blocked_member_ids:
        return "must_not_receive"
    if agency.area_id != facts.area_id and actor.agency_id != facts.referring_agency_id:
        return "other_area"
    if facts.restricted and not for_subject_access and not _runs_restricted(actor, agency, facts):
        return "restricted"
    return None


def _runs_restricted(actor: Actor, agency: Agency, facts: CaseFacts) -> bool:
    """Whether this actor may still know a case whose processing is restricted: only the
    coordinator of its area (the data protection officer reads it by its own door)."""
    return (
        actor.kind == "member"
        and actor.has_role(Role.COORDINATOR)
        and agency.area_id == facts.area_id
    )


def vital_interests_open(consents: Sequence[ConsentRecord]) -> bool:
    """Whether vital interests may be relied on: only where the person could not be asked.

    The latest consent record must say the person lacks capacity, or that asking was unsafe
    or impossible. A person who was asked and refused while able to decide has not lost the
    right to refuse because their life is at risk; public task or safeguarding still apply.
    """
    if not consents:
        return False
    latest = max(consents, key=lambda c: (c.recorded_at, c.id))
    return latest.state in VITAL_INTERESTS_STATES


def _basis(
    agency: Agency,
    category: Category,
    relation: _Relation,
    consents: Sequence[ConsentRecord],
    decisions: Sequence[SharingDecision],
    moment: datetime,
    referral_basis: str | None = None,
) -> CategoryDecision:
    """Rule 4: a lawful basis for this recipient and category, for one of its purposes."""
    if relation.kind is Relation.REFERRER:
        return CategoryDecision(
            category, True, "own_record", "Your agency's own record.", {"basis": "own_record"}
        )
    if category is Category.DIVERSITY and relation.kind is not Relation.MARAC:
        return CategoryDecision(
            category,
            False,
            "not_needed",
            "Withheld: equality monitoring details are used only for the MARAC's data return.",
        )
    vital_open = vital_interests_open(consents)
    for purpose in relation.purposes:
        for consent in consents:
            if consent.in_force(moment) and consent.covers(
                purpose=purpose, agency_id=agency.id, agency_type=agency.type, category=category
            ):
                return CategoryDecision(
                    category,
                    True,
                    "consent",
                    "Shared with consent.",
                    {
                        "basis": "consent",
                        "consent": consent.id,
                        "purpose": purpose.value,
                        "art6": "6(1)(a)",
                        **({"art9": "9(2)(a)"} if category.is_special else {}),
                    },
                )
        for decision in decisions:
            if not decision.in_force(moment):
                continue
            if decision.purpose != purpose.value or category.value not in decision.categories:
                continue
            if not (decision.all_partners or agency.id in decision.recipient_agency_ids):
                continue
            voluntary = agency.sector == Sector.VOLUNTARY
            art6 = decision.basis_voluntary if voluntary else decision.basis_statutory
            if art6 not in {b.value for b in allowed_bases(agency.sector)}:
                continue  # no basis this recipient's sector may rely on (never public task)
            art9 = decision.condition_special if category.is_special else None
            if category.is_special and not art9:
                continue  # special categories need an Article 9 / Schedule 1 condition too
            if not vital_open and (
                art6 == Article6.VITAL_INTERESTS.value or art9 == Article9.VITAL_INTERESTS.value
            ):
                continue  # the person could have been, or was, asked
            basis: dict[str, Any] = {
                "basis": "decision",
                "decision": decision.id,
                "purpose": purpose.value,
                "art6": art6,
            }
            if art9:
                basis["art9"] = art9
            return CategoryDecision(
                category,
                True,
                "decision",
                "Shared without consent under an approved decision.",
                basis,
            )
    if relation.kind is Relation.MARAC and category in TRIAGE_CATEGORIES and referral_basis:
        # The referral is itself a disclosure to the MARAC: its coordinator and chair see what
        # triage needs under the basis the referrer recorded.
        return CategoryDecision(
            category,
            True,
            "referral",
            "Shared with the MARAC by the referral itself.",
            {"basis": "referral", "purpose": Purpose.MARAC, "art6": referral_basis},
        )
    return CategoryDecision(
        category,
        False,
        "no_basis",
        f"Withheld: {category.label}, no consent or approved decision covers your agency.",
    )


def _decide_category(
    agency: Agency,
    category: Category,
    relation: _Relation,
    consents: Sequence[ConsentRecord],
    decisions: Sequence[SharingDecision],
    moment: datetime,
    referral_basis: str | None = None,
) -> CategoryDecision:
    if category is Category.MINUTES:
        # What the conference recorded about a case carries its risk discussion: it flows
        # on the same basis as risk.
        risk = _basis(agency, Category.RISK, relation, consents, decisions, moment, referral_basis)
        return CategoryDecision(
            Category.MINUTES,
            risk.allowed,
            risk.code,
            risk.message.replace("risk,", "minutes,"),
            risk.basis,
        )
    if category is Category.RESEARCH:
        # An agency's research is its own: every reader who may know the case may see
        # their own agency's, and presenters never show another agency's.
        return CategoryDecision(
            Category.RESEARCH,
            True,
            "own_agency",
            "Your agency's own research.",
            {"basis": "own_record"},
        )
    if category not in CASE_CATEGORIES:
        return CategoryDecision(category, False, "not_case_data", "Withheld: not case data.")
    return _basis(agency, category, relation, consents, decisions, moment, referral_basis)


def _whereabouts(
    actor: Actor,
    facts: CaseFacts,
    relation: _Relation,
    decided: CategoryDecision,
    reveal_reason: str | None,
) -> tuple[CategoryDecision, bool]:
    """Rule 5: whether whereabouts are revealed now; (decision, revealed)."""
    if not decided.allowed:
        return decided, False
    if relation.kind is Relation.INVITED:
        return (
            CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "invited_only",
                "Withheld: an agency that knows this case only from a meeting agenda does not "
                "receive the victim's whereabouts.",
            ),
            False,
        )
    counter = facts.counter
    if (
        counter is not None
        and relation.kind is not Relation.REFERRER
        and actor.kind == "member"
        and (
            actor.agency_id == counter.referring_agency_id
            or actor.member_id == counter.referrer_id
            or actor.member_id in counter.team_member_ids
        )
    ):
        return (
            CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "counter_allegation",
                "Withheld: you work on the other side of a counter-allegation.",
            ),
            False,
        )
    reason = (reveal_reason or "").strip()
    if not reason:
        return (
            CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "masked",
                "Masked: reveal the victim's whereabouts only with a reason.",
                decided.basis,
            ),
            False,
        )
    if len(reason) < MIN_REVEAL_REASON or not actor.can(Permission.WHEREABOUTS_REVEAL):
        return (
            CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "reason_refused",
                "Masked: give a fuller reason to reveal the victim's whereabouts.",
                decided.basis,
            ),
            False,
        )
    return decided, True


@dataclass(frozen=True)
class _Outcome:
    refusal: str | None
    relation: _Relation | None
    decisions: dict[Category, CategoryDecision]
    revealed: bool


@dataclass
class _Bases:
    consents: dict[int, list[ConsentRecord]]
    decisions: dict[int, list[SharingDecision]]

    @classmethod
    def load(cls, case_ids: Sequence[int]) -> _Bases:
        found = cls({i: [] for i in case_ids}, {i: [] for i in case_ids})
        if not case_ids:
            return found
        for consent in (
            session()
            .execute(
                select(ConsentRecord)
                .where(ConsentRecord.referral_id.in_(case_ids))
                .order_by(ConsentRecord.id)
            )
            .scalars()
        ):
            found.consents[consent.referral_id].append(consent)
        for decision in (
            session()
            .execute(
                select(SharingDecision)
                .where(SharingDecision.referral_id.in_(case_ids))
                .order_by(SharingDecision.id)
            )
            .scalars()
        ):
            found.decisions[decision.referral_id].append(decision)
        return found


def _agency_of(actor: Actor) -> Agency | None:
    return session().get(Agency, actor.agency_id) if actor.agency_id is not None else None


def _decide(
    actor: Actor,
    facts: CaseFacts,
    wanted: list[Category],
    agency: Agency | None,
    bases: _Bases | None,
    reveal_reason: str | None,
    moment: datetime,
    purpose: Purpose | None = None,
) -> _Outcome:
    stop = _first_refusal(actor, facts, agency)
    if stop is not None:
        return _Outcome(stop, None, {}, False)
    assert agency is not None
    relation = _relation(actor, facts, agency)
    if relation is None:
        return _Outcome("no_need_to_know", None, {}, False)
    if purpose is not None and purpose in relation.purposes:
        relation = _Relation(relation.kind, (purpose,))  # the caller reads for this one only
    if bases is None:
        bases = _Bases.load([facts.id]) if relation.kind is not Relation.REFERRER else None
    consents = bases.consents.get(facts.id, []) if bases else []
    decisions = bases.decisions.get(facts.id, []) if bases else []
    decided = {
        c: _decide_category(agency, c, relation, consents, decisions, moment, facts.referral_basis)
        for c in wanted
    }
    revealed = False
    if Category.WHEREABOUTS in decided:
        decided[Category.WHEREABOUTS], revealed = _whereabouts(
            actor, facts, relation, decided[Category.WHEREABOUTS], reveal_reason
        )
    return _Outcome(None, relation, decided, revealed)


def _refused(actor: Actor, facts: CaseFacts, wanted: list[Category], code: str) -> Disclosure:
    decisions = {c: CategoryDecision(c, False, code, NO_SUCH_CASE) for c in wanted}
    return Disclosure(
        actor,
        facts.id,
        facts.reference,
        Purpose.MARAC,
        True,
        code,
        NO_SUCH_CASE,
        decisions,
        True,
        _SEAL,
    )


def refuse(
    actor: Actor,
    case_id: int,
    code: str,
    *,
    area_id: int | None = None,
    person_ids: Sequence[int] = (),
    requested: Sequence[str] = (),
    attempted: str = LedgerAction.CASE_VIEWED,
) -> None:
    """Record a refusal to read or act on a case, in a transaction of its own.

    Also used for a case id that names no case, so guessing ids leaves the same trace.
    """
    details: dict[str, Any] = {
        "case": case_id,
        "reason": code,
        "requested": list(requested),
        "attempted": attempted,
    }
    if person_ids:
        details["persons"] = list(person_ids)
    if area_id is not None:
        details["area"] = area_id
    record_refusal(actor, LedgerAction.ACCESS_DENIED, Subject("case", case_id), **details)


def _record_refusal(
    actor: Actor, facts: CaseFacts, code: str, wanted: Iterable[Category], action: str
) -> None:
    refuse(
        actor,
        facts.id,
        code,
        area_id=facts.area_id,
        person_ids=facts.person_ids,
        requested=[c.value for c in wanted],
        attempted=action,
    )


def _sealed(actor: Actor, facts: CaseFacts, outcome: _Outcome, agency: Agency) -> Disclosure:
    assert outcome.relation is not None
    return Disclosure(
        actor,
        facts.id,
        facts.reference,
        outcome.relation.purposes[0],
        False,
        "",
        "",
        outcome.decisions,
        False,
        _SEAL,
        outcome.relation.kind,
        agency.id,
        facts,
    )


def _entry_details(facts: CaseFacts, result: Disclosure, outcome: _Outcome) -> dict[str, Any]:
    assert outcome.relation is not None
    decided = outcome.decisions
    details: dict[str, Any] = {
        "case": facts.id,
        "area": facts.area_id,
        "persons": list(facts.person_ids),
        "purpose": result.purpose.value,
        "purposes": sorted(
            {
                str(d.basis["purpose"])
                for d in decided.values()
                if d.allowed and "purpose" in d.basis
            }
        ),
        "categories": [c.value for c in result.shown],
        "withheld": {d.category.value: d.code for d in result.withheld},
        "relation": outcome.relation.kind.value,
        "bases": sorted(
            {
                f"{d.basis.get('basis')}:{d.basis.get('art6', '')}:{d.basis.get('art9', '')}"
                for d in decided.values()
                if d.allowed
            }
        ),
        "consents": sorted(
            {d.basis["consent"] for d in decided.values() if d.allowed and "consent" in d.basis}
        ),
        "decisions": sorted(
            {d.basis["decision"] for d in decided.values() if d.allowed and "decision" in d.basis}
        ),
    }
    if outcome.revealed:
        details["reason_given"] = True
    return details


def _record_disclosure(
    actor: Actor, action: str, facts: CaseFacts, details: dict[str, Any]
) -> None:
    subject = Subject("case", facts.id)
    record(actor, action, subject, **details)

    def again(session: Session, extra: dict[str, Any]) -> None:
        record_in(session, actor, action, subject, {**details, **extra})

    db.keep_disclosure(again)


def disclose(
    actor: Actor,
    facts: CaseFacts,
    categories: Iterable[Category],
    purpose: Purpose | None = None,
    *,
    reveal_reason: str | None = None,
    reveal_ref: int | None = None,
    action: str = LedgerAction.CASE_VIEWED,
) -> Disclosure:
    """Decide what this actor may see of this case, and record the disclosure.

    ``purpose`` narrows the judgement to one purpose the reader holds the case for; left out,
    every purpose the reader's relation gives is tried (the reader's own purposes).
    ``reveal_ref`` identifies the stored reason for a reveal: the entry of a reveal names it,
    so the auditor can read the reason beside the entry (the ledger keeps no free text).
    """
    wanted = list(dict.fromkeys(categories))
    agency = _agency_of(actor)
    outcome = _decide(actor, facts, wanted, agency, None, reveal_reason, now(), purpose)
    if outcome.refusal is not None:
        _record_refusal(actor, facts, outcome.refusal, wanted, action)
        return _refused(actor, facts, wanted, outcome.refusal)
    assert agency is not None
    result = _sealed(actor, facts, outcome, agency)
    details = _entry_details(facts, result, outcome)
    if outcome.revealed and reveal_ref is not None:
        details["reveal"] = reveal_ref
    _record_disclosure(
        actor, LedgerAction.WHEREABOUTS_REVEALED if outcome.revealed else action, facts, details
    )
    return result


def disclose_many(
    actor: Actor,
    many: Sequence[CaseFacts],
    categories: Iterable[Category],
    *,
    action: str = LedgerAction.CASE_LISTED,
) -> dict[int, Disclosure]:
    """One decision per case for a list (inbox, agenda, to-do list), with constant queries.

    Lists are already filtered to cases the actor may know; a case that is refused here all
    the same (a race, or a list built too widely) is left out of the answer and its refusal
    recorded, so the caller shows nothing of it.
    """
    wanted = list(dict.fromkeys(categories))
    agency = _agency_of(actor)
    moment = now()
    bases = _Bases.load([f.id for f in many])
    answers: dict[int, Disclosure] = {}
    for facts in many:
        outcome = _decide(actor, facts, wanted, agency, bases, None, moment)
        if outcome.refusal is not None:
            _record_refusal(actor, facts, outcome.refusal, wanted, action)
            continue
        assert agency is not None
        result = _sealed(actor, facts, outcome, agency)
        _record_disclosure(actor, action, facts, _entry_details(facts, result, outcome))
        answers[facts.id] = result
    return answers


#: The data protection officer reads a case only to answer a subject access request: the
#: controller's legal obligation under UK GDPR Art. 15, so Art. 6(1)(c); special categories
#: under Art. 9(2)(g) (DPA 2018 Sch. 1, statutory purposes). The Schedule paragraph is our
#: reading and is not verified against a source.
SUBJECT_ACCESS_BASIS = {"basis": "subject_access", "purpose": "subject_access", "art6": "6(1)(c)"}


def disclose_for_subject_access(
    actor: Actor, facts: CaseFacts, categories: Iterable[Category], *, request_id: int
) -> Disclosure:
    """Let the area's data protection officer read a case to answer a subject access request.

    Not need to know (rule 3): the officer never works a case, and reads it only for the
    request, which the entry names. Rule 1 and the area boundary still hold. An agency's
    research is never read: it belongs to that agency, and the bundle lists it as left out.
    """
    wanted = list(dict.fromkeys(categories))
    agency = _agency_of(actor)
    stop = _first_refusal(actor, facts, agency, for_subject_access=True)
    if stop is None and (actor.kind != "member" or not actor.has_role(Role.AUDITOR)):
        stop = "not_data_protection_officer"
    if stop is None and actor.area_id != facts.area_id:
        stop = "other_area"
    if stop is not None or agency is None:
        _record_refusal(actor, facts, stop or "no_actor", wanted, LedgerAction.SAR_CASE_READ)
        return _refused(actor, facts, wanted, stop or "no_actor")
    decisions: dict[Category, CategoryDecision] = {}
    for category in wanted:
        if category is Category.RESEARCH:
            decisions[category] = CategoryDecision(
                category,
                False,
                "agency_private",
                "Left out: an agency's research belongs to that agency.",
            )
            continue
        basis = {**SUBJECT_ACCESS_BASIS, **({"art9": "9(2)(g)"} if category.is_special else {})}
        decisions[category] = CategoryDecision(
            category, True, "subject_access", "Read to answer a subject access request.", basis
        )
    result = Disclosure(
        actor,
        facts.id,
        facts.reference,
        Purpose.MARAC,
        False,
        "",
        "",
        decisions,
        False,
        _SEAL,
        Relation.SUBJECT_ACCESS,
        agency.id,
    )
    details: dict[str, Any] = {
        "case": facts.id,
        "area": facts.area_id,
        "persons": list(facts.person_ids),
        "purpose": "subject_access",
        "categories": [c.value for c in result.shown],
        "withheld": {d.category.value: d.code for d in result.withheld},
        "relation": Relation.SUBJECT_ACCESS.value,
        "bases": sorted(
            {
                f"subject_access:6(1)(c):{d.basis.get('art9', '')}"
                for d in decisions.values()
                if d.allowed
            }
        ),
        "sar": request_id,
    }
    _record_disclosure(actor, LedgerAction.SAR_CASE_READ, facts, details)
    return result


def preview(actor: Actor, facts: CaseFacts, categories: Iterable[Category]) -> Disclosure:
    """What ``disclose`` would decide, without recording anything.

    The answer is not sealed: presenters refuse it, so it can steer a decision (warn that
    sharing goes beyond consent, say whether an action's owner could read it) but never
    become output.
    """
    wanted = list(dict.fromkeys(categories))
    agency = _agency_of(actor)
    outcome = _decide(actor, facts, wanted, agency, None, None, now())
    if outcome.refusal is not None:
        refused = _refused(actor, facts, wanted, outcome.refusal)
        return Disclosure(**{**refused.__dict__, "_seal": None})
    assert agency is not None
    sealed = _sealed(actor, facts, outcome, agency)
    return Disclosure(**{**sealed.__dict__, "_seal": None})


def authorise(actor: Actor, facts: CaseFacts, operation: str) -> Permit:
    """May this actor act on this case at all (rules 1-3)? A refusal is recorded and raised.

    Every write on a case asks this first, before any check of the operation itself, so that
    a person behind a wall, on the must-not-receive list, in another area, or with no need to
    know gets the same concealed 404 as for a case that does not exist.
    """
    if actor.kind == "system":
        return Permit(actor, facts.id, Relation.MARAC, _SEAL)  # the CLI and jobs: the hub itself
    agency = _agency_of(actor)
    stop = _first_refusal(actor, facts, agency)
    relation = None
    if stop is None:
        assert agency is not None
        relation = _relation(actor, facts, agency)
        if relation is None:
            stop = "no_need_to_know"
    if stop is not None or relation is None:
        _record_refusal(actor, facts, stop or "no_need_to_know", (), operation)
        raise Refused(NO_SUCH_CASE, conceal=True, code=stop or "no_need_to_know")
    return Permit(actor, facts.id, relation.kind, _SEAL)


def would_know(actor: Actor, facts: CaseFacts) -> bool:
    """Rules 1-3 only: may this actor know the case exists (for links between cases)?

    Shows no content and records nothing; anything that shows content calls ``disclose``.
    """
    agency = _agency_of(actor)
    if _first_refusal(actor, facts, agency) is not None:
        return False
    assert agency is not None
    return _relation(actor, facts, agency) is not None


def record_search(actor: Actor, kind: str, results: Sequence[CaseFacts]) -> None:
    """A search that names cases is a disclosure of their existence: record which."""
    record(
        actor,
        LedgerAction.CASE_SEARCHED,
        None,
        search=kind,
        cases=[f.id for f in results],
        persons=sorted({p for f in results for p in f.person_ids}),
        **({"areas": sorted({f.area_id for f in results})} if results else {}),
    )


__all__ = [
    "CaseFacts",
    "CategoryDecision",
    "ConsentState",
    "CounterFacts",
    "Disclosure",
    "NotDisclosed",
    "Permit",
    "Relation",
    "authorise",
    "disclose",
    "disclose_for_subject_access",
    "disclose_many",
    "preview",
    "refuse",
    "require_disclosure",
    "vital_interests_open",
    "would_know",
]
