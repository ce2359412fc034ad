"""The agency's referral list and the API's list come a page at a time, newest first, with
a total that counts only what the list would show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from agencies.models import Role
from cases.models import ConflictWall, MustNotReceive, Referral
from hub.core import db
from hub.core.paging import Window
from tests.support.agencies_sso import (
    Providers,
    records_system_bearer,
)
from tests.support.idp import DevIdP
from tests.support.web import sign_in, text

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _client(app, person):
    client = app.test_client()
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    return client


def _referrals(world, count: int, *, agency: str = "police", prefix: str = "PG", **extra) -> list:
    """``count`` sent referrals of the agency, one an hour from START (the last the newest);
    returns their ids, oldest first."""
    agency_id = world.agencies[agency]
    rows = [
        {
            "area_id": world.area_id,
            "reference": f"{prefix}-2026-{n:04d}",
            "status": "submitted",
            "referring_agency_id": agency_id,
            "referrer_id": world["police_officer"].member_id if agency == "police" else None,
            "created_at": START + timedelta(hours=n),
            **extra,
        }
        for n in range(1, count + 1)
    ]
    with db.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                insert(Referral).returning(Referral.id, sort_by_parameter_order=True), rows
            )
        )


def _words(page: str) -> str:
    """The page's text, without its tags and with single spaces."""
    return " ".join(re.sub(r"<[^>]+>", "", page).split())


def _references(page: str) -> list[str]:
    return re.findall(r">((?:PG|DR|WA|MN|HE)-2026-\d{4})</a>", page)


def test_the_list_pages_fifty_newest_first_with_the_total(app, world) -> None:
    _referrals(world, 120)
    rep = _client(app, world["police_rep"])
    first = text(rep.get("/referrals"))
    assert _references(first) == [f"PG-2026-{n:04d}" for n in range(120, 70, -1)]
    assert "120 referrals. Showing 1 to 50, newest first." in _words(first)
    assert 'class="govuk-pagination' in first
    assert 'href="/referrals?page=2" rel="next"' in first
    assert 'aria-current="page"' in first
    second = text(rep.get("/referrals?page=2"))
    assert _references(second) == [f"PG-2026-{n:04d}" for n in range(70, 20, -1)]
    third = text(rep.get("/referrals?page=3"))
    assert _references(third) == [f"PG-2026-{n:04d}" for n in range(20, 0, -1)]
    assert "120 referrals. Showing 101 to 120, newest first." in _words(third)
    assert 'rel="next"' not in third and 'href="/referrals?page=2" rel="prev"' in third


