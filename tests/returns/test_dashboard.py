"""The dashboard: each chart an SVG with its title, description and data table, figures as
counted by hand, and no link from a chart to anything."""

from __future__ import annotations

import re
from datetime import date

from tests.returns.conftest import Case, hold
from tests.support.web import signed_in, text


def test_the_dashboard_draws_each_chart_with_its_words_and_figures(app, world) -> None:
    hold(world, date(2025, 5, 1), [Case(repeat=True), Case()])  # 2025-Q2: 2 cases, 50%
    hold(world, date(2026, 4, 9), [Case(agency="idva"), Case(agency="idva"), Case()])
    hold(world, date(2026, 6, 4), [Case(repeat=True, ethnicity="Indian")])  # 2026-Q2: 4 cases
    client = signed_in(app.test_client(), world["chair"])
    page = text(client.get("/returns/2026-Q2/dashboard"))
    figures = re.findall(r"<figure.*?</figure>", page, re.S)
    assert len(figures) == 4
    for figure in figures:
        assert "<title" in figure and "<desc" in figure and "<table" in figure
        assert "<a " not in figure and "href" not in figure  # charts never link anywhere
    cases, repeats, sources, diversity = figures
    assert cases.count("<rect") == 8  # eight quarters
    assert re.search(r"July to September 2024</th>\s*<td[^>]*>0<", cases)
    assert re.search(r"April to June 2025</th>\s*<td[^>]*>2<", cases)
    assert re.search(r"April to June 2026</th>\s*<td[^>]*>4<", cases)
    assert re.search(r"April to June 2026</th>\s*<td[^>]*>25.0%<", repeats)
    assert "The line is the national rate, 31.0%" in repeats
    # The year to June 2026 holds the four 2026-Q2 cases only: two from the IDVA service.
    assert re.search(r"IDVA</th>\s*<td[^>]*>2<", sources)
    assert re.search(r"Police</th>\s*<td[^>]*>2<", sources)
    assert re.search(
        r"Victims Black, Asian or racially minoritised</th>\s*<td[^>]*>25.0%</td>\s*"
        r"<td[^>]*>0</td>\s*<td[^>]*>14.1%<",
        diversity,
    )
    assert client.get("/returns/2026-Q9/dashboard").status_code == 404
    assert (
        signed_in(app.test_client(), world["nurse"]).get("/returns/2026-Q2/dashboard").status_code
        == 403
    )
