"""The coordinator adopts a retention policy from the home page, reviews the queue years
later, confirms one case, keeps another longer and puts a third on legal hold: in a real
Chromium, with screenshots and axe on every page."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.retention.conftest import a_year, nightly
from tests.support.axe import assert_accessible
from tests.support.browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # axe-core is injected into each page; the hub's policy rightly refuses such scripts.
    return {**browser_context_args, "bypass_csp": True}


def test_the_coordinator_adopts_a_policy_and_reviews_the_queue(
    live_server: str, world, page: Page, shoot
) -> None:
    year = a_year(world)
    sign_in(page, live_server, world["coordinator"])
    page.get_by_role("link", name="Retention policy").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention policy")
    expect(page.get_by_text("No local policy has been adopted")).to_be_visible()
    shoot(page, "policy")
    assert_accessible(page)
    page.locator("#case_months").fill("6")
    page.get_by_role("button", name="Adopt this policy").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    shoot(page, "policy-error")
    assert_accessible(page)
    page.locator("#case_months").fill("72")
    page.get_by_label("Where the local policy comes from").fill("Testshire schedule, MAR 01.02")
    page.get_by_role("button", name="Adopt this policy").click()
    expect(page.get_by_text("Version 1 of the retention policy has been adopted.")).to_be_visible()

    nightly(today=date(2033, 6, 1))
    page.goto(live_server + "/")
    page.get_by_role("link", name="past their retention period").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention review queue")
    shoot(page, "queue")
    assert_accessible(page)
    page.get_by_role("button", name="Confirm destruction").first.click()
    expect(page.get_by_text("the nightly run destroys it")).to_be_visible()
    page.get_by_role("link", name="Keep longer").first.click()
    page.get_by_role("button", name="Keep longer").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    shoot(page, "extend-error")
    assert_accessible(page)
    page.get_by_role("link", name="Back to the queue").click()
    page.get_by_role("link", name="Legal holds").click()
    page.get_by_role("button", name="Set the hold").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    shoot(page, "holds-error")
    assert_accessible(page)
    page.get_by_label("Case reference").fill(_reference(year.other))
    page.get_by_label("Domestic homicide review").check()
    page.get_by_label("Who asked for the hold, and why").fill("CSP commissioned a DHR")
    page.get_by_role("button", name="Set the hold").click()
    expect(page.get_by_text("The case's retention clock has stopped.")).to_be_visible()
    shoot(page, "holds")
    assert_accessible(page)
    page.get_by_role("link", name="Back to the queue").click()
    expect(page.get_by_text("Legal hold", exact=True)).to_be_visible()
    shoot(page, "queue-held")


def _reference(case_id: int) -> str:
    from cases.models import Referral
    from hub.core import db

    with db.unit_of_work() as uow:
        return uow.session.get_one(Referral, case_id).reference
