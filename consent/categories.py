"""The vocabulary of disclosure: data categories, purposes, consent states, lawful bases."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What kind of personal data a disclosure holds; the gate decides per category."""

    IDENTITY = "identity"  # names, date of birth, gender, language, identifiers
    WHEREABOUTS = "whereabouts"  # current address, refuge, safe phone and times: most sensitive
    RISK = "risk"  # the checklist, criteria, narrative, who the victim fears
    CHILDREN = "children"  # children in the household
    HEALTH = "health"  # physical and mental health, substance use, pregnancy (Article 9)
    CRIMINAL_JUSTICE = "criminal_justice"  # offences, orders, bail (criminal offence data)
    DIVERSITY = "diversity"  # ethnicity, LGBT+, disability, religion (Article 9; monitoring)
    RESEARCH = "research"  # an agency's own research: private to that agency
    MINUTES = "minutes"  # what the conference recorded

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]

    @property
    def is_special(self) -> bool:
        """Special-category or criminal offence data, which needs a condition as well."""
        return self in SPECIAL


CATEGORY_LABELS = {
    Category.IDENTITY: "identity",
    Category.WHEREABOUTS: "whereabouts",
    Category.RISK: "risk",
    Category.CHILDREN: "children",
    Category.HEALTH: "health",
    Category.CRIMINAL_JUSTICE: "criminal justice",
    Category.DIVERSITY: "equality monitoring",
    Category.RESEARCH: "research",
    Category.MINUTES: "minutes",
}
SPECIAL = frozenset({Category.HEALTH, Category.CRIMINAL_JUSTICE, Category.DIVERSITY})
#: What a referral is made of (research and minutes belong to meetings).
CASE_CATEGORIES = (
    Category.IDENTITY,
    Category.RISK,
    Category.CHILDREN,
    Category.HEALTH,
    Category.CRIMINAL_JUSTICE,
    Category.DIVERSITY,
    Category.WHEREABOUTS,
)


class Purpose(StrEnum):
    MARAC = "marac"  # referral, research and the conference's safety plan
    IDVA_SUPPORT = "idva_support"  # an IDVA contacting and supporting the victim
    SAFEGUARDING = "safeguarding"  # child or adult safeguarding procedures

    @property
    def label(self) -> str:
        return {
            "marac": "MARAC: referral, research and safety planning",
            "idva_support": "IDVA support for the victim",
            "safeguarding": "Child or adult safeguarding",
        }[self.value]


