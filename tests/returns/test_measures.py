"""The derived measures, for a quarter and a rolling year, against figures worked by hand;
and the settings they are worked from, with bad input."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from audit.actions import LedgerAction
from audit.models import AuditEntry
from hub.core import db
from returns import services
from returns.compute import Quarter
from tests.returns.conftest import Case, hold
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of

SETTINGS = {
    "repeat_definition": "any_abuse_12m",
    "female_population": "20000",
    "population_source": "ONS Census 2021",
    "population_year": "2021",
    "national_as_of-day": "30",
    "national_as_of-month": "9",
    "national_as_of-year": "2024",
    "national_cases_per_10k": "47",
    "national_repeat_rate": "31",
    "national_partner_share": "36.1",
}


def test_the_measures_are_those_worked_by_hand(app, world) -> None:
    client = signed_in(app.test_client(), world["coordinator"])
    assert submit(client, "/returns/settings", SETTINGS).status_code == 303
    # The year to 30 June 2026: 10 cases in the three earlier quarters, 10 in this one.
    hold(world, date(2025, 8, 7), [Case(repeat=True) for _ in range(4)])
    hold(world, date(2025, 11, 6), [Case(agency="idva") for _ in range(3)])
    hold(world, date(2026, 2, 5), [Case(ethnicity="Black British") for _ in range(3)])
    hold(
        world,
        date(2026, 5, 7),
        [Case(repeat=True, agency="housing"), Case(repeat=True), *[Case() for _ in range(3)]],
    )
    hold(world, date(2026, 6, 4), [Case(gender="Male"), *[Case(ethnicity="") for _ in range(4)]])
    with db.unit_of_work():
        found = services.quarter_return(actor_of(world["coordinator"]), Quarter(2026, 2))
    quarter, year = found.quarter_measures, found.year_measures
    # Quarter: 10 cases, times four is 40 a year over 20,000 women: 20 per 10,000.
    assert quarter.cases_a_year == 40 and quarter.value("cases_per_10k") == 20
    assert quarter.value("repeat_rate") == 20  # 2 of 10
    assert quarter.value("partner_share") == 10  # the housing referral
    assert quarter.value("victims_male") == 10
    bame = next(m for m in quarter.measures if m.code == "victims_bame")
    assert bame.value == 0 and bame.not_known == 4
    # Year: 20 cases over 20,000 is 10 per 10,000; 6 repeats; 3 IDVA referrals.
    assert year.cases_a_year == 20 and year.value("cases_per_10k") == 10
    assert year.value("repeat_rate") == 30 and year.value("partner_share") == 20
    assert year.value("victims_bame") == 15
    assert year.recommended_a_year == 80  # 40 per 10,000 of 20,000
    assert (year.idvas, year.idvas_recommended) == (0.2, 0.8)
    assert (year.admins, year.admins_recommended) == (0.05, 0.2)
    assert found.national("partner_share") == 36.1
    page = text(client.get("/returns/2026-Q2"))
    assert "36.1%" in page and "20.0%" in page and "ONS Census 2021" in page


def test_bad_settings_get_an_error_summary_and_change_nothing(app, world) -> None:
    client = signed_in(app.test_client(), world["coordinator"])
    bad = submit(
        client,
        "/returns/settings",
        {
            **SETTINGS,
            "population_source": "",
            "national_repeat_rate": "thirty",
            "national_male": "",
        },
    )
    page = text(bad)
    assert bad.status_code == 422 and "There is a problem" in page
    assert "Enter a number, like 14.1" in page
    too_big = submit(client, "/returns/settings", {**SETTINGS, "national_repeat_rate": "131"})
    assert too_big.status_code == 422 and "Enter a figure from 0 to 100" in text(too_big)
    unsourced = submit(client, "/returns/settings", {**SETTINGS, "population_source": ""})
    assert "Enter where the population figure comes from" in text(unsourced)
    with db.unit_of_work() as uow:
        assert not list(
            uow.session.scalars(
                select(AuditEntry.id).where(
                    AuditEntry.action == LedgerAction.RETURN_SETTINGS_CHANGED.value
                )
            )
        )


def test_the_administrator_enters_the_figures_but_does_not_see_the_return(app, world) -> None:
    admin = signed_in(app.test_client(), world["admin"])
    assert admin.get("/returns/settings").status_code == 200
    assert submit(admin, "/returns/settings", SETTINGS).status_code == 303
    assert admin.get("/returns/2026-Q2").status_code == 403
    assert signed_in(app.test_client(), world["chair"]).get("/returns/settings").status_code == 403
    with db.unit_of_work() as uow:
        (body,) = uow.session.scalars(
            select(AuditEntry.body).where(
                AuditEntry.action == LedgerAction.RETURN_SETTINGS_CHANGED.value
            )
        )
    entry = json.loads(body)
    assert entry["female_population"] == 20000 and entry["national"]["partner_share"] == 361
