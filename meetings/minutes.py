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
from sqlalchemy.orm.exc import StaleDataError

from agencies.models import Agency, MaracArea, Member
from audit.ledger import Subject, record
from consent import gate
from consent.categories import Category
from consent.gate import Disclosure
from hub.core.access import Actor
from hub.core.clock import now, to_london
from hub.core.db import session
from hub.core.errors import Conflict, NotFound, ValidationFailed
from hub.core.events import publish
from hub.referrals import services as referrals
from hub.referrals.models import Referral, Whereabouts
from meetings import conduct, pdf, services
from meetings.events import MinutesDistributed
from meetings.models import (
    DISCUSSION_FIELDS,
    Action,
    ActionReview,
    AttendanceKind,
    ItemStatus,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesRevision,
    MinutesStatus,
)

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


def missing_for_approval(meeting: Meeting, content: dict[str, Any] | None = None) -> dict[str, str]:
    """Every empty required section, each with a message saying where it is."""
    content = content or live_content(meeting)
    missing: dict[str, str] = {}
    if meeting.status != MeetingStatus.HELD.value:
        missing["meeting"] = "Close the meeting before approving its minutes"
    if not content["confidentiality_read"]:
        missing["confidentiality"] = "Record that the confidentiality statement was read"
    if not any(a["kind"] == AttendanceKind.PRESENT.value for a in content["attendance"]):
        missing["attendance"] = "Record who was present"
    for item in content["items"]:
        where = f"Case {item['reference']}"
        key = f"item-{item['item_id']}"
        if item["status"] == ItemStatus.DEFERRED.value:
            continue
        for name, label, required in DISCUSSION_FIELDS:
            needed = required or (name == "primary_aggressor" and item["counter_allegation"])
            if needed and not item["discussion"].get(name, "").strip():
                missing[f"{key}.{name}"] = f"{where}: enter “{label}”"
        if not item["informs_victim_agency_id"]:
            missing[f"{key}.informs_victim"] = f"{where}: say who will tell the victim the outcome"
        if not item["actions"]:
            missing[f"{key}.actions"] = f"{where}: agree at least one action"
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
    missing = missing_for_approval(meeting, content)
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
    minutes.status = MinutesStatus.APPROVED.value
    minutes.approved_at = now()
    minutes.approved_by_id = actor.member_id
    minutes.revision = 1
    try:
        session().flush()
    except StaleDataError:
        raise Conflict(STALE) from None
    record(
        actor,
        "minutes:approved",
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=1,
        cases=[i["referral_id"] for i in content["items"]],
    )
    return revision


