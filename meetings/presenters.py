"""Meeting content for one reader: every field comes from the gate's decision for its case.

This is the meetings' counterpart of ``cases.casefile``. Each function takes the
``Disclosure`` the gate returned for *that* case and calls ``require_disclosure`` first, so
nothing of a case (an agenda reason, the record of the discussion, what an agency shared, an
action, an amendment's reason, research) reaches a page, a PDF or a flash message without
it. A field the reader may not see is left empty and its place says why, with the category
it belongs to (``consent.categories.FREE_TEXT_CATEGORIES``):

* what the conference recorded about a case is MINUTES: the agenda's late and deferral
  reasons, the discussion, contributions, actions (their text, wherever it is shown: the run
  page, the review, the minutes, an extract, the owner's task), review notes, who tells the
  victim, and an amendment's reason;
* research is RESEARCH, and only ever the reader's own agency's.

Who may see a case at all is decided before a presenter runs: lists are filtered in the query
(``cases.facts.knowable``) and pages load the case through the gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from consent.categories import Category
from consent.gate import Disclosure, NotDisclosed, require_disclosure
from meetings.codes import DISCUSSION_FIELDS, ActionStatus, ItemStatus

LABELS = {name: label for name, label, _required in DISCUSSION_FIELDS}
COUNTER_FLAG = "Counter-allegation"


def _why(disclosure: Disclosure, category: Category) -> str:
    return disclosure.reason_withheld(category)


def visible_flags(flags: Iterable[str], *, partner_known: bool) -> list[str]:
    """A case's agenda flags for this reader: the counter-allegation flag names another case,
    so it shows only to someone who may know that other case too."""
    return [f for f in flags if f != COUNTER_FLAG or partner_known]


def heading_of(referral: Any, disclosure: Disclosure) -> str:
    """The victim's name when identity is shown, else empty."""
    require_disclosure(disclosure, case_id=referral.id)
    if disclosure.allows(Category.IDENTITY) and referral.victim is not None:
        return str(referral.victim.display_name)
    return ""


# --- the agenda ----------------------------------------------------------------------------


@dataclass
class AgendaRow:
    """One line of the agenda as this person may see it."""

    item_id: int
    referral_id: int
    #: The number this reader sees: 1, 2, 3 ... over the rows shown to them, never a gap.
    number: int
    reference: str
    status: str
    flags: list[str]
    #: The victim's name when the gate allows identity; empty otherwise.
    heading: str = ""
    referring_agency: str = ""
    #: Why identity is withheld, when it is.
    withheld: str = ""
    late_reason: str = ""
    deferral_reason: str = ""
    #: Why the late or deferral reason is withheld, when there is one and it is.
    reasons_withheld: str = ""


def has_reasons(item: Any) -> bool:
    """Whether an agenda line carries a written reason (late addition or deferral)."""
    return bool(item.late_reason) or (
        item.status == ItemStatus.DEFERRED and bool(item.deferral_reason)
    )


def agenda_row(
    item: Any,
    referral: Any,
    disclosure: Disclosure,
    *,
    number: int,
    referring_agency: str,
    partner_known: bool,
) -> AgendaRow:
    """An agenda line: identity as the gate allows it, the reasons only with MINUTES."""
    require_disclosure(disclosure, case_id=referral.id)
    row = AgendaRow(
        item_id=item.id,
        referral_id=referral.id,
        number=number,
        reference=referral.reference,
        status=item.status,
        flags=visible_flags(item.flags, partner_known=partner_known),
        referring_agency=referring_agency,
    )
    row.heading = heading_of(referral, disclosure)
    if not row.heading and not disclosure.allows(Category.IDENTITY):
        row.withheld = _why(disclosure, Category.IDENTITY)
    if has_reasons(item):
        if disclosure.allows(Category.MINUTES):
            row.late_reason = item.late_reason
            if item.status == ItemStatus.DEFERRED:
                row.deferral_reason = item.deferral_reason
        else:
            row.reasons_withheld = _why(disclosure, Category.MINUTES)
    return row


