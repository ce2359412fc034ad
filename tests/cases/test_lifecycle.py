"""The referral's lifecycle: the case page offers exactly the decisions the services take."""

from __future__ import annotations

import re

import pytest

from cases import lifecycle, services
from cases.lifecycle import Decision
from cases.models import ReferralStatus
from hub.core import db
from hub.core.errors import ValidationFailed
from tests.support import cases
from tests.support.web import signed_in, text
from tests.support.world import actor_of

REASON = "The victim has moved out of the area and is supported there."
SERVICES = {
    Decision.ACCEPT: lambda who, referral: services.accept_referral(who, referral),
    Decision.DEFER: lambda who, referral: services.defer_referral(who, referral, REASON),
    Decision.REJECT: lambda who, referral: services.reject_referral(who, referral, REASON),
    Decision.CLOSE: lambda who, referral: services.close_referral(who, referral, REASON),
}
STATUSES = [
    s for s in ReferralStatus if s not in {ReferralStatus.DRAFT, ReferralStatus.TRANSFERRED}
]


def _in_status(world, status: ReferralStatus) -> int:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        services.get_referral(referral_id).status = status
    return referral_id


def _offered(page: str) -> set[str]:
    return set(re.findall(r'name="decision" value="([a-z]+)"', page))


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_the_page_offers_what_the_services_accept(app, world, status) -> None:
    coordinator = actor_of(world["coordinator"])
    referral_id = _in_status(world, status)
    page = text(signed_in(app.test_client(), world["coordinator"]).get(f"/cases/{referral_id}"))
    offered = _offered(page)
    assert offered == {d.value for d in lifecycle.decisions_from(status)}
    for decision, take in SERVICES.items():
        with db.unit_of_work() as uow:
            referral = services.get_referral(referral_id)
            if decision.value in offered:
                take(coordinator, referral)
                assert referral.status == lifecycle.MOVES[decision].end
            else:
                with pytest.raises(ValidationFailed) as refused:
                    take(coordinator, referral)
                assert refused.value.message == lifecycle.MOVES[decision].refused
            uow.session.rollback()


def test_an_accepted_case_can_be_deferred_from_its_page(app, world) -> None:
    referral_id = _in_status(world, ReferralStatus.ACCEPTED)
    client = signed_in(app.test_client(), world["coordinator"])
    page = text(client.get(f"/cases/{referral_id}"))
    assert {"defer", "close"} <= _offered(page) and "reject" not in _offered(page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        f"/referrals/{referral_id}/triage",
        data={"csrf_token": token, "decision": "defer", "reason": REASON},
    )
    assert answer.status_code in (302, 303)
    with db.unit_of_work():
        assert services.get_referral(referral_id).status == ReferralStatus.DEFERRED
