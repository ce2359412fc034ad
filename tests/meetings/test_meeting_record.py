"""The meeting itself: attendance, the per-case record, actions that become tasks, the review
of earlier actions, deferral when the referrer is absent, and closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cases.models import Referral
from hub.core import db
from hub.core.clock import today_london
from hub.core.errors import Conflict, Forbidden, ValidationFailed
from hub.core.workdays import add_working_days
from meetings import conduct, services
from meetings.models import Action, ActionStatus, ItemStatus, Meeting
from tests.meetings.conftest import (
    FULL_DISCUSSION,
    circulated_meeting,
    on_meeting_day,
    run_to_close,
    schedule,
)
from tests.support.world import actor_of
from todo.models import Task


def _with(conference, fn):
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        return fn(meeting)


def test_attendance_rules(world, conference) -> None:
    chair = actor_of(world["chair"])
    with pytest.raises(ValidationFailed) as refused:
        _with(
            conference,
            lambda m: conduct.record_attendance(
                chair, m, conduct.AttendanceData(kind="observer", name="Student Social Worker")
            ),
        )
    assert "sign the confidentiality statement" in refused.value.errors["confidentiality_signed"]
    with pytest.raises(ValidationFailed) as refused:
        _with(
            conference,
            lambda m: conduct.record_attendance(
                chair,
                m,
                conduct.AttendanceData(
                    kind="information_sent", agency_id=world.agencies["housing"]
                ),
            ),
        )
    assert "date the information was received" in refused.value.errors["information_received_on"]
    with pytest.raises(ValidationFailed, match="Select the agency"):
        _with(
            conference,
            lambda m: conduct.record_attendance(
                chair, m, conduct.AttendanceData(kind="present", name="Somebody")
            ),
        )
    _with(
        conference,
        lambda m: conduct.record_attendance(
            chair,
            m,
            conduct.AttendanceData(
                kind="observer", name="Student Social Worker", confidentiality_signed=True
            ),
        ),
    )
    _with(
        conference,
        lambda m: conduct.record_attendance(
            chair,
            m,
            conduct.AttendanceData(
                kind="information_sent",
                agency_id=world.agencies["housing"],
                name="Homes team",
                information_received_on=today_london() - timedelta(days=1),
            ),
        ),
    )
    _with(
        conference,
        lambda m: conduct.record_attendance(
            chair, m, conduct.AttendanceData(kind="apologies", agency_id=world.agencies["police"])
        ),
    )
    kinds = _with(conference, lambda m: [a.kind for a in m.attendance])
    assert kinds == ["observer", "information_sent", "apologies"]


def test_an_action_needs_an_owner_and_a_due_date_not_in_the_past(world, conference) -> None:
    chair = actor_of(world["chair"])

    def add(data):
        return _with(
            conference,
            lambda m: conduct.add_action(
                chair, m, services.get_item(m, conference.item_ids[0]), data
            ),
        )

    with pytest.raises(ValidationFailed) as refused:
        add(
            conduct.ActionData(
                text="Safety plan", owner_member_id=None, due_on=today_london() - timedelta(days=1)
            )
        )
    assert refused.value.errors == {
        "owner_member_id": "Select who owns this action",
        "due_on": "The due date must be today or in the future",
    }
    with pytest.raises(ValidationFailed, match="cannot see this case"):
        # A police practitioner who is not on the case team cannot own it.
        add(
            conduct.ActionData(
                text="Safety plan",
                owner_member_id=world["police_officer"].member_id,
                due_on=today_london(),
            )
        )
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(Action)).first() is None  # nothing was saved
    action = add(
        conduct.ActionData(
            text="Install a panic alarm at the victim's home",
            owner_member_id=world["police_rep"].member_id,
            due_on=today_london() + timedelta(days=5),
        )
    )
    with db.unit_of_work() as uow:
        task = uow.session.get(Task, action.task_id)
        assert task.source == "meeting_action" and task.source_key == f"action-{action.id}"
        assert task.owner_member_id == world["police_rep"].member_id
        assert task.agency_id == world.agencies["police"]
        assert task.referral_id == conference.referral_ids[0] and task.priority == "high"


def test_deferral_when_the_referrer_is_absent_carries_to_the_next_meeting(world) -> None:
    conference = circulated_meeting(world, ("nurse",))
    (next_id,) = schedule(world, days_ahead=28)
    chair = actor_of(world["chair"])
    item_id = conference.item_ids[0]
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        referral = uow.session.get(Referral, conference.referral_ids[0])
        assert not conduct.referrer_present(meeting, referral)
        item = conduct.set_outcome(
            chair, meeting, services.get_item(meeting, item_id), "referrer_absent"
        )
        assert item.deferral_kind == "referrer_absent" and "absent" in item.deferral_reason
    with on_meeting_day(conference.meeting_id), db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        conduct.mark_confidentiality_read(chair, meeting)
        conduct.record_attendance(
            chair,
            meeting,
            conduct.AttendanceData(
                kind="present", agency_id=world.agencies["idva"], name="Ida Vale"
            ),
        )
        conduct.close_meeting(chair, meeting)
    with db.unit_of_work() as uow:
        assert uow.session.get(Referral, conference.referral_ids[0]).status == "accepted"
        added = services.build_agenda(
            actor_of(world["coordinator"]), uow.session.get(Meeting, next_id)
        )
        assert added[0].flags == ["Deferred from last time"]


def test_closing_needs_every_case_decided_and_makes_the_minutes_task(world, conference) -> None:
    chair = actor_of(world["chair"])
    with pytest.raises(ValidationFailed) as refused:
        _with(conference, lambda m: conduct.close_meeting(chair, m))
    assert {"held_on", "confidentiality", "attendance"} <= set(refused.value.errors)
    assert any("mark it discussed or deferred" in v for v in refused.value.errors.values())
    with pytest.raises(Forbidden):
        _with(conference, lambda m: conduct.close_meeting(actor_of(world["coordinator"]), m))
    run_to_close(world, conference)
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        assert meeting.status == "held"
        assert {uow.session.get(Referral, r).status for r in conference.referral_ids} == {"heard"}
        task = uow.session.execute(
            select(Task).where(Task.source_key == f"rule:minutes-due:meeting-{meeting.id}")
        ).scalar_one()
        assert task.owner_member_id == world["coordinator"].member_id
        assert task.due_on == add_working_days(meeting.held_on, 3)


def test_outstanding_actions_are_reviewed_at_the_next_meeting(world, conference) -> None:
    run_to_close(world, conference)
    later = circulated_meeting(world, ("nurse",), days_ahead=30)
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, later.meeting_id)
        rows = conduct.review_rows(chair, meeting)
        assert len(rows) == 2 and all(r.text for r in rows)
        first, second = rows[0].action_id, rows[1].action_id
    with pytest.raises(ValidationFailed, match="why it was not done"):
        _with(later, lambda m: conduct.review_action(chair, m, first, "not_done"))
    _with(later, lambda m: conduct.review_action(chair, m, first, "done"))
    _with(
        later,
        lambda m: conduct.review_action(
            chair, m, second, "not_possible", "The victim moved to another area"
        ),
    )
    with db.unit_of_work() as uow:
        statuses = [uow.session.get(Action, a).status for a in (first, second)]
        assert statuses == [ActionStatus.DONE.value, ActionStatus.NOT_POSSIBLE.value]
        meeting = uow.session.get(Meeting, later.meeting_id)
        assert len(conduct.review_rows(chair, meeting)) == 2  # still listed at this meeting


def test_discussion_saves_field_by_field_and_checks_whereabouts_reason(world, conference) -> None:
    chair = actor_of(world["chair"])

    def save(values):
        return _with(
            conference,
            lambda m: conduct.save_discussion(
                chair, m, services.get_item(m, conference.item_ids[0]), values
            ),
        )

    save({"referrer_summary": FULL_DISCUSSION["referrer_summary"]})
    saved = save({"risk_victim": "High"})
    assert saved.referrer_summary == FULL_DISCUSSION["referrer_summary"]  # kept
    with pytest.raises(ValidationFailed, match="whereabouts"):
        save({"include_whereabouts": True, "whereabouts_reason": "x"})
    with pytest.raises(ValidationFailed, match="only for counter-allegations"):
        save({"primary_aggressor": "Him"})
    with pytest.raises(ValidationFailed, match="not part of the case record"):
        save({"status": "discussed"})


def test_the_record_is_locked_once_the_minutes_are_approved(world, conference) -> None:
    from meetings import minutes

    run_to_close(world, conference)
    chair = actor_of(world["chair"])
    _with(conference, lambda m: minutes.approve_minutes(chair, m))
    for change in (
        lambda m: conduct.save_discussion(
            chair,
            m,
            services.get_item(m, conference.item_ids[0]),
            {"risk_victim": "changed after approval"},
        ),
        lambda m: conduct.add_contribution(
            chair,
            m,
            services.get_item(m, conference.item_ids[0]),
            world.agencies["police"],
            "late news",
        ),
        lambda m: conduct.record_attendance(
            chair,
            m,
            conduct.AttendanceData(
                kind="present", agency_id=world.agencies["police"], name="Late Arrival"
            ),
        ),
        lambda m: services.defer_item(chair, m, conference.item_ids[0], "changed my mind now"),
    ):
        with pytest.raises(Conflict, match="approved and locked"):
            _with(conference, change)
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        item = services.get_item(meeting, conference.item_ids[0])
        assert item.discussion.risk_victim == FULL_DISCUSSION["risk_victim"]
        assert item.status == ItemStatus.DISCUSSED.value and len(meeting.attendance) == 2
