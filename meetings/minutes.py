"""Minutes: a draft, approved by the chair and then locked, amended only by new revisions,
sent out, and rendered per recipient as a restricted, watermarked PDF.

* While a draft, the minutes are the meeting's live record (``meetings.conduct``).
* ``approve_minutes`` refuses empty required sections, then freezes the record as revision 1
  (``MinutesContent``, a JSON document). From then on the record is locked.
* ``amend_minutes`` adds revision n+1: the whole document with the changed sections, who,
  when and why. Nothing is overwritten (Indico's note revisions do the same).
* ``render_minutes`` builds the document *for one recipient*: every case passes the gate
  (identity and minutes; whereabouts only when the chair included them for that case, and
  then as a reveal with the chair's reason), the PDF is rendered, and the ledger records
  ``minutes:downloaded`` with the SHA-256 of exactly the bytes served. An agency extract
  holds only the cases the recipient's agency is involved in (it referred the case, was
  given it, shared at the meeting, owns an action, or tells the victim) and only that
  agency's actions.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from agencies.models import Agency, MaracArea, Member
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import services as referrals
from cases.facts import facts_many, knowable
from cases.models import Referral, Whereabouts
from consent import gate
from consent.categories import Category
from consent.gate import Disclosure
from hub.core.access import Actor
from hub.core.clock import now, to_london
from hub.core.db import session
from hub.core.errors import Conflict, NotFound, ValidationFailed
from hub.core.events import publish
from meetings import conduct, pdf, presenters, services
from meetings.events import MinutesAmended, MinutesDistributed
from meetings.models import (
    DISCUSSION_FIELDS,
    Action,
    ActionReview,
    ActionStatus,
    AttendanceKind,
    ItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesCopy,
    MinutesRevision,
    MinutesStatus,
)
from meetings.presenters import AmendCase, AmendmentRow, CaseSection

MIN_AMEND_REASON = 10
LABELS = {name: label for name, label, _required in DISCUSSION_FIELDS}
SCOPE_FULL = "full"
SCOPE_EXTRACT = "extract"
STALE = "Someone else changed these minutes at the same time. Nothing was saved: reload."


# --- the document -------------------------------------------------------------------------


def _name_maps(meeting: Meeting) -> tuple[dict[int, str], dict[int, str]]:
    agencies = dict(
        session()
        .execute(select(Agency.id, Agency.name).where(Agency.area_id == meeting.area_id))
        .all()
    )
    member_ids = {a.owner_member_id for item in meeting.items for a in item.actions}
    members = dict(
        session()
        .execute(select(Member.id, Member.name).where(Member.id.in_(member_ids or {0})))
        .all()
    )
    return agencies, members


def live_content(meeting: Meeting) -> dict[str, Any]:
    """The minutes as the meeting's record stands now (the draft).

    Identifiers, the professionals' names and the recorded text only: the people in each
    case are looked up through the gate whenever the minutes are shown.
    """
    agencies, members = _name_maps(meeting)
    area = session().get(MaracArea, meeting.area_id)
    reviews = (
        session()
        .execute(select(ActionReview).where(ActionReview.meeting_id == meeting.id))
        .scalars()
        .all()
    )
    reviewed = {r.action_id: r for r in reviews}
    review = []
    for action in conduct.outstanding_actions(meeting):
        result = reviewed.get(action.id)
        referral = session().get(Referral, action.referral_id)
        owner = session().get(Member, action.owner_member_id)
        review.append(
            {
                "action_id": action.id,
                "referral_id": action.referral_id,
                "reference": referral.reference if referral else "",
                "text": action.text,
                "agency_id": action.agency_id,
                "agency": agencies.get(action.agency_id, ""),
                "owner": owner.name if owner else "",
                "due_on": action.due_on.isoformat(),
                "outcome": result.outcome if result else "open",
                "note": result.note if result else "",
            }
        )
    items = []
    for item in sorted(meeting.items, key=lambda i: i.position):
        referral = session().get(Referral, item.referral_id)
        assert referral is not None
        discussion = item.discussion
        actions = (
            session()
            .execute(select(Action).where(Action.agenda_item_id == item.id).order_by(Action.id))
            .scalars()
            .all()
        )
        items.append(
            {
                "item_id": item.id,
                "referral_id": referral.id,
                "reference": referral.reference,
                "position": item.position,
                "flags": item.flags,
                "status": item.status,
                "deferral_reason": item.deferral_reason,
                "counter_allegation": item.is_counter_allegation,
                "referring_agency_id": referral.referring_agency_id,
                "referring_agency": agencies.get(referral.referring_agency_id, ""),
                "shared_agency_ids": sorted(s.agency_id for s in referral.shares),
                "discussion": {
                    name: getattr(discussion, name) if discussion else "" for name in LABELS
                },
                "informs_victim_agency_id": discussion.informs_victim_agency_id
                if discussion
                else None,
                "informs_victim_agency": agencies.get(discussion.informs_victim_agency_id or 0, "")
                if discussion
                else "",
                "informs_victim_name": discussion.informs_victim_name if discussion else "",
                "include_whereabouts": bool(discussion and discussion.include_whereabouts),
                "whereabouts_reason": discussion.whereabouts_reason if discussion else "",
                "contributions": [
                    {
                        "agency_id": c.agency_id,
                        "agency": agencies.get(c.agency_id, ""),
                        "text": c.text,
                    }
                    for c in item.contributions
                ],
                "actions": [
                    {
                        "id": a.id,
                        "text": a.text,
                        "agency_id": a.agency_id,
                        "agency": agencies.get(a.agency_id, ""),
                        "owner": members.get(a.owner_member_id, ""),
                        "due_on": a.due_on.isoformat(),
                    }
                    for a in actions
                ],
            }
        )
    return {
        "meeting": {
            "id": meeting.id,
            "area": area.name if area else "",
            "held_on": meeting.held_on.isoformat(),
            "start_time": meeting.start_time.strftime("%H:%M"),
            "venue": meeting.venue,
            "kind": meeting.kind,
        },
        "confidentiality_read": meeting.confidentiality_read_at is not None,
        "attendance": [
            {
                "kind": a.kind,
                "agency_id": a.agency_id,
                "agency": agencies.get(a.agency_id or 0, ""),
                "name": a.name,
                "role": a.role,
                "received_on": a.information_received_on.isoformat()
                if a.information_received_on
                else "",
                "signed": a.confidentiality_signed,
            }
            for a in meeting.attendance
        ],
        "review": review,
        "items": items,
    }


def current_content(meeting: Meeting) -> tuple[dict[str, Any], MinutesRevision | None]:
    """The approved text (latest revision) once approved; the live record before."""
    revision = latest_revision(meeting)
    if revision is not None:
        return revision.content, revision
    return live_content(meeting), None


def latest_revision(meeting: Meeting) -> MinutesRevision | None:
    return (
        session()
        .execute(
            select(MinutesRevision)
            .where(MinutesRevision.meeting_id == meeting.id)
            .order_by(MinutesRevision.number.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )


def revisions(meeting: Meeting) -> list[MinutesRevision]:
    return list(
        session()
        .execute(
            select(MinutesRevision)
            .where(MinutesRevision.meeting_id == meeting.id)
            .order_by(MinutesRevision.number)
        )
        .scalars()
    )


def missing_for_approval(
    meeting: Meeting, content: dict[str, Any] | None = None, actor: Actor | None = None
) -> dict[str, str]:
    """Every empty required section, each with a message saying where it is.

    With an actor: a case that person may not know is never named (nor counted).
    """
    content = content or live_content(meeting)
    missing: dict[str, str] = {}
    if meeting.status != MeetingStatus.HELD:
        missing["meeting"] = "Close the meeting before approving its minutes"
    if not content["confidentiality_read"]:
        missing["confidentiality"] = "Record that the confidentiality statement was read"
    if not any(a["kind"] == AttendanceKind.PRESENT for a in content["attendance"]):
        missing["attendance"] = "Record who was present"
    known = (
        services.known_case_ids(actor, [i["referral_id"] for i in content["items"]])
        if actor is not None
        else {i["referral_id"] for i in content["items"]}
    )
    for item in content["items"]:
        if item["status"] == ItemStatus.DEFERRED:
            continue
        gaps = {}
        key = f"item-{item['item_id']}"
        for name, label, required in DISCUSSION_FIELDS:
            needed = required or (name == "primary_aggressor" and item["counter_allegation"])
            if needed and not item["discussion"].get(name, "").strip():
                gaps[f"{key}.{name}"] = f"enter “{label}”"
        if not item["informs_victim_agency_id"]:
            gaps[f"{key}.informs_victim"] = "say who will tell the victim the outcome"
        if not item["actions"]:
            gaps[f"{key}.actions"] = "agree at least one action"
        if gaps and item["referral_id"] not in known:
            missing["record"] = conduct.RECORD_INCOMPLETE
            continue
        where = f"Case {item['reference']}"
        missing.update({k: f"{where}: {message}" for k, message in gaps.items()})
    return missing


def _minutes_row(meeting: Meeting) -> Minutes:
    row = services.minutes_of(meeting)
    if row is None:
        raise Conflict("The meeting has not been closed yet: there are no minutes to approve.")
    return row


def approve_minutes(actor: Actor, meeting: Meeting) -> MinutesRevision:
    """The chair approves: refused while a required section is empty; then locked."""
    services.require_chair(actor, meeting)
    minutes = _minutes_row(meeting)
    if minutes.is_locked:
        raise Conflict("These minutes are already approved.")
    content = live_content(meeting)
    missing = missing_for_approval(meeting, content, actor)
    if missing:
        raise ValidationFailed(missing)
    revision = MinutesRevision(
        meeting_id=meeting.id,
        number=1,
        kind="approved",
        content=content,
        reason="",
        changed=[],
        created_by_id=actor.member_id,
        created_at=now(),
    )
    session().add(revision)
    minutes.status = MinutesStatus.APPROVED
    minutes.approved_at = now()
    minutes.approved_by_id = actor.member_id
    minutes.revision = 1
    try:
        session().flush()
    except StaleDataError:
        raise Conflict(STALE) from None
    record(
        actor,
        LedgerAction.MINUTES_APPROVED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=1,
        cases=[i["referral_id"] for i in content["items"]],
    )
    return revision


def _section_keys(content: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
    """Per agenda line, (key, field) of every section an amendment may change."""
    keys: dict[int, list[tuple[str, str]]] = {}
    for item in content["items"]:
        if item["status"] == ItemStatus.DEFERRED:
            continue
        keys[item["item_id"]] = [
            (f"item-{item['item_id']}.{name}", name)
            for name, _label, _required in DISCUSSION_FIELDS
            if name != "primary_aggressor" or item["counter_allegation"]
        ]
    return keys


def amend_page(actor: Actor, meeting: Meeting) -> tuple[MinutesRevision | None, list[AmendCase]]:
    """The latest revision and, case by case, what this chair may amend of it.

    Only the cases they may know (filtered in the query); a case whose minutes their case
    page withholds is shown by its reference with the reason, and no text.
    """
    services.require_chair(actor, meeting)
    revision = latest_revision(meeting)
    if revision is None:
        return None, []
    content = revision.content
    keys = _section_keys(content)
    wanted = [i["referral_id"] for i in content["items"] if i["item_id"] in keys]
    known = {
        r.id: r
        for r in session()
        .execute(
            select(Referral)
            .where(Referral.id.in_(wanted or [0]), knowable(actor))
            .options(selectinload(Referral.victim))
        )
        .scalars()
    }
    facts = facts_many(list(known.values()))
    decided = gate.disclose_many(
        actor,
        list(facts.values()),
        [Category.IDENTITY, Category.MINUTES],
        action=LedgerAction.MINUTES_AMEND_VIEWED,
    )
    cases = []
    for item in content["items"]:
        disclosure = decided.get(item["referral_id"])
        if item["item_id"] not in keys or disclosure is None:
            continue
        cases.append(
            presenters.amend_case(
                item, known[item["referral_id"]], disclosure, keys[item["item_id"]]
            )
        )
    return revision, cases


def _item_of(key: str) -> int | None:
    """The agenda line a section key names ("item-12.risk_victim" -> 12), if any."""
    head, _dot, _name = key.partition(".")
    number = head.removeprefix("item-")
    wellformed = head.startswith("item-") and number.isascii() and number.isdigit()
    return int(number) if wellformed else None


def amend_minutes(
    actor: Actor, meeting: Meeting, changes: dict[str, str], reason: str
) -> MinutesRevision:
    """Amend approved minutes: a new revision with who, when and why; nothing overwritten.

    First the gate, for each case whose sections the change names: a case the chair may not
    know is the concealed 404, and one whose minutes they may not read a 403; either way
    nothing is changed.
    """
    operation = LedgerAction.MINUTES_AMENDED
    previous = latest_revision(meeting)
    lines = {i["item_id"]: i["referral_id"] for i in previous.content["items"]} if previous else {}
    named = sorted({lines[n] for n in map(_item_of, changes) if n is not None and n in lines})
    touched = [referrals.get_referral(case_id) for case_id in named]
    for referral in touched:
        referrals.act_on(actor, referral, operation)
    services.require_chair(actor, meeting)
    minutes = _minutes_row(meeting)
    if not minutes.is_locked:
        raise Conflict("These minutes are still a draft: change the record directly.")
    assert previous is not None
    for referral in touched:
        conduct.writes_record(actor, referral, operation)
    by_line = {i["item_id"]: i for i in previous.content["items"]}
    current = {
        key: by_line[item_id]["discussion"].get(name, "")
        for item_id, keys in _section_keys(previous.content).items()
        for key, name in keys
    }
    errors: dict[str, str] = {}
    if len(reason.strip()) < MIN_AMEND_REASON:
        errors["reason"] = "Say why the minutes are being amended"
    unknown = set(changes) - set(current)
    if unknown:
        errors["reason"] = "Only the case sections of the minutes can be amended"
    changed = {
        k: v.replace("\r\n", "\n").strip()
        for k, v in changes.items()
        if k in current and v.replace("\r\n", "\n").strip() != current[k]
    }
    for key, text in changed.items():
        if len(text) > conduct.MAX_SECTION:
            errors[key] = f"Keep each section to {conduct.MAX_SECTION:,} characters or fewer"
        name = key.split(".", 1)[1]
        required = next(r for n, _label, r in DISCUSSION_FIELDS if n == name)
        if required and not text:
            errors[key] = "A required section cannot be emptied by an amendment"
    if not changed and not errors:
        errors["reason"] = "Nothing was changed: edit a section, then give the reason"
    if errors:
        raise ValidationFailed(errors)
    content = copy.deepcopy(previous.content)
    for item in content["items"]:
        for key, text in changed.items():
            item_key, name = key.split(".", 1)
            if item_key == f"item-{item['item_id']}":
                item["discussion"][name] = text
    amended = {lines[n] for n in map(_item_of, changed) if n is not None and n in lines}
    revision = MinutesRevision(
        meeting_id=meeting.id,
        number=previous.number + 1,
        kind="amendment",
        content=content,
        reason=reason.strip(),
        changed=sorted(changed),
        created_by_id=actor.member_id,
        created_at=now(),
    )
    session().add(revision)
    minutes.revision = revision.number
    try:
        session().flush()
    except StaleDataError:
        raise Conflict(STALE) from None
    record(
        actor,
        LedgerAction.MINUTES_AMENDED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=revision.number,
        sections=sorted(changed),
        cases=sorted(amended),
    )
    publish(MinutesAmended(actor, meeting.id, revision.number, tuple(sorted(amended))))
    return revision


def distribute_minutes(actor: Actor, meeting: Meeting) -> Minutes:
    """Send out approved minutes: each involved agency can then download its extract."""
    services.require_runner(actor, meeting)
    minutes = _minutes_row(meeting)
    if minutes.status == MinutesStatus.DRAFT:
        raise Conflict("The chair must approve the minutes before they are sent out.")
    if minutes.status == MinutesStatus.DISTRIBUTED:
        return minutes
    minutes.status = MinutesStatus.DISTRIBUTED
    minutes.distributed_at = now()
    minutes.distributed_by_id = actor.member_id
    session().flush()
    publish(MinutesDistributed(actor, meeting.id))
    record(
        actor,
        LedgerAction.MINUTES_DISTRIBUTED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=minutes.revision,
        agencies=sorted(meeting.invited_agency_ids),
    )
    return minutes


# --- the document for one recipient -------------------------------------------------------


@dataclass
class MinutesDocument:
    """Everything one recipient's PDF or page shows, decided case by case by the gate."""

    area: str
    held_on: str
    start_time: str
    venue: str
    kind: str
    status: str
    is_draft: bool
    revision: int
    scope: str
    scope_label: str
    recipient: str
    recipient_agency: str
    issued_at: str
    confidentiality_read: bool
    attendance: dict[str, list[dict[str, Any]]]
    review: list[dict[str, str]]
    cases: list[CaseSection]
    #: Cases on the agenda this recipient may know of but that are not in this copy (an
    #: extract: the agency is not involved). A case they may not know is never counted.
    left_out: int = 0
    case_ids: list[int] = field(default_factory=list)
    amendments: list[AmendmentRow] = field(default_factory=list)
    #: When the minutes were approved (the amendments follow in ``amendments``).
    approved_at: str = ""


