"""The rules the crawl checks every response and e-mail against, and the findings they make.

For a persona and a response (page, PDF, CSV, JSON, e-mail):

* ``whereabouts``: a whereabouts marker appears at all (the crawl never reveals);
* ``content``: a marker appears whose category the persona's case page withholds, or of a
  case the persona must not know exists; or a case's own page shows its counter-allegation
  flag to someone whose case page withholds its risk;
* ``private``: an agency's research or task note appears to someone outside that agency;
* ``reference``: the reference of a case the persona must not know appears;
* ``ledger-case``: a ledger page names (by id) a case the persona must not know;
* ``existence``: a forged GET for a case the persona must not know answers otherwise than
  the same GET for a case that does not exist;
* ``refusal-unrecorded``: a refused GET of an existing case left no ledger entry;
* ``error-content``: case text in an error response (the request's ledger entry rolls back);
* ``server-error``: a 5xx answer;
* ``crawl-bound``: a bound cut the crawl short.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.canary.crawler import Crawl, Page, shape
from tests.canary.markers import PRIVATE, WHEREABOUTS
from tests.canary.oracle import Oracle
from tests.canary.scenario import Scenario

#: A case reference: the area's code, the year, the number ("TE-2026-0042"), standing alone.
REFERENCE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}-\d{4}-\d{4}(?![0-9])", re.IGNORECASE)
#: A case's own page, on the web or through the API.
CASE_PAGE = re.compile(r"^/(?:cases|api/v1/referrals)/(\d+)(?:/consent)?$")
COUNTER_ALLEGATION = "Counter-allegation"
#: Where the ledger names a case: ``case: 12`` on the search page, ``"case": 12`` in an
#: entry's JSON and the CSV (whose quotes are doubled), ``cases: [3, 4]`` for lists.
LEDGER_CASES = re.compile(r'"*\bcases?"*\s*:\s*(\[[0-9,\s]*\]|\d+)')


@dataclass(frozen=True)
class Finding:
    kind: str
    persona: str
    url: str
    #: The marker, reference, case id or status that was seen.
    seen: str
    case: str
    category: str
    why: str
    field: str = ""

    def line(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"[{self.kind}] {self.persona} {self.url}: {self.seen}{where} – {self.why}"


@dataclass
class Checker:
    scenario: Scenario
    oracle: Oracle

    def __post_init__(self) -> None:
        self._references = {c.reference.upper(): c.key for c in self.scenario.cases.values()}

    # --- one response ---------------------------------------------------------------------

    def page(self, page: Page) -> list[Finding]:
        persona = self.scenario.personas[page.persona]
        text = _without_echo(page.text, page.typed)
        found: list[Finding] = []
        seen_here: set[tuple[str, str]] = set()
        for marker in self.scenario.markers.scan(text):
            owners = self.scenario.markers.owners[marker]
            if page.status >= 400 and ("error-content", marker) not in seen_here:
                seen_here.add(("error-content", marker))
                owner = next(iter(owners))
                found.append(
                    Finding(
                        "error-content",
                        page.persona,
                        page.url,
                        marker,
                        owner.case,
                        owner.category,
                        f"case text in a {page.status} response",
                        owner.field,
                    )
                )
            if any(self.oracle.allows(persona, o) for o in owners):
                continue
            owner = min(
                owners,
                key=lambda o: (
                    o.category != WHEREABOUTS,
                    o.category == PRIVATE,
                    o.case,
                    o.category,
                ),
            )
            kind = (
                "whereabouts"
                if owner.category == WHEREABOUTS
                else "private"
                if owner.category == PRIVATE
                else "content"
            )
            if (kind, marker) in seen_here:
                continue
            seen_here.add((kind, marker))
            category = owner.category if kind != "private" else f"private:{owner.agency}"
            found.append(
                Finding(
                    kind,
                    page.persona,
                    page.url,
                    marker,
                    owner.case,
                    category,
                    self.oracle.why_not(persona, owner),
                    owner.field,
                )
            )
        named = {self._references.get(r.group(0).upper()) for r in REFERENCE.finditer(text)}
        for case in sorted(c for c in named if c is not None):
            if not self.oracle.may_know(persona, case):
                found.append(
                    Finding(
                        "reference",
                        page.persona,
                        page.url,
                        self.scenario.cases[case].reference,
                        case,
                        "existence",
                        f"{page.persona} must not learn that {case} exists",
                    )
                )
        found += self._flags(page, persona)
        if page.url.startswith("/ledger"):
            ids: set[int] = set()
            for match in LEDGER_CASES.finditer(text):
                ids |= {int(n) for n in re.findall(r"\d+", match.group(1))}
            for case_id in sorted(ids):
                case = self.scenario.case_by_id(case_id)
                if case is not None and not self.oracle.may_know(persona, case.key):
                    found.append(
                        Finding(
                            "ledger-case",
                            page.persona,
                            page.url,
                            f"case {case_id}",
                            case.key,
                            "existence",
                            f"the ledger names {case.key} ({case.area}) to "
                            f"{page.persona} ({persona.area})",
                        )
                    )
        if page.status >= 500:
            found.append(
                Finding(
                    "server-error",
                    page.persona,
                    page.url,
                    str(page.status),
                    "",
                    "",
                    "the hub failed",
                )
            )
        return found

    def _flags(self, page: Page, persona: Any) -> list[Finding]:
        """A case's own page (or API answer) shows the counter-allegation flag only to those
        who may see its risk: it says the victim is also accused (the project files it under
        risk)."""
        found = CASE_PAGE.match(page.url)
        if found is None or COUNTER_ALLEGATION not in page.text:
            return []
        case = self.scenario.case_by_id(int(found.group(1)))
        if case is None or not case.counter_allegation:
            return []
        shown = self.oracle.allowed(persona.key, case.key)
        if shown is not None and "risk" in shown:
            return []
        return [
            Finding(
                "content",
                page.persona,
                page.url,
                COUNTER_ALLEGATION,
                case.key,
                "risk",
                f"the flag shows although the gate withholds risk of {case.key}",
                "flag",
            )
        ]

    # --- probes and bounds ----------------------------------------------------------------

    def probes(self, crawl: Crawl) -> list[Finding]:
        """A forged GET of a case the persona must not know must look like one of no case."""
        persona = self.scenario.personas[crawl.persona]
        found = []
        for (template, case), page in crawl.probes.items():
            if case == "missing" or self.oracle.may_know(persona, case):
                continue
            twin = crawl.probes.get((template, "missing"))
            status, expected = page.status, twin.status if twin is not None else None
            if expected is not None and status != expected:
                url = template.format(id=self.scenario.cases[case].id)
                found.append(
                    Finding(
                        "existence",
                        crawl.persona,
                        url,
                        str(status),
                        case,
                        "existence",
                        f"answers {status} where a case that does not exist answers {expected}",
                    )
                )
        return found

    def refusals(self, crawl: Crawl, templates: Iterable[str]) -> list[Finding]:
        """Every refused attempt to open an existing case is in the ledger (README, DESIGN 4)."""
        from audit import services as audit
        from hub.core import db

        persona = self.scenario.personas[crawl.persona]
        who = (
            {"member": str(persona.member_id)}
            if persona.member_id is not None
            else {"agency": str(persona.agency_id)}
        )
        found = []
        with db.unit_of_work() as uow:
            for (template, case), page in crawl.probes.items():
                if template not in templates or case == "missing" or page.status < 400:
                    continue
                case_id = self.scenario.cases[case].id
                entries = audit.search(
                    uow.session, audit.SearchFilters(case=str(case_id), **who), limit=100_000
                )
                if not any(json.loads(e.body).get("request") == page.request_id for e in entries):
                    found.append(
                        Finding(
                            "refusal-unrecorded",
                            crawl.persona,
                            page.url,
                            str(page.status),
                            case,
                            "ledger",
                            "refused, and the ledger has no entry for it",
                        )
                    )
        return found

    def bounds(self, crawl: Crawl) -> list[Finding]:
        return [
            Finding(
                "crawl-bound", crawl.persona, what, str(count), "", "", f"{count} URLs left out"
            )
            for what, count in crawl.cut
            if what.startswith("page limit")
        ]

    def strays(self, pages: Iterable[Page]) -> Counter[str]:
        """Marker-like strings that are no whole marker: one was cut or changed on its way out."""
        return Counter(s for p in pages for s in self.scenario.markers.strays(p.text))


def _without_echo(text: str, typed: tuple[str, ...]) -> str:
    """The page without the values the crawl itself typed into a form (echoed in inputs and
    in links that repeat the query)."""
    for value in typed:
        text = re.sub(rf'(value|href|action)="[^"]*{re.escape(value)}[^"]*"', r'\1=""', text)
    return text


# --- the report -------------------------------------------------------------------------------


def classes(findings: Iterable[Finding]) -> dict[tuple[str, str, str], list[Finding]]:
    """Findings grouped by kind, page shape and category."""
    grouped: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[(finding.kind, shape(finding.url), finding.category)].append(finding)
    return dict(sorted(grouped.items()))


def report(findings: list[Finding], *, examples: int = 2) -> str:
    """A summary a person can act on: one line per class, with who and examples."""
    grouped = classes(findings)
    lines = [f"{len(findings)} findings in {len(grouped)} classes (kind, page, category):"]
    for (kind, page, category), rows in grouped.items():
        who = ", ".join(sorted({f.persona for f in rows}))
        lines.append(f"  {kind:19} {page:45} {category:22} x{len(rows):<4} {who}")
        for finding in rows[:examples]:
            lines.append(f"      e.g. {finding.line()}")
    return "\n".join(lines)
