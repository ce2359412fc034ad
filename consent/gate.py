"""The disclosure gate: every read of case data passes here, and leaves its ledger entry.

``disclose(actor, facts, categories, purpose)`` decides, for each data category, whether the
actor may see it, and why. The rules are checked in order and the first failing rule
decides (DESIGN.md section 4):

1. the actor's agency has signed the current information sharing protocol;
2. the actor is not behind a conflict wall for this case, nor on its must-not-receive list;
3. need to know: the actor's agency referred the case, was given it, or was invited to a
   meeting with it on the agenda; within the agency, the actor is the referrer, on the case
   team, or the agency's MARAC representative; the area's coordinator and chair know every
   submitted case;
4. a lawful basis for this recipient and category: the agency's own record, consent in force
   that covers the purpose, recipient and category, or an approved decision to share without
   consent (with the Article 6 basis for the recipient's sector, and the Article 9 condition
   for special categories);
5. whereabouts stay masked unless the actor reveals them with a written reason.

The result is a ``Disclosure`` sealed by this module: the functions that turn case rows into
something a page or the API shows accept nothing else. One ledger entry is written per
disclosure in the caller's transaction; a refusal is written in a transaction of its own,
because the request that was refused rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from agencies.models import Agency, Sector
from audit.ledger import Subject, record, record_refusal
from consent.categories import CASE_CATEGORIES, Category, Purpose
from consent.models import ConsentRecord, SharingDecision
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session

#: Shortest reason accepted for revealing whereabouts: a word or two is not a reason.
MIN_REVEAL_REASON = 10
_SEAL = object()

#: Higher packages (meetings) add the agencies that need to know a case because it is on an
#: agenda they were invited to. Each source maps a case id to agency ids.
_need_to_know_sources: list[Callable[[int], set[int]]] = []


def register_need_to_know(source: Callable[[int], set[int]]) -> None:
    """Let a higher package say which further agencies need to know a case."""
    if source not in _need_to_know_sources:
        _need_to_know_sources.append(source)


@dataclass(frozen=True)
class CaseFacts:
    """What the gate needs to know about a case, built only by hub.referrals.

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
    shared_agency_ids: frozenset[int] = frozenset()
    team_member_ids: frozenset[int] = frozenset()
    blocked_member_ids: frozenset[int] = frozenset()
    walled_member_ids: frozenset[int] = frozenset()


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
    purpose: Purpose
    refused: bool
    #: Why everything was refused (rules 1-3), or "" when the case may be shown.
    refusal_code: str
    refusal_message: str
    decisions: dict[Category, CategoryDecision]
    #: Whether the refusal must look like "no such case" (walls, must-not-receive), so
    #: the refused person does not even learn that a case exists.
    conceal: bool
    _seal: object = field(default=None, repr=False, compare=False)

    def allows(self, category: Category) -> bool:
        decision = self.decisions.get(category)
        return decision is not None and decision.allowed and not self.refused

    @property
    def shown(self) -> list[Category]:
        return [c for c, d in self.decisions.items() if d.allowed and not self.refused]

    @property
    def withheld(self) -> list[CategoryDecision]:
        return [d for d in self.decisions.values() if not d.allowed]

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


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Relation:
    #: referrer, marac, shared, invited
    kind: str


def _relation(actor: Actor, facts: CaseFacts, agency: Agency) -> _Relation | None:
    """Rule 3: why this actor needs to know this case, or None."""
    is_rep = actor.has_role(Role.MARAC_REP)
    on_team = actor.member_id is not None and actor.member_id in facts.team_member_ids
    if actor.agency_id == facts.referring_agency_id:
        if actor.kind == "service":
            return _Relation("referrer")  # the agency's own records system
        if actor.member_id == facts.referrer_id or on_team or is_rep:
            return _Relation("referrer")
        if facts.status != "draft" and (
            actor.has_role(Role.COORDINATOR) or actor.has_role(Role.CHAIR)
        ):
            return _Relation("marac")  # the area's chair may work for the referring agency
        return None  # a colleague outside the case team: no need to know
    if facts.status == "draft":
        return None  # a draft is the referring agency's own work in progress
    if agency.area_id == facts.area_id and (
        actor.has_role(Role.COORDINATOR) or actor.has_role(Role.CHAIR)
    ):
        return _Relation("marac")  # the coordinator and chair run every case of their area
    given = facts.shared_agency_ids
    invited: set[int] = set()
    for source in _need_to_know_sources:
        invited |= source(facts.id)
    if actor.agency_id in given or actor.agency_id in invited:
        if actor.kind == "service" or on_team or is_rep:
            return _Relation("shared" if actor.agency_id in given else "invited")
        return None  # the agency knows; this member is not on its case team
    return None


