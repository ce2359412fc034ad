"""The time-out warning: signed-in pages tell the script the idle limit, and "Stay signed
in" counts as activity so the session goes on."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine

from hub.auth.models import MemberSession
from hub.core import db
from hub.core.clock import now
from tests.support.web import csrf_token, signed_in, text

STAY = "/session/stay-signed-in"


def _last_seen(member_id: int):
    with db.unit_of_work() as uow:
        row = uow.session.query(MemberSession).filter_by(member_id=member_id).one()
        return row.last_seen_at, row.ended_at


def test_signed_in_pages_carry_the_idle_limit_and_the_warning(client, world) -> None:
    signed_in(client, world["nurse"])
    page = text(client.get("/"))
    assert 'data-hub-idle-minutes="15"' in page
    assert re.search(r'data-hub-idle-left="(89\d|900)"', page)
    assert 'data-hub-idle-warning="120"' in page
    assert '<dialog class="hub-timeout"' in page and "Stay signed in" in page


def test_the_sign_in_page_carries_no_idle_limit(client) -> None:
    page = text(client.get("/sign-in"))
    assert "data-hub-idle-minutes" not in page and "hub-timeout" not in page


def test_stay_signed_in_extends_the_session(client, world) -> None:
    person = world["nurse"]
    signed_in(client, person)
    token = csrf_token(client, "/")
    before, _ = _last_seen(person.member_id)
    with time_machine.travel(now() + timedelta(minutes=14), tick=False):
        response = client.post(STAY, headers={"X-CSRFToken": token, "Accept": "application/json"})
        assert response.status_code == 200
        assert response.get_json() == {"seconds_left": 15 * 60}
    after, ended = _last_seen(person.member_id)
    assert ended is None and after - before >= timedelta(minutes=14)
    # 14 + 14 minutes after signing in, but only 14 after staying signed in: still signed in.
    with time_machine.travel(now() + timedelta(minutes=28), tick=False):
        assert client.get("/").status_code == 200


def test_without_it_the_session_ends_after_the_idle_limit_and_says_why(client, world) -> None:
    signed_in(client, world["nurse"])
    with time_machine.travel(now() + timedelta(minutes=16), tick=False):
        landed = client.get("/sign-in?next=/", follow_redirects=True)
    assert "You have been signed out because you were inactive for 15 minutes" in text(landed)
    assert "protects the information" in text(landed)


def test_stay_signed_in_needs_the_csrf_token(client, world) -> None:
    person = world["nurse"]
    signed_in(client, person)
    before, _ = _last_seen(person.member_id)
    with time_machine.travel(now() + timedelta(minutes=5), tick=False):
        response = client.post(STAY, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert _last_seen(person.member_id)[0] == before


def test_stay_signed_in_without_a_session_is_refused(client) -> None:
    token = csrf_token(client, "/sign-in")
    problem = client.post(
        STAY, headers={"X-CSRFToken": token, "Accept": "application/problem+json"}
    )
    assert problem.status_code == 401
    assert problem.mimetype == "application/problem+json"
    assert problem.get_json()["title"] == "Sign in required"
    assert "/sign-in" in client.post(STAY, headers={"X-CSRFToken": token}).headers["Location"]
