"""The return's pages and exports: who may open them, what the CSV holds, the ledger entry
each export leaves, and the coordinator's referral categories with bad input."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from audit.actions import LedgerAction
from audit.models import AuditEntry
from hub.core import db
from tests.returns.conftest import Case, hold
from tests.support.web import signed_in, submit, text

PAGE = "/returns/2026-Q2"


def _seed(world) -> None:
    hold(
        world,
        date(2026, 4, 9),
        [Case(), Case(agency="idva", repeat=True, children=2), *[Case() for _ in range(5)]],
    )
    hold(world, date(2026, 5, 14), [Case(agency="health", ethnicity="Indian")])


def _exports() -> list[dict]:
    with db.unit_of_work() as uow:
        bodies = uow.session.scalars(
            select(AuditEntry.body).where(AuditEntry.action == LedgerAction.RETURN_EXPORTED.value)
        )
        return [json.loads(b) for b in bodies]


@pytest.mark.parametrize(
    ("person", "page", "categories"),
    [
        ("coordinator", 200, 200),
        ("chair", 200, 403),
        ("police_officer", 403, 403),
        ("auditor", 403, 403),
        ("admin", 403, 403),
    ],
)
def test_who_may_open_the_return(app, world, person, page, categories) -> None:
    client = signed_in(app.test_client(), world[person])
    assert client.get(PAGE).status_code == page
    assert client.get(PAGE + "/return.csv").status_code == page
    assert client.get("/returns/categories").status_code == categories


def test_anonymous_people_are_sent_to_sign_in(client) -> None:
    assert client.get(PAGE).status_code in (302, 303)
    assert client.get(PAGE + "/return.csv").status_code in (302, 303)


def test_the_page_shows_each_meeting_and_names_no_case(app, world) -> None:
    _seed(world)
    client = signed_in(app.test_client(), world["coordinator"])
    page = text(client.get(PAGE))
    assert "April to June 2026" in page
    assert "9 April 2026" in page and "14 May 2026" in page
    assert not re.search(r"RT-\d{5}", page) and "tally" not in page.lower()
    assert "/cases/" not in page and "/meetings/" not in page
    home = text(client.get("/"))
    assert 'href="/returns"' in home
    assert client.get("/returns").headers["Location"].startswith("/returns/20")
    assert client.get("/returns/2026-Q5").status_code == 404


def test_the_csv_holds_counts_only_and_each_export_is_recorded(app, world) -> None:
    _seed(world)
    client = signed_in(app.test_client(), world["coordinator"])
    answer = client.get(PAGE + "/return.csv")
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["meeting_date"] for r in rows] == ["2026-04-09", "2026-05-14", "total"]
    assert [r["cases_total"] for r in rows] == ["7", "1", "8"]
    assert rows[0]["referrals_idva"] == "1" and rows[1]["referrals_acute_trust"] == "1"
    assert rows[2]["victims_bame"] == "1" and rows[2]["children_in_household"] == "2"
    published = client.get(PAGE + "/return.csv?mode=publication").get_data(as_text=True)
    public = list(csv.DictReader(io.StringIO(published)))
    assert [r["cases_total"] for r in public] == ["7", "<5", "8"]
    assert public[0]["cases_repeat"] == "<5" and public[0]["victims_male"] == "0"
    entries = _exports()
    assert [(e["quarter"], e["format"], e["publication"]) for e in entries] == [
        ("2026-Q2", "csv", False),
        ("2026-Q2", "csv", True),
    ]
    assert entries[0]["meetings"] == 2 and entries[0]["subject"]["type"] == "area"


def test_the_coordinator_maps_agency_types_to_categories(app, world) -> None:
    _seed(world)
    client = signed_in(app.test_client(), world["coordinator"])
    form = text(client.get("/returns/categories"))
    assert "Acute health (hospital trust)" in form
    chosen = {
        "police": "police",
        "childrens_social_care": "childrens_social_care",
        "adults_social_care": "adult_safeguarding",
        "acute_health": "mental_health",
        "primary_care": "primary_care",
        "mental_health": "mental_health",
        "housing": "rsl",
        "probation": "probation",
        "idva_service": "idva",
        "specialist_ngo": "specialist_bamer",
        "education": "education",
        "substance_misuse": "drug_alcohol",
        "other": "other",
    }
    bad = submit(client, "/returns/categories", {**chosen, "acute_health": "hospital"})
    assert bad.status_code == 422
    assert "There is a problem" in text(bad) and "Select a category from the list" in text(bad)
    saved = submit(client, "/returns/categories", chosen)
    assert saved.status_code == 303
    rows = list(csv.DictReader(io.StringIO(client.get(PAGE + "/return.csv").get_data(True))))
    assert rows[2]["referrals_mental_health"] == "1" and rows[2]["referrals_acute_trust"] == "0"


def test_the_spreadsheet_holds_the_same_counts_and_is_recorded(app, world) -> None:
    from openpyxl import load_workbook

    _seed(world)
    client = signed_in(app.test_client(), world["chair"])
    answer = client.get(PAGE + "/return.xlsx")
    assert answer.status_code == 200 and answer.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(answer.get_data()))
    rows = list(book["Meetings"].iter_rows(values_only=True))
    codes = rows[1]
    by_code = [dict(zip(codes, r, strict=True)) for r in rows[2:]]
    assert [r["meeting_date"].date() for r in by_code[:2]] == [date(2026, 4, 9), date(2026, 5, 14)]
    assert [r["cases_total"] for r in by_code] == [7, 1, 8]
    assert by_code[2]["victims_bame"] == 1 and by_code[0]["referrals_idva"] == 1
    published = load_workbook(io.BytesIO(client.get(PAGE + "/return.xlsx?mode=publication").data))
    public = list(published["Meetings"].iter_rows(values_only=True))
    assert [r[codes.index("cases_total")] for r in public[2:]] == ["7", "<5", "8"]
    assert ("Quarter", "April to June 2026") in list(book["About"].iter_rows(values_only=True))
    assert [(e["format"], e["publication"]) for e in _exports()] == [
        ("xlsx", False),
        ("xlsx", True),
    ]
