"""Working days in England and Wales: Monday to Friday, less the bank holidays.

Bank holidays come from the maintained ``holidays`` package (subdivision ENG; Wales has the
same days), never from a hand-written list, so a new or moved bank holiday (a coronation, a
jubilee) arrives with a package upgrade.

``add_working_days(start, n)`` counts ``n`` working days after ``start`` (``start`` itself is
not counted; a negative ``n`` counts backwards), and ``working_days_between(a, b)`` is its
inverse: the number of working days ``d`` with ``a < d <= b``, negative when ``b`` is before
``a``. So "minutes within 3 working days of the meeting" is ``add_working_days(meeting_on, 3)``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

__all__ = ["add_working_days", "bank_holidays", "is_working_day", "working_days_between"]

#: The holidays package's country and subdivision for England (Wales shares its days).
COUNTRY = "GB"
SUBDIVISION = "ENG"


@lru_cache(maxsize=64)
def _year(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(COUNTRY, subdiv=SUBDIVISION, years=year))


def bank_holidays(year: int) -> frozenset[date]:
    """Return the England and Wales bank holidays of a year (observed days included)."""
    return _year(year)


def is_working_day(day: date) -> bool:
    """Whether a day is a working day: a weekday that is not a bank holiday."""
    return day.weekday() < 5 and day not in _year(day.year)


def add_working_days(start: date, n: int) -> date:
    """Return the date ``n`` working days after ``start`` (before it, when ``n`` is negative).

    ``n == 0`` returns ``start`` unchanged, even on a weekend or bank holiday.
    """
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    day = start
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(a: date, b: date) -> int:
    """Count the working days after ``a`` up to and including ``b`` (negative if b < a)."""
    if b < a:
        return -working_days_between(b, a)
    count = 0
    day = a
    # Whole weeks first, so a long span costs a few steps rather than one per day.
    whole_weeks = (b - a).days // 7
    if whole_weeks:
        end = a + timedelta(days=7 * whole_weeks)
        holidays_in_span = sum(
            1
            for year in range(a.year, end.year + 1)
            for h in _year(year)
            if a < h <= end and h.weekday() < 5
        )
        count = 5 * whole_weeks - holidays_in_span
        day = end
    while day < b:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
