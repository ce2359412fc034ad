"""Every case a person may open is reachable from their home page: home, Cases, the case."""

from __future__ import annotations

import re

from cases import services
from cases.models import ReferralStatus
from hub.core import db
from tests.meetings.conftest import circulated_meeting, referred
from tests.support import cases
from tests.support.web import signed_in, text
from tests.support.world import PEOPLE, actor_of


def _linked(client, start: str) -> set[int]:
    """The case ids linked from the Cases list, following its pages."""
    found: set[int] = set()
    url: str | None = start
    while url:
        page = text(client.get(url))
        found |= {int(n) for n in re.findall(r'href="/cases/(\d+)"', page)}
        following = re.search(
            r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next"', page
        )
        url = following.group(1).replace("&amp;", "&") if following else None
    return found


def test_each_persona_reaches_exactly_the_cases_it_may_open(app, world) -> None:
    conference = circulated_meeting(world)  # two accepted cases, invited agencies
    blocked = referred(world, "police_officer", index=2, blocked=("housing_officer",))
    shared_only = referred(world, "police_officer", index=3, agency_types=["police", "other"])
    officer = actor_of(world["police_officer"])
    waiting = cases.draft(officer)
    cases.with_consent(officer, waiting)
    cases.submit(officer, waiting)
    draft = cases.draft(officer)
    every = [*conference.referral_ids, blocked, shared_only, waiting, draft]
    for key in PEOPLE:
        client = signed_in(app.test_client(), world[key])
        home = text(client.get("/"))
        opens = {case_id for case_id in every if client.get(f"/cases/{case_id}").status_code == 200}
        with db.unit_of_work():
            sent = {
                case_id
                for case_id in opens
                if services.get_referral(case_id).status
                not in (ReferralStatus.DRAFT, ReferralStatus.REJECTED)
            }
        if not sent:
            assert "No cases you may open yet" in home or 'href="/cases"' not in home, key
            continue
        assert 'href="/cases"' in home, key  # from home, one link
        assert _linked(client, "/cases") == sent, key
    housing = signed_in(app.test_client(), world["housing_officer"])
    assert blocked not in _linked(housing, "/cases")  # must-not-receive: not even listed


def test_a_page_of_cases_that_cannot_be_is_a_clear_answer(app, world) -> None:
    client = signed_in(app.test_client(), world["coordinator"])
    for bad in ("0", "-1", "two", "9" * 40):
        answer = client.get(f"/cases?page={bad}")
        assert answer.status_code == 400 and "pages are numbered 1, 2, 3" in text(answer)
    past = client.get("/cases?page=2")
    assert past.status_code == 404 and "There is no page 2 of your cases" in text(past)
