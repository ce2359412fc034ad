"""The ledger holds identifiers and codes only: after a realistic run of the hub (referrals,
consent, a meeting minuted and approved, a whereabouts reveal, a subject access request, a
legal hold, an extension, destruction), no entry holds a name, a date of birth, an address,
a phone number or any free text a person typed."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from cases import services as referrals
from cases.models import Person, Whereabouts
from hub.core import db
from hub.core.clock import today_london
from retention import services
from subject_access import services as sar
from tests.meetings.conftest import FULL_DISCUSSION
from tests.retention.conftest import a_year, adopt, nightly, years_later
from tests.subject_access.conftest import open_request
from tests.support.cases import VICTIM
from tests.support.world import actor_of

TYPED = [
    "Heard; actions complete.",  # the closure reason
    "Flag the records and offer a safe appointment",  # an action
    "Helen Rep",  # an attendee (a professional, named in the minutes only)
    "Checking she is safe after the call",  # the reveal's reason
    "The Requester",  # who asked for their data
    "Passport seen in person at the office",  # how their identity was checked
    "CSP commissioned a DHR",  # the hold's reason
    "Complaint still open",  # the extension's reason
    *FULL_DISCUSSION.values(),
]


def _personal_data() -> list[str]:
    """What the hub holds about the people in its cases, read before anything is destroyed."""
    found: set[str] = set()
    with db.unit_of_work() as uow:
        for person in uow.session.execute(select(Person)).scalars():
            found.update(n for n in (person.given_name, person.family_name) if n)
            found.update(a for a in person.aliases.splitlines() if a.strip())
            if person.born_on:
                found.add(person.born_on.isoformat())
                found.add(person.born_on.strftime("%d/%m/%Y"))
        for place in uow.session.execute(select(Whereabouts)).scalars():
            found.update(v for v in (place.address, place.safe_phone, place.safe_times) if v)
    return sorted(found)


def test_no_ledger_entry_holds_the_personal_data_of_anyone_in_the_cases(app, world) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    officer = actor_of(world["police_officer"])
    with db.unit_of_work():
        referrals.open_case(
            officer, year.other, reveal_reason="Checking she is safe after the call"
        )
    dpo = actor_of(world["auditor"])
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    with db.unit_of_work():
        sar.build(dpo, sar.get_request(dpo, request_id))
    adopt(coordinator)
    with db.unit_of_work():
        services.set_hold(
            coordinator,
            services.HoldData(_reference(year.other), "dhr", "CSP commissioned a DHR"),
        )
    personal = _personal_data()
    assert (
        "Example" in personal
        and "1990-05-17" in personal
        and any("Secret Street" in p for p in personal)
    )
    with years_later(6, days=60):
        nightly()
        with db.unit_of_work():
            services.confirm(coordinator, f"case-{year.heard[0]}")
            services.extend(
                coordinator,
                f"case-{year.heard[1]}",
                today_london() + timedelta(days=30),
                "Complaint still open",
                today_london(),
            )
        nightly()

    with db.unit_of_work() as uow:
        bodies = [b.decode() for b in uow.session.execute(select(AuditEntry.body)).scalars()]
    assert len(bodies) > 100
    actions = {re.search(r'"action":"([^"]+)"', b).group(1) for b in bodies}  # type: ignore[union-attr]
    for expected in (
        "referral:submitted",
        "minutes:approved",
        "whereabouts:revealed",
        "sar:received",
        "retention:hold_set",
        "retention:extended",
        "retention:destroyed",
    ):
        assert expected in actions
    for value in (*personal, *TYPED):
        pattern = re.compile(rf"(?<![\w-]){re.escape(value)}(?![\w-])")
        leaks = [b for b in bodies if pattern.search(b)]
        assert leaks == [], f"{value!r} is in the ledger: {leaks[:1]}"


def _reference(case_id: int) -> str:
    from cases.models import Referral

    with db.unit_of_work() as uow:
        return uow.session.get_one(Referral, case_id).reference