def _basis(
    actor: Actor,
    agency: Agency,
    facts: CaseFacts,
    category: Category,
    purpose: Purpose,
    relation: _Relation,
    consents: Sequence[ConsentRecord],
    decisions: Sequence[SharingDecision],
    moment: datetime,
) -> CategoryDecision:
    """Rule 4: a lawful basis for this recipient and category."""
    if relation.kind == "referrer":
        return CategoryDecision(
            category, True, "own_record", "Your agency's own record.", {"basis": "own_record"}
        )
    if category is Category.DIVERSITY and relation.kind != "marac":
        return CategoryDecision(
            category,
            False,
            "not_needed",
            "Withheld: equality monitoring details are used only for the MARAC's data return.",
        )
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
        art6 = (
            decision.basis_voluntary
            if agency.sector == Sector.VOLUNTARY.value
            else decision.basis_statutory
        )
        if not art6 or (agency.sector == Sector.VOLUNTARY.value and art6 == "6(1)(e)"):
            continue  # no basis recorded for this recipient's sector (never public task)
        if category.is_special and not decision.condition_special:
            continue  # special categories need an Article 9 / Schedule 1 condition too
        basis = {"basis": "decision", "decision": decision.id, "art6": art6}
        if category.is_special:
            basis["art9"] = decision.condition_special
        return CategoryDecision(
            category, True, "decision", "Shared without consent under an approved decision.", basis
        )
    return CategoryDecision(
        category,
        False,
        "no_basis",
        f"Withheld: {category.label}, no consent or approved decision covers your agency.",
    )


def _first_refusal(
    actor: Actor, facts: CaseFacts, agency: Agency | None
) -> tuple[str, str, bool] | None:
    """Rules 1 and 2 (and the area boundary): (code, message, conceal) of the first that fails."""
    if actor.kind not in {"member", "service"} or agency is None:
        return "no_actor", "Only members and registered partner systems see cases.", False
    if agency.is_disabled or not agency.has_current_isp(today_london()):
        return (
            "isp_not_current",
            "Your agency has not signed the current information sharing protocol.",
            False,
        )
    if actor.member_id is not None and actor.member_id in facts.walled_member_ids:
        return "conflict_wall", "There is no such case.", True
    if actor.member_id is not None and actor.member_id in facts.blocked_member_ids:
        return "must_not_receive", "There is no such case.", True
    if agency.area_id != facts.area_id and actor.agency_id != facts.referring_agency_id:
        return "other_area", "There is no such case.", True
    return None


