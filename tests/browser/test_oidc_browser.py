"""Signing in with an agency's own account, in a real Chromium against two real providers.

Also proves the site's Content-Security-Policy (``form-action 'self'``) never blocks the way
to a provider: the agency choice and sign-out move on with a refresh, not with a redirect
that answers a form.
"""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from hub.auth import identity
from hub.auth.models import MemberSession
from hub.core import db
from hub.core.access import Permission
from hub.core.clock import now
from hub.core.routes import require, require_recent_sign_in
from tests.support.agencies_sso import PASSWORD, Providers
from tests.support.web import current_code

pytestmark = pytest.mark.browser


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """Every Content-Security-Policy complaint Chromium prints while the test runs."""
    seen: list[str] = []
    page.on(
        "console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None
    )
    return seen


def _provider_login(page: Page, login: str, password: str = PASSWORD) -> None:
    expect(page.locator("#login-form")).to_be_visible()
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', password)
    page.click("#sign-in")


def _local_sign_in(page: Page, base: str, person: Any) -> None:
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Security code").fill(current_code(person.totp_secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_choosing_an_agency_signs_in_at_its_provider_and_signing_out_ends_both(
    page: Page,
    live_server: str,
    browser_providers: Providers,
    browser_idps: Any,
    shoot: Any,
    csp_violations: list[str],
) -> None:
    health = browser_idps[1]
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="Sign in to MARAC Hub")).to_be_visible()
    shoot(page, "01-sign-in")
    page.get_by_label("Your agency").select_option(label="Testshire Hospital")
    page.get_by_role("button", name="Continue to your agency").click()
    page.wait_for_url(re.compile("^" + re.escape(health.issuer)))
    shoot(page, "02-provider-login")
    _provider_login(page, "nina@nhs.test")
    expect(page.get_by_role("heading", name="Welcome, Nina Patel")).to_be_visible()
    expect(page.locator(".hub-header__agency")).to_have_text("Testshire Hospital")
    shoot(page, "03-home")

    _sign_out(page)
    page.wait_for_url(re.compile("^" + re.escape(health.issuer)))
    shoot(page, "04-provider-sign-out")
    page.click("#confirm-logout")
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    shoot(page, "05-signed-out")
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile("/sign-in"))
    assert csp_violations == []


def test_the_interstitial_page_names_the_agency(
    page: Page, live_server: str, browser_providers: Providers, shoot: Any
) -> None:
    # Without following the refresh, so a person sees where they are going.
    page.route(re.compile(r".*/sign-in/agency/\d+/start$"), lambda route: route.fulfill(status=204))
    page.goto(f"{live_server}/sign-in/agency?agency={browser_providers.police_agency}")
    expect(page.get_by_role("heading", name="Sign in with Testshire Police")).to_be_visible()
    shoot(page, "01-on-to-the-provider")


def test_finding_the_agency_by_email_then_waiting_for_approval(
    page: Page,
    live_server: str,
    browser_providers: Providers,
    world: Any,
    shoot: Any,
    csp_violations: list[str],
) -> None:
    page.goto(live_server + "/sign-in")
    page.get_by_label("Work email").fill("alice@police.test")
    page.get_by_role("button", name="Find my agency").click()
    _provider_login(page, "alice@police.test")
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    shoot(page, "01-waiting-for-approval")

    _local_sign_in(page, live_server, world["admin"])
    page.get_by_role("link", name="Sign-in requests").first.click()
    expect(page.get_by_role("heading", name="People waiting for approval")).to_be_visible()
    shoot(page, "02-approvals")
    page.get_by_role("link", name="Alice Idris").click()
    expect(page.get_by_label("Practitioner")).to_be_checked()  # her provider's suggestion
    shoot(page, "03-approve")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("can now sign in")
    _sign_out(page)

    page.goto(live_server + "/sign-in")
    page.get_by_label("Your agency").select_option(label="Testshire Police")
    page.get_by_role("button", name="Continue to your agency").click()
    # Still signed in at her provider from before: single sign-on, no password asked.
    expect(page.get_by_role("heading", name="Welcome, Alice Idris")).to_be_visible()
    assert csp_violations == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refusals_and_an_unavailable_provider_get_clear_pages(
    page: Page, live_server: str, browser_providers: Providers, world: Any, shoot: Any
) -> None:
    page.goto(live_server + "/sign-in")
    page.get_by_label("Your agency").select_option(label="Testshire Police")
    page.get_by_role("button", name="Continue to your agency").click()
    _provider_login(page, "mallory@nhs.test")
    expect(
        page.get_by_role("heading", name="Your account belongs to another agency")
    ).to_be_visible()
    shoot(page, "01-wrong-agency")

    with db.unit_of_work():
        identity.get_provider(
            browser_providers.police
        ).issuer = f"http://127.0.0.1:{_closed_port()}"
    page.goto(live_server + "/sign-in")
    page.get_by_label("Your agency").select_option(label="Testshire Police")
    page.get_by_role("button", name="Continue to your agency").click()
    expect(
        page.get_by_role("heading", name="Testshire Police's sign-in service is not available")
    ).to_be_visible()
    shoot(page, "02-provider-unavailable")
    # Local sign-in is unaffected.
    _local_sign_in(page, live_server, world["idva"])


