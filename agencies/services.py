"""Use cases for areas, agencies and members. Each takes the actor and never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from agencies.models import Agency, AgencyType, MaracArea, Member, MemberStatus, Sector
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


def _need(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission) and actor.kind != "system":
        raise Forbidden("You do not have permission to do that.")


def create_area(
    actor: Actor, *, name: str, meeting_cadence: str = "monthly", escalation_threshold: int = 3
) -> MaracArea:
    """Create a MARAC area (tenant)."""
    _need(actor, Permission.AGENCIES_MANAGE)
    if not 1 <= escalation_threshold <= 20:
        raise ValidationFailed({"escalation_threshold": "Enter a number of incidents from 1 to 20"})
    area = MaracArea(
        name=name.strip(),
        meeting_cadence=meeting_cadence,
        escalation_threshold=escalation_threshold,
    )
    session().add(area)
    session().flush()
    record(actor, LedgerAction.AREA_CREATED, Subject("area", area.id))
    return area


def get_area(area_id: int | None) -> MaracArea:
    area = session().get(MaracArea, area_id) if area_id is not None else None
    if area is None:
        raise NotFound("There is no such MARAC area.")
    return area


def get_area_by_name(name: str) -> MaracArea | None:
    return session().execute(select(MaracArea).where(MaracArea.name == name)).scalar_one_or_none()


@dataclass
class AgencyData:
    name: str
    type: AgencyType
    sector: Sector
    isp_signed_on: date | None = None
    isp_signed_by: str | None = None
    isp_review_due_on: date | None = None
    email_domains: str = ""


def _validate_agency(area_id: int, data: AgencyData, existing_id: int | None = None) -> None:
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "Enter the agency's name"
    elif len(name) > 160:
        errors["name"] = "Agency name must be 160 characters or fewer"
    else:
        clash = (
            session()
            .execute(
                select(Agency.id).where(
                    Agency.area_id == area_id, func.lower(Agency.name) == name.lower()
                )
            )
            .scalar_one_or_none()
        )
        if clash is not None and clash != existing_id:
            errors["name"] = "An agency with this name already exists in this area"
    if (
        data.isp_signed_on
        and data.isp_review_due_on
        and data.isp_review_due_on < data.isp_signed_on
    ):
        errors["isp_review_due_on"] = "Review date must be on or after the date it was signed"
    if data.isp_signed_on and not (data.isp_signed_by or "").strip():
        errors["isp_signed_by"] = "Enter who signed the information sharing protocol"
    for domain in data.email_domains.split():
        if "." not in domain or "@" in domain or len(domain) > 120:
            errors["email_domains"] = f"'{domain[:40]}' is not an email domain, like police.example"
            break
    if errors:
        raise ValidationFailed(errors)


def create_agency(actor: Actor, area: MaracArea, data: AgencyData) -> Agency:
    """Add a partner agency to an area."""
    _need(actor, Permission.AGENCIES_MANAGE)
    _validate_agency(area.id, data)
    agency = Agency(
        area_id=area.id,
        name=data.name.strip(),
        type=data.type.value,
        sector=data.sector.value,
        isp_signed_on=data.isp_signed_on,
        isp_signed_by=(data.isp_signed_by or "").strip() or None,
        isp_review_due_on=data.isp_review_due_on,
        email_domains=" ".join(d.lower() for d in data.email_domains.split()),
    )
    session().add(agency)
    session().flush()
    record(
        actor,
        LedgerAction.AGENCY_CREATED,
        Subject("agency", agency.id),
        type=agency.type,
        sector=agency.sector,
        isp_current=agency.has_current_isp(today_london()),
    )
    return agency


def update_agency(actor: Actor, agency: Agency, data: AgencyData) -> Agency:
    _need(actor, Permission.AGENCIES_MANAGE)
    _validate_agency(agency.area_id, data, existing_id=agency.id)
    changed = []
    for field, value in (
        ("name", data.name.strip()),
        ("type", data.type.value),
        ("sector", data.sector.value),
        ("isp_signed_on", data.isp_signed_on),
        ("isp_signed_by", (data.isp_signed_by or "").strip() or None),
        ("isp_review_due_on", data.isp_review_due_on),
        ("email_domains", " ".join(d.lower() for d in data.email_domains.split())),
    ):
        if getattr(agency, field) != value:
            setattr(agency, field, value)
            changed.append(field)
    if changed:
        session().flush()
        record(actor, LedgerAction.AGENCY_UPDATED, Subject("agency", agency.id), fields=changed)
    return agency


def set_agency_disabled(actor: Actor, agency: Agency, disabled: bool) -> Agency:
    """Disable an agency (its members lose access at their next request) or re-enable it."""
    _need(actor, Permission.AGENCIES_MANAGE)
    if disabled and agency.disabled_at is None:
        agency.disabled_at = now()
        record(actor, LedgerAction.AGENCY_DISABLED, Subject("agency", agency.id))
    elif not disabled and agency.disabled_at is not None:
        agency.disabled_at = None
        record(actor, LedgerAction.AGENCY_ENABLED, Subject("agency", agency.id))
    session().flush()
    return agency


def list_agencies(area_id: int | None = None) -> list[Agency]:
    query = select(Agency).order_by(Agency.name)
    if area_id is not None:
        query = query.where(Agency.area_id == area_id)
    return list(session().execute(query).scalars())


def get_agency(agency_id: int) -> Agency:
    agency = session().get(Agency, agency_id)
    if agency is None:
        raise NotFound("There is no such agency.")
    return agency


def get_agency_in_area(agency_id: int, area_id: int | None) -> Agency:
    """Load an agency the actor's area holds; any other is simply not found."""
    agency = get_agency(agency_id)
    if agency.area_id != area_id:
        raise NotFound("There is no such agency.")
    return agency


