"""Each role does its job from its home page by links alone, on the demo `make run` gives.

The demo is seeded as a newcomer gets it; each person signs in with the demo password and
then only clicks what the pages show (never an address typed). Every page a journey lands
on is checked with axe-core and photographed for people to look at. The referrer's own job
(refer a case from the Referrals page) is tests/browser/test_referral_journey.py; the
administrator's is tests/browser/test_house_journey.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hub.demo import DEMO_PASSWORD
from tests.support.axe import assert_accessible
from tests.web.test_demo_cases import _seed

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # axe-core is injected into each page; the hub's policy rightly refuses such scripts.
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"demo": True}  # demo accounts sign in with the demo password alone


@pytest.fixture
def demo(app: Any) -> None:
    _seed(app.extensions["hub.settings"])


def _home(page: Page, base: str, email: str) -> None:
    page.set_default_timeout(8000)
    page.context.clear_cookies()
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def _look(page: Page, shoot: Any, step: str) -> None:
    assert_accessible(page)
    shoot(page, step)


def _choose(page: Page, label: str, containing: str) -> None:
    """Select the option of the ``label`` list whose text contains ``containing``."""
    field = page.get_by_label(label)
    option = field.locator("option", has_text=containing).first
    field.select_option(value=option.get_attribute("value"))


def _go_home(page: Page) -> None:
    page.get_by_role("link", name="Home", exact=True).first.click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def test_the_coordinator_triages_and_prepares_the_meeting(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _home(page, live_server, "coordinator@csp.northbridge.example")
    _look(page, shoot, "01-home")
    page.get_by_role("link", name=re.compile("in the MARAC inbox")).click()
    expect(page.get_by_role("heading", name="Referral inbox")).to_be_visible()
    _look(page, shoot, "02-inbox")
    page.get_by_role("table", name="Referrals waiting for your decision").get_by_role(
        "link"
    ).first.click()
    expect(page.get_by_role("heading", name="Claire DAWSON")).to_be_visible()
    _look(page, shoot, "03-referral")
    page.get_by_role("button", name="Accept for the MARAC").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("accepted")
    _look(page, shoot, "04-accepted")

    _go_home(page)
    page.get_by_role("link", name=re.compile(r"^Scheduled, ")).first.click()
    _look(page, shoot, "05-meeting")
    page.get_by_role("button", name="Build the agenda from accepted referrals").click()
    expect(page.get_by_role("table").first).to_contain_text("DAWSON")
    _look(page, shoot, "06-agenda")
    page.get_by_role("link", name="Circulate the agenda").click()
    _look(page, shoot, "07-circulate")
    page.get_by_role("button", name="Send the agenda to these agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    _look(page, shoot, "08-circulated")


def _circulate_the_coming_meeting() -> None:
    """What the coordinator's journey above ends with, done here through the services."""
    from sqlalchemy import select

    from agencies import services as agencies
    from hub.core import db
    from meetings import services as meetings
    from meetings.models import Meeting, MeetingStatus

    with db.unit_of_work():
        member = agencies.find_member_by_email("coordinator@csp.northbridge.example")
        assert member is not None
        coming = db.session().execute(
            select(Meeting).where(Meeting.status == MeetingStatus.PLANNED).order_by(Meeting.held_on)
        )
        meetings.circulate_agenda(agencies.actor_for(member), coming.scalars().first())


