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
from consent.categories import Article6, Article9, Category, ConsentState
from consent.models import ConsentRecord
from hub.core.access import Actor, Permission
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
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
    #: Between hubs: the other hub's identifier and the name of its area (from the trust list).
    to_hub: str = ""
    to_hub_area: str = ""


@dataclass(frozen=True)
class RemoteArea:
    """An area of another hub that this hub's trust list names."""

    hub_id: str
    hub_name: str
    area: str

    @property
    def value(self) -> str:
        return f"{self.hub_id}|{self.area}"


def remote_directory(peers: dict[str, Any] | None) -> list[RemoteArea]:
    """The areas of the hubs this hub trusts, by hub then area name."""
    found = [
        RemoteArea(peer.id, peer.name, area)
        for peer in (peers or {}).values()
        for area in peer.areas
    ]
    return sorted(found, key=lambda r: (r.hub_name, r.area))


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
    if referral.restricted_at is not None:
        raise Conflict(cases.RESTRICTED)
    return referral


def find_case(actor: Actor, reference: str) -> int:
    """The id of the coordinator's own area's case with this reference (for the CLI)."""
    area_id = _coordinator(actor)
    found = (
        session()
        .execute(
            select(Referral.id).where(Referral.reference == reference, Referral.area_id == area_id)
        )
        .scalar_one_or_none()
    )
    if found is None:
        raise NotFound("There is no such case in your area.")
    return int(found)


def start_transfer(
    actor: Actor, referral_id: int, data: StartData, peers: dict[str, Any] | None = None
) -> Transfer:
    """Record a draft transfer with the two SafeLives questions answered.

    The receiving MARAC is an area of this hub, or one of another hub the trust list names.
    """
    referral = open_for_transfer(actor, referral_id)
    errors: dict[str, str] = {}
    areas = {a.id: a for a in directory(actor)}
    remote = {r.value: r for r in remote_directory(peers)}.get(f"{data.to_hub}|{data.to_hub_area}")
    if data.to_hub:
        if remote is None:
            errors["to_area"] = "Select the MARAC the victim has moved to"
    elif data.to_area_id not in areas:
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
        to_area_id=None if remote else data.to_area_id,
        kind="between_hubs" if remote else "in_hub",
        peer_hub=remote.hub_id if remote else "",
        peer_area=remote.area if remote else "",
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
        to_hub=transfer.peer_hub or None,
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
        other = t.from_area_id if incoming else t.to_area_id
        out.append(
            TransferRow(t, names.get(other, t.peer_area) if other else t.peer_area, incoming)
        )
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


def area_name(area_id: int | None) -> str:
    area = session().get(MaracArea, area_id) if area_id else None
    return area.name if area else ""


def from_name(transfer: Transfer) -> str:
    """The sending area's name (another hub's area by the name its package gave)."""
    return area_name(transfer.from_area_id) or transfer.peer_area


def to_name(transfer: Transfer) -> str:
    return area_name(transfer.to_area_id) or transfer.peer_area


def case_reference(actor: Actor, transfer: Transfer) -> str:
    """The old case's reference for its own area, the new one's for the receiver."""
    outgoing = transfer.from_area_id is not None and actor.area_id == transfer.from_area_id
    wanted = transfer.referral_id if outgoing else None
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


def send_transfer(actor: Actor, transfer_id: int, fed: Any = None) -> Transfer:
    """Assemble the pack through the gate and send it; each piece a recorded disclosure.

    To another hub, the pack is also sealed (signed for, encrypted to, that hub) with the
    case's starting record and this area's agencies; ``deliver_transfer`` pushes it.
    """
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
    disclosed = []
    for piece in pieces:
        basis = _basis_of(disclosure, Category(piece["category"]))
        disclosed.append({"piece": piece["key"], "category": piece["category"], "basis": basis})
        record(
            actor,
            LedgerAction.TRANSFER_PACK_DISCLOSED,
            Subject("transfer", transfer.id),
            case=referral.id,
            to_area=transfer.to_area_id,
            to_hub=transfer.peer_hub or None,
            piece=piece["key"],
            category=piece["category"],
            basis=basis,
        )
    if transfer.between_hubs:
        _seal(actor, transfer, referral, fed, disclosed)
    transfer.status = TransferStatus.SENT
    transfer.sent_at = now()
    transfer.sent_by_id = actor.member_id
    session().flush()
    return transfer


