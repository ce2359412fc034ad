"""Amended minutes: every earlier revision can be read as it stood, each amendment says what
it changed, and whoever downloaded a copy the amendment touches is told to replace it."""

from __future__ import annotations

from sqlalchemy import select

from cases import services as cases
from hub.core import db
from meetings import minutes
from meetings.models import Meeting
from tests.meetings.conftest import FULL_DISCUSSION, run_to_close
from tests.support.web import signed_in, text
from tests.support.world import actor_of
from todo.models import Task

REPLACE = "Replace your copy of the minutes"


def _tasks_of(world, persona: str) -> list[Task]:
    with db.unit_of_work() as uow:
        found = uow.session.execute(
            select(Task).where(Task.owner_member_id == world[persona].member_id)
        ).scalars()
        return [t for t in found if t.title.startswith(REPLACE)]


def test_an_amendment_keeps_the_old_text_says_what_changed_and_tells_the_holders(
    app, world, conference
) -> None:
    run_to_close(world, conference)
    meeting_id = conference.meeting_id
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, meeting_id)
        minutes.approve_minutes(chair, meeting)
        minutes.distribute_minutes(actor_of(world["coordinator"]), meeting)
        first_line = next(i for i in meeting.items if i.referral_id == conference.referral_ids[0])
        reference = cases.get_referral(conference.referral_ids[0]).reference
    # Who holds a copy of revision 1: the coordinator the whole minutes, the nurse her
    # agency's extract (case 1 is her referral), the housing officer his (case 2 only).
    coordinator = signed_in(app.test_client(), world["coordinator"])
    assert coordinator.get(f"/meetings/{meeting_id}/minutes.pdf").status_code == 200
    for persona in ("nurse", "housing_officer"):
        client = signed_in(app.test_client(), world[persona])
        assert client.get(f"/meetings/{meeting_id}/extract.pdf").status_code == 200

    key = f"item-{first_line.id}.risk_victim"
    with db.unit_of_work() as uow:
        minutes.amend_minutes(
            chair,
            uow.session.get(Meeting, meeting_id),
            {key: "Serious harm likely within days, not weeks."},
            "The chair misheard the IDVA's timescale",
        )

    # The holders of a copy the amendment touches are told, once each, naming no case.
    for persona in ("coordinator", "nurse"):
        (task,) = _tasks_of(world, persona)
        assert task.referral_id is None and reference not in task.title + task.details
        assert "revision 2" in task.details and "You downloaded revision 1" in task.details
    assert _tasks_of(world, "housing_officer") == []  # his extract does not hold that case
    assert _tasks_of(world, "idva") == []  # downloaded nothing

    # The minutes page lists each revision, what each amendment changed, and links them.
    page = text(signed_in(app.test_client(), world["chair"]).get(f"/meetings/{meeting_id}/minutes"))
    assert f"What changed: {reference}: " in page
    assert f'href="/meetings/{meeting_id}/minutes/revisions/1"' in page
    old = text(coordinator.get(f"/meetings/{meeting_id}/minutes/revisions/1"))
    assert "superseded: the current minutes are revision 2" in old
    assert FULL_DISCUSSION["risk_victim"] in old and "within days, not weeks" not in old
    assert "Send out the minutes" not in old and "Amend the minutes" not in old
    current = text(coordinator.get(f"/meetings/{meeting_id}/minutes/revisions/2"))
    assert "within days, not weeks" in current and "This is the current revision" in current
    assert coordinator.get(f"/meetings/{meeting_id}/minutes/revisions/3").status_code == 404
    nurse = signed_in(app.test_client(), world["nurse"])
    assert nurse.get(f"/meetings/{meeting_id}/minutes/revisions/1").status_code in (403, 404)
