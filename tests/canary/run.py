"""Run the canary: ask the oracle, crawl as every persona, read the mail, check everything."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from agencies import services as agencies
from hub.auth import tokens
from hub.core import db
from hub.core.access import Actor, Role
from tests.canary.checks import Checker, Finding
from tests.canary.crawler import Crawl, Page, Probes, crawl_api, crawl_pages
from tests.canary.oracle import Oracle
from tests.canary.scenario import Persona, Scenario
from tests.support.web import sign_in

#: Forged GETs of a member: the case and its consent page (linked only from the case page,
#: so reached this way by people who know the case only through an agenda).
MEMBER_PROBES = [
    "/cases/{id}",
    "/cases/{id}/consent",
    # The data protection officer's subject access pages: refused to everyone else.
    "/subject-access?case={id}",
    "/subject-access/{id}",
    "/subject-access/{id}/bundle",
    "/subject-access/{id}/response.pdf",
    # The coordinator's retention pages: a case's extension page, refused to everyone else.
    "/retention/case-{id}/extend",
    # The coordinators' transfers (and, from there, each transfer's pack).
    "/transfers",
]
#: Where only the data protection officer may go (Permission.SUBJECT_ACCESS).
DPO_ONLY = "/subject-access"
#: ... and of an auditor, who reads the ledger instead.
AUDITOR_PROBES = ["/ledger/cases/{id}", "/cases/{id}"]
API_PROBES = ["/api/v1/referrals/{id}", "/api/v1/referrals/{id}/consents"]
#: Opening a case: every refusal of these must be in the ledger.
OPENING = {"/cases/{id}", "/api/v1/referrals/{id}"}


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    crawls: dict[str, Crawl] = field(default_factory=dict)
    mail: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(len(c.pages) for c in self.crawls.values())


def probes_for(scenario: Scenario, templates: list[str]) -> Probes:
    ids = {c.key: c.id for c in scenario.cases.values()}
    ids["missing"] = scenario.missing_case_id
    values: list[dict[str, str]] = [{"case": str(c.id)} for c in scenario.cases.values()]
    for case in scenario.cases.values():
        given, family, born_on = case.victim
        searched = {"given_name": given, "family_name": family}
        if born_on is not None:
            searched |= {
                "born_on-day": str(born_on.day),
                "born_on-month": str(born_on.month),
                "born_on-year": str(born_on.year),
            }
        values.append(searched)
    return Probes(form_values=values, templates=templates, ids=ids)


def actors_of(app: Any, scenario: Scenario, token: str) -> dict[str, Actor]:
    """Every persona as the hub sees it: members as signed in, the system as its token says."""
    found: dict[str, Actor] = {}
    with db.unit_of_work():
        for key, persona in scenario.personas.items():
            if persona.kind == "member":
                assert persona.member_id is not None
                found[key] = agencies.actor_for(agencies.get_member(persona.member_id))
    with app.app_context(), db.unit_of_work():
        found["probation_api"] = tokens.authenticate(
            token, audience=app.extensions["hub.settings"].api_audience
        )
    return found


def mail_pages(persona: Persona, messages: Iterable[EmailMessage]) -> list[Page]:
    pages = []
    for message in messages:
        body = message.get_body(preferencelist=("plain", "html"))
        text = f"{message['Subject']}\n{body.get_content() if body is not None else ''}"
        pages.append(Page(persona.key, f"mail:{message['Subject']}", 200, "mail", text, "mail"))
    return pages


def run_canary(
    app: Any,
    scenario: Scenario,
    *,
    token_for: Callable[[], str],
    mail_to: Callable[[str], list[EmailMessage]],
    only: Iterable[str] | None = None,
) -> Result:
    """Crawl as every persona (or ``only`` these) and check every response and e-mail."""
    token = token_for()
    actors = actors_of(app, scenario, token)
    oracle = Oracle.ask(scenario, actors)
    checker = Checker(scenario, oracle)
    result = Result()
    member_probes = probes_for(scenario, MEMBER_PROBES)
    auditor_probes = probes_for(scenario, AUDITOR_PROBES)
    api_probes = probes_for(scenario, API_PROBES)
    chosen = list(only) if only is not None else list(scenario.personas)
    for number, key in enumerate(chosen, start=1):
        started = time.monotonic()
        persona = scenario.personas[key]
        client = app.test_client()
        # Each person at their own machine: sign-in limits count per address.
        client.environ_base["REMOTE_ADDR"] = f"10.0.{number // 250}.{number % 250 + 1}"
        if persona.kind == "api":
            crawl = crawl_api(client, key, token, api_probes)
        else:
            landed = sign_in(client, persona.email, persona.password, persona.totp_secret)
            assert landed.status_code == 302 and landed.headers["Location"].endswith("/"), (
                f"{key} could not sign in: {landed.status_code}"
            )
            auditor = Role.AUDITOR in persona.roles
            crawl = crawl_pages(client, key, auditor_probes if auditor else member_probes)
            messages = mail_to(persona.email)
            result.mail[key] = len(messages)
            crawl.pages += mail_pages(persona, messages)
        result.crawls[key] = crawl
        for page in crawl.pages:
            result.findings += checker.page(page)
        result.findings += checker.probes(crawl)
        result.findings += checker.refusals(crawl, OPENING)
        result.findings += checker.bounds(crawl)
        result.notes += [f"{key}: {what}: {count} left out" for what, count in crawl.cut]
        kinds = Counter(p.kind for p in crawl.pages)
        result.notes.append(
            f"{key}: {len(crawl.pages)} responses ({dict(kinds)}) in "
            f"{time.monotonic() - started:.1f}s"
        )
        result.notes += [
            f"{key}: {p.url} answered {p.status}"
            for p in crawl.pages
            if p.via in {"link", "form"} and p.status >= 400
        ]
    unique = list(dict.fromkeys(result.findings))
    result.findings = unique
    strays = checker.strays(p for c in result.crawls.values() for p in c.pages)
    result.notes += [
        f"marker-like text that is no whole marker: {s} x{n}" for s, n in strays.items()
    ]
    return result