def _seal(
    actor: Actor, transfer: Transfer, referral: Referral, fed: Any, disclosed: list[Any]
) -> None:
    """Seal the pack for the other hub: what it needs to open the new case, never more."""
    from transfers import peers

    peer = fed.peer(transfer.peer_hub) if fed is not None else None
    if peer is None:
        raise ValidationFailed("The receiving hub is no longer on this hub's trust list.")
    carried = set(transfer.pack["categories"])
    agencies = session().execute(
        select(Agency.type, Agency.name)
        .where(Agency.area_id == transfer.from_area_id, Agency.disabled_at.is_(None))
        .order_by(Agency.id)
    )
    content = {
        "transfer": {
            "id": transfer.id,
            "from_area": transfer.pack["from_area"],
            "to_area": transfer.peer_area,
            "reason": transfer.reason.value,
            "heard_here": transfer.heard_here,
            "agenda_circulated": transfer.agenda_circulated,
        },
        "pack": transfer.pack,
        "record": case_record(referral, carried),
        "agencies": [{"type": kind.value, "name": name} for kind, name in agencies],
        "disclosures": disclosed,
    }
    package_id, sealed = peers.seal(fed, peer, content)
    transfer.package_id = package_id
    transfer.package = sealed
    record(
        actor,
        LedgerAction.TRANSFER_PACKAGE_SEALED,
        Subject("transfer", transfer.id),
        case=referral.id,
        to_hub=transfer.peer_hub,
        package=package_id,
    )


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


PERSON_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "gender",
    "language",
    "nhs_number",
    "police_person_id",
    "ethnicity",
    "disability",
    "lgbt",
)


#: Equality monitoring: asked of the gate as its own category, which the pack does not carry.
DIVERSITY_FIELDS = ("ethnicity", "disability", "lgbt")


def case_record(old: Referral, carried: set[str]) -> dict[str, Any]:
    """What the new case starts with, as plain data: only the categories the pack carried,
    never whereabouts. Inside one hub it is read at acceptance; between hubs it travels in
    the sealed package."""

    def person(p: Any) -> dict[str, Any]:
        found = {
            name: getattr(p, name)
            for name in PERSON_FIELDS
            if name not in DIVERSITY_FIELDS or Category.DIVERSITY.value in carried
        }
        found["born_on"] = p.born_on.isoformat() if p.born_on else None
        return found

    victim = old.victim
    assert victim is not None
    has_children = Category.CHILDREN.value in carried
    out: dict[str, Any] = {"reference": old.reference, "victim": person(victim)}
    perpetrators = old.people_in(PartyRole.PERPETRATOR)
    if perpetrators:
        out["perpetrator"] = {
            "person": person(perpetrators[0]),
            "relationship": old.perpetrator_relationship,
            "children": old.children if has_children else "",
            "children_count": old.children_count if has_children else None,
        }
    if old.assessment is not None and Category.RISK.value in carried:
        justice = Category.CRIMINAL_JUSTICE.value in carried
        out["risk"] = {
            "checklist": old.assessment.checklist,
            "answers": old.assessment.answers,
            "professional_judgement": old.professional_judgement,
            "judgement_reasons": old.judgement_reasons,
            "incidents_12m": old.incidents_12m,
        }
        out["details"] = {
            "incident": old.incident,
            "victim_fears": old.victim_fears,
            "safe_to_contact": old.safe_to_contact,
            "unsafe_to_contact": old.unsafe_to_contact,
            "health_notes": old.health_notes if Category.HEALTH.value in carried else "",
            "reported_to_police": old.reported_to_police if justice else None,
            "crime_reference": old.crime_reference if justice else "",
            "justice_notes": old.justice_notes if justice else "",
            "victim_aware": old.victim_aware,
            "victim_unaware_reason": old.victim_unaware_reason,
        }
    out["consent"] = _consent_state(old).value
    return out


def _new_case_data(found: dict[str, Any], from_area: str) -> cases.ReferralData:
    """The new case's starting data from a case record (see ``case_record``)."""

    def person(p: dict[str, Any]) -> cases.PersonData:
        born = p.get("born_on")
        return cases.PersonData(
            **{name: str(p.get(name) or "") for name in PERSON_FIELDS if name in p},
            born_on=date.fromisoformat(born) if isinstance(born, str) else None,
        )

    reference = str(found.get("reference", ""))
    data = cases.ReferralData(victim=person(found["victim"]))
    perpetrator = found.get("perpetrator")
    if perpetrator:
        data.perpetrator = cases.PerpetratorData(
            person=person(perpetrator["person"]),
            relationship=perpetrator["relationship"],
            children=perpetrator.get("children") or "",
            children_count=perpetrator.get("children_count"),
        )
    risk, details = found.get("risk"), found.get("details")
    if risk:
        data.risk = cases.RiskData(**risk)
    if details:
        data.details = cases.DetailsData(**details, previous_marac=f"{from_area} ({reference})")
    state = ConsentState(found.get("consent") or ConsentState.GIVEN.value)
    given = state is ConsentState.GIVEN
    # Shared there without consent: the request to share here without it waits for this
    # area's approval, on the bases such a request usually rests on (high risk, safeguarding).
    data.sharing = cases.SharingChoice(
        state=state,
        evidence=f"As recorded by {from_area} for case {reference}",
        rationale=""
        if given
        else f"Transferred from {from_area}: shared there without consent; to be decided "
        "again here.",
        basis_statutory=None if given else Article6.PUBLIC_TASK,
        basis_voluntary=None if given else Article6.LEGITIMATE_INTERESTS,
        condition_special=None if given else Article9.SAFEGUARDING,
    )
    return data