def _day(value: str | date) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d %B %Y").lstrip("0")


def _moment(value: datetime) -> str:
    return to_london(value).strftime("%d %B %Y %H:%M").lstrip("0")


def involved(item: dict[str, Any], agency_id: int | None) -> bool:
    """Whether an agency is involved in a case of the minutes (for its extract)."""
    if agency_id is None:
        return False
    return (
        item["referring_agency_id"] == agency_id
        or agency_id in item.get("shared_agency_ids", [])
        or any(a["agency_id"] == agency_id for a in item["actions"])
        or any(c["agency_id"] == agency_id for c in item["contributions"])
        or item.get("informs_victim_agency_id") == agency_id
    )


def can_download_extract(actor: Actor, meeting: Meeting) -> bool:
    minutes = services.minutes_of(meeting)
    return (
        services.is_invited(actor, meeting)
        and minutes is not None
        and minutes.status == MinutesStatus.DISTRIBUTED
    )


def _amended_cases(revision: MinutesRevision) -> set[int]:
    """The cases an amendment changed, from the sections it names ("item-12.risk_victim")."""
    lines = {i["item_id"]: i["referral_id"] for i in revision.content["items"]}
    return {lines[n] for n in map(_item_of, revision.changed) if n is not None and n in lines}


def _amended_sections(revision: MinutesRevision) -> dict[int, list[str]]:
    """What an amendment changed, case by case: the names of the sections it rewrote."""
    lines = {i["item_id"]: i["referral_id"] for i in revision.content["items"]}
    labels = {name: label for name, label, _required in DISCUSSION_FIELDS}
    found: dict[int, list[str]] = {}
    for key in revision.changed:
        line = _item_of(key)
        if line is None or line not in lines:
            continue
        name = key.split(".", 1)[1]
        found.setdefault(lines[line], []).append(labels.get(name, name))
    return found