def amendable_sections(content: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(key, case reference, label, current text) for every section an amendment may change."""
    sections = []
    for item in content["items"]:
        if item["status"] == ItemStatus.DEFERRED.value:
            continue
        for name, label, _required in DISCUSSION_FIELDS:
            if name == "primary_aggressor" and not item["counter_allegation"]:
                continue
            sections.append(
                (
                    f"item-{item['item_id']}.{name}",
                    item["reference"],
                    label,
                    item["discussion"].get(name, ""),
                )
            )
    return sections


def amend_minutes(
    actor: Actor, meeting: Meeting, changes: dict[str, str], reason: str
) -> MinutesRevision:
    """Amend approved minutes: a new revision with who, when and why; nothing overwritten."""
    services.require_chair(actor, meeting)
    minutes = _minutes_row(meeting)
    if not minutes.is_locked:
        raise Conflict("These minutes are still a draft: change the record directly.")
    previous = latest_revision(meeting)
    assert previous is not None
    current = {key: text for key, _ref, _label, text in amendable_sections(previous.content)}
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
        "minutes:amended",
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=revision.number,
        sections=sorted(changed),
    )
    return revision


def distribute_minutes(actor: Actor, meeting: Meeting) -> Minutes:
    """Send out approved minutes: each involved agency can then download its extract."""
    services.require_runner(actor, meeting)
    minutes = _minutes_row(meeting)
    if minutes.status == MinutesStatus.DRAFT.value:
        raise Conflict("The chair must approve the minutes before they are sent out.")
    if minutes.status == MinutesStatus.DISTRIBUTED.value:
        return minutes
    minutes.status = MinutesStatus.DISTRIBUTED.value
    minutes.distributed_at = now()
    minutes.distributed_by_id = actor.member_id
    session().flush()
    publish(MinutesDistributed(actor, meeting.id))
    record(
        actor,
        "minutes:distributed",
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        revision=minutes.revision,
        agencies=sorted(meeting.invited_agency_ids),
    )
    return minutes


# --- the document for one recipient -------------------------------------------------------


@dataclass
class CaseSection:
    number: int
    reference: str
    heading: str
    flags: list[str]
    referring_agency: str
    deferred: bool
    deferral_reason: str
    sections: list[tuple[str, str]]
    contributions: list[tuple[str, str]]
    informs_victim: str
    actions: list[dict[str, str]]
    whereabouts: list[tuple[str, str]] | None = None


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
    #: Cases on the agenda left out for this recipient (not involved, or the gate refused).
    left_out: int = 0
    case_ids: list[int] = field(default_factory=list)
    amendments: list[dict[str, str]] = field(default_factory=list)


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
        and minutes.status == MinutesStatus.DISTRIBUTED.value
    )


def build_document(
    actor: Actor, meeting: Meeting, scope: str, *, action: str = "minutes:rendered"
) -> MinutesDocument:
    """The minutes for this recipient: each case through the gate, recorded."""
    if scope == SCOPE_FULL:
        services.require_runner(actor, meeting)
    elif scope == SCOPE_EXTRACT:
        if not (can_download_extract(actor, meeting) or services.is_runner(actor, meeting)):
            raise NotFound("There are no minutes of this meeting for your agency yet.")
    else:
        raise ValueError(f"unknown scope {scope!r}")
    content, revision = current_content(meeting)
    minutes = services.minutes_of(meeting)
    agency = session().get(Agency, actor.agency_id) if actor.agency_id else None
    agency_name = agency.name if agency else ""
    chosen = [i for i in content["items"] if scope == SCOPE_FULL or involved(i, actor.agency_id)]
    left_out = len(content["items"]) - len(chosen)
    decisions: dict[int, tuple[Referral, Disclosure]] = {}

    def decide(referral_id: int, item: dict[str, Any] | None) -> tuple[Referral, Disclosure]:
        if referral_id not in decisions:
            referral = referrals.get_referral(referral_id)
            categories = [Category.IDENTITY, Category.MINUTES]
            reason = None
            if item is not None and item.get("include_whereabouts"):
                categories.append(Category.WHEREABOUTS)
                reason = item.get("whereabouts_reason") or None
            decisions[referral_id] = (
                referral,
                gate.disclose(
                    actor,
                    referrals.case_facts(referral),
                    categories,
                    reveal_reason=reason,
                    action=action,
                ),
            )
        return decisions[referral_id]

    cases = []
    shown: set[int] = set()
    for item in chosen:
        referral, disclosure = decide(item["referral_id"], item)
        if disclosure.refused or not disclosure.allows(Category.MINUTES):
            left_out += 1
            continue
        shown.add(referral.id)
        cases.append(
            _case_section(len(cases) + 1, item, referral, disclosure, scope, actor.agency_id)
        )
    review = []
    for row in content["review"]:
        if scope == SCOPE_EXTRACT and row["agency_id"] != actor.agency_id:
            continue
        _referral, disclosure = decide(row["referral_id"], None)
        if disclosure.refused or not disclosure.allows(Category.MINUTES):
            continue
        shown.add(row["referral_id"])
        review.append(
            {**row, "due_on": _day(row["due_on"]), "outcome_label": _outcome_label(row["outcome"])}
        )
    attendance: dict[str, list[dict[str, Any]]] = {k.value: [] for k in AttendanceKind}
    for row in content["attendance"]:
        attendance[row["kind"]].append(
            {**row, "received_on": _day(row["received_on"]) if row["received_on"] else ""}
        )
    is_draft = revision is None
    status = (
        "DRAFT: not approved by the chair"
        if is_draft
        else f"Approved by the chair on {_moment(minutes.approved_at)}"
        if minutes is not None and minutes.approved_at
        else "Approved"
    )
    if revision is not None and revision.number > 1:
        status += f"; amended (revision {revision.number})"
    meeting_info = content["meeting"]
    amendments = []
    if revision is not None:
        past_revisions = revisions(meeting)
        names = dict(
            session()
            .execute(
                select(Member.id, Member.name).where(
                    Member.id.in_({r.created_by_id or 0 for r in past_revisions})
                )
            )
            .all()
        )
        for past in past_revisions:
            if past.kind == "amendment":
                amendments.append(
                    {
                        "number": str(past.number),
                        "when": _moment(past.created_at),
                        "who": names.get(past.created_by_id or 0, ""),
                        "reason": past.reason,
                    }
                )
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
        left_out=left_out,
        case_ids=sorted(shown),
        amendments=amendments,
    )


def _outcome_label(outcome: str) -> str:
    from meetings.models import ActionStatus

    return "Still open" if outcome == "open" else ActionStatus(outcome).label


def _case_section(
    number: int,
    item: dict[str, Any],
    referral: Referral,
    disclosure: Disclosure,
    scope: str,
    agency_id: int | None,
) -> CaseSection:
    gate.require_disclosure(disclosure, case_id=referral.id, category=Category.MINUTES)
    heading = f"Case {referral.reference}"
    if disclosure.allows(Category.IDENTITY) and referral.victim is not None:
        heading = f"{referral.victim.display_name} ({referral.reference})"
    sections = [
        (LABELS[name], item["discussion"].get(name, ""))
        for name, _label, _required in DISCUSSION_FIELDS
        if name != "primary_aggressor" or item["counter_allegation"]
    ]
    informs = item.get("informs_victim_agency") or ""
    if item.get("informs_victim_name"):
        informs = (
            f"{informs} – {item['informs_victim_name']}" if informs else item["informs_victim_name"]
        )
    actions = [
        {**a, "due_on": _day(a["due_on"])}
        for a in item["actions"]
        if scope == SCOPE_FULL or a["agency_id"] == agency_id
    ]
    whereabouts = None
    if (
        item.get("include_whereabouts")
        and disclosure.allows(Category.WHEREABOUTS)
        and referral.victim_id is not None
    ):
        row = session().get(Whereabouts, referral.victim_id)
        whereabouts = (
            [
                ("Address", row.address or "Not recorded"),
                ("Refuge", "Yes" if row.is_refuge else "No"),
                ("Safe phone", row.safe_phone or "Not recorded"),
                ("Safe times to call", row.safe_times or "Not recorded"),
            ]
            if row is not None
            else [("Whereabouts", "Not recorded")]
        )
    return CaseSection(
        number=number,
        reference=referral.reference,
        heading=heading,
        flags=item["flags"],
        referring_agency=item["referring_agency"],
        deferred=item["status"] == ItemStatus.DEFERRED.value,
        deferral_reason=item["deferral_reason"],
        sections=sections,
        contributions=[(c["agency"], c["text"]) for c in item["contributions"]],
        informs_victim=informs,
        actions=actions,
        whereabouts=whereabouts,
    )


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
        "minutes:downloaded",
        Subject("meeting", meeting.id),
        meeting=meeting.id,
        scope=scope,
        revision=document.revision,
        draft=document.is_draft,
        cases=list(document.case_ids),
        sha256=digest,
        bytes=len(data),
    )
    kind = "minutes" if scope == SCOPE_FULL else "minutes-extract"
    filename = f"marac-{kind}-{meeting.held_on.isoformat()}.pdf"
    return RenderedPdf(data, digest, filename, document, fetcher.refused)


def documents_for_page(actor: Actor, meeting: Meeting) -> MinutesDocument:
    """The full minutes shown on the coordinator's and chair's page (a disclosure too)."""
    return build_document(actor, meeting, SCOPE_FULL, action="minutes:viewed")
