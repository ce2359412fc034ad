"""The canary bites: leaks planted on purpose are reported, and what may be seen is not.

Three plants, none needing a change to the hub:

* a page, PDF and JSON answer registered only on this test's app and linked from its home
  page, showing what the nurse must not see (a reference and risk text of a case she has no
  relation with, a victim's address, another agency's research) next to what she may (the
  risk text of her own referral);
* an e-mail through the hub's own mailer and a real SMTP server, carrying withheld text;
* case data in the wrong field, through the real services: the coordinator closes C1 with
  C1's health text as the reason, which the case page shows under risk, to a chair whose
  case page withholds health.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import weasyprint
from flask import Response, jsonify, request

from cases import services as referrals
from hub.core import db
from hub.core.access import Permission
from hub.core.routes import require
from tests.canary.checks import Finding, report
from tests.canary.markers import PRIVATE
from tests.canary.run import run_canary
from tests.canary.scenario import Scenario, actor, build_scenario
from todo import notify


@dataclass
class Plant:
    """What the planted page shows; filled in once the scenario exists."""

    html: list[str] = field(default_factory=list)
    pdf: str = ""
    json: str = ""


@pytest.fixture
def plant(app: Any) -> Plant:
    """Routes only this test's app has, linked from its home page (before any request)."""
    planted = Plant()

    @require(Permission.SESSION_USE)
    def page() -> str:
        return (
            "<!DOCTYPE html><html><body><main><p>"
            + "</p><p>".join(planted.html)
            + '</p><a href="/canary-plant.pdf">pdf</a> <a href="/canary-plant.json">json</a>'
            "</main></body></html>"
        )

    @require(Permission.SESSION_USE)
    def as_pdf() -> Response:
        data = weasyprint.HTML(string=f"<p>{planted.pdf}</p>").write_pdf()
        return Response(data, mimetype="application/pdf")

    @require(Permission.SESSION_USE)
    def as_json() -> Response:
        return jsonify({"note": planted.json})

    app.add_url_rule("/canary-plant", "canary_plant", page)
    app.add_url_rule("/canary-plant.pdf", "canary_plant_pdf", as_pdf)
    app.add_url_rule("/canary-plant.json", "canary_plant_json", as_json)

    @app.after_request
    def link_from_home(response: Response) -> Response:
        if request.path == "/" and response.mimetype == "text/html":
            body = response.get_data(as_text=True)
            response.set_data(body.replace("</main>", '<a href="/canary-plant">notes</a></main>'))
        return response

    return planted


@pytest.fixture
def scenario(app: Any, plant: Plant, mailbox: Any, probation_idp: Any, api_token: Any) -> Scenario:
    return build_scenario(app.test_client(), probation_idp.issuer, api_token)


def _marker(scenario: Scenario, case: str, category: str, what: str) -> str:
    return next(
        m
        for m, owners in scenario.markers.owners.items()
        if any(o.case == case and o.category == category and o.field == what for o in owners)
    )


def _reported(findings: list[Finding], **wanted: str) -> bool:
    return any(all(getattr(f, k) == v for k, v in wanted.items()) for f in findings)


def test_the_crawl_reports_each_planted_leak_and_nothing_allowed(
    app: Any, scenario: Scenario, plant: Plant, mailbox: Any, api_token: Any
) -> None:
    c1 = scenario.cases["C1"]
    withheld_risk = _marker(scenario, "C1", "risk", "incident")
    address = _marker(scenario, "C6", "whereabouts", "address")
    research = _marker(scenario, "C1", PRIVATE, "research facts")
    own_risk = _marker(scenario, "C6", "risk", "incident")
    in_pdf = _marker(scenario, "C1", "risk", "who the victim fears")
    in_json = _marker(scenario, "C1", "risk", "safe to talk to")
    in_mail = _marker(scenario, "C1", "risk", "previous MARAC")
    health = _marker(scenario, "C1", "health", "health notes")
    plant.html += [f"Case {c1.reference}", withheld_risk, address, research, own_risk]
    plant.pdf, plant.json = in_pdf, in_json
    mailer = app.extensions["hub.mailer"]
    mailer.send(
        scenario.personas["nurse"].email,
        notify.Notice("MARAC Hub: a note", f"A note: {in_mail}", "/tasks"),
    )
    with db.unit_of_work():
        referrals.close_referral(
            actor(scenario, "coordinator"), referrals.get_referral(c1.id), f"Closed: {health}"
        )

    result = run_canary(
        app, scenario, token_for=api_token, mail_to=mailbox.to, only=["nurse", "chair"]
    )
    found = result.findings
    summary = report(found)
    expected = [
        {"kind": "reference", "persona": "nurse", "url": "/canary-plant", "case": "C1"},
        {"kind": "content", "persona": "nurse", "url": "/canary-plant", "seen": withheld_risk},
        {"kind": "whereabouts", "persona": "nurse", "url": "/canary-plant", "seen": address},
        {"kind": "private", "persona": "nurse", "url": "/canary-plant", "seen": research},
        {"kind": "content", "persona": "nurse", "url": "/canary-plant.pdf", "seen": in_pdf},
        {"kind": "content", "persona": "nurse", "url": "/canary-plant.json", "seen": in_json},
        {"kind": "content", "persona": "nurse", "url": "mail:MARAC Hub: a note", "seen": in_mail},
        {
            "kind": "content",
            "persona": "chair",
            "url": f"/cases/{c1.id}",
            "seen": health,
            "category": "health",
        },
    ]
    missed = [e for e in expected if not _reported(found, **e)]
    assert not missed, f"the crawl missed planted leaks: {missed}\n{summary}"
    assert not _reported(found, seen=own_risk), "the nurse may read her own referral's risk"
