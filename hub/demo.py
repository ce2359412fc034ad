"""The fictional Northbridge MARAC area used by `make run` and the browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agencies import services as agencies
from agencies.models import AgencyType, Sector
from hub.auth import services as auth
from hub.core.access import Actor, Role
from hub.core.config import Settings

DEMO_PASSWORD = "northbridge-demo-2026"
AREA = "Northbridge MARAC"

R = Role
#: (name, type, sector, email domain)
AGENCIES = [
    (
        "Northbridge Community Safety Partnership",
        AgencyType.OTHER,
        Sector.STATUTORY,
        "csp.northbridge.example",
    ),
    ("Northbridge Police", AgencyType.POLICE, Sector.STATUTORY, "police.northbridge.example"),
    (
        "Northbridge Children's Services",
        AgencyType.CHILDRENS_SOCIAL_CARE,
        Sector.STATUTORY,
        "children.northbridge.example",
    ),
    (
        "Northbridge Adult Social Care",
        AgencyType.ADULTS_SOCIAL_CARE,
        Sector.STATUTORY,
        "adults.northbridge.example",
    ),
    (
        "Northbridge General Hospital",
        AgencyType.ACUTE_HEALTH,
        Sector.STATUTORY,
        "hospital.northbridge.example",
    ),
    (
        "Riverside Medical Practice",
        AgencyType.PRIMARY_CARE,
        Sector.STATUTORY,
        "riverside-gp.example",
    ),
    (
        "Northbridge Mental Health Trust",
        AgencyType.MENTAL_HEALTH,
        Sector.STATUTORY,
        "mentalhealth.northbridge.example",
    ),
    ("Northbridge Homes", AgencyType.HOUSING, Sector.STATUTORY, "homes.northbridge.example"),
    (
        "Probation Service Northbridge",
        AgencyType.PROBATION,
        Sector.STATUTORY,
        "probation.northbridge.example",
    ),
    (
        "Northbridge IDVA Service",
        AgencyType.IDVA_SERVICE,
        Sector.VOLUNTARY,
        "idva.northbridge.example",
    ),
    ("Safe Haven Refuge", AgencyType.SPECIALIST_NGO, Sector.VOLUNTARY, "safehaven.example"),
]

#: (name, email local part, agency index, roles, job title)
MEMBERS = [
    ("Alex Morgan", "admin", 0, {R.ADMIN}, "Hub administrator"),
    ("Morgan Ellis", "coordinator", 0, {R.COORDINATOR}, "MARAC coordinator"),
    ("Dana Whitfield", "auditor", 0, {R.AUDITOR}, "Data protection officer"),
    ("Priya Shah", "chair", 1, {R.CHAIR, R.MARAC_REP}, "Detective Chief Inspector"),
    ("Tom Harper", "ds.harper", 1, {R.MARAC_REP, R.PRACTITIONER}, "Detective Sergeant"),
    ("Jo Walsh", "pc.walsh", 1, {R.PRACTITIONER}, "Police Constable"),
    ("Aisha Khan", "a.khan", 2, {R.PRACTITIONER}, "Social worker"),
    ("Ben Cole", "b.cole", 2, {R.MARAC_REP}, "Team manager"),
    ("Grace Obi", "g.obi", 3, {R.PRACTITIONER, R.MARAC_REP}, "Social worker"),
    ("Helen Price", "h.price", 4, {R.MARAC_REP, R.PRACTITIONER}, "Safeguarding lead nurse"),
    ("Sam Lee", "dr.lee", 5, {R.PRACTITIONER, R.MARAC_REP}, "General practitioner"),
    ("Rosa Diaz", "r.diaz", 6, {R.PRACTITIONER, R.MARAC_REP}, "Community psychiatric nurse"),
    ("Owen Hughes", "o.hughes", 7, {R.PRACTITIONER}, "Housing officer"),
    ("Fatima Noor", "f.noor", 7, {R.MARAC_REP}, "Housing manager"),
    ("Chris Young", "c.young", 8, {R.PRACTITIONER, R.MARAC_REP}, "Probation officer"),
    ("Lena Novak", "l.novak", 9, {R.MARAC_REP, R.PRACTITIONER}, "Senior IDVA"),
    ("Kim Baker", "k.baker", 9, {R.PRACTITIONER}, "IDVA"),
    ("Nadia Petrova", "n.petrova", 10, {R.PRACTITIONER, R.MARAC_REP}, "Refuge manager"),
    ("Eve Martin", "e.martin", 10, {R.PRACTITIONER}, "Refuge support worker"),
    ("Ravi Patel", "r.patel", 4, {R.PRACTITIONER}, "Emergency department nurse"),
]


@dataclass
class DemoLogin:
    email: str
    name: str
    agency: str
    roles: str


class DemoRefused(RuntimeError):
    pass


def seed(settings: Settings) -> list[DemoLogin]:
    """Create (or complete) the demo area; running it twice changes nothing."""
    if settings.is_production:
        raise DemoRefused("the demo area is never available in production")
    actor = Actor.system("demo-seed")
    area = agencies.get_area_by_name(AREA) or agencies.create_area(
        actor, name=AREA, meeting_cadence="fortnightly"
    )
    made = []
    for name, kind, sector, domain in AGENCIES:
        agency = agencies.find_agency_by_name(name) or agencies.create_agency(
            actor,
            area,
            agencies.AgencyData(
                name=name,
                type=kind,
                sector=sector,
                isp_signed_on=date(2026, 4, 1),
                isp_signed_by="Chief Officer (demo)",
                isp_review_due_on=date(2027, 3, 31),
                email_domains=domain,
            ),
        )
        made.append(agency)
    logins = []
    for name, local, index, roles, title in MEMBERS:
        agency = made[index]
        email = f"{local}@{agency.domains[0]}"
        member = agencies.find_member_by_email(email)
        if member is None:
            member = agencies.add_member(
                actor,
                agencies.MemberData(
                    name=name,
                    email=email,
                    agency_id=agency.id,
                    roles=frozenset(roles),
                    job_title=title,
                ),
            )
            auth.set_password(actor, member, DEMO_PASSWORD, demo=True)
        logins.append(
            DemoLogin(email, name, agency.name, ", ".join(sorted(r.label for r in roles)))
        )
    return logins