def next_meeting(area_id: int) -> Meeting | None:
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
    from_area = transfer.pack.get("from_area", "")
    # Between hubs the old case is not here: the package carried its starting record.
    old = session().get(Referral, transfer.referral_id) if transfer.referral_id else None
    if old is not None:
        if old.status not in lifecycle.MOVES[Decision.TRANSFER].start:
            raise ValidationFailed(lifecycle.MOVES[Decision.TRANSFER].refused)
        found = case_record(old, set(transfer.pack.get("categories", [])))
    else:
        found = transfer.pack.get("record") or {}
        if not found.get("victim"):
            raise ValidationFailed("The package carried no case to open.")
    new = cases.refer_case(actor, _new_case_data(found, from_area)).referral
    new.transferred_from = str(found.get("reference", ""))[:120]
    cases.submit_referral(actor, new)
    cases.accept_referral(actor, new)
    meeting = next_meeting(transfer.to_area_id)
    if meeting is not None:
        item = meetings.add_case(
            actor, meeting, new.reference, f"Transferred from {from_area}: listed on arrival"
        )
        item.transferred_from = from_area
        transfer.listed_meeting_id = meeting.id
    # The old case goes on in the new area; the hub itself moves it (the receiver may not
    # know the old case, and the gate would rightly refuse them). Between hubs, the sending
    # hub moves it when it records the receipt.
    if old is not None:
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
        from_case=old.id if old else None,
        from_hub=transfer.peer_hub or None,
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
    actor: Actor, transfer: Transfer, old: Referral | None, new: Referral, meeting: Meeting | None
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
    if old is not None:
        sending_idva_task(transfer, old)
    _counterpart_tasks(hub, transfer, due, from_area)


def sending_idva_task(transfer: Transfer, old: Referral) -> None:
    """The sending area's IDVA service hands the case over to the new area's."""
    sending_idva = _idva_agency(transfer.from_area_id) if transfer.from_area_id else None
    if sending_idva is None:
        return
    todo.system_rule_task(
        Actor.system("transfers"),
        rule_key=f"transfer:{transfer.id}:idva_handover",
        agency_id=sending_idva.id,
        referral_id=old.id,
        title=f"Hand the case over to the IDVA service in {to_name(transfer)}",
        due_on=today_london() + timedelta(days=ASK_WITHIN_DAYS),
        details="Liaise with the new area's IDVA: the current situation and risks.",
    )


def _counterpart_tasks(hub: Actor, transfer: Transfer, due: date, from_area: str) -> None:
    """For each kind of agency in both areas, its receiving agency liaises with the old one.

    The task names the transfer and the old area, never the case, and is not attached to
    it: an agency here may not know the case exists until an agenda listing it is
    circulated (the canary crawl holds the hub to that).
    """
    here = session().execute(
        select(Agency).where(Agency.area_id == transfer.to_area_id).order_by(Agency.id)
    )
    if transfer.from_area_id is not None:
        there = list(
            session().execute(
                select(Agency.type, Agency.name).where(Agency.area_id == transfer.from_area_id)
            )
        )
    else:  # another hub's area: its agencies as its package listed them
        there = []
        for listed in transfer.pack.get("agencies", []):
            try:
                there.append((AgencyType(listed["type"]), str(listed["name"])))
            except (KeyError, ValueError, TypeError):
                continue
    counterparts: dict[AgencyType, str] = {}
    for kind, name in there:
        counterparts.setdefault(kind, name)
    about = f"the case transferred in from {from_area} ({transfer.label})"
    for agency in here.scalars():
        old = counterparts.get(agency.type)
        if old is None or agency.type is AgencyType.OTHER or agency.is_disabled:
            continue  # no counterpart there, or the coordinator's own partnership
        if agency.type is AgencyType.IDVA_SERVICE:
            title = f"Take the hand-over from {old} of {about}"
            details = (
                "Liaise with the previous IDVA as early as possible: the current situation "
                "and risks."
            )
        else:
            title = f"Speak to {old} about {about}"
            details = f"Transferred from {from_area}: share at the meeting what is relevant."
        todo.system_rule_task(
            hub,
            rule_key=f"transfer:{transfer.id}:counterpart:{agency.id}",
            agency_id=agency.id,
            title=title,
            due_on=due,
            details=details,
        )