def find_agency_by_name(name: str) -> Agency | None:
    return (
        session()
        .execute(select(Agency).where(func.lower(Agency.name) == name.strip().lower()))
        .scalars()
        .first()
    )


@dataclass
class MemberData:
    name: str
    email: str
    agency_id: int
    roles: frozenset[Role]
    job_title: str = ""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _validate_member(data: MemberData, existing_id: int | None = None) -> Agency:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "Enter the member's full name"
    elif len(data.name.strip()) > 160:
        errors["name"] = "Name must be 160 characters or fewer"
    email = normalise_email(data.email)
    if not email:
        errors["email"] = "Enter an email address"
    elif "@" not in email or "." not in email.split("@")[-1] or len(email) > 254:
        errors["email"] = "Enter an email address in the correct format, like name@agency.example"
    else:
        clash = (
            session().execute(select(Member.id).where(Member.email == email)).scalar_one_or_none()
        )
        if clash is not None and clash != existing_id:
            errors["email"] = "Another member already uses this email address"
    if not data.roles:
        errors["roles"] = "Select at least one role"
    agency = session().get(Agency, data.agency_id)
    if agency is None:
        errors["agency_id"] = "Select the member's agency"
    if errors:
        raise ValidationFailed(errors)
    assert agency is not None
    return agency


def add_member(
    actor: Actor, data: MemberData, *, status: MemberStatus = MemberStatus.ACTIVE
) -> Member:
    """Add a member to an agency."""
    _need(actor, Permission.MEMBERS_MANAGE)
    agency = _validate_member(data)
    member = Member(
        agency_id=agency.id,
        name=data.name.strip(),
        email=normalise_email(data.email),
        job_title=data.job_title.strip(),
        status=status.value,
    )
    member.set_roles(data.roles)
    session().add(member)
    session().flush()
    record(
        actor,
        LedgerAction.MEMBER_CREATED,
        Subject("member", member.id),
        agency=agency.id,
        roles=sorted(r.value for r in data.roles),
        status=member.status,
    )
    return member


def update_member(actor: Actor, member: Member, data: MemberData, *, version: int) -> Member:
    """Change a member's details and roles, refusing if someone else changed them first."""
    _need(actor, Permission.MEMBERS_MANAGE)
    if member.version != version:
        raise Conflict(
            "Someone else changed this member while you were editing. "
            "Reload the page to see their changes."
        )
    _validate_member(data, existing_id=member.id)
    before_roles = member.roles
    member.name = data.name.strip()
    member.email = normalise_email(data.email)
    member.job_title = data.job_title.strip()
    if member.agency_id != data.agency_id:
        record(
            actor,
            LedgerAction.MEMBER_MOVED,
            Subject("member", member.id),
            agency=data.agency_id,
            from_agency=member.agency_id,
        )
        member.agency_id = data.agency_id
    member.set_roles(data.roles)
    session().flush()
    if before_roles != data.roles:
        record(
            actor,
            LedgerAction.MEMBER_ROLES_CHANGED,
            Subject("member", member.id),
            roles=sorted(r.value for r in data.roles),
            previous=sorted(r.value for r in before_roles),
        )
    record(actor, LedgerAction.MEMBER_UPDATED, Subject("member", member.id))
    return member


def set_member_disabled(actor: Actor, member: Member, disabled: bool) -> Member:
    """Disable a member (their sessions end at the next request) or re-enable them."""
    _need(actor, Permission.MEMBERS_MANAGE)
    if disabled and member.disabled_at is None:
        if actor.member_id == member.id:
            raise ValidationFailed("You cannot disable your own account.")
        member.disabled_at = now()
        record(actor, LedgerAction.MEMBER_DISABLED, Subject("member", member.id))
    elif not disabled and member.disabled_at is not None:
        member.disabled_at = None
        record(actor, LedgerAction.MEMBER_ENABLED, Subject("member", member.id))
    session().flush()
    return member


def get_member(member_id: int) -> Member:
    member = session().get(Member, member_id)
    if member is None:
        raise NotFound("There is no such member.")
    return member


def find_member_by_email(email: str) -> Member | None:
    return (
        session()
        .execute(select(Member).where(Member.email == normalise_email(email)))
        .scalar_one_or_none()
    )


def list_members(agency_id: int | None = None) -> list[Member]:
    query = select(Member).options(selectinload(Member.agency)).order_by(Member.name)
    if agency_id is not None:
        query = query.where(Member.agency_id == agency_id)
    return list(session().execute(query).scalars())


def actor_for(member: Member, *, authenticated_at=None, request_id: str | None = None) -> Actor:
    """The actor a signed-in member acts as."""
    kwargs = {} if request_id is None else {"request_id": request_id}
    return Actor(
        kind="member",
        member_id=member.id,
        agency_id=member.agency_id,
        area_id=member.agency.area_id,
        roles=member.roles,
        name=member.name,
        agency_name=member.agency.name,
        authenticated_at=authenticated_at,
        **kwargs,
    )
