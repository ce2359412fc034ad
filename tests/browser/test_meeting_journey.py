"""A whole conference in a real Chromium: the coordinator builds and circulates the agenda,
an agency adds research, the chair records attendance, two cases and their actions (the
autosave surviving a dropped connection), closes and approves; the coordinator sends the
minutes out; a practitioner downloads her agency's extract; the auditor finds the download."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pypdf
import pytest
import time_machine
from playwright.sync_api import Page, expect

from hub.core.clock import LONDON, today_london
from tests.meetings.conftest import accepted_case
from tests.support.browser import sign_in as _sign_in

pytestmark = pytest.mark.browser


def _date(page: Page, legend: str, day) -> None:
    group = page.locator("fieldset", has_text=legend).first
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def _fill_case(page: Page, world, *, children: str) -> None:
    page.get_by_label("Reason for referral and the risks (referring agency)").fill(
        "Strangled on Friday night; 15 Yes answers; escalation since she left him."
    )
    page.get_by_label("The victim's views and needs (IDVA)").fill(
        "Wants to stay in her flat with better locks; fears his brother."
    )
    page.get_by_label("Risks to the victim").fill("Serious harm likely before the trial.")
    page.get_by_label("Risks to children").fill(children)
    page.get_by_label("Risks from and to the perpetrator").fill("On bail; drinking heavily.")
    page.get_by_label("Risks to professionals").fill("None known.")
    page.locator("#informs_victim_agency_id").select_option(label="Testshire IDVA Service")


def _agree_action(page: Page, text: str, owner: str) -> None:
    page.get_by_label("Action", exact=True).fill(text)
    page.get_by_label("Owner (agency and person)").select_option(label=owner)
    _date(page, "Due date", today_london() + timedelta(days=7))
    page.get_by_role("button", name="Agree the action").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Action agreed")


def test_a_conference_from_agenda_to_an_agency_extract(
    page: Page, live_server: str, world, shoot, output_dir
) -> None:
    def top_shot(step: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")  # the chair's sticky case bar at the top
        shoot(page, step)

    accepted_case(world, "nurse", index=0)
    accepted_case(world, "housing_officer", index=1)
    when = today_london() + timedelta(days=12)

    # The coordinator schedules a meeting, builds the agenda and circulates it. She keeps her
    # own browser window: signing in twice could reuse a one-time code, which is refused.
    coordinator = page.context.browser.new_page()
    main_page, page = page, coordinator
    _sign_in(page, live_server, world["coordinator"])
    page.get_by_role("link", name="Meetings", exact=True).first.click()
    page.get_by_role("link", name="Schedule meetings").click()
    page.get_by_label("One ad hoc meeting").check()
    _date(page, "Date of the (first) meeting", when)
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Where").fill("Town Hall, Committee Room 2")
    shoot(page, "01-schedule")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("1 meeting scheduled")
    page.get_by_role("button", name="Build the agenda from accepted referrals").click()
    expect(page.locator(".hub-agenda")).to_contain_text("Jane EXAMPLE")
    expect(page.locator(".hub-agenda")).to_contain_text("Amira KHAN")
    shoot(page, "02-agenda-built")
    meeting_url = page.url.split("#")[0]
    page.get_by_role("link", name="Circulate the agenda").click()
    expect(page.get_by_label("Testshire Police")).to_be_checked()
    shoot(page, "03-circulate")
    page.get_by_role("button", name="Send the agenda to these agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Agenda circulated")
    shoot(page, "04-circulated")
    page = main_page

    # The hospital's MARAC representative researches the first case.
    _sign_in(page, live_server, world["health_rep"])
    page.goto(meeting_url)
    page.get_by_role("link", name=re.compile(r"^Research")).first.click()
    expect(page.get_by_role("heading", name="Jane EXAMPLE")).to_be_visible()
    page.get_by_label("Facts: what your agency's records show").fill(
        "Attended A&E on 3 October with bruising to the neck; said she fell."
    )
    page.get_by_label("Professional opinion (kept apart from the facts)").fill(
        "The injuries were not consistent with a fall."
    )
    page.get_by_label("Held but not shared (1)").fill("Her mental health history")
    page.locator("#withheld_reason_0").fill("Not relevant to the current risk")
    page.get_by_label("What your agency will share at the meeting").fill(
        "A&E attendance in October with neck injuries inconsistent with the account given."
    )
    page.get_by_role("button", name="Save research").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Only your agency")
    shoot(page, "05-research")

    # On the day (the clock moves on: everyone signs in again), the chair runs the meeting;
    # a meeting is closed once it has been held, never before its date.
    with time_machine.travel(datetime.combine(when, time(10, 5), LONDON), tick=True):
        # The chair runs the meeting.
        _sign_in(page, live_server, world["chair"])
        page.goto(meeting_url)
        page.get_by_role("link", name="Run the meeting").click()
        page.get_by_role("button", name="The statement has been read out").click()
        for agency, name in (
            ("Testshire Hospital", "Helen Rep"),
            ("Testshire IDVA Service", "Ida Vale"),
        ):
            page.get_by_label("Present", exact=True).check()
            page.get_by_label("Agency").select_option(label=agency)
            page.get_by_label("Name", exact=True).fill(name)
            page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_label("Observer", exact=True).check()
        page.get_by_label("Name", exact=True).fill("Sam Student")
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator(".govuk-error-summary")).to_contain_text(
            "must sign the confidentiality statement"
        )
        shoot(page, "06-attendance-error")
        page.locator("#confidentiality_signed").check()
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator("#attendance + table, table").first).to_contain_text("Sam Student")
        shoot(page, "07-opening")
        page.get_by_role("link", name="Start with case 1").click()

        expect(page.get_by_role("heading", name="Jane EXAMPLE")).to_be_visible()
        _fill_case(page, world, children="Two children at home witnessed the assault.")
        expect(page.locator("#autosave-status")).to_contain_text("Saved at", timeout=10_000)
        # The connection drops while the chair types: nothing is lost.
        page.context.set_offline(True)
        page.get_by_label("Risks to professionals").fill("Threatened a housing officer in March.")
        expect(page.locator("#autosave-status")).to_contain_text("Offline", timeout=10_000)
        top_shot("08-offline")
        page.context.set_offline(False)
        expect(page.locator("#autosave-status")).to_contain_text("Saved at", timeout=15_000)
        page.reload()
        expect(page.get_by_label("Risks to professionals")).to_have_value(
            "Threatened a housing officer in March."
        )
        page.get_by_label("What the agency shared").fill("Police: three call-outs since June.")
        page.locator("#shared-agency_id").select_option(label="Testshire Police")
        page.get_by_role("button", name="Record as shared").click()
        _agree_action(
            page,
            "Offer a safe follow-up appointment and flag the records",
            "Testshire Hospital – Health Rep",
        )
        top_shot("09-case-1")
        page.get_by_role("button", name=re.compile("Case discussed")).click()

        expect(page.get_by_role("heading", name="Amira KHAN")).to_be_visible()
        expect(page.locator(".hub-case-nav")).to_contain_text("Case 2 of 2")
        page.wait_for_load_state()  # the chair's script listens for keys once the page has loaded
        page.keyboard.press("k")  # back to the first case from the keyboard
        expect(page.get_by_role("heading", name="Jane EXAMPLE")).to_be_visible()
        page.wait_for_load_state()
        # The single-key shortcuts can be turned off, and this laptop remembers the choice.
        first_case = page.url
        shortcuts = page.get_by_label("Use the j and k keys to move between cases")
        expect(shortcuts).to_be_checked()
        shortcuts.uncheck()
        page.get_by_role("heading", name="Jane EXAMPLE").click()  # focus out of the box
        page.keyboard.press("j")
        page.reload()
        expect(page).to_have_url(first_case)
        expect(page.get_by_role("heading", name="Jane EXAMPLE")).to_be_visible()
        expect(shortcuts).not_to_be_checked()
        top_shot("09b-shortcuts-off")
        shortcuts.check()
        page.get_by_role("heading", name="Jane EXAMPLE").click()
        page.keyboard.press("Shift+J")  # never with a modifier
        page.keyboard.press("j")
        expect(page.get_by_role("heading", name="Amira KHAN")).to_be_visible()
        expect(page.locator(".hub-case-nav")).to_contain_text("Case 2 of 2")

        # An error's link moves focus to its field far down the page; the field and its
        # question scroll into view below the sticky case bar, never under it.
        page.get_by_role("button", name="Agree the action").click()
        summary = page.locator(".govuk-error-summary")
        expect(summary).to_be_visible()
        summary.get_by_role("link").first.click()
        focused = page.locator(":focus")
        expect(focused).to_be_visible()
        label = page.locator(f"label[for='{focused.get_attribute('id')}']")
        bar = page.locator(".hub-case-nav").bounding_box()
        assert bar and bar["y"] == 0  # the bar is stuck at the top: the page has scrolled
        for seen in (focused.bounding_box(), label.bounding_box()):
            assert seen and seen["y"] >= bar["height"], (bar, seen)
        shoot(page, "09c-error-link-below-bar")
        _fill_case(page, world, children="No children in the household.")
        expect(page.locator("#autosave-status")).to_contain_text("Saved at", timeout=10_000)
        _agree_action(
            page,
            "IDVA to agree a safety plan with the victim this week",
            "Testshire IDVA Service – Idva",
        )
        top_shot("10-case-2")
        page.get_by_role("button", name=re.compile("Case discussed")).click()
        page.get_by_role("button", name="Close the meeting").click()
        expect(page.locator(".govuk-notification-banner")).to_contain_text("meeting is closed")
        page.get_by_role("button", name="Approve the minutes").click()
        expect(page.locator(".govuk-notification-banner")).to_contain_text("Minutes approved")
        shoot(page, "11-minutes-approved")

        # The coordinator sends them out.
        _sign_in(coordinator, live_server, world["coordinator"])
        coordinator.goto(meeting_url + "/minutes")
        coordinator.get_by_role("button", name="Send out the minutes").click()
        expect(coordinator.locator(".govuk-notification-banner")).to_contain_text(
            "Minutes sent out"
        )
        shoot(coordinator, "12-sent-out")
        coordinator.close()

        # The referring nurse downloads her agency's extract.
        _sign_in(page, live_server, world["nurse"])
        page.get_by_role("link", name="Meetings", exact=True).first.click()
        page.get_by_role("link", name=re.compile(r"at 10:00")).click()
        shoot(page, "13-practitioner-meeting")
        with page.expect_download() as downloaded:
            page.get_by_role("link", name="Download your agency's extract (PDF)").click()
        data = Path(downloaded.value.path()).read_bytes()
        (output_dir / "meeting-journey-extract.pdf").write_bytes(data)
        pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages]
        everything = " ".join(pages)
        assert (
            "RESTRICTED when completed" in pages[0]
            and "Issued to Nurse, Testshire Hospital" in pages[0]
        )
        assert "Jane EXAMPLE" in everything and "Amira KHAN" not in everything
        assert "Police: three call-outs since June." in everything
        assert "neck injuries" not in everything  # research not shared stays with the hospital
        assert "Flat 2, 10 Secret Street" not in everything

        # The auditor finds that download, with its fingerprint.
        _sign_in(page, live_server, world["auditor"])
        page.goto(live_server + "/ledger")
        page.get_by_label("Action").select_option("minutes:downloaded")
        page.get_by_role("button", name="Search the ledger").click()
        expect(page.locator("main table")).to_contain_text("minutes:downloaded")
        shoot(page, "14-auditor")
        digest = hashlib.sha256(data).hexdigest()
        page.locator("main tr", has_text="minutes:downloaded").first.locator("a").first.click()
        expect(page.locator("main")).to_contain_text(digest)
        shoot(page, "15-auditor-entry")