# --- the chair's page for one case ---------------------------------------------------------


@dataclass
class SharedView:
    agency: str
    text: str
    from_research: bool


@dataclass
class ActionView:
    id: int
    agency: str
    owner: str
    due_on: date
    text: str = ""
    withheld: str = ""


@dataclass
class CaseRecord:
    """What this reader may see of the meeting's record of one case."""

    item_id: int
    referral_id: int
    reference: str
    status: str
    flags: list[str]
    is_counter_allegation: bool
    #: Whether the reader may see the record (MINUTES); if not, ``withheld`` says why.
    shown: bool
    withheld: str = ""
    deferral_reason: str = ""
    discussion: dict[str, str] = field(default_factory=dict)
    informs_victim_agency_id: int | None = None
    informs_victim_name: str = ""
    include_whereabouts: bool = False
    whereabouts_reason: str = ""
    contributions: list[SharedView] = field(default_factory=list)
    actions: list[ActionView] = field(default_factory=list)
    saved_at: datetime | None = None

    @property
    def status_label(self) -> str:
        return ItemStatus(self.status).label


def case_record(
    item: Any,
    referral: Any,
    disclosure: Disclosure,
    *,
    agencies: Mapping[int, str],
    members: Mapping[int, str],
    partner_known: bool,
) -> CaseRecord:
    """The record of one case at the meeting, withheld as a whole without MINUTES."""
    require_disclosure(disclosure, case_id=referral.id)
    record = CaseRecord(
        item_id=item.id,
        referral_id=referral.id,
        reference=referral.reference,
        status=item.status,
        flags=visible_flags(item.flags, partner_known=partner_known),
        is_counter_allegation=item.is_counter_allegation,
        shown=disclosure.allows(Category.MINUTES),
    )
    if not record.shown:
        record.withheld = _why(disclosure, Category.MINUTES)
        return record
    discussion = item.discussion
    if item.status == ItemStatus.DEFERRED:
        record.deferral_reason = item.deferral_reason
    record.discussion = {name: getattr(discussion, name) if discussion else "" for name in LABELS}
    if discussion is not None:
        record.informs_victim_agency_id = discussion.informs_victim_agency_id
        record.informs_victim_name = discussion.informs_victim_name
        record.include_whereabouts = discussion.include_whereabouts
        record.whereabouts_reason = discussion.whereabouts_reason
        record.saved_at = discussion.updated_at
    record.contributions = [
        SharedView(agencies.get(c.agency_id, ""), c.text, c.from_research)
        for c in item.contributions
    ]
    record.actions = [
        ActionView(
            a.id,
            agencies.get(a.agency_id, ""),
            members.get(a.owner_member_id, ""),
            a.due_on,
            text=a.text,
        )
        for a in item.actions
    ]
    return record


# --- actions, wherever their text is shown -------------------------------------------------


def action_text(disclosure: Disclosure, case_id: int, text: str) -> tuple[str, str]:
    """An action's wording for this reader, and why it is withheld when it is.

    An action is part of what the conference recorded (MINUTES). The same rule holds on the
    run page, the review, the minutes and extracts, and the owner's task (its title and
    details copy the wording).
    """
    require_disclosure(disclosure, case_id=case_id)
    if disclosure.allows(Category.MINUTES):
        return text, ""
    return "", _why(disclosure, Category.MINUTES)


@dataclass
class ReviewRow:
    """An earlier meeting's action as this reader may see it at the review."""

    action_id: int
    reference: str
    agency: str
    owner: str
    due_on: date
    task_state: str
    outcome: str
    text: str = ""
    note: str = ""
    withheld: str = ""

    @property
    def shown(self) -> bool:
        return not self.withheld

    @property
    def outcome_label(self) -> str:
        return "Still open" if self.outcome == "open" else ActionStatus(self.outcome).label


