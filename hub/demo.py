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
    logins.extend(_seed_second_area(actor))
    return logins


# --- a second area on the same hub, for MARAC-to-MARAC transfers --------------------------

SECOND_AREA = "Southport MARAC"

#: (name, type, sector, email domain) of Southport's partners: fewer than Northbridge's, with
#: the police and an IDVA service in both areas so a transfer has counterparts to hand over to.
SECOND_AGENCIES = [
    (
        "Southport Community Safety Partnership",
        AgencyType.OTHER,
        Sector.STATUTORY,
        "csp.southport.example",
    ),
    ("Southport Police", AgencyType.POLICE, Sector.STATUTORY, "police.southport.example"),
    (
        "Southport IDVA Service",
        AgencyType.IDVA_SERVICE,
        Sector.VOLUNTARY,
        "idva.southport.example",
    ),
    ("Southport Housing", AgencyType.HOUSING, Sector.STATUTORY, "housing.southport.example"),
]

#: (name, email local part, agency index, roles, job title) in Southport.
SECOND_MEMBERS = [
    ("Jordan Reid", "southport.coordinator", 0, {R.COORDINATOR}, "MARAC coordinator"),
    ("Amira Hassan", "chair", 1, {R.CHAIR, R.MARAC_REP}, "Detective Inspector"),
    ("Megan Clarke", "pc.clarke", 1, {R.PRACTITIONER}, "Police Constable"),
    ("Sophie Turner", "s.turner", 2, {R.MARAC_REP, R.PRACTITIONER}, "Senior IDVA"),
    ("Daniel Price", "d.price", 3, {R.PRACTITIONER, R.MARAC_REP}, "Housing officer"),
]


def _seed_second_area(actor: Actor) -> list[DemoLogin]:
    """Southport: a second area on this hub that Northbridge's cases can be transferred to."""
    area = agencies.get_area_by_name(SECOND_AREA) or agencies.create_area(
        actor, name=SECOND_AREA, meeting_cadence="monthly"
    )
    made = []
    for name, kind, sector, domain in SECOND_AGENCIES:
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
    for name, local, index, roles, title in SECOND_MEMBERS:
        agency = made[index]
        email = f"{local}@{agency.domains[0]}"
        if agencies.find_member_by_email(email) is None:
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


# --- cases in every state -----------------------------------------------------------------

#: Fictional people of the demo's cases: (victim, perpetrator), each (given, family, born).
DEMO_PEOPLE = [
    (("Leah", "Turner", date(1990, 3, 14)), ("Craig", "Turner", date(1987, 7, 2))),
    (("Maria", "Lopes", date(1985, 11, 5)), ("Daniel", "Reeve", date(1983, 1, 30))),
    (("Hannah", "Brook", date(1996, 6, 21)), ("Liam", "Foster", date(1994, 9, 9))),
    (("Zainab", "Ali", date(1992, 2, 17)), ("Imran", "Qureshi", date(1989, 12, 1))),
    (("Claire", "Dawson", date(1979, 8, 28)), ("Mark", "Dawson", date(1976, 4, 12))),
    (("Aoife", "Byrne", date(1998, 1, 3)), ("Ryan", "Cole", date(1997, 5, 19))),
    (("Joanne", "Pike", date(1988, 10, 10)), ("Stuart", "Ward", date(1985, 3, 22))),
    (("Nina", "Kowalski", date(1993, 7, 7)), ("Piotr", "Nowak", date(1990, 11, 11))),
]


CASES_NOTE = (
    "Its cases: one in each state (a draft, one in the coordinator's inbox, deferred, "
    "rejected, accepted and on the coming agenda, heard at an emergency MARAC, closed)."
)


def _member_actor(email: str) -> Actor:
    member = agencies.find_member_by_email(email)
    if member is None:
        raise DemoRefused(f"the demo member {email} is missing: run the whole seed")
    return agencies.actor_for(member)


