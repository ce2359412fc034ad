"""Signing in through the real pages, in a real Chromium (the browser tests' first step)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.web import current_code


def sign_in(page: Page, base: str, person: Any) -> None:
    """Sign ``person`` in with password and security code, as themselves, from scratch."""
    page.context.clear_cookies()
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Security code").fill(current_code(person.totp_secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
