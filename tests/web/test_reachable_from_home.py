"""Every case a person may open is reachable from their home page by links alone.

On the demo a newcomer gets from `make run`, each persona follows the links of the pages it
is shown (never typing an address, never submitting a form), starting at home. The cases it
reaches must be exactly the cases it may open: none missing (a job that cannot be finished
without typing `/cases/<id>`), none extra (a link to a case it may not see tells it that the
case exists).
"""

from __future__ import annotations

import re
from collections import deque

import pytest
from sqlalchemy import select

from agencies import services as agencies
from cases.models import Referral
from hub.core import db
from tests.support.web import signed_in, text
from tests.web.test_demo_cases import _seed

pytestmark = pytest.mark.slow

#: One persona per role and kind of agency in the demo (email addresses from hub/demo.py).
PERSONAS = [
    "coordinator@csp.northbridge.example",
    "auditor@csp.northbridge.example",
    "chair@police.northbridge.example",
    "ds.harper@police.northbridge.example",
    "pc.walsh@police.northbridge.example",
    "h.price@hospital.northbridge.example",
    "r.patel@hospital.northbridge.example",
    "dr.lee@riverside-gp.example",
    "o.hughes@homes.northbridge.example",
    "f.noor@homes.northbridge.example",
    "l.novak@idva.northbridge.example",
    "k.baker@idva.northbridge.example",
    "b.cole@children.northbridge.example",
]

LINK = re.compile(r'href="(/[^"#]*)"')
#: A case page, or a draft's own pages (where its author continues it).
CASE = re.compile(r"^/(?:cases/(\d+)|referrals/(\d+)/[a-z-]+)$")
#: Pages a crawl does not open: leaving, files, the ledger's own entries (the auditor reaches
#: cases through the ledger's case search, not by walking every entry), and the pages that
#: only repeat a list in another order or filter.
NOT_FOLLOWED = re.compile(
    r"^/(sign-out|static/|session/|ledger/entries/|ledger/checkpoints/)"
    r"|\.(pdf|csv|xlsx|json)(\?|$)|/download|/minutes/pdf|[?&](sort|order|state|status)="
)
PAGE_LIMIT = 600


def _crawl(client) -> set[int]:
    """The case pages reachable from home by following links; each must open."""
    seen, reached = {"/"}, set()
    queue = deque(["/"])
    while queue:
        assert len(seen) < PAGE_LIMIT, "the crawl found more pages than a demo holds"
        url = queue.popleft()
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        for href in LINK.findall(text(response)):
            href = href.replace("&amp;", "&")
            case = CASE.match(href)
            if case:
                reached.add(int(case.group(1) or case.group(2)))
            if href not in seen and not NOT_FOLLOWED.search(href):
                seen.add(href)
                queue.append(href)
    return reached


def test_each_persona_reaches_by_links_exactly_the_cases_it_may_open(app) -> None:
    _seed(app.extensions["hub.settings"])
    with db.unit_of_work():
        case_ids = list(db.session().execute(select(Referral.id).order_by(Referral.id)).scalars())
        members = {email: agencies.find_member_by_email(email) for email in PERSONAS}
    reach = {}
    for email, member in members.items():
        assert member is not None, email
        reached = _crawl(signed_in(app.test_client(), member))
        probe = signed_in(app.test_client(), member)
        may_open = {i for i in case_ids if probe.get(f"/cases/{i}").status_code == 200}
        assert reached == may_open, (email, sorted(may_open - reached), sorted(reached - may_open))
        reach[email] = may_open
    # The crawl proves something only if people do reach cases, and not all the same ones.
    assert len(reach["coordinator@csp.northbridge.example"]) == len(case_ids) - 1  # not the draft
    assert reach["pc.walsh@police.northbridge.example"]
    assert reach["o.hughes@homes.northbridge.example"] != reach["l.novak@idva.northbridge.example"]