def disclose(
    actor: Actor,
    facts: CaseFacts,
    categories: Iterable[Category],
    purpose: Purpose = Purpose.MARAC,
    *,
    reveal_reason: str | None = None,
    action: str = "case:viewed",
) -> Disclosure:
    """Decide what this actor may see of this case, and record the disclosure."""
    wanted = list(dict.fromkeys(categories))
    moment = now()
    agency = session().get(Agency, actor.agency_id) if actor.agency_id is not None else None

    def refuse(code: str, message: str, *, conceal: bool = False) -> Disclosure:
        decisions = {c: CategoryDecision(c, False, code, message) for c in wanted}
        result = Disclosure(
            actor,
            facts.id,
            facts.reference,
            purpose,
            True,
            code,
            message,
            decisions,
            conceal,
            _SEAL,
        )
        record_refusal(
            actor,
            "access:denied",
            Subject("case", facts.id),
            case=facts.id,
            persons=list(facts.person_ids),
            reason=code,
            purpose=purpose.value,
            requested=[c.value for c in wanted],
            attempted=action,
        )
        return result

    stop = _first_refusal(actor, facts, agency)
    if stop is not None:
        return refuse(*stop[:2], conceal=stop[2])
    assert agency is not None
    relation = _relation(actor, facts, agency)
    if relation is None:
        return refuse(
            "no_need_to_know",
            "You do not need to know about this case: your agency has not been given "
            "it, or you are not on its case team.",
        )

    consents: list[ConsentRecord] = []
    decisions: list[SharingDecision] = []
    if relation.kind != "referrer":
        consents = list(
            session()
            .execute(
                select(ConsentRecord)
                .where(ConsentRecord.referral_id == facts.id)
                .order_by(ConsentRecord.id)
            )
            .scalars()
        )
        decisions = list(
            session()
            .execute(
                select(SharingDecision)
                .where(SharingDecision.referral_id == facts.id)
                .order_by(SharingDecision.id)
            )
            .scalars()
        )
    decided: dict[Category, CategoryDecision] = {}
    for category in wanted:
        if category is Category.MINUTES:
            # Minutes of a case carry its risk discussion: they flow on the same basis as risk.
            risk = _basis(
                actor, agency, facts, Category.RISK, purpose, relation, consents, decisions, moment
            )
            decided[category] = CategoryDecision(
                Category.MINUTES,
                risk.allowed,
                risk.code,
                risk.message.replace("risk,", "minutes,"),
                risk.basis,
            )
            continue
        if category not in CASE_CATEGORIES:
            decided[category] = CategoryDecision(
                category, False, "not_case_data", "Withheld: not part of the referral."
            )
            continue
        decided[category] = _basis(
            actor, agency, facts, category, purpose, relation, consents, decisions, moment
        )

    revealed = False
    where = decided.get(Category.WHEREABOUTS)
    if where is not None and where.allowed:
        reason = (reveal_reason or "").strip()
        if not reason:
            decided[Category.WHEREABOUTS] = CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "masked",
                "Masked: reveal the victim's whereabouts only with a reason.",
                where.basis,
            )
        elif len(reason) < MIN_REVEAL_REASON or not actor.can(Permission.WHEREABOUTS_REVEAL):
            decided[Category.WHEREABOUTS] = CategoryDecision(
                Category.WHEREABOUTS,
                False,
                "reason_refused",
                "Masked: give a fuller reason to reveal the victim's whereabouts.",
                where.basis,
            )
        else:
            revealed = True

    result = Disclosure(
        actor, facts.id, facts.reference, purpose, False, "", "", decided, False, _SEAL
    )
    shown = [c.value for c in result.shown]
    withheld = {d.category.value: d.code for d in result.withheld}
    bases = sorted(
        {
            f"{d.basis.get('basis')}:{d.basis.get('art6', '')}:{d.basis.get('art9', '')}"
            for d in decided.values()
            if d.allowed
        }
    )
    record(
        actor,
        "whereabouts:revealed" if revealed else action,
        Subject("case", facts.id),
        case=facts.id,
        persons=list(facts.person_ids),
        purpose=purpose.value,
        categories=shown,
        withheld=withheld,
        relation=relation.kind,
        bases=bases,
        consents=sorted(
            {d.basis["consent"] for d in decided.values() if d.allowed and "consent" in d.basis}
        ),
        decisions=sorted(
            {d.basis["decision"] for d in decided.values() if d.allowed and "decision" in d.basis}
        ),
        **({"reason_given": True} if revealed else {}),
    )
    return result


def would_know(actor: Actor, facts: CaseFacts) -> bool:
    """Rules 1-3 only: may this actor know the case exists (for lists of tasks, say)?

    Shows no content and records nothing; anything that shows content calls ``disclose``.
    """
    agency = session().get(Agency, actor.agency_id) if actor.agency_id is not None else None
    if _first_refusal(actor, facts, agency) is not None:
        return False
    assert agency is not None
    return _relation(actor, facts, agency) is not None


def visible_to(actor: Actor, candidates: Iterable[CaseFacts]) -> list[CaseFacts]:
    """Cases whose existence this actor may learn (search results): walls and blocks hide."""
    visible = []
    for facts in candidates:
        if actor.member_id is not None and (
            actor.member_id in facts.walled_member_ids
            or actor.member_id in facts.blocked_member_ids
        ):
            continue
        visible.append(facts)
    return visible


def record_search(actor: Actor, kind: str, results: Sequence[CaseFacts]) -> None:
    """A search that names cases is a disclosure of their existence: record which."""
    record(
        actor,
        "case:searched",
        None,
        search=kind,
        cases=[f.id for f in results],
        persons=sorted({p for f in results for p in f.person_ids}),
    )