def test_the_page_runs_limit_and_offset_in_sql(app, world) -> None:
    """The page asks the database for 50 rows, never for the agency's whole history."""
    _referrals(world, 120)
    rep = _client(app, world["police_rep"])
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = app.extensions["hub.db"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert rep.get("/referrals?page=2").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    listing = [s for s in statements if "FROM referrals" in s and "ORDER BY" in s]
    assert listing and all("LIMIT" in s and "OFFSET" in s for s in listing)


def test_drafts_the_member_may_finish_come_first_and_are_counted(app, world) -> None:
    _referrals(world, 60)
    officer = world["police_officer"]
    _referrals(world, 2, prefix="DR", status="draft")  # the officer's own drafts, oldest
    # A colleague's draft is theirs alone: neither listed nor counted for the officer.
    with db.unit_of_work() as uow:
        uow.session.execute(
            insert(Referral),
            [
                {
                    "area_id": world.area_id,
                    "reference": "HE-2026-0001",
                    "status": "draft",
                    "referring_agency_id": world.agencies["police"],
                    "referrer_id": world["police_rep"].member_id,
                    "created_at": START + timedelta(days=30),
                }
            ],
        )
    client = _client(app, officer)
    first = text(client.get("/referrals"))
    assert "62 referrals, including 2 drafts you have not sent." in _words(first)
    assert "Drafts you have not sent" in first and "Sent referrals" in first
    assert _references(first)[:2] == ["DR-2026-0002", "DR-2026-0001"]
    assert _references(first)[2:] == [f"PG-2026-{n:04d}" for n in range(60, 12, -1)]
    assert "HE-2026-0001" not in first
    assert "/referrals/" in first and '/victim">DR-2026-0002</a>' in first  # to the form
    second = text(client.get("/referrals?page=2"))
    assert _references(second) == [f"PG-2026-{n:04d}" for n in range(12, 0, -1)]
    assert "Drafts you have not sent" not in second


def test_a_refused_or_walled_case_is_neither_listed_nor_counted(app, world) -> None:
    from tests.cases.test_side_doors import EXTRA, _member

    worker = _member(world, "paging_worker", "police", {Role.MARAC_REP})
    ids = _referrals(world, 51)
    _referrals(world, 3, agency="health", prefix="HE")  # another agency's: not this list
    with db.unit_of_work() as uow:
        # The newest is behind a wall for the worker, the next on their must-not-receive.
        uow.session.add(
            ConflictWall(
                agency_id=world.agencies["police"],
                created_by_id=world["police_rep"].member_id,
                referral_id=ids[-1],
                perpetrator_worker_id=worker.member_id,
                victim_worker_id=world["police_officer"].member_id,
            )
        )
        uow.session.add(MustNotReceive(referral_id=ids[-2], member_id=worker.member_id))
    client = _client(app, EXTRA["paging_worker"])
    first = text(client.get("/referrals"))
    assert "49 referrals." in _words(first) and "Showing" not in first
    shown = _references(first)
    assert len(shown) == 49 and "PG-2026-0051" not in shown and "PG-2026-0050" not in shown
    assert not any(r.startswith("HE-") for r in shown)
    assert client.get("/referrals?page=2").status_code == 404  # 49 fit on one page
    # The representative behind no wall counts them all.
    assert "51 referrals." in _words(text(_client(app, world["police_rep"]).get("/referrals")))


@pytest.mark.parametrize("page", ["0", "-1", "two", "1.5", " 2", "99999999999999999999", "%00"])
def test_a_page_that_is_not_a_number_from_1_is_a_clear_400(app, world, page) -> None:
    _referrals(world, 3)
    response = _client(app, world["police_rep"]).get(f"/referrals?page={page}")
    assert response.status_code == 400
    # A NUL is refused before any view reads the query, with its own message.
    says = "a text holds a NUL character" if page == "%00" else "pages are numbered 1, 2, 3"
    assert says in text(response)


def test_a_page_past_the_last_is_a_404_that_says_how_many_there_are(app, world) -> None:
    _referrals(world, 60)
    rep = _client(app, world["police_rep"])
    for page in ("3", "2147483647"):
        response = rep.get(f"/referrals?page={page}")
        assert response.status_code == 404
        assert "it has 2 pages" in text(response)
    assert rep.get("/referrals?page=1").status_code == 200


def test_an_empty_list_is_one_page_that_says_so(app, world) -> None:
    page = text(_client(app, world["police_rep"]).get("/referrals"))
    assert "Your agency has not referred any cases yet." in page
    assert "govuk-pagination" not in page
    assert _client(app, world["police_rep"]).get("/referrals?page=2").status_code == 404


def test_the_window_names_the_pages_govuk_shows() -> None:
    assert Window(1, 50, 120).numbers() == [1, 2, 3]
    assert Window(1, 50, 1000).numbers() == [1, 2, None, 20]
    assert Window(10, 50, 1000).numbers() == [1, None, 9, 10, 11, None, 20]
    assert Window(3, 50, 1000).numbers() == [1, 2, 3, 4, None, 20]
    assert Window(1, 50, 0).pages == 1 and Window(1, 50, 0).numbers() == [1]


# --- the API -------------------------------------------------------------------------------


@pytest.fixture
def bearer(providers: Providers, police_idp: DevIdP) -> dict[str, str]:
    header, _ = records_system_bearer(providers, police_idp, frozenset({"referrals:read"}))
    return header


def _links(response) -> dict[str, str]:
    return {
        rel: url
        for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", ""))
    }


def test_the_api_pages_a_hundred_at_a_time_with_link_headers(app, world, bearer) -> None:
    _referrals(world, 230)
    client = app.test_client()
    first = client.get("/api/v1/referrals", headers=bearer)
    assert first.status_code == 200
    body = first.get_json()
    assert [r["reference"] for r in body] == [f"PG-2026-{n:04d}" for n in range(230, 130, -1)]
    assert first.headers["X-Total-Count"] == "230"
    links = _links(first)
    assert set(links) == {"first", "next", "last"}
    assert links["next"].endswith("/api/v1/referrals?page=2&per_page=100")
    assert links["last"].endswith("page=3&per_page=100")
    last = client.get(links["last"], headers=bearer)
    assert [r["reference"] for r in last.get_json()] == [
        f"PG-2026-{n:04d}" for n in range(30, 0, -1)
    ]
    assert "next" not in _links(last) and _links(last)["prev"].endswith("page=2&per_page=100")
    small = client.get("/api/v1/referrals?page=2&per_page=10", headers=bearer)
    assert [r["reference"] for r in small.get_json()] == [
        f"PG-2026-{n:04d}" for n in range(220, 210, -1)
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=0", 422),
        ("page=-1", 422),
        ("page=two", 422),
        ("page=99999999999999999999", 422),
        ("per_page=101", 422),
        ("per_page=0", 422),
        ("page=4", 404),
        ("page=2147483647", 404),
    ],
)
def test_the_api_answers_a_bad_page_clearly(app, world, bearer, query, status) -> None:
    _referrals(world, 230)
    response = app.test_client().get(f"/api/v1/referrals?{query}", headers=bearer)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