def build_document(
    actor: Actor,
    meeting: Meeting,
    scope: str,
    *,
    action: str = LedgerAction.MINUTES_RENDERED,
    with_whereabouts: bool = True,
    revision_number: int | None = None,
) -> MinutesDocument:
    """The minutes for this recipient: each case through the gate, recorded.

    Only cases the recipient may know are in it (filtered in the query), numbered as they
    see them; a case whose minutes the gate withholds from them is there by its number and
    reference (and name, if identity is allowed) with the reason. An extract holds only the
    agency's own cases and actions. An amendment's reason is shown only beside the cases it
    changed. ``with_whereabouts``: the PDF reveals them where the chair included them; the
    page only says so. ``revision_number``: an earlier revision as it stood (the runner's
    history of the minutes), with the amendments up to it.
    """
    if scope == SCOPE_FULL:
        services.require_runner(actor, meeting)
    elif scope == SCOPE_EXTRACT:
        if not (can_download_extract(actor, meeting) or services.is_runner(actor, meeting)):
            raise NotFound("There are no minutes of this meeting for your agency yet.")
    else:
        raise ValueError(f"unknown scope {scope!r}")
    if revision_number is None:
        content, revision = current_content(meeting)
    else:
        revision = next((r for r in revisions(meeting) if r.number == revision_number), None)
        if revision is None:
            raise NotFound("There is no such revision of these minutes.")
        content = revision.content
    minutes = services.minutes_of(meeting)
    agency = session().get(Agency, actor.agency_id) if actor.agency_id else None
    agency_name = agency.name if agency else ""
    extract = scope == SCOPE_EXTRACT

    wanted = {i["referral_id"] for i in content["items"]} | {
        r["referral_id"] for r in content["review"]
    }
    known = {
        r.id: r
        for r in session()
        .execute(
            select(Referral)
            .where(Referral.id.in_(sorted(wanted) or [0]), knowable(actor))
            .options(selectinload(Referral.victim))
        )
        .scalars()
    }
    partners = services.partners_known(actor, known.values())
    items = [i for i in content["items"] if i["referral_id"] in known]
    chosen = [i for i in items if not extract or involved(i, actor.agency_id)]
    review_rows = [
        r
        for r in content["review"]
        if r["referral_id"] in known and (not extract or r["agency_id"] == actor.agency_id)
    ]
    facts = facts_many(list(known.values()))
    decided: dict[int, Disclosure] = {}
    revealing = {
        i["referral_id"]: i.get("whereabouts_reason") or None
        for i in chosen
        if with_whereabouts and i.get("include_whereabouts")
    }
    for case_id, reason in revealing.items():
        revealed = gate.disclose(
            actor,
            facts[case_id],
            [Category.IDENTITY, Category.MINUTES, Category.WHEREABOUTS],
            reveal_reason=reason,
            action=action,
        )
        if not revealed.refused:
            decided[case_id] = revealed
    on_agenda = [i["referral_id"] for i in chosen if i["referral_id"] not in revealing]
    decided.update(
        gate.disclose_many(
            actor,
            [facts[c] for c in dict.fromkeys(on_agenda)],
            [Category.IDENTITY, Category.MINUTES],
            action=action,
        )
    )
    review_only = {r["referral_id"] for r in review_rows} - set(decided)
    decided.update(
        gate.disclose_many(
            actor, [facts[c] for c in sorted(review_only)], [Category.MINUTES], action=action
        )
    )

    cases: list[CaseSection] = []
    for item in chosen:
        case_id = item["referral_id"]
        found = decided.get(case_id)
        if found is None:
            continue  # refused after all: nothing of it, not even a number
        referral = known[case_id]
        whereabouts = None
        if case_id in revealing and referral.victim_id is not None:
            whereabouts = session().get(Whereabouts, referral.victim_id)
        cases.append(
            presenters.minutes_case(
                len(cases) + 1,
                item,
                referral,
                found,
                agency_id=actor.agency_id,
                own_actions_only=extract,
                partner_known=case_id in partners,
                whereabouts=whereabouts,
                day=_day,
            )
        )
    review = []
    for row in review_rows:
        seen = decided.get(row["referral_id"])
        if seen is None:
            continue
        review.append(
            presenters.minutes_review_row(
                row, seen, day=_day, outcome_label=_outcome_label(row["outcome"])
            )
        )
    shown = {c.referral_id for c in cases} | {int(r["referral_id"]) for r in review}
    attendance: dict[str, list[dict[str, Any]]] = {k.value: [] for k in AttendanceKind}
    for row in content["attendance"]:
        attendance[row["kind"]].append(
            {**row, "received_on": _day(row["received_on"]) if row["received_on"] else ""}
        )
    is_draft = revision is None
    approved_at = (
        _moment(minutes.approved_at) if minutes is not None and minutes.approved_at else ""
    )
    status = (
        "DRAFT: not approved by the chair"
        if is_draft
        else f"Approved by the chair on {approved_at}"
        if approved_at
        else "Approved"
    )
    if revision is not None and revision.number > 1:
        status += f"; amended (revision {revision.number})"
    meeting_info = content["meeting"]
    amendments = []
    if revision is not None:
        in_copy = {c.referral_id: decided[c.referral_id] for c in cases}
        references = {c.referral_id: c.reference for c in cases}
        past_revisions = [
            r for r in revisions(meeting) if r.kind == "amendment" and r.number <= revision.number
        ]
        names = dict(
            session()
            .execute(
                select(Member.id, Member.name).where(
                    Member.id.in_({r.created_by_id or 0 for r in past_revisions} or {0})
                )
            )
            .all()
        )
        for past in past_revisions:
            row = presenters.amendment_row(
                number=str(past.number),
                when=_moment(past.created_at),
                who=names.get(past.created_by_id or 0, ""),
                reason=past.reason,
                amended=_amended_cases(past),
                sections=_amended_sections(past),
                disclosures=in_copy,
                references=references,
            )
            if row is not None:
                amendments.append(row)
    return MinutesDocument(
        area=meeting_info["area"],
        held_on=_day(meeting_info["held_on"]),
        start_time=meeting_info["start_time"],
        venue=meeting_info["venue"],
        kind=meeting_info["kind"].replace("_", " "),
        status=status,
        is_draft=is_draft,
        revision=revision.number if revision else 0,
        scope=scope,
        scope_label="Full minutes"
        if scope == SCOPE_FULL
        else f"Extract for {agency_name}: only the cases and actions your agency is involved in",
        recipient=actor.name,
        recipient_agency=agency_name,
        issued_at=_moment(now()),
        confidentiality_read=content["confidentiality_read"],
        attendance=attendance,
        review=review,
        cases=cases,
        left_out=len(items) - len(chosen),
        case_ids=sorted(shown),
        amendments=amendments,
        approved_at=approved_at,
    )


