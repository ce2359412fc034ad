"""A member signs in with TOTP, manages a member, and signs out, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.web import current_code

pytestmark = pytest.mark.browser


def test_admin_signs_in_with_totp_manages_a_member_and_signs_out(
    page: Page, live_server: str, world, shoot
) -> None:
    admin = world["admin"]
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    shoot(page, "01-sign-in")

    page.get_by_label("Email address").fill(admin.email)
    page.get_by_label("Password", exact=True).fill("wrong password entirely")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("not right")
    shoot(page, "02-sign-in-error")

    page.get_by_label("Password", exact=True).fill(admin.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your security code")).to_be_visible()
    shoot(page, "03-code")
    page.get_by_label("Security code").fill(current_code(admin.totp_secret))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    expect(page.locator(".hub-header__agency")).to_have_text("Testshire Community Safety")
    shoot(page, "04-home")

    page.get_by_role("link", name="Members", exact=True).first.click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    shoot(page, "05-members")

    page.get_by_role("button", name="Add a member").click()
    page.get_by_role("button", name="Save member").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the member's full name")
    shoot(page, "06-member-errors")

    page.get_by_label("Full name").fill("Robin Example")
    page.get_by_label("Email address").fill("robin@homes.test")
    page.get_by_label("Job title").fill("Tenancy officer")
    page.get_by_label("Agency").select_option(label="Testshire Homes")
    page.get_by_label("Practitioner").check()
    page.get_by_role("button", name="Save member").click()
    expect(page.get_by_role("heading", name="Robin Example")).to_be_visible()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("has been added")
    shoot(page, "07-member-added")

    page.get_by_role("button", name="Create sign-in link").click()
    expect(page.locator("#invitation-link")).to_contain_text("/invitation/")
    shoot(page, "08-invitation")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to MARAC Hub")).to_be_visible()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("signed out")
    shoot(page, "09-signed-out")
    page.goto(live_server + "/admin/members")
    expect(page).to_have_url(re.compile(r"/sign-in"))