def _referral(who: Actor, index: int, *, yes: int = 15, complete: bool = True) -> int:
    """A referral through the same service the form and the API use; sent when complete."""
    from cases import checklists
    from cases import services as cases
    from consent.categories import ConsentState

    (vg, vf, vb), (pg, pf, pb) = DEMO_PEOPLE[index]
    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    victim = cases.PersonData(
        given_name=vg, family_name=vf, born_on=vb, ethnicity="White British", language="English"
    )
    if not complete:
        return cases.refer_case(who, cases.ReferralData(victim=victim)).referral.id
    data = cases.ReferralData(
        victim=victim,
        perpetrator=cases.PerpetratorData(
            person=cases.PersonData(given_name=pg, family_name=pf, born_on=pb),
            relationship="Ex-partner",
            children="One child, aged 6, at Northbridge Primary" if index % 2 else "",
            children_count=1 if index % 2 else 0,
        ),
        risk=cases.RiskData(
            checklist=checklists.DEFAULT_CHECKLIST,
            answers={q.id: {"answer": "yes" if n < yes else "no"} for n, q in enumerate(questions)},
            incidents_12m=3,
        ),
        details=cases.DetailsData(
            incident="Assaulted at home after an argument about contact; police attended.",
            victim_fears="The perpetrator and his friends",
            health_notes="Bruising to the neck and arms",
            reported_to_police=True,
            crime_reference=f"NB/{4100 + index}/26",
            victim_aware=True,
        ),
        whereabouts=cases.WhereaboutsData(
            address=f"Flat {index + 1}, 12 Willow Court, Northbridge",
            safe_phone="07700 900" + f"{index:03d}",
            safe_times="Weekdays 10:00 to 12:00",
        ),
        sharing=cases.SharingChoice(
            state=ConsentState.GIVEN, evidence="Verbally, in person, seen alone"
        ),
    )
    referral = cases.refer_case(who, data).referral
    cases.submit_referral(who, referral)
    return referral.id


def seed_cases(settings: Settings) -> list[str]:
    """Give the demo area a case in every state, a held meeting with minutes, a coming one
    with an agenda, and tasks, all through the services; a second run changes nothing.

    Runs after ``seed`` and ``meetings.demo.seed_meetings``, in a unit of work of its own.
    """
    from datetime import time, timedelta

    from sqlalchemy import func, select

    from cases import services as cases
    from cases.models import Referral
    from consent.categories import Purpose
    from hub.core.clock import today_london
    from hub.core.db import session
    from meetings import conduct, minutes
    from meetings import services as meetings
    from meetings.models import Meeting, MeetingKind, MeetingStatus

    if settings.is_production:
        raise DemoRefused("the demo area is never available in production")
    area = agencies.get_area_by_name(AREA)
    if area is None:
        return []
    already = session().execute(
        select(func.count()).select_from(Referral).where(Referral.area_id == area.id)
    )
    if already.scalar_one():
        return [CASES_NOTE]
    # The demo's members are told of the seeded work in one daily digest, not an e-mail for
    # each of the tasks the seed makes (each member can change this in their e-mail settings).
    from todo.codes import NotificationMode
    from todo.notify import set_preference

    for _name, local, index, _roles, _title in MEMBERS:
        member = agencies.find_member_by_email(f"{local}@{AGENCIES[index][3]}")
        if member is not None:
            set_preference(member.id, NotificationMode.DIGEST)
    domain = {name: domains for name, _kind, _sector, domains in AGENCIES}
    police, hospital, homes = (
        domain["Northbridge Police"],
        domain["Northbridge General Hospital"],
        domain["Northbridge Homes"],
    )
    coordinator = _member_actor("coordinator@csp.northbridge.example")
    chair = _member_actor(f"chair@{police}")
    officer = _member_actor(f"pc.walsh@{police}")
    sergeant = _member_actor(f"ds.harper@{police}")
    nurse = _member_actor(f"h.price@{hospital}")
    housing = _member_actor(f"o.hughes@{homes}")
    gp = _member_actor("dr.lee@riverside-gp.example")
    idva = agencies.find_member_by_email("l.novak@idva.northbridge.example")
    assert idva is not None

    # Heard at an emergency MARAC held today (the coordinator names the cases), minutes
    # approved and sent out; one of its cases since closed.
    heard = [_referral(sergeant, 0), _referral(nurse, 1), _referral(officer, 2)]
    for referral_id in heard:
        cases.accept_referral(coordinator, cases.get_referral(referral_id))
    (held,) = meetings.schedule_meetings(
        coordinator,
        meetings.ScheduleData(
            first_on=today_london(),
            start_time=time(9, 0),
            venue="Northbridge Civic Centre, Committee Room 3",
            kind=MeetingKind.EMERGENCY,
            cadence=None,
            count=1,
        ),
    )
    held.chair_id = chair.member_id
    held.coordinator_id = coordinator.member_id
    for referral_id in heard:
        meetings.add_case(
            coordinator,
            held,
            cases.get_referral(referral_id).reference,
            "Escalating since separation: heard at an emergency MARAC",
        )
    meetings.circulate_agenda(coordinator, held)
    conduct.mark_confidentiality_read(chair, held)
    for agency_name, person, role in (
        ("Northbridge Police", "Priya Shah", "Chair"),
        ("Northbridge IDVA Service", "Lena Novak", "Senior IDVA"),
        ("Northbridge General Hospital", "Helen Price", "Safeguarding lead nurse"),
        ("Northbridge Homes", "Fatima Noor", "Housing manager"),
    ):
        agency = agencies.find_agency_by_name(agency_name)
        conduct.record_attendance(
            chair,
            held,
            conduct.AttendanceData(
                kind="present", agency_id=agency.id if agency else None, name=person, role=role
            ),
        )
    for item in held.items:
        conduct.save_discussion(
            chair,
            held,
            item,
            {
                "referrer_summary": "Strangulation last week; 15 Yes answers; escalating.",
                "victim_views": "Wants to stay in her home with better security.",
                "risk_victim": "Serious harm likely before the court date.",
                "risk_children": "A child of six in the household witnessed the assault."
                if item.position % 2
                else "No children in the household.",
                "risk_perpetrator": "Breaching bail conditions.",
                "risk_professionals": "None known.",
                "informs_victim_agency_id": idva.agency_id,
                "informs_victim_name": idva.name,
            },
        )
        conduct.add_action(
            chair,
            held,
            item,
            conduct.ActionData(
                text="Contact the victim within two working days and review the safety plan",
                owner_member_id=idva.id,
                due_on=today_london() + timedelta(days=3),
            ),
        )
        conduct.set_outcome(chair, held, item, "discussed")
    conduct.close_meeting(chair, held)
    minutes.approve_minutes(chair, held)
    minutes.distribute_minutes(chair, held)
    cases.close_referral(
        coordinator,
        cases.get_referral(heard[2]),
        "The safety plan's actions are complete and the victim is supported by the IDVA.",
    )

    # Accepted, shared with housing and on the coming meeting's agenda.
    coming = session().execute(
        select(Meeting)
        .where(Meeting.area_id == area.id, Meeting.status == MeetingStatus.PLANNED)
        .order_by(Meeting.held_on)
        .limit(1)
    )
    listed = _referral(officer, 3)
    cases.accept_referral(coordinator, cases.get_referral(listed))
    homes_agency = agencies.find_agency_by_name("Northbridge Homes")
    if homes_agency is not None:
        cases.share_case(coordinator, cases.get_referral(listed), homes_agency.id, Purpose.MARAC)
    upcoming = coming.scalar_one_or_none()
    if upcoming is not None:
        meetings.add_case(
            coordinator,
            upcoming,
            cases.get_referral(listed).reference,
            "Accepted this week; the victim is moving to a new tenancy",
        )

    # Waiting in the coordinator's inbox, deferred, rejected, and a draft.
    _referral(housing, 4)
    deferred = _referral(gp, 5)
    cases.defer_referral(
        coordinator, cases.get_referral(deferred), "Waiting for the police incident log"
    )
    rejected = _referral(nurse, 6)
    cases.reject_referral(
        coordinator,
        cases.get_referral(rejected),
        "Already open to Northbridge MARAC under another reference.",
    )
    _referral(officer, 7, complete=False)
    return [CASES_NOTE]


