"""What each persona's case page would show, asked of the real gate.

``case_page(actor, referral_id)`` is the one place the crawl learns the gate's answer: ``None``
when the persona must not learn that the case exists (the gate conceals it or refuses it:
walls, must-not-receive, no relation, another area, a lapsed protocol), else the categories
the gate allows. Change this function, and only this one, when the gate's API changes.

Minutes follow the gate's decision for ``minutes``. Whereabouts are never among the allowed
categories here: the crawl never reveals them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cases import services as referrals
from consent.categories import CASE_CATEGORIES, Category
from hub.core import db
from hub.core.access import Actor, Role
from hub.core.errors import Forbidden, NotFound, Refused
from tests.canary.markers import PRIVATE, WHEREABOUTS, Owner
from tests.canary.scenario import Persona, Scenario

ASKED = [*CASE_CATEGORIES, Category.MINUTES]


def case_page(actor: Actor, referral_id: int) -> frozenset[str] | None:
    """The categories this actor's case page shows, or None when the case must stay hidden."""
    with db.unit_of_work():
        try:
            _referral, disclosure = referrals.open_case(actor, referral_id, list(ASKED))
        except (NotFound, Forbidden, Refused):
            return None
        return frozenset(c.value for c in disclosure.shown)


@dataclass
class Oracle:
    """The gate's answers for every persona and case of the scenario, asked once."""

    scenario: Scenario
    #: (persona, case) -> allowed categories, or None.
    pages: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict)

    @classmethod
    def ask(cls, scenario: Scenario, actors: dict[str, Actor]) -> Oracle:
        oracle = cls(scenario)
        for persona, who in actors.items():
            for case in scenario.cases.values():
                oracle.pages[(persona, case.key)] = case_page(who, case.id)
        return oracle

    def allowed(self, persona: str, case: str) -> frozenset[str] | None:
        return self.pages[(persona, case)]

    def may_know(self, persona: Persona, case: str) -> bool:
        """Whether the persona may learn that the case exists (its reference, its id).

        The gate's answer, and two rules the gate does not hold: an auditor searches the
        ledger of their own area, which names its cases (never their content); and the
        receiving coordinator of a transfer learns the old case's reference from the pack.
        """
        if self.allowed(persona.key, case) is not None:
            return True
        if (case, persona.key) in self.scenario.told_by_transfer:
            return True
        found = self.scenario.cases[case]
        return Role.AUDITOR in persona.roles and found.area == persona.area

    def allows(self, persona: Persona, owner: Owner) -> bool:
        """Whether this persona may see text of this owner (case, category, agency)."""
        if owner.category == WHEREABOUTS:
            return False  # the crawl never reveals
        shown = self.allowed(persona.key, owner.case)
        if shown is None:
            return False
        if owner.category == PRIVATE:
            return persona.kind == "member" and persona.agency == owner.agency
        return owner.category in shown

    def why_not(self, persona: Persona, owner: Owner) -> str:
        """Why the persona may not see it, in words for the findings."""
        if owner.category == WHEREABOUTS:
            return "whereabouts appear although nothing was revealed"
        shown = self.allowed(persona.key, owner.case)
        if shown is None:
            return f"{persona.key} must not learn that {owner.case} exists"
        if owner.category == PRIVATE:
            return f"private to {owner.agency}'s research and notes on {owner.case}"
        return f"the gate withholds {owner.category} of {owner.case} from {persona.key}"
