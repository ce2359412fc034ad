"""Working days in England and Wales, with bank holidays from the holidays package."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.workdays import (
    add_working_days,
    bank_holidays,
    is_working_day,
    working_days_between,
)


def test_weekends_are_not_working_days() -> None:
    friday = date(2026, 3, 13)
    assert add_working_days(friday, 1) == date(2026, 3, 16)  # Monday
    assert add_working_days(date(2026, 3, 14), 1) == date(2026, 3, 16)  # from a Saturday
    assert working_days_between(friday, date(2026, 3, 16)) == 1


def test_three_working_days_after_a_christmas_eve_meeting_skip_christmas_and_boxing_day() -> None:
    # After Thu 24 Dec 2026: Fri 25 (Christmas), the weekend and Mon 28 (Boxing Day observed)
    # do not count; Tue 29, Wed 30 and Thu 31 do, so minutes are due on Thursday 31 December.
    assert add_working_days(date(2026, 12, 24), 3) == date(2026, 12, 31)
    assert add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 30)
    assert not is_working_day(date(2026, 12, 28))
    assert date(2026, 12, 28) in bank_holidays(2026)


def test_easter_friday_and_monday_shift_the_count() -> None:
    # Good Friday 26 March and Easter Monday 29 March 2027.
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert add_working_days(date(2027, 3, 25), 3) == date(2027, 4, 1)
    assert working_days_between(date(2027, 3, 25), date(2027, 3, 30)) == 1


def test_the_late_may_bank_holiday_is_skipped() -> None:
    # Spring bank holiday: Monday 25 May 2026.
    assert add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)
    assert add_working_days(date(2026, 5, 22), 3) == date(2026, 5, 28)
    assert not is_working_day(date(2026, 5, 25))


def test_counting_backwards_skips_the_same_days() -> None:
    assert add_working_days(date(2026, 12, 29), -1) == date(2026, 12, 24)
    assert add_working_days(date(2026, 5, 26), -1) == date(2026, 5, 22)
    assert working_days_between(date(2026, 5, 26), date(2026, 5, 22)) == -1


def test_zero_working_days_is_the_same_day() -> None:
    assert add_working_days(date(2026, 12, 25), 0) == date(2026, 12, 25)
    assert working_days_between(date(2026, 12, 25), date(2026, 12, 25)) == 0


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_england_has_eight_bank_holidays_on_weekdays_or_more(year: int) -> None:
    weekday_holidays = [d for d in bank_holidays(year) if d.weekday() < 5]
    assert len(weekday_holidays) >= 8


@given(st.dates(date(2025, 1, 1), date(2030, 12, 31)), st.integers(0, 300))
def test_between_is_the_inverse_of_add(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n
    assert add_working_days(end, -n) <= start or not is_working_day(start)


@given(st.dates(date(2025, 1, 1), date(2030, 12, 31)), st.integers(0, 800))
def test_between_agrees_with_counting_day_by_day(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    slow = sum(1 for k in range(1, days + 1) if is_working_day(start + timedelta(days=k)))
    assert working_days_between(start, end) == slow
