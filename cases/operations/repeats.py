"""Possible repeats the coordinator confirms or dismisses, and links between related cases.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select

from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases.facts import case_facts, facts_many
from cases.models import (
    PossibleRepeat,
    Referral,
    RepeatReview,
)
from cases.operations.triage import require_triage
from consent import gate
from hub.core.access import Actor, Permission
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import ValidationFailed


@dataclass(frozen=True)
class RelatedCase:
    label: str
    referral_id: int
    reference: str


def related_cases(actor: Actor, referral: Referral) -> list[RelatedCase]:
    """The earlier referral this one repeats and its counter-allegation pair, each only when
    the reader may know that case exists."""
    related: list[RelatedCase] = []
    for label, other_id in (
        ("Repeat of", referral.previous_referral_id),
        ("Counter-allegation with", referral.counter_allegation_id),
    ):
        if other_id is None:
            continue
        other = session().get(Referral, other_id)
        if other is not None and gate.would_know(actor, case_facts(other)):
            related.append(RelatedCase(label, other.id, other.reference))
    return related


# --- possible repeats: the coordinator confirms or dismisses -------------------------------


@dataclass(frozen=True)
class RepeatCandidate:
    """An earlier referral that may name the same victim and perpetrator, and why."""

    referral_id: int
    reference: str
    referred_on: date
    reasons: list[str]


def _unanswered(referral_ids: list[int]) -> dict[int, list[PossibleRepeat]]:
    """Stored possible repeats the coordinator has not answered, by referral (one query)."""
    if not referral_ids:
        return {}
    answered = select(RepeatReview.id).where(
        RepeatReview.referral_id == PossibleRepeat.referral_id,
        RepeatReview.earlier_id == PossibleRepeat.earlier_id,
    )
    rows = session().execute(
        select(PossibleRepeat)
        .join(Referral, Referral.id == PossibleRepeat.referral_id)
        .where(
            PossibleRepeat.referral_id.in_(referral_ids),
            ~answered.exists(),
            or_(
                Referral.previous_referral_id.is_(None),
                Referral.previous_referral_id != PossibleRepeat.earlier_id,
            ),
        )
        .order_by(PossibleRepeat.id)
    )
    found: dict[int, list[PossibleRepeat]] = {}
    for (row,) in rows:
        found.setdefault(row.referral_id, []).append(row)
    return found


def repeat_candidates(actor: Actor, referral: Referral) -> list[RepeatCandidate]:
    """Possible earlier referrals of the same people that the coordinator has not answered.

    Only the area's coordinator sees them (they triage every referral of the area), and only
    earlier cases this coordinator may know. The ledger records which cases the list named,
    as it does for a search.
    """
    if not actor.can(Permission.REFERRALS_TRIAGE) or referral.area_id != actor.area_id:
        return []
    stored = _unanswered([referral.id]).get(referral.id, [])
    if not stored:
        return []
    earlier = {
        r.id: r
        for r in session()
        .execute(select(Referral).where(Referral.id.in_([c.earlier_id for c in stored])))
        .scalars()
    }
    facts = facts_many(list(earlier.values()))
    shown = [
        c for c in stored if c.earlier_id in facts and gate.would_know(actor, facts[c.earlier_id])
    ]
    if not shown:
        return []
    record(
        actor,
        LedgerAction.REFERRAL_REPEAT_CANDIDATES_LISTED,
        Subject("case", referral.id),
        case=referral.id,
        cases=[c.earlier_id for c in shown],
    )
    return [
        RepeatCandidate(
            c.earlier_id,
            earlier[c.earlier_id].reference,
            earlier[c.earlier_id].referred_on or today_london(),
            list(c.reasons),
        )
        for c in shown
    ]


def possible_repeats(actor: Actor, referrals: list[Referral]) -> set[int]:
    """Which of these referrals have a possible repeat still to answer (for the inbox)."""
    if not actor.can(Permission.REFERRALS_TRIAGE) or not referrals:
        return set()
    mine = [r.id for r in referrals if r.area_id == actor.area_id]
    return set(_unanswered(mine))


def answer_repeat(
    actor: Actor, referral: Referral, earlier_id: int, *, same_people: bool
) -> RepeatReview:
    """Record the coordinator's answer; "the same people" makes the referral a repeat."""
    require_triage(actor, referral, LedgerAction.REFERRAL_REPEAT_ANSWERED)
    if earlier_id not in {c.earlier_id for c in _unanswered([referral.id]).get(referral.id, [])}:
        raise ValidationFailed(
            {"earlier": "That referral is not a possible repeat of this one, or was answered"}
        )
    review = RepeatReview(
        referral_id=referral.id,
        earlier_id=earlier_id,
        same_people=same_people,
        reviewed_by_id=actor.member_id,
        reviewed_at=now(),
    )
    session().add(review)
    if same_people and not referral.is_repeat:
        referral.is_repeat = True
        referral.previous_referral_id = earlier_id
    session().flush()
    record(
        actor,
        LedgerAction.REFERRAL_REPEAT_CONFIRMED
        if same_people
        else LedgerAction.REFERRAL_REPEAT_DISMISSED,
        Subject("case", referral.id),
        case=referral.id,
        cases=[earlier_id],
    )
    return review
