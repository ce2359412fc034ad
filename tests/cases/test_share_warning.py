"""Sharing beyond what consent or an approved decision covers is warned of and confirmed,
and an agency that could not identify the person is given no hands-on tasks for them."""

from __future__ import annotations

from sqlalchemy import select

from cases import services
from hub.core import db
from tests.meetings.conftest import referred
from tests.support.web import signed_in, submit, text
from todo.models import Task


def _shared_with(referral_id: int) -> set[int]:
    with db.unit_of_work():
        return {s.agency_id for s in services.get_referral(referral_id).shares}


def _tasks_of(agency_id: int, referral_id: int) -> int:
    with db.unit_of_work() as uow:
        found = uow.session.execute(
            select(Task).where(Task.agency_id == agency_id, Task.referral_id == referral_id)
        )
        return len(found.scalars().all())


def test_sharing_beyond_consent_is_warned_of_confirmed_and_gives_no_tasks(app, world) -> None:
    # Consent covers the police and the MARAC only; the officer then shares with housing.
    referral_id = referred(world, "police_officer", index=3, agency_types=["police", "other"])
    housing = world.agencies["housing"]
    assert housing not in _shared_with(referral_id)
    officer = signed_in(app.test_client(), world["police_officer"])
    form = {"agency_id": str(housing), "purpose": "marac"}
    asked = submit(officer, f"/cases/{referral_id}/share", form, form_url=f"/cases/{referral_id}")
    page = text(asked)
    assert asked.status_code == 200 and "beyond what consent covers" in page
    assert "Identity" in page.split("would not see:")[1]
    assert "it is given no tasks for it" in page
    assert housing not in _shared_with(referral_id)  # nothing shared until confirmed
    confirmed = submit(
        officer,
        f"/cases/{referral_id}/share",
        {**form, "confirmed": "yes"},
        form_url=f"/cases/{referral_id}",
    )
    assert confirmed.status_code == 303
    assert housing in _shared_with(referral_id)
    assert _tasks_of(housing, referral_id) == 0  # it cannot tell who the person is


def test_sharing_that_consent_covers_goes_ahead_with_the_agencys_tasks(app, world) -> None:
    referral_id = referred(
        world, "police_officer", index=3, agency_types=["police", "other", "housing"]
    )
    housing = world.agencies["housing"]
    officer = signed_in(app.test_client(), world["police_officer"])
    shared = submit(
        officer,
        f"/cases/{referral_id}/share",
        {"agency_id": str(housing), "purpose": "marac"},
        form_url=f"/cases/{referral_id}",
    )
    assert shared.status_code == 303, text(shared).split("would not see:")[-1][:400]
    assert housing in _shared_with(referral_id)
    assert _tasks_of(housing, referral_id) > 0  # its template ran
