"""Helpers for driving the hub's HTML forms the way a browser would (CSRF included)."""

from __future__ import annotations

import re
from typing import Any

import pyotp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: Any, url: str) -> str:
    page = client.get(url)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {url} (status {page.status_code})"
    return found.group(1)


def submit(
    client: Any,
    url: str,
    data: dict[str, Any] | None = None,
    *,
    form_url: str | None = None,
    follow: bool = False,
) -> Any:
    """GET the form page for its CSRF token, then POST the data."""
    token = csrf_token(client, form_url or url)
    payload = {"csrf_token": token, **(data or {})}
    return client.post(url, data=payload, follow_redirects=follow)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def current_code(secret: str, *, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(__import__("datetime").datetime.now()) + offset_steps)


def sign_in(client: Any, email: str, password: str, totp_secret: str | None = None) -> Any:
    """Sign in through the real pages; returns the final response (home page on success)."""
    response = submit(client, "/sign-in", {"email": email, "password": password})
    if response.status_code != 302:
        return response
    location = response.headers["Location"]
    if location.endswith("/sign-in/code"):
        assert totp_secret, "this member needs a TOTP secret"
        for offset in (0, 1):
            response = submit(
                client, "/sign-in/code", {"code": current_code(totp_secret, offset_steps=offset)}
            )
            if response.status_code == 302:
                break
    return response


def signed_in(client: Any, person: Any) -> Any:
    """Give ``client`` a real session for ``person`` without walking the sign-in pages.

    For tests that are not about signing in: the session is started by the same service
    the sign-in pages end with, so every check a request makes of it still runs.
    """
    from agencies.models import Member
    from hub.auth.services import start_session
    from hub.core import db

    member_id = getattr(person, "member_id", None) or person.id
    with db.unit_of_work() as uow:
        token = start_session(uow.session.get_one(Member, member_id), method="local")
    with client.session_transaction() as browser_session:
        browser_session["sid"] = token
        browser_session.permanent = True
    return client


def ledger_results(response: Any) -> str:
    """What an auditor's ledger search found: the page below its Results heading (the search
    form above it lists every action the ledger knows, so the whole page names them all)."""
    return text(response).partition(">Results</h2>")[2]
