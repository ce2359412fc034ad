"""The agency's referral list in pages, in a real Chromium: the count, the member's drafts
first, and GOV.UK's pagination taking the reader to the next page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_referral_journey import _sign_in
from tests.cases.test_referral_list_paging import _referrals

pytestmark = pytest.mark.browser


def test_the_referral_list_pages_with_govuk_pagination(
    page: Page, live_server: str, world, shoot
) -> None:
    _referrals(world, 120)
    _referrals(world, 2, prefix="DR", status="draft")
    _sign_in(page, live_server, world["police_officer"])
    page.get_by_role("link", name="Referrals", exact=True).first.click()
    expect(page.locator(".hub-list-count")).to_have_text(
        re.compile(r"122 referrals, including 2 drafts you have not sent\. Showing 1 to 50")
    )
    expect(page.get_by_role("link", name="DR-2026-0002")).to_be_visible()
    shoot(page, "01-first-page")
    navigation = page.get_by_role("navigation", name="Pages of your agency's referrals")
    navigation.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"/referrals\?page=2$"))
    expect(page.locator(".hub-list-count")).to_contain_text("Showing 51 to 100")
    expect(page.get_by_role("link", name="DR-2026-0002")).to_have_count(0)
    navigation.get_by_role("link", name="Page 3").click()
    expect(page.get_by_role("link", name="PG-2026-0001")).to_be_visible()
    shoot(page, "02-last-page")
