"""A victim's case referred, shared and accepted, for subject access requests about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from cases.facts import case_facts
from cases.models import Referral
from consent import gate
from consent.categories import CASE_CATEGORIES
from hub.core import db
from hub.core.access import Actor
from subject_access import services
from tests.support import cases
from tests.support.world import actor_of


@dataclass
class Referred:
    case_id: int
    officer: Actor
    coordinator: Actor


@pytest.fixture
def referred(app: Any, world: Any) -> Referred:
    officer = actor_of(world["police_officer"])
    coordinator = actor_of(world["coordinator"])
    case_id = cases.draft(officer)
    cases.with_consent(officer, case_id)
    cases.submit(officer, case_id)
    cases.accept(coordinator, case_id)
    with db.unit_of_work() as uow:  # the coordinator reads it: a disclosure for the bundle
        facts = case_facts(uow.session.get_one(Referral, case_id))
        gate.disclose(coordinator, facts, CASE_CATEGORIES)
    return Referred(case_id, officer, coordinator)


@pytest.fixture
def dpo(world: Any) -> Actor:
    return actor_of(world["auditor"])


def open_request(
    dpo: Actor, given: str, family: str, born_on: date | None, *, choose: bool = True
) -> int:
    """Receive a request and, if asked, choose its strong match and check the identity."""
    with db.unit_of_work():
        found = services.receive_request(
            dpo,
            services.RequestData("The Requester", "", given, family, born_on, date(2026, 11, 20)),
        )
        request_id = found.id
        if choose:
            (candidate,) = services.candidates(dpo, found)
            services.choose_subject(dpo, found, candidate.person_id)
            services.check_identity(dpo, found, "Passport seen in person at the office")
            services.start_review(dpo, found)
    return request_id
