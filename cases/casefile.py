"""Turn a referral into what a person may see: only from a gate decision, category by category.

This is the one place case rows become page or API content. Every function here takes the
``Disclosure`` the gate returned and refuses anything else (``consent.gate.require_disclosure``),
so a view that skips the gate cannot show case data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agencies.models import Agency
from cases import checklists
from cases.models import PartyRole, Person, Referral, Whereabouts
from consent.categories import Category
from consent.gate import Disclosure, require_disclosure
from hub.core.db import session

YES_NO = {True: "Yes", False: "No", None: "Not known"}
DIVERSITY = {"yes": "Yes", "no": "No", "not_known": "Not known"}


@dataclass
class Section:
    category: Category
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    withheld: str = ""


@dataclass
class CaseView:
    """What one person may see of one case, with a reason for everything withheld."""

    referral_id: int
    reference: str
    status: str
    referring_agency: str
    referred_on: str
    flags: list[str]
    criteria: list[str]
    sections: list[Section]
    whereabouts_masked: bool
    whereabouts_revealed: bool
    heading: str

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "status": self.status,
            "referring_agency": self.referring_agency,
            "referred_on": self.referred_on,
            "flags": self.flags,
            "criteria": self.criteria,
            "sections": {
                s.category.value: ({"withheld": s.withheld} if s.withheld else dict(s.rows))
                for s in self.sections
            },
        }


def _person_rows(person: Person | None, prefix: str) -> list[tuple[str, str]]:
    if person is None:
        return [(prefix, "Not given")]
    rows = [(prefix, person.display_name)]
    if person.aliases:
        rows.append((f"{prefix}: other names", person.aliases.replace("\n", ", ")))
    if person.born_on:
        rows.append((f"{prefix}: date of birth", person.born_on.strftime("%d %B %Y").lstrip("0")))
    if person.gender:
        rows.append((f"{prefix}: gender", person.gender))
    if person.language:
        rows.append((f"{prefix}: language", person.language))
    if person.nhs_number:
        rows.append((f"{prefix}: NHS number", person.nhs_number))
    if person.police_person_id:
        rows.append((f"{prefix}: police identifier", person.police_person_id))
    return rows


def _section(
    disclosure: Disclosure, category: Category, title: str, rows: list[tuple[str, str]]
) -> Section:
    if disclosure.allows(category):
        return Section(category, title, rows)
    decision = disclosure.decisions.get(category)
    return Section(category, title, [], decision.message if decision else "Withheld.")


#: The coordinator's written reason, shown while the referral stands deferred or rejected.
DECISION_REASON_LABELS = {
    "deferred": "Why the coordinator deferred it",
    "rejected": "Why it was rejected",
}


def case_view(referral: Referral, disclosure: Disclosure) -> CaseView:
    """Build the page's view of a case from the gate's decision; withheld parts say why."""
    require_disclosure(disclosure, case_id=referral.id)
    agency = session().get(Agency, referral.referring_agency_id)
    sections = []

    identity: list[tuple[str, str]] = []
    if disclosure.allows(Category.IDENTITY):
        identity += _person_rows(referral.victim, "Victim")
        parties = [p for p in referral.parties if p.role == PartyRole.PERPETRATOR.value]
        for number, party in enumerate(parties, start=1):
            label = "Perpetrator" if len(parties) == 1 else f"Perpetrator {number}"
            identity += _person_rows(party.person, label)
            relationship = (
                referral.perpetrator_relationship if number == 1 else party.relationship_to_victim
            )
            if relationship:
                identity.append((f"{label}: relationship to the victim", relationship))
        for party in referral.parties:
            if party.role == PartyRole.HOUSEHOLD.value:
                identity += _person_rows(party.person, "Household member")
                if party.relationship_to_victim:
                    identity.append(
                        ("Household member: who they are", party.relationship_to_victim)
                    )
    sections.append(_section(disclosure, Category.IDENTITY, "People", identity))

    risk: list[tuple[str, str]] = []
    if disclosure.allows(Category.RISK):
        assessment = referral.assessment
        if assessment is not None:
            checklist = checklists.load_checklists().get(assessment.checklist)
            risk.append(
                ("Risk checklist", f"{assessment.score} Yes answers – {assessment.band} risk")
            )
            if checklist is not None:
                yes = [
                    q.label
                    for q in checklist.questions
                    if assessment.answers.get(q.id, {}).get("answer") == "yes"
                ]
                if yes:
                    risk.append(("Answered Yes", "; ".join(yes)))
            for key, answers in (assessment.addon_answers or {}).items():
                addon = checklists.load_checklists().get(key)
                if addon is None:
                    continue
                yes = [
                    q.label for q in addon.questions if answers.get(q.id, {}).get("answer") == "yes"
                ]
                risk.append(
                    (
                        addon.name,
                        f"{len(yes)} Yes of {len(addon.questions)} (not part of the score)"
                        + (": " + "; ".join(yes) if yes else ""),
                    )
                )
        if referral.professional_judgement:
            risk.append(("Professional judgement", referral.judgement_reasons))
        if referral.incidents_12m is not None:
            risk.append(("Incidents in the last 12 months", str(referral.incidents_12m)))
        for label, value in (
            ("Current incident", referral.incident),
            ("Who the victim fears", referral.victim_fears),
            ("Safe to talk to", referral.safe_to_contact),
            ("Not safe to talk to", referral.unsafe_to_contact),
            ("Previous MARAC", referral.previous_marac),
            ("Primary-aggressor note", referral.primary_aggressor_note),
            ("Why the case was closed", referral.closure_reason),
            (DECISION_REASON_LABELS.get(referral.status, ""), referral.decision_reason),
        ):
            if value and label:
                risk.append((label, value))
        risk.append(("Victim knows of the referral", YES_NO[referral.victim_aware]))
        if referral.victim_aware is False and referral.victim_unaware_reason:
            risk.append(("Why the victim has not been told", referral.victim_unaware_reason))
        names = [m.name for m in referral.must_not_receive if m.name]
        if names:
            risk.append(("Must never be told or contacted", ", ".join(names)))
    sections.append(_section(disclosure, Category.RISK, "Risk", risk))

    children: list[tuple[str, str]] = []
    if disclosure.allows(Category.CHILDREN):
        children.append(
            (
                "Children in the household",
                "Not known" if referral.children_count is None else str(referral.children_count),
            )
        )
        for number, person in enumerate(referral.people_in(PartyRole.CHILD), start=1):
            children += _person_rows(person, f"Child {number}")
        if referral.children:
            children.append(("About the children", referral.children))
    sections.append(_section(disclosure, Category.CHILDREN, "Children", children))

    health: list[tuple[str, str]] = []
    if disclosure.allows(Category.HEALTH):
        health.append(("Injuries and health", referral.health_notes or "None recorded"))
    sections.append(_section(disclosure, Category.HEALTH, "Health", health))

    justice: list[tuple[str, str]] = []
    if disclosure.allows(Category.CRIMINAL_JUSTICE):
        justice.append(("Reported to police", YES_NO[referral.reported_to_police]))
        if referral.crime_reference:
            justice.append(("Crime reference", referral.crime_reference))
        if referral.justice_notes:
            justice.append(("Bail, orders and court", referral.justice_notes))
    sections.append(_section(disclosure, Category.CRIMINAL_JUSTICE, "Criminal justice", justice))

    diversity: list[tuple[str, str]] = []
    if disclosure.allows(Category.DIVERSITY) and referral.victim is not None:
        victim = referral.victim
        diversity += [
            ("Ethnicity", victim.ethnicity or "Not known"),
            ("Disability", DIVERSITY.get(victim.disability, "Not known")),
            ("LGBT+", DIVERSITY.get(victim.lgbt, "Not known")),
        ]
    sections.append(_section(disclosure, Category.DIVERSITY, "Equality monitoring", diversity))

    where: list[tuple[str, str]] = []
    revealed = disclosure.allows(Category.WHEREABOUTS)
    if revealed and referral.victim_id is not None:
        row = session().get(Whereabouts, referral.victim_id)
        if row is None:
            where.append(("Whereabouts", "Not recorded"))
        else:
            where += [
                ("Address", row.address or "Not recorded"),
                ("Refuge", YES_NO[row.is_refuge]),
                ("Safe phone", row.safe_phone or "Not recorded"),
                ("Safe times to call", row.safe_times or "Not recorded"),
                ("Safe contact", row.safe_contact or "Not recorded"),
            ]
    sections.append(_section(disclosure, Category.WHEREABOUTS, "Whereabouts", where))
    decision = disclosure.decisions.get(Category.WHEREABOUTS)

    flags = _flags(referral, disclosure)
    heading = (
        referral.victim.display_name
        if disclosure.allows(Category.IDENTITY) and referral.victim is not None
        else f"Case {referral.reference}"
    )
    return CaseView(
        referral_id=referral.id,
        reference=referral.reference,
        status=referral.status.label,
        referring_agency=agency.name if agency else "",
        referred_on=referral.referred_on.strftime("%d %B %Y").lstrip("0")
        if referral.referred_on
        else "",
        flags=flags,
        criteria=referral.criteria_labels if disclosure.allows(Category.RISK) else [],
        sections=sections,
        whereabouts_masked=decision is not None and decision.code == "masked",
        whereabouts_revealed=revealed,
        heading=heading,
    )


def _flags(referral: Referral, disclosure: Disclosure) -> list[str]:
    """Repeat, counter-allegation and transfer tags tell the risk story: shown with risk."""
    if not disclosure.allows(Category.RISK):
        return []
    flags = []
    if referral.is_repeat:
        flags.append("Repeat")
    if referral.counter_allegation_id is not None:
        flags.append("Counter-allegation")
    if referral.transferred_from:
        flags.append(f"Transferred from {referral.transferred_from}")
    return flags


def draft_values(referral: Referral, disclosure: Disclosure) -> dict[str, Any]:
    """A draft's own values for its referrer's form pages (never its whereabouts)."""
    require_disclosure(disclosure, case_id=referral.id, category=Category.IDENTITY)
    values: dict[str, Any] = {}
    victim = referral.victim
    if victim is not None:
        values.update(
            {
                "given_name": victim.given_name,
                "family_name": victim.family_name,
                "aliases": victim.aliases,
                "born_on": victim.born_on,
                "gender": victim.gender,
                "language": victim.language,
                "nhs_number": victim.nhs_number,
                "police_person_id": victim.police_person_id,
                "ethnicity": victim.ethnicity,
                "disability": victim.disability,
                "lgbt": victim.lgbt,
            }
        )
    perpetrators = referral.people_in(PartyRole.PERPETRATOR)
    if perpetrators:
        p = perpetrators[0]
        values.update(
            {
                "p_given_name": p.given_name,
                "p_family_name": p.family_name,
                "p_aliases": p.aliases,
                "p_born_on": p.born_on,
                "p_gender": p.gender,
                "p_police_person_id": p.police_person_id,
            }
        )
    others = (
        [
            party
            for party in referral.parties
            if party.role == PartyRole.PERPETRATOR.value and party.person is not perpetrators[0]
        ]
        if perpetrators
        else []
    )
    children = [p for p in referral.parties if p.role == PartyRole.CHILD.value]
    for number, party in enumerate(children[:3], start=1):
        values.update(
            {
                f"c{number}_given_name": party.person.given_name,
                f"c{number}_family_name": party.person.family_name,
                f"c{number}_born_on": party.person.born_on,
            }
        )
    adults = [p for p in referral.parties if p.role == PartyRole.HOUSEHOLD.value]
    if adults:
        values.update(
            {
                "h1_given_name": adults[0].person.given_name,
                "h1_family_name": adults[0].person.family_name,
                "h1_relationship": adults[0].relationship_to_victim,
            }
        )
    if others:
        values.update(
            {
                "p2_given_name": others[0].person.given_name,
                "p2_family_name": others[0].person.family_name,
                "p2_born_on": others[0].person.born_on,
                "p2_relationship": others[0].relationship_to_victim,
            }
        )
    values.update(
        {
            "relationship": referral.perpetrator_relationship,
            "children": referral.children,
            "children_count": referral.children_count,
            "professional_judgement": referral.professional_judgement,
            "judgement_reasons": referral.judgement_reasons,
            "incidents_12m": referral.incidents_12m,
            "incident": referral.incident,
            "victim_fears": referral.victim_fears,
            "safe_to_contact": referral.safe_to_contact,
            "unsafe_to_contact": referral.unsafe_to_contact,
            "health_notes": referral.health_notes,
            "reported_to_police": referral.reported_to_police,
            "crime_reference": referral.crime_reference,
            "justice_notes": referral.justice_notes,
            "previous_marac": referral.previous_marac,
            "victim_aware": referral.victim_aware,
            "victim_unaware_reason": referral.victim_unaware_reason,
            "line_manager_consulted": referral.line_manager_consulted,
            "marac_rep_consulted": referral.marac_rep_consulted,
            "must_not_receive_names": "\n".join(
                m.name for m in referral.must_not_receive if m.name
            ),
            "must_not_receive_member_ids": [
                m.member_id for m in referral.must_not_receive if m.member_id
            ],
        }
    )
    if referral.assessment is not None:
        values["checklist"] = referral.assessment.checklist
        values["answers"] = referral.assessment.answers
        values["addon_answers"] = referral.assessment.addon_answers or {}
    return values


def whereabouts_filled(referral: Referral, disclosure: Disclosure) -> list[str]:
    """Which whereabouts fields hold something, without showing them (for the referrer)."""
    require_disclosure(disclosure, case_id=referral.id, category=Category.IDENTITY)
    if referral.victim_id is None:
        return []
    row = session().get(Whereabouts, referral.victim_id)
    if row is None:
        return []
    return [
        label
        for label, value in (
            ("address", row.address),
            ("safe phone", row.safe_phone),
            ("safe times", row.safe_times),
            ("safe contact", row.safe_contact),
        )
        if value
    ]


@dataclass
class InboxRow:
    referral_id: int
    reference: str
    submitted_at: Any
    status: str
    criteria: list[str]
    score: str
    flags: list[str]
    withheld: str


def inbox_row(
    referral: Referral, disclosure: Disclosure, *, possible_repeat: bool = False
) -> InboxRow:
    """One line of the coordinator's inbox: criteria and score only when the gate allows risk."""
    require_disclosure(disclosure, case_id=referral.id)
    flags = []
    if disclosure.allows(Category.RISK):
        if referral.is_repeat:
            flags.append("Repeat")
        if possible_repeat:
            flags.append("Possible repeat: check")
        if referral.counter_allegation_id is not None:
            flags.append("Counter-allegation")
    if referral.status == "deferred":
        flags.append("Deferred")
    if disclosure.allows(Category.RISK):
        assessment = referral.assessment
        score = f"{assessment.score} Yes ({assessment.band})" if assessment else ""
        return InboxRow(
            referral.id,
            referral.reference,
            referral.submitted_at,
            referral.status,
            referral.criteria_labels,
            score,
            flags,
            "",
        )
    decision = disclosure.decisions.get(Category.RISK)
    return InboxRow(
        referral.id,
        referral.reference,
        referral.submitted_at,
        referral.status,
        [],
        "",
        flags,
        decision.message if decision else "Withheld.",
    )


