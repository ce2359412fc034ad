"""MARAC-to-MARAC transfers inside one hub: start, send the pack, acknowledge, accept, decline.

Only coordinators act here: the sending area's starts and sends, the receiving area's
acknowledges, accepts or declines. The pack is assembled once, when it is sent, from the
gate's disclosure of the old case to the sending coordinator for this purpose; each piece
becomes a ledger entry of identifiers and codes with its lawful basis. The receiving area
reads only the pack and, once it accepts, its own new case: never the old case, and never
the old whereabouts, which are not asked of the gate at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select

from agencies.models import Agency, AgencyType, MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import lifecycle
from cases import services as cases
from cases.casefile import case_view
from cases.lifecycle import Decision
from cases.models import PartyRole, Referral
from consent import gate
from consent.categories import Category, ConsentState
from consent.models import ConsentRecord
from hub.core.access import Actor, Permission
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed
from meetings.models import Action, AgendaItem, CaseDiscussion, Meeting, MeetingStatus, Minutes
from todo import services as todo
from transfers.models import Transfer, TransferReason, TransferStatus

NO_SUCH_TRANSFER = "There is no such transfer."
#: What the pack may carry. Whereabouts are deliberately absent: the old address is never
#: copied, and the new one goes only through the receiving area's whereabouts channel.
PACK_CATEGORIES = (
    Category.IDENTITY,
    Category.RISK,
    Category.CHILDREN,
    Category.HEALTH,
    Category.CRIMINAL_JUSTICE,
    Category.MINUTES,
)
REVISIT_PROMPT = (
    "The risk checklist should be revisited after a move: relocation can raise the risk "
    "as well as lower it (SafeLives, Marac-to-Marac Transfer Toolkit)."
)
MIN_DECLINE_REASON = 10
#: Days the receiving coordinator has to ask for what the pack lacks.
ASK_WITHIN_DAYS = 2


@dataclass(frozen=True)
class StartData:
    to_area_id: int | None
    reason: str
    heard_here: str  # "yes" or "no"
    agenda_circulated: str  # "yes" or "no"


def _coordinator(actor: Actor) -> int:
    if not actor.can(Permission.REFERRALS_TRIAGE) or actor.area_id is None:
        raise Forbidden("Only a MARAC coordinator can transfer cases.")
    return actor.area_id


def directory(actor: Actor) -> list[MaracArea]:
    """The MARAC areas on this hub a case can be sent to (every one but the actor's own)."""
    area_id = _coordinator(actor)
    rows = session().execute(
        select(MaracArea).where(MaracArea.id != area_id).order_by(MaracArea.name)
    )
    return list(rows.scalars())


def open_for_transfer(actor: Actor, referral_id: int) -> Referral:
    """The sending coordinator's case, through the gate; refused plainly when not movable."""
    area_id = _coordinator(actor)
    referral = cases.case_for_action(actor, referral_id, LedgerAction.TRANSFER_STARTED)
    if referral.area_id != area_id:
        raise NotFound(NO_SUCH_TRANSFER)
    return referral


def start_transfer(actor: Actor, referral_id: int, data: StartData) -> Transfer:
    """Record a draft transfer with the two SafeLives questions answered."""
    referral = open_for_transfer(actor, referral_id)
    errors: dict[str, str] = {}
    areas = {a.id: a for a in directory(actor)}
    if data.to_area_id not in areas:
        errors["to_area"] = "Select the MARAC the victim has moved to"
    try:
        reason = TransferReason(data.reason)
    except ValueError:
        errors["reason"] = "Select why the case is moving"
    if data.heard_here not in {"yes", "no"}:
        errors["heard_here"] = "Select whether this MARAC has already heard the case"
    if data.agenda_circulated not in {"yes", "no"}:
        errors["agenda_circulated"] = "Select whether an agenda listing the case has gone out"
    if referral.status not in lifecycle.MOVES[Decision.TRANSFER].start:
        errors["_"] = lifecycle.MOVES[Decision.TRANSFER].refused
    if _open_transfer(referral.id) is not None:
        errors["_"] = "This case already has a transfer in progress."
    if errors:
        raise ValidationFailed(errors)
    transfer = Transfer(
        referral_id=referral.id,
        from_area_id=referral.area_id,
        to_area_id=data.to_area_id,
        reason=reason,
        heard_here=data.heard_here == "yes",
        agenda_circulated=data.agenda_circulated == "yes",
        status=TransferStatus.DRAFT,
        pack={},
        created_by_id=actor.member_id,
    )
    session().add(transfer)
    session().flush()
    record(
        actor,
        LedgerAction.TRANSFER_STARTED,
        Subject("transfer", transfer.id),
        case=referral.id,
        to_area=transfer.to_area_id,
        reason=reason.value,
    )
    return transfer


def _open_transfer(referral_id: int) -> Transfer | None:
    done = (TransferStatus.DECLINED, TransferStatus.CLOSED)
    rows = session().execute(
        select(Transfer).where(Transfer.referral_id == referral_id, Transfer.status.not_in(done))
    )
    return rows.scalars().first()


def get_transfer(actor: Actor, transfer_id: int) -> Transfer:
    """A transfer, for a coordinator of either of its areas; anyone else gets a 404."""
    area_id = _coordinator(actor)
    transfer = session().get(Transfer, transfer_id)
    if transfer is None or area_id not in (transfer.from_area_id, transfer.to_area_id):
        raise NotFound(NO_SUCH_TRANSFER)
    if area_id == transfer.to_area_id and transfer.status is TransferStatus.DRAFT:
        raise NotFound(NO_SUCH_TRANSFER)  # a draft is the sender's alone
    return transfer


def read_pack(actor: Actor, transfer: Transfer) -> dict[str, Any]:
    """The pack as sent, recorded as read (identifiers only)."""
    record(
        actor,
        LedgerAction.TRANSFER_PACK_READ,
        Subject("transfer", transfer.id),
        pieces=[p["key"] for p in transfer.pack.get("pieces", [])],
    )
    return transfer.pack


@dataclass(frozen=True)
class TransferRow:
    transfer: Transfer
    other_area: str
    incoming: bool


def list_transfers(actor: Actor) -> list[TransferRow]:
    """The area's transfers in and out, newest first (drafts in only for the sender)."""
    area_id = _coordinator(actor)
    rows = session().execute(
        select(Transfer)
        .where(
            or_(
                Transfer.from_area_id == area_id,
                (Transfer.to_area_id == area_id) & (Transfer.status != TransferStatus.DRAFT),
            )
        )
        .order_by(Transfer.created_at.desc(), Transfer.id.desc())
    )
    names = dict(session().execute(select(MaracArea.id, MaracArea.name)).all())
    out = []
    for t in rows.scalars():
        incoming = t.to_area_id == area_id
        out.append(TransferRow(t, names[t.from_area_id if incoming else t.to_area_id], incoming))
    return out


def incoming_count(actor: Actor) -> int:
    """Transfers sent to the actor's area that wait for its coordinator."""
    if not actor.can(Permission.REFERRALS_TRIAGE) or actor.area_id is None:
        return 0
    waiting = (TransferStatus.SENT, TransferStatus.ACKNOWLEDGED)
    rows = session().execute(
        select(Transfer.id).where(
            Transfer.to_area_id == actor.area_id, Transfer.status.in_(waiting)
        )
    )
    return len(rows.all())


def area_name(area_id: int) -> str:
    area = session().get(MaracArea, area_id)
    return area.name if area else ""


def case_reference(actor: Actor, transfer: Transfer) -> str:
    """The old case's reference for its own area, the new one's for the receiver."""
    wanted = transfer.referral_id if actor.area_id == transfer.from_area_id else None
    wanted = wanted or transfer.new_referral_id
    referral = session().get(Referral, wanted) if wanted else None
    return referral.reference if referral else ""


# --- sending ------------------------------------------------------------------------------


def _piece(key: str, title: str, category: Category, rows: list[Any], **more: Any) -> Any:
    return {"key": key, "title": title, "category": category.value, "rows": rows, **more}


def _history(referral: Referral) -> tuple[list[Any], list[Any], list[str], dict[str, str]]:
    """Minutes extracts, the action plan, earlier MARAC dates and the IDVA, for this case."""
    items = session().execute(
        select(AgendaItem, Meeting)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(AgendaItem.referral_id == referral.id, Meeting.status == MeetingStatus.HELD)
        .order_by(Meeting.held_on)
    )
    extracts: list[Any] = []
    dates: list[str] = []
    idva: dict[str, str] = {}
    for item, meeting in items:
        held = meeting.held_on.strftime("%d %B %Y").lstrip("0")
        dates.append(held)
        minutes = session().get(Minutes, meeting.id)
        discussion = session().get(CaseDiscussion, item.id)
        if discussion is None or minutes is None or not minutes.is_locked:
            continue
        extracts.append(
            [
                ("Meeting", held),
                ("Reason for referral and risks", discussion.referrer_summary),
                ("Victim's views", discussion.victim_views),
                ("Risk to the victim", discussion.risk_victim),
                ("Risk to children", discussion.risk_children),
                ("Risk from the perpetrator", discussion.risk_perpetrator),
                ("Risk to professionals", discussion.risk_professionals),
            ]
        )
        if discussion.informs_victim_agency_id:
            agency = session().get(Agency, discussion.informs_victim_agency_id)
            idva = {
                "name": discussion.informs_victim_name,
                "agency": agency.name if agency else "",
            }
    actions = session().execute(
        select(Action, Agency.name)
        .join(Agency, Agency.id == Action.agency_id)
        .where(Action.referral_id == referral.id)
        .order_by(Action.due_on, Action.id)
    )
    plan: list[Any] = []
    for number, (action, name) in enumerate(actions, start=1):
        plan += [
            (f"Action {number}", action.text),
            (f"Action {number}: agency", name),
            (f"Action {number}: due", action.due_on.strftime("%d %B %Y").lstrip("0")),
            (f"Action {number}: state", action.status.label),
        ]
    return extracts, plan, dates, idva


def _basis_of(disclosure: gate.Disclosure, category: Category) -> dict[str, Any]:
    decision = disclosure.decisions[category]
    codes = {"code": decision.code}
    for key, value in decision.basis.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            codes[key] = value
    return codes


def send_transfer(actor: Actor, transfer_id: int) -> Transfer:
    """Assemble the pack through the gate and send it; each piece a recorded disclosure."""
    transfer = get_transfer(actor, transfer_id)
    if actor.area_id != transfer.from_area_id:
        raise NotFound(NO_SUCH_TRANSFER)
    if transfer.status is not TransferStatus.DRAFT:
        raise ValidationFailed("This transfer has already been sent.")
    referral = open_for_transfer(actor, transfer.referral_id)
    facts = cases.case_facts(referral)
    disclosure = gate.disclose(actor, facts, PACK_CATEGORIES, action=LedgerAction.TRANSFER_SENT)
    if disclosure.refused:
        raise Forbidden(disclosure.refusal_message or "The gate refused this case.")
    view = case_view(referral, disclosure)
    pieces: list[Any] = []
    titles = {
        Category.IDENTITY: ("referral", "The latest referral: people"),
        Category.CHILDREN: ("children", "The latest referral: children"),
        Category.HEALTH: ("health", "The latest referral: health"),
        Category.CRIMINAL_JUSTICE: ("justice", "The latest referral: criminal justice"),
    }
    for section in view.sections:
        if section.category is Category.WHEREABOUTS or section.withheld:
            continue  # never the whereabouts; withheld parts are left out and listed
        if section.category is Category.RISK:
            pieces.append(
                _piece(
                    "risk",
                    "The latest risk checklist and risk picture",
                    Category.RISK,
                    section.rows,
                    prompt=REVISIT_PROMPT,
                )
            )
        elif section.category in titles:
            key, title = titles[section.category]
            pieces.append(_piece(key, title, section.category, section.rows))
    missing: list[str] = []
    if disclosure.allows(Category.MINUTES):
        extracts, plan, dates, idva = _history(referral)
        for number, rows in enumerate(extracts, start=1):
            pieces.append(_piece(f"minutes-{number}", "Minutes extract", Category.MINUTES, rows))
        pieces.append(_piece("actions", "The action plan", Category.MINUTES, plan))
        pieces.append(
            _piece(
                "meetings",
                "Earlier MARAC dates",
                Category.MINUTES,
                [("Heard on", d) for d in dates],
            )
        )
        if idva:
            pieces.append(
                _piece(
                    "idva",
                    "The IDVA",
                    Category.MINUTES,
                    [("Name", idva["name"]), ("Service", idva["agency"])],
                )
            )
        if not extracts:
            missing.append("minutes")
        if not plan:
            missing.append("action plan")
        if not idva:
            missing.append("IDVA's name and contact")
    else:
        missing.append("minutes and action plan (withheld by the gate)")
    for category in PACK_CATEGORIES:
        if not disclosure.allows(category) and category is not Category.MINUTES:
            missing.append(f"{category.value.replace('_', ' ')} (withheld by the gate)")
    transfer.pack = {
        "reference": referral.reference,
        "from_area": area_name(transfer.from_area_id),
        "pieces": [{**p, "rows": [list(r) for r in p["rows"]]} for p in pieces],
        "categories": sorted({p["category"] for p in pieces}),
        "missing": missing,
        "criteria": view.criteria,
    }
    for piece in pieces:
        record(
            actor,
            LedgerAction.TRANSFER_PACK_DISCLOSED,
            Subject("transfer", transfer.id),
            case=referral.id,
            to_area=transfer.to_area_id,
            piece=piece["key"],
            category=piece["category"],
            basis=_basis_of(disclosure, Category(piece["category"])),
        )
    transfer.status = TransferStatus.SENT
    transfer.sent_at = now()
    transfer.sent_by_id = actor.member_id
    session().flush()
    return transfer


# --- receiving ----------------------------------------------------------------------------


def _receiving(actor: Actor, transfer_id: int, allowed: tuple[TransferStatus, ...]) -> Transfer:
    transfer = get_transfer(actor, transfer_id)
    if actor.area_id != transfer.to_area_id:
        raise Forbidden("Only the receiving MARAC's coordinator can do this.")
    if transfer.status not in allowed:
        raise ValidationFailed(f"This transfer is {transfer.status.label.lower()}.")
    return transfer


def acknowledge_transfer(actor: Actor, transfer_id: int) -> Transfer:
    transfer = _receiving(actor, transfer_id, (TransferStatus.SENT,))
    transfer.status = TransferStatus.ACKNOWLEDGED
    transfer.acknowledged_at = now()
    transfer.acknowledged_by_id = actor.member_id
    record(actor, LedgerAction.TRANSFER_ACKNOWLEDGED, Subject("transfer", transfer.id))
    return transfer


def decline_transfer(actor: Actor, transfer_id: int, reason: str) -> Transfer:
    transfer = _receiving(actor, transfer_id, (TransferStatus.SENT, TransferStatus.ACKNOWLEDGED))
    if len(reason.strip()) < MIN_DECLINE_REASON:
        raise ValidationFailed({"reason": "Say why this MARAC cannot take the case"})
    transfer.status = TransferStatus.DECLINED
    transfer.decline_reason = reason.strip()
    transfer.declined_at = now()
    transfer.declined_by_id = actor.member_id
    record(actor, LedgerAction.TRANSFER_DECLINED, Subject("transfer", transfer.id))
    return transfer


def _consent_state(old: Referral) -> ConsentState:
    rows = session().execute(
        select(ConsentRecord.state)
        .where(ConsentRecord.referral_id == old.id, ConsentRecord.withdrawn_at.is_(None))
        .order_by(ConsentRecord.id.desc())
    )
    state = rows.scalars().first()
    return ConsentState(state) if state else ConsentState.GIVEN


def _new_case_data(old: Referral, transfer: Transfer) -> cases.ReferralData:
    """What the new case starts with: only the categories the pack carried, no whereabouts."""
    carried = set(transfer.pack.get("categories", []))
    victim = old.victim
    assert victim is not None

    def person(p: Any) -> cases.PersonData:
        return cases.PersonData(
            given_name=p.given_name,
            family_name=p.family_name,
            aliases=p.aliases,
            born_on=p.born_on,
            gender=p.gender,
            language=p.language,
            nhs_number=p.nhs_number,
            police_person_id=p.police_person_id,
            ethnicity=p.ethnicity,
            disability=p.disability,
            lgbt=p.lgbt,
        )

    perpetrators = old.people_in(PartyRole.PERPETRATOR)
    has_children = Category.CHILDREN.value in carried
    data = cases.ReferralData(victim=person(victim))
    if perpetrators:
        data.perpetrator = cases.PerpetratorData(
            person=person(perpetrators[0]),
            relationship=old.perpetrator_relationship,
            children=old.children if has_children else "",
            children_count=old.children_count if has_children else None,
        )
    if old.assessment is not None and Category.RISK.value in carried:
        data.risk = cases.RiskData(
            checklist=old.assessment.checklist,
            answers=old.assessment.answers,
            professional_judgement=old.professional_judgement,
            judgement_reasons=old.judgement_reasons,
            incidents_12m=old.incidents_12m,
        )
        justice = Category.CRIMINAL_JUSTICE.value in carried
        data.details = cases.DetailsData(
            incident=old.incident,
            victim_fears=old.victim_fears,
            safe_to_contact=old.safe_to_contact,
            unsafe_to_contact=old.unsafe_to_contact,
            health_notes=old.health_notes if Category.HEALTH.value in carried else "",
            reported_to_police=old.reported_to_police if justice else None,
            crime_reference=old.crime_reference if justice else "",
            justice_notes=old.justice_notes if justice else "",
            previous_marac=f"{transfer.pack.get('from_area', '')} ({old.reference})",
            victim_aware=old.victim_aware,
            victim_unaware_reason=old.victim_unaware_reason,
        )
    state = _consent_state(old)
    data.sharing = cases.SharingChoice(
        state=state,
        evidence=f"As recorded by {transfer.pack.get('from_area', '')} for case {old.reference}",
        rationale=""
        if state is ConsentState.GIVEN
        else f"Transferred from {transfer.pack.get('from_area', '')}: shared there without "
        "consent; to be decided again here.",
    )
    return data


def _next_meeting(area_id: int) -> Meeting | None:
    rows = session().execute(
        select(Meeting)
        .where(
            Meeting.area_id == area_id,
            Meeting.held_on >= today_london(),
            Meeting.status != MeetingStatus.HELD,
        )
        .order_by(Meeting.held_on)
        .limit(1)
    )
    return rows.scalar_one_or_none()


def accept_transfer(actor: Actor, transfer_id: int) -> Transfer:
    """Open a new case here linked to the old one, list it, and set the tasks going."""
    from meetings import services as meetings

    transfer = _receiving(actor, transfer_id, (TransferStatus.SENT, TransferStatus.ACKNOWLEDGED))
    old = session().get(Referral, transfer.referral_id)
    assert old is not None
    if old.status not in lifecycle.MOVES[Decision.TRANSFER].start:
        raise ValidationFailed(lifecycle.MOVES[Decision.TRANSFER].refused)
    new = cases.refer_case(actor, _new_case_data(old, transfer)).referral
    new.transferred_from = old.reference
    cases.submit_referral(actor, new)
    cases.accept_referral(actor, new)
    from_area = transfer.pack.get("from_area", "")
    meeting = _next_meeting(transfer.to_area_id)
    if meeting is not None:
        item = meetings.add_case(
            actor, meeting, new.reference, f"Transferred from {from_area}: listed on arrival"
        )
        item.transferred_from = from_area
        transfer.listed_meeting_id = meeting.id
    # The old case goes on in the new area; the hub itself moves it (the receiver may not
    # know the old case, and the gate would rightly refuse them).
    lifecycle.move(old, Decision.TRANSFER)
    if transfer.acknowledged_at is None:
        transfer.acknowledged_at = now()
        transfer.acknowledged_by_id = actor.member_id
    transfer.new_referral_id = new.id
    transfer.status = TransferStatus.LISTED
    transfer.listed_at = now()
    transfer.listed_by_id = actor.member_id
    session().flush()
    record(
        actor,
        LedgerAction.TRANSFER_ACCEPTED,
        Subject("transfer", transfer.id),
        case=new.id,
        from_case=old.id,
        meeting=meeting.id if meeting else None,
    )
    _tasks(actor, transfer, old, new, meeting)
    return transfer


def _idva_agency(area_id: int) -> Agency | None:
    rows = session().execute(
        select(Agency)
        .where(Agency.area_id == area_id, Agency.type == AgencyType.IDVA_SERVICE)
        .order_by(Agency.id)
    )
    return rows.scalars().first()


def _tasks(
    actor: Actor, transfer: Transfer, old: Referral, new: Referral, meeting: Meeting | None
) -> None:
    """The receiving coordinator's (list it, ask for what is missing); the sending IDVA's."""
    hub = Actor.system("transfers")
    coordinator_agency = actor.agency_id
    assert coordinator_agency is not None
    due: date = meeting.held_on if meeting else today_london() + timedelta(days=7)
    from_area = transfer.pack.get("from_area", "")
    todo.system_rule_task(
        hub,
        rule_key=f"transfer:{transfer.id}:list",
        agency_id=coordinator_agency,
        owner_member_id=actor.member_id,
        referral_id=new.id,
        title=f"List the case transferred from {from_area} at the next meeting",
        due_on=due,
        details="The agenda must say where the case was transferred from."
        + ("" if meeting else " No meeting is planned yet: schedule one or an emergency MARAC."),
    )
    missing = transfer.pack.get("missing", [])
    if missing:
        todo.system_rule_task(
            hub,
            rule_key=f"transfer:{transfer.id}:missing",
            agency_id=coordinator_agency,
            owner_member_id=actor.member_id,
            referral_id=new.id,
            title=f"Ask {from_area} for what the transfer pack lacks",
            due_on=today_london() + timedelta(days=ASK_WITHIN_DAYS),
            details="Missing from the pack: " + ", ".join(missing) + ".",
        )
    sending_idva = _idva_agency(transfer.from_area_id)
    if sending_idva is not None:
        todo.system_rule_task(
            hub,
            rule_key=f"transfer:{transfer.id}:idva_handover",
            agency_id=sending_idva.id,
            referral_id=old.id,
            title=f"Hand the case over to the IDVA service in {area_name(transfer.to_area_id)}",
            due_on=today_london() + timedelta(days=ASK_WITHIN_DAYS),
            details="Liaise with the new area's IDVA: the current situation and risks.",
        )
    _counterpart_tasks(hub, transfer, new, due, from_area)


def _counterpart_tasks(
    hub: Actor, transfer: Transfer, new: Referral, due: date, from_area: str
) -> None:
    """For each kind of agency in both areas, its receiving agency liaises with the old one.

    The task names the case by reference only and is not attached to it: an agency here
    may not know the case until an agenda listing it is circulated.
    """
    here = session().execute(
        select(Agency).where(Agency.area_id == transfer.to_area_id).order_by(Agency.id)
    )
    there = session().execute(
        select(Agency.type, Agency.name).where(Agency.area_id == transfer.from_area_id)
    )
    counterparts: dict[AgencyType, str] = {}
    for kind, name in there:
        counterparts.setdefault(kind, name)
    for agency in here.scalars():
        old = counterparts.get(agency.type)
        if old is None or agency.type is AgencyType.OTHER or agency.is_disabled:
            continue  # no counterpart there, or the coordinator's own partnership
        if agency.type is AgencyType.IDVA_SERVICE:
            title = f"Take the hand-over from {old} for case {new.reference}"
            details = (
                "Liaise with the previous IDVA as early as possible: the current situation "
                "and risks."
            )
        else:
            title = f"Speak to {old} about case {new.reference}"
            details = f"Transferred from {from_area}: share at the meeting what is relevant."
        todo.system_rule_task(
            hub,
            rule_key=f"transfer:{transfer.id}:counterpart:{agency.id}",
            agency_id=agency.id,
            title=title,
            due_on=due,
            details=details,
        )