def seed_second_area_meeting(settings: Settings) -> None:
    """Give Southport an upcoming meeting, so a case transferred in can be listed at it."""
    from datetime import time, timedelta

    from sqlalchemy import select

    from agencies.models import Cadence
    from hub.core.clock import today_london
    from hub.core.db import session
    from meetings import services as meetings
    from meetings.models import Meeting, MeetingKind, MeetingStatus

    if settings.is_production:
        raise DemoRefused("the demo area is never available in production")
    area = agencies.get_area_by_name(SECOND_AREA)
    if area is None:
        return
    today = today_london()
    upcoming = session().execute(
        select(Meeting.id).where(
            Meeting.area_id == area.id,
            Meeting.held_on >= today,
            Meeting.status != MeetingStatus.HELD,
        )
    )
    if upcoming.first() is not None:
        return
    seeder = Actor(
        kind="system",
        member_id=None,
        agency_id=None,
        area_id=area.id,
        roles=frozenset({Role.COORDINATOR}),
        name="demo-seed",
    )
    first_on = today + timedelta(days=area.agenda_cutoff_days + 3)
    first_on += timedelta(days=(3 - first_on.weekday()) % 7)  # a Thursday
    (meeting,) = meetings.schedule_meetings(
        seeder,
        meetings.ScheduleData(
            first_on=first_on,
            start_time=time(14, 0),
            venue="Southport Town Hall, Room 2 (or join by video)",
            kind=MeetingKind.SCHEDULED,
            cadence=Cadence(area.meeting_cadence),
            count=1,
        ),
    )
    chair, coordinator = meetings.default_chair_and_coordinator(area.id)
    meeting.chair_id = chair.id if chair else None
    meeting.coordinator_id = coordinator.id if coordinator else None
    session().flush()
