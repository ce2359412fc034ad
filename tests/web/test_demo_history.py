"""The demo's last year, imported: a fresh `make run` shows a real data return and dashboard.

The expected return is counted here from the seeded rows with plain SQL, not with the hub's
own counting code.
"""

from __future__ import annotations

from sqlalchemy import text as sql

from agencies import services as agencies
from hub import demo_history
from hub.core import db
from hub.core.clock import today_london
from returns.compute import Quarter
from tests.support.web import signed_in, text
from tests.web.test_demo_cases import _seed


def _last_complete_quarter() -> Quarter:
    return Quarter.containing(today_london()).previous


def _counted_by_hand(quarter: Quarter) -> dict[str, int]:
    rows = db.session().execute(
        sql(
            "SELECT r.is_repeat, r.children_count, a.type,"
            " (SELECT count(*) FROM referral_parties p"
            "   WHERE p.referral_id = r.id AND p.role = 'perpetrator') AS pairs"
            " FROM agenda_items i JOIN meetings m ON m.id = i.meeting_id"
            " JOIN referrals r ON r.id = i.referral_id"
            " JOIN agencies a ON a.id = r.referring_agency_id"
            " WHERE m.status = 'held' AND i.status = 'discussed'"
            " AND m.held_on BETWEEN :start AND :end"
        ),
        {"start": quarter.starts_on, "end": quarter.ends_on},
    )
    found = {"cases": 0, "repeats": 0, "police": 0, "meetings": 0}
    for is_repeat, _children, agency_type, pairs in rows:
        pairs = max(pairs, 1)
        found["cases"] += pairs
        found["repeats"] += pairs if is_repeat else 0
        found["police"] += pairs if agency_type == "police" else 0
    found["meetings"] = (
        db.session()
        .execute(
            sql(
                "SELECT count(*) FROM meetings WHERE status = 'held'"
                " AND held_on BETWEEN :start AND :end"
            ),
            {"start": quarter.starts_on, "end": quarter.ends_on},
        )
        .scalar_one()
    )
    return found


def test_the_imported_year_fills_the_last_quarters_return_and_a_second_run_adds_nothing(
    app,
) -> None:
    settings = app.extensions["hub.settings"]
    _seed(settings)
    with db.unit_of_work():
        notes = demo_history.seed_history(settings)
    assert notes and "12 monthly meetings" in notes[0]
    with db.unit_of_work():
        assert demo_history.seed_history(settings) == notes  # and adds nothing
        quarter = _last_complete_quarter()
        expected = _counted_by_hand(quarter)
        coordinator = agencies.find_member_by_email("coordinator@csp.northbridge.example")
        imported = db.session().execute(
            sql("SELECT count(*) FROM audit_entries WHERE action = 'area:history_imported'")
        )
        assert imported.scalar_one() == 1
    assert expected["meetings"] == 3 and 39 <= expected["cases"] <= 57
    assert 0 < expected["repeats"] < expected["cases"]
    assert 0 < expected["police"] < expected["cases"]  # partners refer too

    client = signed_in(app.test_client(), coordinator)
    page = text(client.get(f"/returns/{quarter.key}"))
    assert f">{expected['cases']}<" in page.replace(" ", "")
    csv = text(client.get(f"/returns/{quarter.key}/return.csv"))
    total = next(line for line in csv.splitlines() if line.lower().startswith("total"))
    assert str(expected["cases"]) in total.split(",")
    dashboard = client.get(f"/returns/{quarter.key}/dashboard")
    assert dashboard.status_code == 200 and "<svg" in text(dashboard)
