"""The bundle: everything the hub holds about one person, pre-marked for redaction.

Every case is read through the gate (``disclose_for_subject_access``) as the area's data
protection officer, for this request; rows become items, each with a key the officer's
redaction decisions refer to. Third parties are pre-marked; for a subject who is a
perpetrator anywhere, the victim's whereabouts and contact details and any referral made
without the victim's knowledge are blocked: no decision can release them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from agencies.models import Agency, Member
from audit.actions import LedgerAction
from audit.models import AuditEntry, AuditEntryRef
from cases import casefile
from cases.facts import case_facts
from cases.models import PartyRole, Person, Referral, ReferralParty, ReferralStatus
from consent import gate
from consent.categories import CASE_CATEGORIES, Category
from consent.models import ConsentRecord
from hub.core.access import Actor
from hub.core.db import session
from meetings.models import Action, AgendaItem, CaseDiscussion, Meeting, ResearchSubmission
from subject_access.models import Exemption, Redaction, SubjectAccessRequest

#: Words in a row's label that make it a contact detail of the victim.
CONTACT_WORDS = ("contact", "phone", "address", "refuge", "safe times")


@dataclass
class Item:
    key: str
    label: str
    value: str
    #: The pre-marking: withheld under this exemption unless the officer releases it.
    premark: Exemption | None = None
    premark_reason: str = ""
    #: Why the item can never be released, or "".
    blocked: str = ""
    withheld: bool = False
    exemption: Exemption | None = None
    reason: str = ""
    decided: bool = False


@dataclass
class Part:
    title: str
    items: list[Item] = field(default_factory=list)


@dataclass
class LogRow:
    at: datetime
    agency: str
    action: str
    categories: list[str]
    bases: list[str]
    purpose: str
    who: Item


@dataclass
class CaseBlock:
    case_id: int
    reference: str
    role: str
    status: str
    referred_on: date | None
    parts: list[Part]
    log: list[LogRow]
    #: The case may never reach the requester (a referral without the victim's knowledge).
    blocked: str = ""


@dataclass
class Bundle:
    request_id: int
    subject_name: str
    cases: list[CaseBlock]
    left_out: list[str]

    @property
    def items(self) -> list[Item]:
        found = []
        for case in self.cases:
            for part in case.parts:
                found += part.items
            found += [row.who for row in case.log]
        return found

    def item(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)


def subject_roles(person_id: int) -> dict[int, str]:
    """{referral id: the person's role on it}: victim, perpetrator, child or household."""
    roles: dict[int, str] = {}
    for referral_id, role in session().execute(
        select(ReferralParty.referral_id, ReferralParty.role).where(
            ReferralParty.person_id == person_id
        )
    ):
        roles.setdefault(referral_id, str(role))
    for (referral_id,) in session().execute(
        select(Referral.id).where(Referral.victim_id == person_id)
    ):
        roles[referral_id] = PartyRole.VICTIM.value
    return roles


def is_perpetrator(person_id: int) -> bool:
    return PartyRole.PERPETRATOR.value in subject_roles(person_id).values()


def _prefix(referral: Referral, person_id: int, role: str) -> str:
    """The label the case file gives this person's rows ("Victim", "Perpetrator 2", ...)."""
    if role == PartyRole.VICTIM.value:
        return "Victim"
    wanted = {
        PartyRole.PERPETRATOR.value: "Perpetrator",
        PartyRole.CHILD.value: "Child",
        PartyRole.HOUSEHOLD.value: "Household member",
    }[role]
    same = [p for p in referral.parties if p.role == role]
    if role == PartyRole.HOUSEHOLD.value:
        return wanted
    if len(same) == 1 and role == PartyRole.PERPETRATOR.value:
        return wanted
    for number, party in enumerate(same, start=1):
        if party.person_id == person_id:
            return f"{wanted} {number}"
    return wanted


def _mark(item: Item, section: Category, role: str, prefix: str, guard: bool) -> None:
    """Pre-mark one case-file row for this subject; ``guard``: a perpetrator is asking."""
    label = item.label.lower()
    own = item.label == prefix or item.label.startswith(prefix + ":")
    victim = role == PartyRole.VICTIM.value
    if guard and not victim:
        if section is Category.WHEREABOUTS:
            item.blocked = "The victim's whereabouts are never released to a perpetrator."
        elif any(word in label for word in CONTACT_WORDS):
            item.blocked = "The victim's contact details are never released to a perpetrator."
    if item.blocked:
        return
    if section in {Category.IDENTITY, Category.CHILDREN}:
        if not own:
            item.premark = Exemption.THIRD_PARTY
            item.premark_reason = "Identifies another person."
        return
    if not victim:
        item.premark = Exemption.THIRD_PARTY
        item.premark_reason = "About the victim, not the subject."
    elif "never be told" in label:
        item.premark = Exemption.THIRD_PARTY
        item.premark_reason = "Names people the victim must not be contacted by."


def _name(model: type[Member] | type[Agency], ident: object) -> str:
    if not isinstance(ident, int):
        return ""
    row = session().get(model, ident)
    return row.name if row is not None else ""


def _ledger_log(case_id: int) -> list[LogRow]:
    """Every disclosure of the case the ledger holds: who, which agency, when, what, why."""
    entries = (
        session()
        .execute(
            select(AuditEntry)
            .join(AuditEntryRef, AuditEntryRef.entry_id == AuditEntry.id)
            .where(AuditEntryRef.kind == "case", AuditEntryRef.ref == str(case_id))
            .where(AuditEntry.action != LedgerAction.SAR_CASE_READ)
            .order_by(AuditEntry.id)
        )
        .scalars()
    )
    rows = []
    for entry in entries:
        body = json.loads(entry.body)
        if "relation" not in body or not body.get("categories"):
            continue  # not a disclosure by the gate (a refusal, a change of the case)
        actor = body.get("actor", {})
        who = Item(
            f"log:{entry.id}:who",
            "Who",
            _name(Member, actor.get("member")) or str(actor.get("name") or actor.get("kind")),
            Exemption.THIRD_PARTY,
            "A member of staff's name.",
        )
        try:
            label = LedgerAction(entry.action).label
        except ValueError:
            label = entry.action
        rows.append(
            LogRow(
                at=entry.at,
                agency=_name(Agency, actor.get("agency")),
                action=label,
                categories=[
                    Category(c).label
                    for c in body["categories"]
                    if c in Category._value2member_map_
                ],
                bases=sorted({basis_label(str(b)) for b in body.get("bases", [])}),
                purpose=str(body.get("purpose", "")),
                who=who,
            )
        )
    return rows


def basis_label(code: str) -> str:
    """A ledger basis ("kind:art6:art9") in words for the requester."""
    kind, art6, art9 = [*code.split(":"), "", ""][:3]
    words = {
        "own_record": "the referring agency's own record",
        "consent": "your consent",
        "decision": "a decision to share without consent",
        "referral": "the referral to the MARAC",
        "subject_access": "answering a subject access request",
    }.get(kind, kind)
    articles = ", ".join(f"Art. {a}" for a in (art6, art9) if a)
    return f"{words} ({articles})" if articles else words


def _meeting_parts(case_id: int, disclosure: gate.Disclosure) -> tuple[list[Part], list[str]]:
    gate.require_disclosure(disclosure, case_id=case_id, category=Category.MINUTES)
    parts: list[Part] = []
    left_out: list[str] = []
    items = (
        session()
        .execute(
            select(AgendaItem, Meeting)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(AgendaItem.referral_id == case_id)
            .order_by(Meeting.held_on, AgendaItem.id)
        )
        .all()
    )
    for agenda_item, meeting in items:
        held = meeting.held_on.strftime("%d %B %Y").lstrip("0")
        part = Part(f"Meeting of {held}")
        key = f"case:{case_id}:agenda:{agenda_item.id}"
        part.items.append(Item(f"{key}:status", "On the agenda", agenda_item.status.label))
        discussion = session().get(CaseDiscussion, agenda_item.id)
        if discussion is not None:
            for column, label, mark in (
                ("referrer_summary", "Minutes: the referrer's summary", None),
                ("victim_views", "Minutes: the victim's views", None),
                ("risk_victim", "Minutes: risks to the victim", None),
                ("risk_children", "Minutes: risks to the children", Exemption.THIRD_PARTY),
                ("risk_perpetrator", "Minutes: risks from the perpetrator", None),
                ("risk_professionals", "Minutes: risks to professionals", Exemption.PROTECT_PUBLIC),
            ):
                value = str(getattr(discussion, column) or "")
                if value:
                    part.items.append(
                        Item(
                            f"{key}:{column}",
                            label,
                            value,
                            mark,
                            "Pre-marked: names others or could endanger them." if mark else "",
                        )
                    )
        for action in (
            session()
            .execute(
                select(Action).where(Action.agenda_item_id == agenda_item.id).order_by(Action.id)
            )
            .scalars()
        ):
            part.items.append(
                Item(
                    f"case:{case_id}:action:{action.id}",
                    f"Action for {_name(Agency, action.agency_id)}, due "
                    + action.due_on.strftime("%d %B %Y").lstrip("0"),
                    f"{action.text} ({action.status.label})",
                    Exemption.CRIME_PREJUDICE,
                    "Pre-marked: an agreed safety action may be prejudiced if known.",
                )
            )
        research = (
            session()
            .execute(
                select(ResearchSubmission.agency_id).where(
                    ResearchSubmission.agenda_item_id == agenda_item.id
                )
            )
            .scalars()
            .all()
        )
        if research:
            left_out.append(
                f"{len(research)} agencies' research for the meeting of {held}: it belongs to "
                "each agency, which answers for it."
            )
        parts.append(part)
    return parts, left_out


def build_bundle(actor: Actor, request: SubjectAccessRequest) -> Bundle:
    """Assemble the bundle for a request whose subject has been chosen."""
    assert request.subject_person_id is not None
    person = session().get(Person, request.subject_person_id)
    assert person is not None
    roles = subject_roles(person.id)
    guard = request.is_perpetrator
    decisions = {r.item_key: r for r in request.redactions}
    blocks: list[CaseBlock] = []
    left_out: list[str] = []
    referrals = (
        session()
        .execute(select(Referral).where(Referral.id.in_(list(roles))).order_by(Referral.id))
        .scalars()
    )
    for referral in referrals:
        if referral.status is ReferralStatus.DRAFT:
            left_out.append("An unsent draft referral: it is its referring agency's until sent.")
            continue
        role = roles[referral.id]
        disclosure = gate.disclose_for_subject_access(
            actor,
            case_facts(referral),
            [*CASE_CATEGORIES, Category.MINUTES, Category.RESEARCH],
            request_id=request.id,
        )
        view = casefile.case_view(referral, disclosure)
        prefix = _prefix(referral, person.id, role)
        parts = []
        for section in view.sections:
            part = Part(section.title)
            for number, (label, value) in enumerate(section.rows):
                item = Item(f"case:{referral.id}:{section.category.value}:{number}", label, value)
                _mark(item, section.category, role, prefix, guard)
                part.items.append(item)
            parts.append(part)
        meeting_parts, research = _meeting_parts(referral.id, disclosure)
        parts += meeting_parts
        consent = Part("Consent records")
        for record in (
            session()
            .execute(
                select(ConsentRecord)
                .where(ConsentRecord.referral_id == referral.id)
                .order_by(ConsentRecord.id)
            )
            .scalars()
        ):
            own = record.subject_id == person.id
            consent.items.append(
                Item(
                    f"case:{referral.id}:consent:{record.id}",
                    "Consent recorded " + record.recorded_at.strftime("%d %B %Y").lstrip("0"),
                    f"{record.state.label}: {record.evidence}".strip(": "),
                    None if own else Exemption.THIRD_PARTY,
                    "" if own else "Another person's consent.",
                )
            )
        parts.append(consent)
        block = CaseBlock(
            referral.id,
            referral.reference,
            role,
            referral.status.label,
            referral.referred_on,
            parts,
            _ledger_log(referral.id),
        )
        if guard and role != PartyRole.VICTIM.value and referral.victim_aware is not True:
            block.blocked = (
                "Made without the victim's knowledge: never released to a perpetrator, "
                "not even its existence."
            )
            for item in block_items(block):
                item.blocked = block.blocked
        else:
            left_out += research  # a blocked case's research would tell of the case
        blocks.append(block)
    bundle = Bundle(request.id, person.display_name, blocks, left_out)
    for item in bundle.items:
        decision = decisions.get(item.key)
        apply_decision(item, decision)
    return bundle


def block_items(block: CaseBlock) -> list[Item]:
    return [i for p in block.parts for i in p.items] + [r.who for r in block.log]


def apply_decision(item: Item, decision: Redaction | None) -> None:
    """The officer's decision, else the pre-marking; a blocked item is always withheld."""
    if item.blocked:
        item.withheld, item.exemption, item.reason = True, None, item.blocked
        return
    if decision is not None:
        item.decided = True
        item.withheld = decision.withheld
        item.exemption = decision.exemption if decision.withheld else None
        item.reason = decision.reason
        return
    item.withheld = item.premark is not None
    item.exemption = item.premark
    item.reason = item.premark_reason