def test_an_invited_hospital_researches_and_updates_its_tasks(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _circulate_the_coming_meeting()
    _home(page, live_server, "h.price@hospital.northbridge.example")
    _look(page, shoot, "01-home")
    page.get_by_role("link", name=re.compile(r"^Scheduled, ")).first.click()
    _look(page, shoot, "02-agenda")
    page.get_by_role("link", name=re.compile("^Research")).first.click()
    page.get_by_label("Facts: what your agency's records show").fill(
        "Seen in the emergency department on 2 November with bruising to the neck."
    )
    _look(page, shoot, "03-research")
    page.get_by_role("button", name="Save research").click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    _look(page, shoot, "04-research-saved")

    _go_home(page)
    page.get_by_role("table").first.get_by_role("link").first.click()
    page.get_by_label("Done", exact=True).check()
    page.get_by_label("Note (optional)").fill("Police told on the day; the patient is safe.")
    _look(page, shoot, "05-task")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    _look(page, shoot, "06-task-done")


def test_the_idva_takes_queue_work_and_brings_a_colleague_onto_the_case(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _home(page, live_server, "l.novak@idva.northbridge.example")
    page.get_by_role("link", name=re.compile("in your agency's queue")).click()
    _look(page, shoot, "01-queue")
    page.get_by_role("table").first.get_by_role("link").first.click()
    page.get_by_role("button", name="Take this task").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("on your list")
    _look(page, shoot, "02-taken")

    field = page.get_by_label("Give the task to")
    expect(field.locator("option", has_text="Kim Baker")).to_have_count(0)
    expect(page.get_by_text("Add them to the case team on the case page")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"open the case")).click()
    page.get_by_label("Add a colleague from your agency").select_option(label="Kim Baker")
    page.get_by_role("button", name="Add to case team").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("added to the case team")
    _look(page, shoot, "04-team")
    page.go_back()
    page.go_back()
    page.reload()
    _choose(page, "Give the task to", "Kim Baker")
    page.get_by_role("button", name="Give task").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Kim Baker")
    _look(page, shoot, "05-given")

    _home(page, live_server, "k.baker@idva.northbridge.example")
    _look(page, shoot, "06-colleague-home")
    page.get_by_role("table").first.get_by_role("link").first.click()
    _look(page, shoot, "07-colleague-task")


def test_housing_opens_the_case_shared_with_it_and_brings_its_officer_onto_the_team(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _home(page, live_server, "o.hughes@homes.northbridge.example")
    expect(page.get_by_role("link", name="NO-2026-0004")).to_have_count(0)  # not on the team
    _look(page, shoot, "01-officer-home")
    _home(page, live_server, "f.noor@homes.northbridge.example")
    _look(page, shoot, "02-manager-home")
    page.get_by_role("link", name="NO-2026-0004").first.click()
    expect(page.get_by_role("heading", name="Whereabouts", exact=True)).to_be_visible()
    page.get_by_label("Add a colleague from your agency").select_option(label="Owen Hughes")
    page.get_by_role("button", name="Add to case team").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("added to the case team")
    _look(page, shoot, "03-team")
    _home(page, live_server, "o.hughes@homes.northbridge.example")
    page.get_by_role("link", name="NO-2026-0004").first.click()
    expect(
        page.get_by_text("Masked: reveal the victim's whereabouts only with a reason")
    ).to_be_visible()
    _look(page, shoot, "04-officer-case")


def test_the_chair_opens_the_coming_meeting_and_the_last_minutes(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _circulate_the_coming_meeting()
    _home(page, live_server, "chair@police.northbridge.example")
    _look(page, shoot, "01-home")
    page.get_by_role("link", name=re.compile(r"^Scheduled, ")).first.click()
    page.get_by_role("link", name="Run the meeting").click()
    _look(page, shoot, "02-run")
    _go_home(page)
    page.get_by_role("link", name="All meetings").click()
    _look(page, shoot, "03-meetings")
    page.get_by_role("row", name=re.compile("Emergency")).get_by_role("link").click()
    page.get_by_role("link", name="Minutes", exact=True).click()
    _look(page, shoot, "04-minutes")
    pdf = page.get_by_role("link", name=re.compile("PDF")).first.get_attribute("href")
    assert pdf
    response = page.request.get(live_server + pdf)
    assert response.ok and response.headers["content-type"] == "application/pdf"


def test_the_auditor_finds_who_has_seen_a_case(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _home(page, live_server, "auditor@csp.northbridge.example")
    _look(page, shoot, "01-home")
    page.get_by_label("Who has seen a case").fill("NO-2026-0002")
    page.get_by_role("button", name="Show who has seen it").click()
    expect(page.get_by_role("heading", name="Who has seen case NO-2026-0002")).to_be_visible()
    expect(page.get_by_role("heading", name="Northbridge General Hospital")).to_be_visible()
    _look(page, shoot, "02-who-has-seen")
    page.get_by_role("link", name="Back to the ledger").click()
    page.get_by_label("Case reference").fill("NO-2026-0002")
    page.get_by_role("button", name="Search the ledger").click()
    _look(page, shoot, "03-results")
    page.locator("table").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile("Ledger entry"))).to_be_visible()
    _look(page, shoot, "04-entry")


def test_a_gp_follows_a_deferred_referral(
    page: Page, live_server: str, demo: None, shoot: Any
) -> None:
    _home(page, live_server, "dr.lee@riverside-gp.example")
    _look(page, shoot, "01-home")
    page.get_by_role("link", name="NO-2026-0006").first.click()
    expect(page.get_by_text("Why the coordinator deferred it")).to_be_visible()
    expect(page.get_by_text("Waiting for the police incident log")).to_be_visible()
    _look(page, shoot, "02-deferred")


def test_the_coordinator_sends_the_last_quarters_return(
    page: Page, live_server: str, app: Any, demo: None, shoot: Any
) -> None:
    """On the demo with its imported year: home -> Returns -> validate and submit the last
    complete quarter, download both files, look at the dashboard."""
    from hub import demo_history
    from hub.core import db
    from hub.core.clock import today_london
    from returns.compute import Quarter

    with db.unit_of_work():
        demo_history.seed_history(app.extensions["hub.settings"])
    _home(page, live_server, "coordinator@csp.northbridge.example")
    page.get_by_role("link", name="Returns", exact=True).first.click()
    last = Quarter.containing(today_london()).previous
    expect(page.get_by_role("heading", level=1)).to_contain_text(last.label)
    _look(page, shoot, "01-return")
    page.get_by_role("button", name="Validate the return").click()
    _look(page, shoot, "02-validated")
    page.get_by_role("button", name="Submit the return").click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    _look(page, shoot, "03-submitted")
    for name, suffix in (("Download CSV", ".csv"), ("Download spreadsheet (XLSX)", ".xlsx")):
        with page.expect_download() as download:
            page.get_by_role("link", name=name).click()
        assert download.value.suggested_filename.endswith(suffix)
        assert download.value.path().stat().st_size > 100
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator("svg[role='img']").first).to_be_visible()
    _look(page, shoot, "04-dashboard")
