"""The canary crawl: no side doors (issue 12, item 7).

Every persona signs in and crawls every page reachable by GET from home, every PDF, CSV and
JSON those pages link, the API as the partner system, and the mail the hub sent them; every
marker, reference and case id seen is checked against what the gate lets that persona see.
The full list of findings is written to test-output/canary-findings-<database>.txt, and
every response read to test-output/canary-crawl-<database>.txt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.canary.checks import report
from tests.canary.run import DPO_ONLY, run_canary
from tests.canary.scenario import Scenario


@pytest.mark.slow
def test_no_case_content_reaches_anyone_the_gate_would_refuse(
    app: Any,
    scenario: Scenario,
    mailbox: Any,
    api_token: Any,
    database_url: str,
    output_dir: Path,
) -> None:
    result = run_canary(app, scenario, token_for=api_token, mail_to=mailbox.to)
    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    summary = report(result.findings)
    lines = [
        f"{result.pages} responses read as {len(result.crawls)} personas; "
        f"{sum(result.mail.values())} e-mails read.",
        summary,
        "",
        "Notes:",
        *result.notes,
        "",
        "Every finding:",
        *(f.line() for f in result.findings),
    ]
    (output_dir / f"canary-findings-{backend}.txt").write_text("\n".join(lines) + "\n")
    crawled = [
        f"{p.persona}\t{p.status}\t{p.kind}\t{p.via}\t{p.url}"
        for crawl in result.crawls.values()
        for p in crawl.pages
    ]
    (output_dir / f"canary-crawl-{backend}.txt").write_text("\n".join(crawled) + "\n")
    # Nobody but the data protection officer reaches a subject access page, even by a forged
    # GET: each such answer is a refusal, and the crawl file records it.
    side_doors = [
        f"{p.persona} {p.status} {p.url}"
        for crawl in result.crawls.values()
        for p in crawl.pages
        if p.url.startswith(DPO_ONLY)
        and "auditor" not in p.persona
        and p.status not in {401, 403, 404}
    ]
    assert not side_doors, side_doors
    refused = [
        p
        for crawl in result.crawls.values()
        for p in crawl.pages
        if p.url.startswith(DPO_ONLY) and "auditor" not in p.persona
    ]
    assert refused, "the crawl never tried a subject access page as anyone else"
    thin = [key for key, crawl in result.crawls.items() if len(crawl.pages) < 20]
    assert not thin, f"these personas' crawls reached almost nothing: {thin}"
    assert sum(result.mail.values()) > 0, "the crawl read no e-mail"
    assert not result.findings, summary
    # The transfer's pack, as stored for the receiving area, holds no whereabouts marker.
    import json

    from sqlalchemy import select

    from hub.core import db
    from tests.canary.markers import WHEREABOUTS
    from transfers.models import Transfer

    with db.unit_of_work() as uow:
        packs = [json.dumps(p) for p in uow.session.execute(select(Transfer.pack)).scalars()]
    assert packs, "the scenario made no transfer"
    where = [
        marker
        for marker, owners in scenario.markers.owners.items()
        if any(o.category == WHEREABOUTS for o in owners)
    ]
    assert where and not [m for m in where for pack in packs if m in pack]
    crawled = {p.url for crawl in result.crawls.values() for p in crawl.pages}
    assert any(re.match(r"^/transfers/\d+$", url) for url in crawled), "no pack page crawled"