class ConsentState(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT_UNSAFE = "not_sought_unsafe"
    NOT_SOUGHT_WOULD_PREJUDICE = "not_sought_would_prejudice"
    LACKS_CAPACITY = "lacks_capacity"

    @property
    def label(self) -> str:
        return {
            "given": "Given",
            "refused": "Refused",
            "not_sought_unsafe": "Not sought: unsafe to ask",
            "not_sought_would_prejudice": "Not sought: asking would prejudice protection",
            "lacks_capacity": "The person lacks capacity to consent",
        }[self.value]


class Article6(StrEnum):
    """UK GDPR Article 6(1) bases a decision to share without consent may rely on."""

    VITAL_INTERESTS = "6(1)(d)"
    LEGAL_OBLIGATION = "6(1)(c)"
    PUBLIC_TASK = "6(1)(e)"
    LEGITIMATE_INTERESTS = "6(1)(f)"
    LAW_ENFORCEMENT = "dpa2018-part3"  # competent authorities (police) under DPA 2018 Part 3

    @property
    def label(self) -> str:
        return {
            "6(1)(d)": "Vital interests – Article 6(1)(d)",
            "6(1)(c)": "Legal obligation – Article 6(1)(c)",
            "6(1)(e)": "Public task – Article 6(1)(e)",
            "6(1)(f)": "Legitimate interests – Article 6(1)(f)",
            "dpa2018-part3": "Law enforcement – DPA 2018 Part 3",
        }[self.value]


class Article9(StrEnum):
    """Article 9 / DPA 2018 Schedule 1 conditions for special-category data."""

    SAFEGUARDING = "sch1-para18"  # safeguarding of children and individuals at risk
    PREVENTING_CRIME = "sch1-para10"  # preventing or detecting unlawful acts
    VITAL_INTERESTS = "9(2)(c)"
    HEALTH_CARE = "9(2)(h)"

    @property
    def label(self) -> str:
        return {
            "sch1-para18": "Safeguarding of children and individuals at risk – Art 9(2)(g), "
            "DPA 2018 Sch 1 para 18",
            "sch1-para10": "Preventing or detecting unlawful acts – Art 9(2)(g), "
            "DPA 2018 Sch 1 para 10",
            "9(2)(c)": "Vital interests – Art 9(2)(c) (only when consent cannot be given)",
            "9(2)(h)": "Health or social care – Art 9(2)(h)",
        }[self.value]


#: Public authorities cannot use legitimate interests for their tasks; the voluntary sector
#: cannot rely on public task (Victim Support guidance, practice file section 4).
STATUTORY_BASES = (
    Article6.PUBLIC_TASK,
    Article6.LEGAL_OBLIGATION,
    Article6.VITAL_INTERESTS,
    Article6.LAW_ENFORCEMENT,
)
VOLUNTARY_BASES = (Article6.LEGITIMATE_INTERESTS, Article6.VITAL_INTERESTS)


def allowed_bases(sector: str) -> tuple[Article6, ...]:
    """The Article 6 bases a recipient of this sector (``agencies.models.Sector``) may rely
    on: the one home of the rule that the voluntary sector cannot rely on public task and a
    public authority not on legitimate interests."""
    return VOLUNTARY_BASES if sector == "voluntary" else STATUTORY_BASES


#: Vital interests (Article 6(1)(d), Article 9(2)(c)) are for life-or-death cases where the
#: person cannot be asked: they lack capacity, or asking is unsafe or impossible. A person
#: who was asked and refused while able to decide keeps that refusal (practice file section 4).
VITAL_INTERESTS_STATES = frozenset({ConsentState.LACKS_CAPACITY, ConsentState.NOT_SOUGHT_UNSAFE})

#: Which category each free-text field of a case belongs to, wherever it is shown; every
#: presenter withholds a field with its category (the canary crawl checks this).
FREE_TEXT_CATEGORIES: dict[str, Category] = {
    # the referral
    "referral.incident": Category.RISK,
    "referral.victim_fears": Category.RISK,
    "referral.safe_to_contact": Category.RISK,
    "referral.unsafe_to_contact": Category.RISK,
    "referral.previous_marac": Category.RISK,
    "referral.judgement_reasons": Category.RISK,
    "referral.victim_unaware_reason": Category.RISK,
    "referral.primary_aggressor_note": Category.RISK,
    "referral.decision_reason": Category.RISK,  # why it was rejected or deferred
    "referral.closure_reason": Category.RISK,
    "must_not_receive.name": Category.RISK,
    "referral.children": Category.CHILDREN,
    "referral.health_notes": Category.HEALTH,
    "referral.crime_reference": Category.CRIMINAL_JUSTICE,
    "referral.justice_notes": Category.CRIMINAL_JUSTICE,
    # consent and decisions to share without consent: they tell the risk story
    "consent.evidence": Category.RISK,
    "decision.rationale": Category.RISK,
    "decision.decision_note": Category.RISK,
    # the meeting: what the conference recorded about the case
    "agenda_item.late_reason": Category.MINUTES,
    "agenda_item.deferral_reason": Category.MINUTES,
    "discussion.*": Category.MINUTES,
    "contribution.text": Category.MINUTES,
    "action.text": Category.MINUTES,
    "action_review.note": Category.MINUTES,
    "minutes_revision.content": Category.MINUTES,
    "minutes_revision.reason": Category.MINUTES,  # kept with the case sections it amends
    "task.details": Category.MINUTES,  # a meeting action's wording, copied to the task
    # an agency's own work: shown only inside that agency
    "research.*": Category.RESEARCH,
    "task_event.note": Category.RESEARCH,
}

#: What the MARAC's coordinator and chair need to triage a referral (criteria, score, flags,
#: and who the people are, to check for repeats): disclosed to them by the referral itself,
#: under the basis the referrer records on it. Anything else still needs consent or an
#: approved decision to share without it.
TRIAGE_CATEGORIES = frozenset({Category.IDENTITY, Category.RISK})

#: The bases a referring agency may record for referring to the MARAC, by its sector.
REFERRAL_BASES_STATUTORY = (
    Article6.PUBLIC_TASK,
    Article6.LAW_ENFORCEMENT,
    Article6.LEGAL_OBLIGATION,
)
REFERRAL_BASES_VOLUNTARY = (Article6.LEGITIMATE_INTERESTS,)
CONSENT_BASIS = "6(1)(a)"
