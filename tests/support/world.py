"""A small MARAC area with the personas the access tests need, built through the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyotp

from agencies import services as agencies
from agencies.models import AgencyType, Sector
from hub.auth import services as auth
from hub.auth.models import LocalCredential
from hub.core import db
from hub.core.access import Actor, Role
from hub.core.clock import now

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    key: str
    member_id: int
    email: str
    agency_id: int
    totp_secret: str | None
    password: str = PASSWORD


@dataclass
class World:
    area_id: int
    agencies: dict[str, int] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Person:
        return self.people[key]


AGENCIES = {
    "csp": ("Testshire Community Safety", AgencyType.OTHER, Sector.STATUTORY, "csp.test"),
    "police": ("Testshire Police", AgencyType.POLICE, Sector.STATUTORY, "police.test"),
    "health": ("Testshire Hospital", AgencyType.ACUTE_HEALTH, Sector.STATUTORY, "nhs.test"),
    "housing": ("Testshire Homes", AgencyType.HOUSING, Sector.STATUTORY, "homes.test"),
    "idva": ("Testshire IDVA Service", AgencyType.IDVA_SERVICE, Sector.VOLUNTARY, "idva.test"),
}

PEOPLE = {
    "admin": ("csp", {Role.ADMIN}),
    "coordinator": ("csp", {Role.COORDINATOR}),
    "auditor": ("csp", {Role.AUDITOR}),
    "chair": ("police", {Role.CHAIR}),
    "police_rep": ("police", {Role.MARAC_REP, Role.PRACTITIONER}),
    "police_officer": ("police", {Role.PRACTITIONER}),
    "nurse": ("health", {Role.PRACTITIONER}),
    "health_rep": ("health", {Role.MARAC_REP, Role.PRACTITIONER}),
    "housing_officer": ("housing", {Role.PRACTITIONER}),
    "idva": ("idva", {Role.PRACTITIONER, Role.MARAC_REP}),
}


def build_world(*, with_totp: bool = True) -> World:
    """Create the area, agencies and people (each with a password and an enrolled TOTP)."""
    actor = Actor.system("test-world")
    with db.unit_of_work():
        area = agencies.create_area(actor, name="Testshire MARAC")
        world = World(area_id=area.id)
        for key, (name, kind, sector, domain) in AGENCIES.items():
            agency = agencies.create_agency(
                actor,
                area,
                agencies.AgencyData(
                    name=name,
                    type=kind,
                    sector=sector,
                    isp_signed_on=date(2026, 1, 1),
                    isp_signed_by="Chief Officer",
                    isp_review_due_on=date(2030, 1, 1),
                    email_domains=domain,
                ),
            )
            world.agencies[key] = agency.id
        for key, (agency_key, roles) in PEOPLE.items():
            email = f"{key.replace('_', '.')}@{AGENCIES[agency_key][3]}"
            member = agencies.add_member(
                actor,
                agencies.MemberData(
                    name=key.replace("_", " ").title(),
                    email=email,
                    agency_id=world.agencies[agency_key],
                    roles=frozenset(roles),
                ),
            )
            credential: LocalCredential = auth.set_password(actor, member, PASSWORD)
            secret = None
            if with_totp:
                secret = pyotp.random_base32()
                credential.totp_secret = secret
                credential.totp_confirmed_at = now()
            world.people[key] = Person(key, member.id, email, member.agency_id, secret)
    return world


def actor_of(person: Person) -> Actor:
    """The actor a persona acts as (for calling services directly in tests)."""
    from agencies.services import actor_for, get_member

    with db.unit_of_work():
        return actor_for(get_member(person.member_id))