def review_row(
    action: Any,
    referral: Any,
    disclosure: Disclosure,
    *,
    agency: str,
    owner: str,
    review: Any,
) -> ReviewRow:
    """A line of the review: its text and note only with MINUTES."""
    text, withheld = action_text(disclosure, referral.id, action.text)
    return ReviewRow(
        action_id=action.id,
        reference=referral.reference,
        agency=agency,
        owner=owner,
        due_on=action.due_on,
        task_state=action.task_state.replace("_", " "),
        outcome=review.outcome if review is not None else "",
        text=text,
        note=review.note if review is not None and not withheld else "",
        withheld=withheld,
    )


# --- minutes and extracts ------------------------------------------------------------------


@dataclass
class CaseSection:
    """One case of the minutes for one recipient."""

    number: int
    referral_id: int
    reference: str
    heading: str
    flags: list[str]
    referring_agency: str
    #: Why the record of this case is withheld from this recipient, or "" when it is shown.
    withheld: str = ""
    deferred: bool = False
    deferral_reason: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    contributions: list[tuple[str, str]] = field(default_factory=list)
    informs_victim: str = ""
    actions: list[dict[str, str]] = field(default_factory=list)
    include_whereabouts: bool = False
    whereabouts: list[tuple[str, str]] | None = None


def minutes_case(
    number: int,
    item: Mapping[str, Any],
    referral: Any,
    disclosure: Disclosure,
    *,
    agency_id: int | None,
    own_actions_only: bool,
    partner_known: bool,
    whereabouts: Any = None,
    day: Any = str,
) -> CaseSection:
    """A case of the minutes (``item`` from the frozen document) for one recipient.

    Without MINUTES only its number, reference, the name (if identity is allowed) and why
    the rest is withheld. ``own_actions_only``: an extract holds only its agency's actions.
    ``whereabouts`` is the victim's whereabouts row, given only when the chair included them
    for this case; it is shown only where the gate revealed them to this recipient.
    """
    require_disclosure(disclosure, case_id=referral.id)
    heading = f"Case {referral.reference}"
    name = heading_of(referral, disclosure)
    if name:
        heading = f"{name} ({referral.reference})"
    section = CaseSection(
        number=number,
        referral_id=referral.id,
        reference=referral.reference,
        heading=heading,
        flags=visible_flags(item["flags"], partner_known=partner_known),
        referring_agency=item["referring_agency"],
    )
    if not disclosure.allows(Category.MINUTES):
        section.withheld = _why(disclosure, Category.MINUTES)
        return section
    section.deferred = item["status"] == ItemStatus.DEFERRED
    section.deferral_reason = item["deferral_reason"]
    section.sections = [
        (LABELS[name], item["discussion"].get(name, ""))
        for name, _label, _required in DISCUSSION_FIELDS
        if name != "primary_aggressor" or item["counter_allegation"]
    ]
    informs = item.get("informs_victim_agency") or ""
    if item.get("informs_victim_name"):
        informs = (
            f"{informs} – {item['informs_victim_name']}" if informs else item["informs_victim_name"]
        )
    section.informs_victim = informs
    section.contributions = [(c["agency"], c["text"]) for c in item["contributions"]]
    section.actions = [
        {**a, "due_on": day(a["due_on"])}
        for a in item["actions"]
        if not own_actions_only or a["agency_id"] == agency_id
    ]
    section.include_whereabouts = bool(item.get("include_whereabouts"))
    if section.include_whereabouts and disclosure.allows(Category.WHEREABOUTS):
        section.whereabouts = (
            [
                ("Address", whereabouts.address or "Not recorded"),
                ("Refuge", "Yes" if whereabouts.is_refuge else "No"),
                ("Safe phone", whereabouts.safe_phone or "Not recorded"),
                ("Safe times to call", whereabouts.safe_times or "Not recorded"),
            ]
            if whereabouts is not None
            else [("Whereabouts", "Not recorded")]
        )
    return section


