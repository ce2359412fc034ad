"""Build referrals through the real services, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cases import checklists, services
from cases.models import Referral
from consent.categories import Article6, Article9, ConsentState
from hub.core import db
from hub.core.access import Actor


@dataclass
class Names:
    given: str
    family: str
    born_on: date | None


VICTIM = Names("Jane", "Example", date(1990, 5, 17))
PERPETRATOR = Names("John", "Sample", date(1987, 2, 3))


def answers(yes: int, checklist: str = checklists.DEFAULT_CHECKLIST) -> dict[str, dict[str, str]]:
    questions = checklists.load_checklists()[checklist].questions
    return {q.id: {"answer": "yes" if i < yes else "no"} for i, q in enumerate(questions)}


def draft(
    actor: Actor,
    *,
    victim: Names = VICTIM,
    perpetrator: Names = PERPETRATOR,
    yes: int = 15,
    judgement: str = "",
    incidents: int | None = None,
) -> int:
    """A complete draft (every page but consent), returning its id."""
    with db.unit_of_work():
        referral = services.start_referral(actor)
        services.save_victim(
            actor,
            referral,
            services.PersonData(
                given_name=victim.given,
                family_name=victim.family,
                born_on=victim.born_on,
                ethnicity="White British",
                disability="no",
                lgbt="no",
            ),
        )
        services.save_perpetrator(
            actor,
            referral,
            services.PersonData(
                given_name=perpetrator.given,
                family_name=perpetrator.family,
                born_on=perpetrator.born_on,
            ),
            relationship="Ex-partner",
            children="Two children at Hill Primary",
            children_count=2,
        )
        services.save_risk(
            actor,
            referral,
            services.RiskData(
                checklist=checklists.DEFAULT_CHECKLIST,
                answers=answers(yes),
                professional_judgement=bool(judgement),
                judgement_reasons=judgement,
                incidents_12m=incidents,
            ),
        )
        services.save_details(
            actor,
            referral,
            services.DetailsData(
                incident="Assault at home on Friday night; police attended.",
                victim_fears="The perpetrator and his brother",
                health_notes="Bruised ribs",
                reported_to_police=True,
                crime_reference="CR/123/26",
                victim_aware=True,
            ),
        )
        services.save_whereabouts(
            actor,
            referral,
            services.WhereaboutsData(
                address="Flat 2, 10 Secret Street",
                safe_phone="07700 900123",
                safe_times="Weekdays 10-12",
            ),
        )
        return referral.id


def with_consent(actor: Actor, referral_id: int) -> None:
    with db.unit_of_work():
        services.save_sharing(
            actor,
            services.get_referral(referral_id),
            services.SharingChoice(state=ConsentState.GIVEN, evidence="Verbally, in person, alone"),
        )


def without_consent(
    actor: Actor, referral_id: int, *, voluntary: Article6 = Article6.LEGITIMATE_INTERESTS
) -> None:
    with db.unit_of_work():
        services.save_sharing(
            actor,
            services.get_referral(referral_id),
            services.SharingChoice(
                state=ConsentState.NOT_SOUGHT_UNSAFE,
                evidence="Asking would alert the perpetrator",
                rationale="Fifteen Yes answers, threats to kill and strangulation: sharing is "
                "necessary to protect her life.",
                basis_statutory=Article6.PUBLIC_TASK,
                basis_voluntary=voluntary,
                condition_special=Article9.SAFEGUARDING,
            ),
        )


def submit(actor: Actor, referral_id: int) -> Referral:
    with db.unit_of_work():
        return services.submit_referral(actor, services.get_referral(referral_id))


def accept(coordinator: Actor, referral_id: int) -> None:
    with db.unit_of_work():
        services.accept_referral(coordinator, services.get_referral(referral_id))
