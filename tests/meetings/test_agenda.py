"""Scheduling and the agenda: cut-off, flags, counter-allegations side by side, deferral
carried over, and who may see the agenda once it is circulated."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from agencies.models import Cadence
from audit.models import AuditEntry
from cases.models import Referral
from hub.core import db
from hub.core.clock import today_london
from hub.core.errors import Conflict, NotFound, Refused, ValidationFailed
from meetings import services
from meetings.models import Meeting, MeetingKind
from tests.meetings.conftest import PEOPLE, accepted_case, schedule
from tests.support.cases import Names
from tests.support.world import actor_of


def _meeting(uow, meeting_id: int) -> Meeting:
    return uow.session.get(Meeting, meeting_id)


def _agenda(meeting_id: int) -> list[tuple[int, list[str]]]:
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        return [(i.referral_id, i.flags) for i in sorted(meeting.items, key=lambda i: i.position)]


def test_series_dates_follow_the_cadence() -> None:
    first = date(2026, 12, 8)  # the second Tuesday of December
    assert services.series_dates(first, Cadence.WEEKLY, 3) == [
        date(2026, 12, 8),
        date(2026, 12, 15),
        date(2026, 12, 22),
    ]
    assert services.series_dates(first, Cadence.FORTNIGHTLY, 2)[1] == date(2026, 12, 22)
    assert services.series_dates(first, Cadence.THREE_WEEKLY, 2)[1] == date(2026, 12, 29)
    monthly = services.series_dates(first, Cadence.MONTHLY, 3)
    assert monthly == [date(2026, 12, 8), date(2027, 1, 12), date(2027, 2, 9)]
    assert all(d.weekday() == 1 and 8 <= d.day <= 14 for d in monthly)  # 2nd Tuesdays
    fifth = services.series_dates(date(2026, 12, 29), Cadence.MONTHLY, 2)[1]
    assert fifth == date(2027, 1, 26)  # no fifth Tuesday in January: the last one


def test_scheduling_a_series_sets_each_cut_off(world) -> None:
    ids = schedule(
        world, days_ahead=10, kind=MeetingKind.SCHEDULED, cadence=Cadence.FORTNIGHTLY, count=3
    )
    with db.unit_of_work() as uow:
        meetings = [_meeting(uow, i) for i in ids]
        assert [m.held_on - meetings[0].held_on for m in meetings] == [
            timedelta(0),
            timedelta(14),
            timedelta(28),
        ]
        assert all(m.cutoff_on == m.held_on - timedelta(days=5) for m in meetings)


def test_scheduling_refuses_a_past_date_and_an_empty_venue(world) -> None:
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work(), pytest.raises(ValidationFailed) as refused:
        services.schedule_meetings(
            coordinator,
            services.ScheduleData(
                first_on=today_london() - timedelta(days=1),
                start_time=None,
                venue=" ",
                kind=MeetingKind.AD_HOC,
            ),
        )
    assert set(refused.value.errors) == {"first_on", "start_time", "venue"}
    with db.unit_of_work(), pytest.raises(Exception, match="Only the MARAC coordinator"):
        services.schedule_meetings(
            actor_of(world["nurse"]),
            services.ScheduleData(
                first_on=today_london(), start_time=None, venue="x", kind=MeetingKind.AD_HOC
            ),
        )


def test_cases_received_after_the_cut_off_wait_unless_added_with_a_reason(world) -> None:
    referral_id = accepted_case(world, "nurse")
    (late_meeting,) = schedule(world, days_ahead=3)  # cut-off was two days ago
    (next_meeting,) = schedule(world, days_ahead=20)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        assert services.build_agenda(coordinator, _meeting(uow, late_meeting)) == []
    with db.unit_of_work() as uow:
        reference = uow.session.get(Referral, referral_id).reference
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        services.add_case(coordinator, _meeting(uow, late_meeting), reference, "")
    assert "cut-off has passed" in refused.value.errors["reason"]
    assert _agenda(late_meeting) == []  # nothing was changed
    with db.unit_of_work() as uow:
        item = services.add_case(
            coordinator,
            _meeting(uow, late_meeting),
            reference.lower(),
            "Threats to kill yesterday: cannot wait a fortnight",
        )
        assert item.added_after_cutoff and "Added after the cut-off" in item.flags
    with db.unit_of_work() as uow:  # waiting on one agenda, it is not built into another
        assert services.build_agenda(coordinator, _meeting(uow, next_meeting)) == []
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="already on the"):
        services.add_case(
            coordinator, _meeting(uow, next_meeting), reference, "Trying to list it twice"
        )


def test_only_accepted_cases_of_the_area_can_be_added(world) -> None:
    from tests.support import cases

    nurse = actor_of(world["nurse"])
    draft_id = cases.draft(nurse)
    cases.with_consent(nurse, draft_id)
    cases.submit(nurse, draft_id)  # submitted, not yet accepted
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        reference = uow.session.get(Referral, draft_id).reference
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="accepted"):
        services.add_case(coordinator, _meeting(uow, meeting_id), reference)
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="no case"):
        services.add_case(coordinator, _meeting(uow, meeting_id), "ZZ-2026-9999")


def test_flags_repeat_transfer_and_emergency(world) -> None:
    first = accepted_case(world, "nurse", index=0)
    with db.unit_of_work() as uow:  # heard at an earlier conference
        uow.session.get(Referral, first).status = "heard"
    repeat = accepted_case(world, "housing_officer", index=0)  # same victim and perpetrator
    transferred = accepted_case(world, "nurse", index=2)
    with db.unit_of_work() as uow:
        uow.session.get(Referral, transferred).transferred_from = "Eastshire MARAC"
    (meeting_id,) = schedule(world)
    with db.unit_of_work() as uow:
        services.build_agenda(actor_of(world["coordinator"]), _meeting(uow, meeting_id))
    flags = dict(_agenda(meeting_id))
    assert first not in flags
    assert flags[repeat] == ["Repeat"]
    assert flags[transferred] == ["Transferred in from Eastshire MARAC"]

    (emergency_id,) = schedule(world, days_ahead=1, kind=MeetingKind.EMERGENCY)
    another = accepted_case(world, "nurse", index=3)
    with db.unit_of_work() as uow:
        emergency = _meeting(uow, emergency_id)
        assert services.build_agenda(actor_of(world["coordinator"]), emergency) == []
        reference = uow.session.get(Referral, another).reference
        item = services.add_case(actor_of(world["coordinator"]), emergency, reference)
        assert item.flags == ["Emergency"] and not item.added_after_cutoff


def test_counter_allegations_sit_together_and_move_together(world) -> None:
    jane, john = PEOPLE[0]
    first = accepted_case(world, "nurse", victim=jane, perpetrator=john)
    other = accepted_case(world, "housing_officer", index=1)
    counter = accepted_case(
        world,
        "nurse",
        victim=Names(john.given, john.family, john.born_on),
        perpetrator=Names(jane.given, jane.family, jane.born_on),
    )
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        services.build_agenda(coordinator, _meeting(uow, meeting_id))
    order = _agenda(meeting_id)
    assert [r for r, _ in order] == [first, counter, other]
    assert all("Counter-allegation" in f for r, f in order if r in (first, counter))
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        other_item = next(i for i in meeting.items if i.referral_id == other)
        services.move_item(coordinator, meeting, other_item.id, "up")
    assert [r for r, _ in _agenda(meeting_id)] == [other, first, counter]
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        counter_item = next(i for i in meeting.items if i.referral_id == counter)
        services.move_item(coordinator, meeting, counter_item.id, "up")  # the pair moves
    assert [r for r, _ in _agenda(meeting_id)] == [first, counter, other]


def test_the_other_half_of_a_counter_allegation_joins_even_after_the_cut_off(world) -> None:
    jane, john = PEOPLE[0]
    (meeting_id,) = schedule(world, days_ahead=3)  # the cut-off has passed
    first = accepted_case(world, "nurse", victim=jane, perpetrator=john)
    counter = accepted_case(world, "nurse", victim=john, perpetrator=jane)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        reference = uow.session.get(Referral, first).reference
        services.add_case(coordinator, meeting, reference, "Escalation over the weekend")
        services.build_agenda(coordinator, meeting)
    order = _agenda(meeting_id)
    assert [r for r, _ in order] == [first, counter]
    with db.unit_of_work() as uow:
        item = _meeting(uow, meeting_id).items[1]
        assert item.late_reason == "Heard together with its counter-allegation"


def test_a_deferred_case_comes_back_flagged_at_the_next_meeting(world) -> None:
    referral_id = accepted_case(world, "nurse")
    first_id, second_id = schedule(world, days_ahead=7)[0], schedule(world, days_ahead=21)[0]
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        first = _meeting(uow, first_id)
        services.build_agenda(coordinator, first)
        item_id = first.items[0].id
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="reason"):
        services.defer_item(coordinator, _meeting(uow, first_id), item_id, "short")
    with db.unit_of_work() as uow:
        services.defer_item(
            coordinator,
            _meeting(uow, first_id),
            item_id,
            "Referrer on leave; no one briefed to present",
        )
    with db.unit_of_work() as uow:
        added = services.build_agenda(coordinator, _meeting(uow, second_id))
        assert [i.referral_id for i in added] == [referral_id]
        assert added[0].deferred_from_item_id == item_id
        assert added[0].flags == ["Deferred from last time"]


def test_removing_is_only_before_circulation(world) -> None:
    accepted_case(world, "nurse")
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting)
        item_id = meeting.items[0].id
    with db.unit_of_work() as uow, pytest.raises(Conflict, match="defer"):
        services.remove_item(coordinator, _meeting(uow, meeting_id), item_id)


def test_circulation_gives_invited_agencies_need_to_know_and_no_one_else(world) -> None:
    referral_id = accepted_case(world, "nurse")
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    police_rep, idva = actor_of(world["police_rep"]), actor_of(world["idva"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(coordinator, meeting)
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        services.get_meeting(police_rep, meeting_id)  # planned: only the coordinator and chair
    with db.unit_of_work() as uow:
        from cases import services as referrals

        with pytest.raises(Refused):  # before the invitation: as if there were no case
            referrals.open_case(police_rep, referral_id)
    with db.unit_of_work() as uow:
        made = services.circulate_agenda(
            coordinator, _meeting(uow, meeting_id), [world.agencies["police"]]
        )
        # The referring agency is always invited: it presents the case.
        assert {i.agency_id for i in made} == {world.agencies["police"], world.agencies["health"]}
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        services.get_meeting(idva, meeting_id)  # the IDVA service was not invited
    with db.unit_of_work() as uow:
        facts = referrals.case_facts(referrals.get_referral(referral_id))
        assert facts.invited_agency_ids == {world.agencies["police"], world.agencies["health"]}
        rows = services.agenda_rows(police_rep, services.get_meeting(police_rep, meeting_id))
        assert rows[0].heading == "Jane EXAMPLE" and rows[0].withheld == ""
    with db.unit_of_work() as uow:
        entries = [
            json.loads(e.body)
            for e in uow.session.execute(
                select(AuditEntry).where(AuditEntry.action == "agenda:viewed")
            ).scalars()
        ]
        mine = [e for e in entries if e["actor"].get("member") == world["police_rep"].member_id]
        assert mine[-1]["categories"] == ["identity"]
        assert mine[-1]["relation"] == "invited" and mine[-1]["case"] == referral_id
    with db.unit_of_work() as uow:  # a practitioner of the invited agency, not on the case team
        officer = actor_of(world["police_officer"])
        rows = services.agenda_rows(officer, services.get_meeting(officer, meeting_id))
        assert rows == []  # the case is not even listed for them


def test_a_circulated_agenda_gives_each_invited_agency_one_research_task_per_case(
    world,
) -> None:
    """Not its whole template: an agency that knows a case only from the agenda researches it;
    its hands-on work is what the meeting agrees."""
    from todo.models import Task

    referral_id = accepted_case(world, "nurse")
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting, [world.agencies["housing"]])
    with db.unit_of_work() as uow:
        housing = (
            uow.session.execute(
                select(Task).where(
                    Task.agency_id == world.agencies["housing"], Task.referral_id == referral_id
                )
            )
            .scalars()
            .all()
        )
        (research,) = housing
        assert research.source == "system_rule" and research.owner_member_id is None
        assert research.title.startswith("Research your agency's records")
        assert research.due_on < _meeting(uow, meeting_id).held_on
