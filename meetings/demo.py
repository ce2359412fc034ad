"""Demo data for conferences: an upcoming Northbridge meeting (``hub demo seed`` calls this)."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from agencies.models import Cadence, MaracArea
from hub.core.access import Actor, Role
from hub.core.clock import today_london
from hub.core.config import Settings
from hub.core.db import session
from meetings import services
from meetings.models import Meeting, MeetingKind, MeetingStatus

AREA = "Northbridge MARAC"
VENUE = "Northbridge Civic Centre, Committee Room 3 (or join by video)"


def _next_tuesday(after: date) -> date:
    return after + timedelta(days=(1 - after.weekday()) % 7 or 7)


def seed_meetings(settings: Settings) -> Meeting | None:
    """Make sure Northbridge has an upcoming meeting; running it twice changes nothing.

    Runs inside the demo seed's unit of work. Returns the upcoming meeting, or None when the
    demo area does not exist (seed the area first).
    """
    if settings.is_production:
        return None  # the demo never touches a production hub
    area = session().execute(select(MaracArea).where(MaracArea.name == AREA)).scalar_one_or_none()
    if area is None:
        return None
    today = today_london()
    upcoming = (
        session()
        .execute(
            select(Meeting)
            .where(
                Meeting.area_id == area.id,
                Meeting.held_on >= today,
                Meeting.status != MeetingStatus.HELD,
            )
            .order_by(Meeting.held_on)
            .limit(1)
        )
        .scalar_one_or_none()
    )
    if upcoming is not None:
        return upcoming
    # A system actor acting for the area's coordinator, as the CLI does for scheduled work.
    seeder = Actor(
        kind="system",
        member_id=None,
        agency_id=None,
        area_id=area.id,
        roles=frozenset({Role.COORDINATOR}),
        name="demo-seed",
    )
    held_on = _next_tuesday(today + timedelta(days=area.agenda_cutoff_days + 2))
    (meeting,) = services.schedule_meetings(
        seeder,
        services.ScheduleData(
            first_on=held_on,
            start_time=time(10, 0),
            venue=VENUE,
            kind=MeetingKind.SCHEDULED,
            cadence=Cadence(area.meeting_cadence),
            count=1,
        ),
    )
    chair, coordinator = services.default_chair_and_coordinator(area.id)
    meeting.chair_id = chair.id if chair else None
    meeting.coordinator_id = coordinator.id if coordinator else None
    session().flush()
    return meeting
