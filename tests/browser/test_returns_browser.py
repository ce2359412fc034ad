"""The coordinator opens the quarterly return from the home page, downloads its CSV, sets the
area's figures, looks at the dashboard, validates and submits: in a real Chromium, with
screenshots and axe on every page."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.returns.conftest import Case, hold
from tests.support.axe import assert_accessible
from tests.support.browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # axe-core is injected into each page; the hub's policy rightly refuses such scripts.
    return {**browser_context_args, "bypass_csp": True}


def test_the_coordinator_opens_the_return_and_downloads_it(
    live_server: str, world, page: Page, shoot
) -> None:
    hold(world, date(2026, 4, 9), [Case(), Case(agency="idva", repeat=True, children=2)])
    hold(world, date(2026, 5, 14), [Case(ethnicity="Indian", perpetrators=[None, None])])
    sign_in(page, live_server, world["coordinator"])
    page.get_by_role("link", name="Returns").first.click()
    page.goto(live_server + "/returns/2026-Q2")
    expect(page.get_by_role("heading", level=1)).to_contain_text("April to June 2026")
    expect(page.get_by_role("row", name="14 May 2026")).to_contain_text("2")
    shoot(page, "quarter")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV", exact=True).click()
    assert download.value.suggested_filename == "marac-return-2026-Q2.csv"
    page.get_by_role("link", name="Referral categories").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Referral categories")
    shoot(page, "categories")
    assert_accessible(page)
    page.goto(live_server + "/returns/settings")
    page.get_by_label("Women aged 16 and over in the MARAC's area").fill("20000")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    shoot(page, "settings-error")
    assert_accessible(page)
    page.get_by_label("Where the population figure comes from").fill("ONS Census 2021")
    page.get_by_label("The year the population figure is for").fill("2021")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("The return's settings have been saved.")).to_be_visible()
    page.goto(live_server + "/returns/2026-Q2")
    expect(page.get_by_text("ONS Census 2021")).to_be_visible()
    shoot(page, "measures")
    assert_accessible(page)
    page.get_by_role("button", name="Validate the return").click()
    expect(page.get_by_text("Check before you submit")).to_be_visible()
    shoot(page, "validated")
    assert_accessible(page)
    page.get_by_role("button", name="Submit the return").click()
    expect(page.get_by_role("heading", name="Return to SafeLives")).to_contain_text("Submitted")
    shoot(page, "submitted")
    assert_accessible(page)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("img", name="Cases discussed each quarter")).to_be_visible()
    shoot(page, "dashboard")
    assert_accessible(page)