def _sensitive_route(app: Any) -> None:
    @app.route("/test/sensitive")
    @require(Permission.SESSION_USE)
    @require_recent_sign_in()
    def sensitive() -> str:
        return "<h1>Sensitive action done</h1>"


def _signed_in_long_ago(app: Any) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(MemberSession).values(authenticated_at=now() - timedelta(minutes=60))
        )


def test_step_up_asks_again_at_the_provider_or_for_password_and_code(
    app: Any,
    page: Page,
    live_server: str,
    browser_providers: Providers,
    world: Any,
    shoot: Any,
    csp_violations: list[str],
) -> None:
    _sensitive_route(app)
    idva = world["idva"]
    _local_sign_in(page, live_server, idva)
    _signed_in_long_ago(app)
    page.goto(live_server + "/test/sensitive")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    shoot(page, "01-local-confirm")
    page.get_by_label("Password", exact=True).fill(idva.password)
    page.get_by_label("Security code").fill(current_code(idva.totp_secret, offset_steps=1))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Sensitive action done")).to_be_visible()
    page.goto(live_server + "/")
    _sign_out(page)

    page.goto(live_server + "/sign-in")
    page.get_by_label("Your agency").select_option(label="Testshire Hospital")
    page.get_by_role("button", name="Continue to your agency").click()
    _provider_login(page, "nina@nhs.test")
    _signed_in_long_ago(app)
    page.goto(live_server + "/test/sensitive")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    shoot(page, "02-provider-confirm")
    page.get_by_role("button", name="Sign in again with Testshire Hospital").click()
    _provider_login(page, "nina@nhs.test")  # prompt=login: the provider asks again
    expect(page.get_by_role("heading", name="Sensitive action done")).to_be_visible()
    assert csp_violations == []


def test_the_administrator_connects_a_provider_and_registers_an_api_client(
    page: Page, live_server: str, browser_providers: Providers, world: Any, shoot: Any
) -> None:
    _local_sign_in(page, live_server, world["admin"])
    page.get_by_role("link", name="Sign-in", exact=True).first.click()
    expect(page.get_by_role("heading", name="Agencies' own sign-in")).to_be_visible()
    shoot(page, "01-providers")

    page.get_by_role("button", name="Connect an identity provider").click()
    page.get_by_label("Environment variable holding the client secret").fill("s3cret value!")
    page.get_by_role("button", name="Save identity provider").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter the provider's issuer URL")
    expect(summary).to_contain_text("not the secret itself")
    shoot(page, "02-provider-errors")
    page.get_by_label("Agency").select_option(label="Testshire Homes")
    page.get_by_label("Issuer URL").fill("https://login.homes.example/realms/staff")
    page.get_by_label("Client ID").fill("marac-hub")
    page.get_by_label("Environment variable holding the client secret").fill("HUB_IDP_HOMES_SECRET")
    page.get_by_label("Claim carrying roles or groups").fill("groups")
    page.get_by_label("Role mapping", exact=True).fill(
        "marac-reps = marac_rep\nstaff = practitioner"
    )
    page.get_by_role("button", name="Save identity provider").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Testshire Homes")
    shoot(page, "03-provider-saved")

    page.goto(f"{live_server}/admin/identity-providers/{browser_providers.health}")
    page.get_by_role("button", name="Check the connection now").click()
    expect(page.locator("#check-results")).to_be_visible()
    expect(page.locator(".hub-findings")).to_contain_text("key set has")
    shoot(page, "04-connection-check")

    page.goto(live_server + "/admin/api-clients/new")
    page.get_by_role("button", name="Register API client").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name")
    shoot(page, "05-api-client-errors")
    page.get_by_label("Agency").select_option(label="Testshire Police")
    page.get_by_label("Name of the system").fill("Police records system")
    page.get_by_label("Client ID in its tokens").fill("police-records")
    page.get_by_label("referrals:read").check()
    page.get_by_role("button", name="Register API client").click()
    expect(page.get_by_role("heading", name="API clients")).to_be_visible()
    expect(page.locator("table")).to_contain_text("police-records")
    shoot(page, "06-api-clients")
