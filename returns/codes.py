"""The return's vocabulary: its referral categories, its fields, and how the hub's own
records answer each diversity question (yes, no, or not known).

"Not known" is its own answer everywhere: a blank or unrecognised value is never a "no".
"""

from __future__ import annotations

import re
from datetime import date

from agencies.models import AgencyType

#: The return's referring-agency categories (next-capabilities 1.2; SafeLives' exact code
#: list is unpublished, so these follow the agency list of its minutes template).
CATEGORIES: dict[str, str] = {
    "police": "Police",
    "idva": "IDVA",
    "primary_care": "Primary care",
    "acute_trust": "Acute trust (secondary care)",
    "mental_health": "Mental health",
    "probation": "Probation",
    "housing": "Housing",
    "rsl": "Registered social landlord",
    "childrens_social_care": "Children's social care",
    "adult_safeguarding": "Adult safeguarding",
    "education": "Education",
    "drug_alcohol": "Drug and alcohol services",
    "specialist_bamer": "Specialist BAMER service",
    "specialist_lgbt": "Specialist LGBT+ service",
    "other": "Other",
}

#: Where each agency type's referrals are counted unless the coordinator says otherwise.
DEFAULT_CATEGORIES: dict[AgencyType, str] = {
    AgencyType.POLICE: "police",
    AgencyType.CHILDRENS_SOCIAL_CARE: "childrens_social_care",
    AgencyType.ADULTS_SOCIAL_CARE: "adult_safeguarding",
    AgencyType.ACUTE_HEALTH: "acute_trust",
    AgencyType.PRIMARY_CARE: "primary_care",
    AgencyType.MENTAL_HEALTH: "mental_health",
    AgencyType.HOUSING: "housing",
    AgencyType.PROBATION: "probation",
    AgencyType.IDVA_SERVICE: "idva",
    # A specialist NGO may serve BAMER or LGBT+ victims: the coordinator says which.
    AgencyType.SPECIALIST_NGO: "other",
    AgencyType.EDUCATION: "education",
    AgencyType.SUBSTANCE_MISUSE: "drug_alcohol",
    AgencyType.OTHER: "other",
}

#: The questions asked of each case's victim, and of its perpetrator: code, label.
VICTIM_QUESTIONS: list[tuple[str, str]] = [
    ("victims_bame", "Victim Black, Asian or racially minoritised"),
    ("victims_lgbt", "Victim LGBT+"),
    ("victims_disabled", "Victim disabled"),
    ("victims_male", "Victim male"),
    ("victims_16_17", "Victim aged 16 or 17"),
]
PERPETRATOR_QUESTION = ("perpetrators_under_18", "Perpetrator aged 17 or under")
NOT_KNOWN = "_not_known"


def fields() -> list[tuple[str, str]]:
    """Every count in a meeting row, in the order of the return: code, label."""
    found = [
        ("cases_total", "Cases discussed"),
        ("cases_repeat", "Repeat cases"),
        ("children_in_household", "Children in the households"),
        ("children" + NOT_KNOWN, "Households with children not known"),
    ]
    found += [(f"referrals_{code}", f"Referred by: {label}") for code, label in CATEGORIES.items()]
    for code, label in [*VICTIM_QUESTIONS, PERPETRATOR_QUESTION]:
        found += [(code, label), (code + NOT_KNOWN, f"{label}: not known")]
    return found


# --- the hub's records, answered -----------------------------------------------------------

_UNKNOWN = re.compile(
    r"^\s*$|not\s*known|unknown|prefer\s*not|not\s*stated|not\s*given|declined|refused|n/?a$"
)
#: GOV.UK ethnicity groups other than White (Mixed or multiple, Asian, Black, Other).
_MINORITISED = re.compile(
    r"black|asian|mixed|multiple|arab|african|caribbean|indian|pakistani|bangladeshi|"
    r"chinese|other\s+ethnic|any\s+other\s+ethnic"
)
_WHITE = re.compile(r"white|gypsy|roma|traveller")
_MALE = {"male", "man", "m", "trans man", "transgender man", "boy"}


def is_minoritised(ethnicity: str) -> bool | None:
    """Black, Asian or racially minoritised: None when not known or not recognised."""
    text = ethnicity.strip().lower()
    if _UNKNOWN.search(text):
        return None
    if _MINORITISED.search(text):
        return True
    if _WHITE.search(text):
        # The GOV.UK list groups Gypsy, Irish Traveller and Roma under White.
        return False
    return None  # free text the hub cannot place is not known, never a "no"


def is_male(gender: str) -> bool | None:
    text = gender.strip().lower()
    if _UNKNOWN.search(text):
        return None
    return text in _MALE


def answer(value: str) -> bool | None:
    """A recorded "yes" / "no" / "not_known" answer."""
    return {"yes": True, "no": False}.get(value)


def age_on(born_on: date | None, day: date) -> int | None:
    if born_on is None:
        return None
    return day.year - born_on.year - ((day.month, day.day) < (born_on.month, born_on.day))
