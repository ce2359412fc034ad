"""A practitioner works their to-do list and completes a task with a note; their MARAC
representative sees an overdue task escalated: in a real Chromium, with screenshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import Page, expect

from agencies.services import get_agency
from hub.core import db
from hub.core.clock import now, today_london
from hub.core.workdays import add_working_days
from tests.support.browser import sign_in as _sign_in
from tests.support.world import actor_of
from tests.tasks.conftest import police_case as submitted_police_case
from tests.tasks.conftest import reference_of
from todo import jobs, services
from todo.models import TaskSource, Trigger

pytestmark = pytest.mark.browser


@pytest.fixture
def police_case(app, world) -> int:
    """A submitted police referral: the police template fills the officer's list, and one
    meeting action from a fortnight ago is now overdue and escalated."""
    referral_id = submitted_police_case(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work():
        services.generate_from_template(
            coordinator,
            agency=get_agency(world.agencies["police"]),
            referral_id=referral_id,
            trigger=Trigger.REFERRAL_ACCEPTED,
            risk_band="high",
            owner_member_id=world["police_officer"].member_id,
        )
    with time_machine.travel(now() - timedelta(days=14)), db.unit_of_work():
        services.create_task(
            coordinator,
            agency_id=world.agencies["police"],
            owner_member_id=world["police_officer"].member_id,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title="Review the bail conditions with the officer in charge",
            due_on=add_working_days(today_london(), 3),
        )
    with app.app_context():
        assert jobs.escalate_overdue() == 1
    return referral_id


def test_practitioner_completes_a_task_and_the_manager_sees_the_escalation(
    page: Page, live_server: str, world, police_case, shoot
) -> None:
    officer, rep = world["police_officer"], world["police_rep"]
    _sign_in(page, live_server, officer)
    expect(page.locator(".hub-header__tasks")).to_contain_text("1 overdue")
    page.get_by_role("link", name="To-do", exact=True).first.click()
    expect(page.get_by_role("heading", name="Your to-do list")).to_be_visible()
    overdue_row = page.locator("tr.hub-tasks__row--overdue")
    expect(overdue_row).to_have_count(1)
    expect(overdue_row).to_contain_text("Review the bail conditions")
    expect(page.locator("tbody tr").first).to_contain_text("Review the bail conditions")
    shoot(page, "01-my-list")

    page.get_by_role("link", name="Make a safety plan with the victim").click()
    expect(page.get_by_role("heading", name="Make a safety plan with the victim")).to_be_visible()
    expect(page.locator(".govuk-caption-l")).to_have_text(reference_of(police_case))
    shoot(page, "02-task")
    page.get_by_label("Done", exact=True).check()
    page.get_by_label("Note (optional)", exact=True).fill(
        "Safety plan agreed with the victim by phone; copy on the crime record."
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("marked: done")
    expect(page.locator(".hub-history")).to_contain_text("Open → Done")
    expect(page.locator(".hub-history")).to_contain_text("Safety plan agreed with the victim")
    shoot(page, "03-task-done")

    page.get_by_role("link", name="Back to your to-do list").click()
    expect(page.get_by_role("link", name="Make a safety plan with the victim")).to_have_count(0)
    page.get_by_label("State").select_option("done")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("link", name="Make a safety plan with the victim")).to_be_visible()
    shoot(page, "04-done-filter")

    _sign_in(page, live_server, rep)
    page.get_by_role("link", name="To-do", exact=True).first.click()
    page.get_by_role("link", name="Overdue in your agency").click()
    expect(page.get_by_role("heading", name="Overdue in your agency")).to_be_visible()
    row = page.locator("tr", has_text="Review the bail conditions")
    expect(row).to_contain_text("Escalated to the MARAC representative")
    expect(row).to_contain_text("Police Officer")
    shoot(page, "05-overdue-escalated")
    row.get_by_role("link", name="Review the bail conditions").click()
    expect(page.locator(".govuk-warning-text")).to_contain_text("escalated")
    expect(page.locator(".hub-history")).to_contain_text("Escalated to the MARAC representative")
    shoot(page, "06-escalated-task")

    page.get_by_role("link", name="Back to your to-do list").click()
    page.get_by_role("link", name="Agency's to-do template").click()
    expect(page.get_by_role("heading", name="Your agency's to-do template")).to_be_visible()
    shoot(page, "07-template")