def minutes_review_row(
    row: Mapping[str, Any], disclosure: Disclosure, *, day: Any, outcome_label: str
) -> dict[str, str]:
    """A line of the minutes' review of earlier actions: text and note only with MINUTES."""
    text, withheld = action_text(disclosure, row["referral_id"], row["text"])
    return {
        **row,
        "text": text,
        "note": row["note"] if not withheld else "",
        "withheld": withheld,
        "due_on": day(row["due_on"]),
        "outcome_label": outcome_label,
    }


@dataclass
class AmendmentRow:
    number: str
    when: str
    who: str
    #: The cases of this copy the amendment changed, by reference.
    cases: list[str]
    reason: str = ""
    withheld: str = ""
    #: What changed, for each case of this copy: "NO-2026-0001: Risk to the victim".
    sections: list[str] = field(default_factory=list)


#: Shown instead of an amendment's reason when it also changed a case this copy does not show.
REASON_OF_OTHER_CASES = (
    "Withheld: the reason also concerns a case whose minutes are not in this copy."
)


def amendment_row(
    *,
    number: str,
    when: str,
    who: str,
    reason: str,
    amended: Iterable[int],
    disclosures: Mapping[int, Disclosure],
    references: Mapping[int, str],
    sections: Mapping[int, list[str]] | None = None,
) -> AmendmentRow | None:
    """An amendment as this recipient may see it, or None when it changed none of their cases.

    An amendment's reason belongs to the case sections it amends (MINUTES): it is shown only
    where every case it changed is in this copy with its minutes.
    """
    changed = sorted(set(amended))
    readable = []
    for case_id in changed:
        disclosure = disclosures.get(case_id)
        if disclosure is None:
            continue
        require_disclosure(disclosure, case_id=case_id)
        if disclosure.allows(Category.MINUTES):
            readable.append(case_id)
    if not readable:
        return None
    row = AmendmentRow(number, when, who, [references[c] for c in readable])
    row.sections = [
        f"{references[c]}: {label}" for c in readable for label in (sections or {}).get(c, [])
    ]
    if len(readable) == len(changed):
        row.reason = reason
    else:
        row.withheld = REASON_OF_OTHER_CASES
    return row


@dataclass
class AmendCase:
    """One case of the amend page: its sections, or why they are withheld."""

    reference: str
    heading: str
    #: (key, label, current text) for every section an amendment may change.
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    withheld: str = ""


def amend_case(
    item: Mapping[str, Any], referral: Any, disclosure: Disclosure, keys: list[tuple[str, str]]
) -> AmendCase:
    """A case's amendable sections (``keys``: (key, field name)) if the reader has MINUTES."""
    require_disclosure(disclosure, case_id=referral.id)
    case = AmendCase(referral.reference, heading_of(referral, disclosure))
    if not disclosure.allows(Category.MINUTES):
        case.withheld = _why(disclosure, Category.MINUTES)
        return case
    case.sections = [(key, LABELS[name], item["discussion"].get(name, "")) for key, name in keys]
    return case


# --- research ------------------------------------------------------------------------------


@dataclass
class HeldBack:
    item: str
    reason: str


@dataclass
class ResearchView:
    """The reader's own agency's research on a case."""

    facts: str
    opinions: str
    to_share: str
    withheld: list[HeldBack]
    version: int
    updated_at: datetime | None


def research_view(row: Any, case_id: int, disclosure: Disclosure) -> ResearchView:
    """Research for its own agency only (RESEARCH), never another agency's."""
    require_disclosure(disclosure, case_id=case_id, category=Category.RESEARCH)
    if disclosure.agency_id is None or row.agency_id != disclosure.agency_id:
        raise NotDisclosed("research is shown only to the agency that wrote it")
    return ResearchView(
        facts=row.facts,
        opinions=row.opinions,
        to_share=row.to_share,
        withheld=[HeldBack(w.item, w.reason) for w in row.withheld],
        version=row.version,
        updated_at=row.updated_at,
    )
