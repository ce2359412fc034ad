"""The transfers tests' world: the demo's two areas, a case ready to move, its old address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agencies import services as agencies
from cases.models import Referral, ReferralStatus, Whereabouts
from hub import demo
from hub.core import db
from tests.support.web import submit
from tests.web.test_demo_cases import _seed
from transfers.models import Transfer

#: The old address: distinctive, so a page or pack that carries it is caught.
OLD_ADDRESS = "Flat 7, Quillwort Mews, Northbridge"
OLD_PHONE = "07700 900777"

NB_COORDINATOR = "coordinator@csp.northbridge.example"
SP_COORDINATOR = "southport.coordinator@csp.southport.example"


def _member(email: str):
    with db.unit_of_work():
        member = agencies.find_member_by_email(email)
        assert member is not None
        return member


@pytest.fixture
def two_areas(app):
    settings = app.extensions["hub.settings"]
    _seed(settings)
    with db.unit_of_work():
        demo.seed_second_area_meeting(settings)
    with db.unit_of_work() as uow:
        case = uow.session.execute(
            select(Referral).where(Referral.status == ReferralStatus.ACCEPTED)
        ).scalar_one()
        place = uow.session.get(Whereabouts, case.victim_id)
        assert place is not None
        place.address = OLD_ADDRESS
        place.safe_phone = OLD_PHONE
        return case.id, case.reference


def start_form(client, case_id: int, **data: str):
    """Post the transfer form of a case (empty answers unless given)."""
    form = {"to_area": "", "reason": "", "heard_here": "", "agenda_circulated": "", **data}
    return submit(client, f"/cases/{case_id}/transfer", form)


def southport_id() -> int:
    with db.unit_of_work():
        area = agencies.get_area_by_name(demo.SECOND_AREA)
        assert area is not None
        return area.id


def transfer_to_southport(client, case_id: int, reason: str = "refuge") -> int:
    """Start the only transfer of the test, to Southport, neither heard nor circulated here."""
    start_form(
        client,
        case_id,
        to_area=str(southport_id()),
        reason=reason,
        heard_here="no",
        agenda_circulated="no",
    )
    with db.unit_of_work() as uow:
        return int(uow.session.execute(select(Transfer.id)).scalar_one())
