"""Time: UTC in the database, Europe/London on screen."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["LONDON", "UTC", "end_of_day_london", "now", "to_london", "today_london"]

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    """Return the current time, timezone-aware in UTC (tests freeze it with time-machine)."""
    return datetime.now(UTC)


def to_london(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(LONDON)


def today_london() -> date:
    """Return today's date as a practitioner in England or Wales sees it."""
    return now().astimezone(LONDON).date()


def end_of_day_london(day: date) -> datetime:
    """The first moment after ``day`` ends in London, in UTC: "until 5 March" includes it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