def _outcome_label(outcome: str) -> str:
    return "Still open" if outcome == "open" else ActionStatus(outcome).label


@dataclass
class RenderedPdf:
    data: bytes
    sha256: str
    filename: str
    document: MinutesDocument
    refused_urls: list[str]


def render_minutes(
    actor: Actor, meeting: Meeting, scope: str, *, base_url: str, html_hook: Any = None
) -> RenderedPdf:
    """Render the minutes PDF for this recipient and record its download with its hash.

    ``html_hook`` (tests, benchmarks) receives the HTML before layout and may return a
    replacement; the fetcher and the ledger entry are the same either way.
    """
    document = build_document(actor, meeting, scope)
    html = pdf.render_html("minutes.html", doc=document)
    if html_hook is not None:
        html = html_hook(html)
    fetcher = pdf.StaticOnlyFetcher(base_url)
    data = pdf.html_to_pdf(html, base_url=base_url, fetcher=fetcher)
    digest = hashlib.sha256(data).hexdigest()
    record(
        actor,
        LedgerAction.MINUTES_DOWNLOADED,
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        scope=scope,
        revision=document.revision,
        draft=document.is_draft,
        cases=list(document.case_ids),
        sha256=digest,
        bytes=len(data),
    )
    if not document.is_draft and actor.member_id is not None and actor.agency_id is not None:
        session().add(
            MinutesCopy(
                meeting_id=meeting.id,
                revision=document.revision,
                member_id=actor.member_id,
                agency_id=actor.agency_id,
                scope=scope,
                case_ids=list(document.case_ids),
                downloaded_at=now(),
            )
        )
    kind = "minutes" if scope == SCOPE_FULL else "minutes-extract"
    filename = f"marac-{kind}-{meeting.held_on.isoformat()}.pdf"
    return RenderedPdf(data, digest, filename, document, fetcher.refused)


def documents_for_page(
    actor: Actor, meeting: Meeting, revision_number: int | None = None
) -> MinutesDocument:
    """The full minutes shown on the coordinator's and chair's page (a disclosure too), as
    they stand or as an earlier revision stood."""
    return build_document(
        actor,
        meeting,
        SCOPE_FULL,
        action=LedgerAction.MINUTES_VIEWED,
        with_whereabouts=False,
        revision_number=revision_number,
    )
