"""The data protection officer answers a victim's subject access request from the home page,
in a real Chromium: record, match, check identity, review the bundle, download the PDF."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support import cases
from tests.support.axe import assert_accessible
from tests.support.browser import sign_in
from tests.support.world import actor_of

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # axe-core is injected into each page; the hub's policy rightly refuses such scripts.
    return {**browser_context_args, "bypass_csp": True}


def test_the_officer_answers_a_request_from_home(
    live_server: str, world, page: Page, shoot, output_dir
) -> None:
    officer = actor_of(world["police_officer"])
    case_id = cases.draft(officer)
    cases.with_consent(officer, case_id)
    cases.submit(officer, case_id)
    cases.accept(actor_of(world["coordinator"]), case_id)
    sign_in(page, live_server, world["auditor"])
    shoot(page, "home")
    page.get_by_role("link", name="Subject access requests").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subject access requests")
    assert_accessible(page)
    shoot(page, "index")
    page.get_by_role("link", name="Record a request").click()
    page.get_by_role("button", name="Record the request").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page)
    shoot(page, "new-error")
    page.get_by_label("Requester's name").fill("Jane Example")
    page.get_by_label("Subject's first name").fill("Jane")
    page.get_by_label("Subject's last name").fill("Example")
    born = page.get_by_role("group", name="Subject's date of birth")
    born.get_by_label("Day").fill("17")
    born.get_by_label("Month").fill("5")
    born.get_by_label("Year").fill("1990")
    received = page.get_by_role("group", name="Date the request was received")
    received.get_by_label("Day").fill("1")
    received.get_by_label("Month").fill("12")
    received.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Record the request").click()
    expect(page.get_by_text("It is due on 1 January 2027")).to_be_visible()
    assert_accessible(page)
    shoot(page, "received")
    page.get_by_label("Jane EXAMPLE").check()
    page.get_by_role("button", name="Choose this person").click()
    page.get_by_label("How was the requester's identity checked?").fill(
        "Passport and a council tax bill seen in person"
    )
    page.get_by_role("button", name="Record the identity check").click()
    page.get_by_role("button", name="Start the review").click()
    page.get_by_role("link", name="Review the bundle and its redactions").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jane EXAMPLE")
    assert_accessible(page)
    shoot(page, "bundle")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the response (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    download.value.save_as(output_dir / "subject-access-browser.pdf")
    page.get_by_role("link", name="Back to the request").click()
    page.get_by_role("button", name="Mark the response as sent").click()
    expect(page.get_by_text("The response has been marked as sent.")).to_be_visible()
    shoot(page, "sent")


def test_the_officer_restricts_a_case_and_the_coordinator_is_told_why_it_is_quiet(
    live_server: str, world, page: Page, shoot
) -> None:
    from tests.subject_access.conftest import open_request

    officer = actor_of(world["police_officer"])
    case_id = cases.draft(officer)
    cases.with_consent(officer, case_id)
    cases.submit(officer, case_id)
    cases.accept(actor_of(world["coordinator"]), case_id)
    request_id = open_request(
        actor_of(world["auditor"]), cases.VICTIM.given, cases.VICTIM.family, cases.VICTIM.born_on
    )
    sign_in(page, live_server, world["auditor"])
    page.goto(f"{live_server}/subject-access/{request_id}")
    expect(page.get_by_role("heading", name="Restrict processing")).to_be_visible()
    page.get_by_role("button", name="Restrict processing of this case").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page)
    shoot(page, "restrict-error")
    page.get_by_label("Case").select_option(str(case_id))
    page.get_by_label("The person contests its accuracy (Art. 18(1)(a))").check()
    page.get_by_label("What the person asked for").fill(
        "She says the address recorded in March was never hers"
    )
    page.get_by_role("button", name="Restrict processing of this case").click()
    expect(page.get_by_text("Processing of the case is restricted")).to_be_visible()
    assert_accessible(page)
    shoot(page, "restricted")
    page.get_by_role("button", name="Sign out").first.click()
    sign_in(page, live_server, world["coordinator"])
    page.goto(f"{live_server}/cases/{case_id}")
    expect(page.get_by_text("Processing of this case is restricted since")).to_be_visible()
    assert_accessible(page)
    shoot(page, "coordinator-case")