# --- consent and decisions to share without consent ----------------------------------------


@dataclass
class ConsentRow:
    """One consent record as a reader may see it: its scope in codes, its free text (how it
    was given, which tells the risk story) only where the gate allows risk."""

    id: int
    state: str
    recorded_at: Any
    categories: list[str]
    purposes: list[str]
    recipient_agency_types: list[str]
    recipient_agency_ids: list[int]
    withdrawn_at: Any
    is_withdrawable: bool
    evidence: str
    withheld: str = ""


@dataclass
class DecisionRow:
    """One request to share without consent: bases in codes; reasons only with risk."""

    id: int
    status: str
    status_label: str
    requested_at: Any
    decided_at: Any
    categories: list[str]
    all_partners: bool
    recipient_agency_ids: list[int]
    basis_statutory: str | None
    basis_voluntary: str | None
    condition_special: str | None
    rationale: str
    note: str
    withheld: str = ""


def consent_rows(
    referral: Referral, disclosure: Disclosure, consents: list[Any]
) -> list[ConsentRow]:
    require_disclosure(disclosure, case_id=referral.id)
    shown = disclosure.allows(Category.RISK)
    withheld = "" if shown else disclosure.reason_withheld(Category.RISK)
    return [
        ConsentRow(
            id=c.id,
            state=c.state,
            recorded_at=c.recorded_at,
            categories=list(c.categories),
            purposes=list(c.purposes),
            recipient_agency_types=list(c.recipient_agency_types),
            recipient_agency_ids=list(c.recipient_agency_ids),
            withdrawn_at=c.withdrawn_at,
            is_withdrawable=c.state == "given" and c.withdrawn_at is None,
            evidence=c.evidence if shown else "",
            withheld=withheld,
        )
        for c in consents
        if c.referral_id == referral.id
    ]


def decision_rows(
    referral: Referral, disclosure: Disclosure, decisions: list[Any], moment: Any
) -> list[DecisionRow]:
    require_disclosure(disclosure, case_id=referral.id)
    shown = disclosure.allows(Category.RISK)
    withheld = "" if shown else disclosure.reason_withheld(Category.RISK)
    rows = []
    for d in decisions:
        if d.referral_id != referral.id:
            continue
        status = d.current_status(moment)
        rows.append(
            DecisionRow(
                id=d.id,
                status=status.value,
                status_label=status.label,
                requested_at=d.requested_at,
                decided_at=d.decided_at,
                categories=list(d.categories),
                all_partners=d.all_partners,
                recipient_agency_ids=list(d.recipient_agency_ids),
                basis_statutory=d.basis_statutory,
                basis_voluntary=d.basis_voluntary,
                condition_special=d.condition_special,
                rationale=d.rationale if shown else "",
                note=d.decision_note if shown else "",
                withheld=withheld,
            )
        )
    return rows
