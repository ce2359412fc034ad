"""The quarterly return's counts, checked against what the seeded meetings plainly hold."""

from __future__ import annotations

import random
from datetime import date

from hub.core import db
from meetings.models import MeetingStatus
from returns import services
from returns.compute import Quarter
from tests.returns.conftest import Case, hold, hold_again
from tests.support.world import actor_of

Q2 = Quarter(2026, 2)


def _return(world, quarter: Quarter = Q2):
    with db.unit_of_work():
        return services.quarter_return(actor_of(world["coordinator"]), quarter)


def test_quarters_are_calendar_quarters() -> None:
    assert (Q2.starts_on, Q2.ends_on) == (date(2026, 4, 1), date(2026, 6, 30))
    assert Quarter(2026, 1).previous == Quarter(2025, 4)
    assert Quarter(2025, 4).next == Quarter(2026, 1)
    assert Quarter.parse("2026-q2") == Q2 and Q2.key == "2026-Q2"
    assert [q.key for q in Q2.year_to()] == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]


def test_a_deferred_case_counts_at_the_meeting_that_hears_it(world) -> None:
    waiting = Case(agency="health")
    made = hold(world, date(2026, 3, 26), [Case()], deferred=[waiting])
    hold_again(world, date(2026, 4, 9), [(waiting, made[id(waiting)]), (Case(), None)])
    march, april = _return(world, Quarter(2026, 1)), _return(world)
    assert [r.counts["cases_total"] for r in march.rows] == [1]
    assert [(r.held_on, r.counts["cases_total"]) for r in april.rows] == [(date(2026, 4, 9), 2)]
    assert april.totals["referrals_acute_trust"] == 1 and april.totals["referrals_police"] == 1


def test_a_case_with_two_perpetrators_is_two_cases(world) -> None:
    # One perpetrator turns 17 on the day; the other's birthday is not recorded.
    hold(
        world,
        date(2026, 5, 14),
        [Case(children=3, repeat=True, perpetrators=[date(2009, 5, 14), None])],
    )
    row = _return(world).rows[0]
    assert row.counts["cases_total"] == 2
    assert row.counts["cases_repeat"] == 2
    assert row.counts["referrals_police"] == 2
    assert row.counts["children_in_household"] == 3  # one household, counted once
    assert row.counts["perpetrators_under_18"] == 1
    assert row.counts["perpetrators_under_18_not_known"] == 1


def test_not_known_is_counted_apart_from_no(world) -> None:
    hold(
        world,
        date(2026, 4, 9),
        [
            Case(ethnicity="", gender="", disability="not_known", lgbt="not_known"),
            Case(ethnicity="Prefer not to say", children=None, victim_born_on=None),
            Case(ethnicity="Pakistani", disability="yes", lgbt="yes", gender="Male"),
            Case(ethnicity="Black Caribbean"),
            Case(ethnicity="White Irish"),
        ],
    )
    totals = _return(world).totals
    assert (totals["victims_bame"], totals["victims_bame_not_known"]) == (2, 2)
    assert (totals["victims_disabled"], totals["victims_disabled_not_known"]) == (1, 1)
    assert (totals["victims_lgbt"], totals["victims_lgbt_not_known"]) == (1, 1)
    assert (totals["victims_male"], totals["victims_male_not_known"]) == (1, 1)
    assert (totals["victims_16_17"], totals["victims_16_17_not_known"]) == (0, 1)
    assert totals["children_not_known"] == 1


def test_a_victim_is_sixteen_on_the_meeting_date_though_fifteen_at_referral(world) -> None:
    young = Case(victim_born_on=date(2010, 4, 20), referred_on=date(2026, 4, 1))
    almost = Case(victim_born_on=date(2010, 5, 15))  # 16 the day after the meeting
    hold(world, date(2026, 5, 14), [young, almost])
    assert _return(world).totals["victims_16_17"] == 1


def test_only_held_meetings_in_the_quarter_count(world) -> None:
    hold(world, date(2026, 3, 31), [Case()])
    hold(world, date(2026, 7, 1), [Case()])
    hold(world, date(2026, 6, 25), [Case()], status=MeetingStatus.CIRCULATED)
    hold(world, date(2026, 6, 30), [])
    found = _return(world)
    assert [(r.held_on, r.counts["cases_total"]) for r in found.rows] == [(date(2026, 6, 30), 0)]


def _expected(meetings: list[tuple[date, list[Case]]]) -> dict[date, dict[str, int]]:
    """Count a quarter by hand, one case at a time, the way the return defines them."""
    minoritised = {"Indian", "Black African", "Mixed White and Asian", "Any other ethnic group"}
    out: dict[date, dict[str, int]] = {}
    for day, cases in meetings:
        tally = {"cases": 0, "repeats": 0, "children": 0, "bame": 0, "bame_nk": 0, "police": 0}
        tally |= {"idva": 0, "u18": 0, "u18_nk": 0, "v1617": 0}
        for case in cases:
            tally["children"] += case.children or 0
            for born in case.perpetrators or [None]:
                tally["cases"] += 1
                tally["repeats"] += case.repeat
                tally[{"police": "police", "idva": "idva"}[case.agency]] += 1
                if case.ethnicity in minoritised:
                    tally["bame"] += 1
                elif case.ethnicity == "":
                    tally["bame_nk"] += 1
                if born is None:
                    tally["u18_nk"] += 1
                elif date(born.year + 18, born.month, born.day) > day:
                    tally["u18"] += 1
                v = case.victim_born_on
                assert v is not None
                if date(v.year + 16, v.month, v.day) <= day < date(v.year + 18, v.month, v.day):
                    tally["v1617"] += 1
        out[day] = tally
    return out


def test_a_mixed_quarter_matches_a_count_by_hand(world) -> None:
    pick = random.Random(16)
    ethnicities = ["White British", "Indian", "", "Black African", "White Other"]
    ethnicities += ["Mixed White and Asian", "Any other ethnic group"]
    meetings = []
    for day in (date(2026, 4, 2), date(2026, 4, 30), date(2026, 5, 28), date(2026, 6, 25)):
        cases = [
            Case(
                agency=pick.choice(["police", "idva"]),
                ethnicity=pick.choice(ethnicities),
                victim_born_on=date(pick.randint(1990, 2010), pick.randint(1, 12), 5),
                children=pick.randint(0, 3),
                repeat=pick.random() < 0.3,
                perpetrators=[
                    pick.choice([None, date(pick.randint(2007, 2010), 6, 1), date(1980, 2, 2)])
                    for _ in range(pick.choice([1, 1, 1, 2]))
                ],
            )
            for _ in range(pick.randint(3, 6))
        ]
        hold(world, day, cases)
        meetings.append((day, cases))
    expected = _expected(meetings)
    found = {r.held_on: r.counts for r in _return(world).rows}
    assert set(found) == set(expected)
    for day, tally in expected.items():
        got = found[day]
        assert got["cases_total"] == tally["cases"]
        assert got["cases_repeat"] == tally["repeats"]
        assert got["children_in_household"] == tally["children"]
        assert got["referrals_police"] == tally["police"]
        assert got["referrals_idva"] == tally["idva"]
        assert got["victims_bame"] == tally["bame"]
        assert got["victims_bame_not_known"] == tally["bame_nk"]
        assert got["victims_16_17"] == tally["v1617"]
        assert got["perpetrators_under_18"] == tally["u18"]
        assert got["perpetrators_under_18_not_known"] == tally["u18_nk"]
