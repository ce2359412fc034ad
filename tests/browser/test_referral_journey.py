"""A police officer refers, the coordinator accepts, an IDVA reveals whereabouts with a
reason, and the auditor finds that reveal in the ledger: in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cases import checklists
from tests.support.browser import sign_in as _sign_in

pytestmark = pytest.mark.browser


def _date(page: Page, legend: str, day: str, month: str, year: str) -> None:
    group = page.locator("fieldset", has_text=legend).first
    group.get_by_label("Day").fill(day)
    group.get_by_label("Month").fill(month)
    group.get_by_label("Year").fill(year)


def test_refer_accept_reveal_and_audit(page: Page, live_server: str, world, shoot) -> None:
    _sign_in(page, live_server, world["police_officer"])
    page.get_by_role("link", name="Referrals", exact=True).first.click()
    shoot(page, "01-referrals")
    page.get_by_role("button", name="Refer a case").click()

    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the victim's first name")
    shoot(page, "02-victim-errors")
    page.get_by_label("First name").fill("Amira")
    page.get_by_label("Last name").fill("Browser")
    _date(page, "Date of birth", "3", "4", "1992")
    page.get_by_label("Ethnicity (for equality monitoring)").fill("Asian British")
    shoot(page, "03-victim")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_label("First name", exact=True).fill("Karl")
    page.get_by_label("Last name", exact=True).fill("Browser")
    page.get_by_label("Relationship to the victim", exact=True).fill("Husband")
    page.get_by_label("Another perpetrator the victim fears, if any: first name").fill("Otto")
    page.get_by_label("Their last name").fill("Browser")
    page.get_by_label("Their relationship to the victim").fill("Brother-in-law")
    shoot(page, "03b-perpetrators")
    page.get_by_label("Number of children in the household").fill("1")
    page.get_by_role("button", name="Save and continue").click()

    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    for index, question in enumerate(questions):
        answer = "Yes" if index < 15 else "No"
        page.locator(f"input[name='q_{question.id}'][value='{answer.lower()}']").check()
    shoot(page, "04-risk")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_label("The current incident").fill("Strangled on Saturday; police attended.")
    page.locator("input[name='victim_aware'][value='yes']").check()
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_label("Current address").fill("Room 4, Safe House, Hidden Road")
    page.get_by_label("Safe phone number").fill("07700 900555")
    shoot(page, "05-whereabouts")
    page.get_by_role("button", name="Save and continue").click()

    page.locator("input[name='state'][value='given']").check()
    page.get_by_label("How consent was given, or why it was not sought").fill(
        "In person, alone, with an interpreter"
    )
    page.locator("input[name='categories'][value='diversity']").uncheck()
    shoot(page, "05b-sharing")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Check your answers before sending")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Otto BROWSER")
    expect(page.locator("main")).not_to_contain_text("Hidden Road")
    shoot(page, "06-check")
    page.get_by_role("button", name="Send referral to the MARAC coordinator").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been sent")
    reference = re.search(r"[A-Z]{2}-\d{4}-\d{4}", page.locator("main").inner_text()).group(0)
    shoot(page, "07-sent")

    _sign_in(page, live_server, world["coordinator"])
    page.get_by_role("link", name="Inbox", exact=True).first.click()
    expect(page.locator("main")).to_contain_text("15 Yes (high)")
    shoot(page, "08-inbox")
    page.get_by_role("link", name=reference).click()
    page.get_by_role("button", name="Accept for the MARAC").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("accepted")

    _sign_in(page, live_server, world["idva"])
    page.goto(live_server + "/ledger")  # an IDVA may not read the ledger
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    page.goto(live_server + "/referrals/inbox")
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    page.goto(live_server + f"/cases/{_case_id(reference)}")
    expect(page.locator("main")).to_contain_text("Masked: reveal")
    expect(page.locator("main")).not_to_contain_text("Hidden Road")
    shoot(page, "09-idva-masked")
    page.get_by_label("Why do you need the victim's whereabouts now?").fill(
        "Planning a safe first contact by phone this afternoon"
    )
    page.get_by_role("button", name="Reveal whereabouts").click()
    expect(page.locator("main")).to_contain_text("Hidden Road")
    shoot(page, "10-idva-revealed")

    _sign_in(page, live_server, world["auditor"])
    page.goto(live_server + "/ledger")
    page.get_by_label("Action").select_option("whereabouts:revealed")
    page.get_by_role("button", name="Search the ledger").click()
    expect(page.locator("main table")).to_contain_text("whereabouts:revealed")
    expect(page.locator("main")).to_contain_text("Testshire IDVA Service")
    expect(page.locator("main")).not_to_contain_text("Hidden Road")
    shoot(page, "11-auditor")


def _case_id(reference: str) -> int:
    from sqlalchemy import select

    from cases.models import Referral
    from hub.core import db

    with db.unit_of_work() as uow:
        return int(
            uow.session.execute(
                select(Referral.id).where(Referral.reference == reference)
            ).scalar_one()
        )


def test_consent_after_referral_and_a_possible_repeat(
    page: Page, live_server: str, world, shoot
) -> None:
    from tests.support import cases
    from tests.support.world import actor_of

    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    idva = actor_of(world["idva"])
    second = cases.draft(idva, victim=cases.Names("Jane", "Example", None))
    cases.without_consent(idva, second)
    cases.submit(idva, second)

    _sign_in(page, live_server, world["idva"])
    page.goto(live_server + f"/cases/{second}/consent")
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say whether the victim consented")
    shoot(page, "01-consent-errors")
    page.get_by_label("Given", exact=True).check()
    page.get_by_label("IDVA support for the victim").check()
    page.locator("input[name='consent-categories'][value='health']").check()
    page.get_by_label("Acute health (hospital trust)").check()
    page.get_by_label("How consent was given, or why it was not sought").fill(
        "She agreed at our office, alone, to the hospital IDVA knowing about her injuries"
    )
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Consent recorded")
    expect(page.locator("main")).to_contain_text("to the hospital IDVA knowing")
    shoot(page, "02-consent-recorded")

    _sign_in(page, live_server, world["coordinator"])
    page.get_by_role("link", name="Inbox", exact=True).first.click()
    expect(page.locator("main")).to_contain_text("Possible repeat: check")
    shoot(page, "03-inbox-possible-repeat")
    page.goto(live_server + f"/cases/{second}")
    expect(page.locator("main")).to_contain_text("date of birth missing on one record")
    shoot(page, "04-possible-repeat")
    page.get_by_role("button", name="Same victim and perpetrator: mark as a repeat").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("flagged as a repeat")
    expect(page.locator("main")).to_contain_text("Repeat")
    shoot(page, "05-repeat-confirmed")


def test_risk_settings_and_choosing_a_checklist(page: Page, live_server: str, world, shoot) -> None:
    from tests.support import cases
    from tests.support.world import actor_of

    _sign_in(page, live_server, world["admin"])
    page.get_by_role("link", name="Risk settings").first.click()
    page.get_by_label("Highest score in the medium band").fill("8")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "The medium band must start above the standard band"
    )
    shoot(page, "01-settings-error")
    page.get_by_label("Highest score in the medium band").fill("13")
    page.get_by_label(re.compile("Police DASH")).check()
    page.get_by_label(re.compile("Stalking and harassment add-on")).check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("saved")
    shoot(page, "02-settings-saved")

    referral_id = cases.draft(actor_of(world["police_officer"]), yes=0)
    _sign_in(page, live_server, world["police_officer"])
    page.goto(live_server + f"/referrals/{referral_id}/risk")
    page.get_by_label(re.compile("Police DASH")).check()
    page.get_by_role("button", name="Use this checklist").click()
    expect(page.locator("main")).to_contain_text("27.")
    expect(page.locator("main")).to_contain_text("Stalking and harassment add-on")
    shoot(page, "03-police-dash-and-stalking")
