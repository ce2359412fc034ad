"""Tasks: creation, bad input, reassignment inside the agency, versions, rule tasks, ledger."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from audit.models import AuditEntry
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import LONDON, today_london
from hub.core.errors import Conflict, Forbidden, NotFound, Refused, ValidationFailed
from tests.tasks.conftest import on_team, police_case, refusals, share, wall_off
from todo import jobs, rules, services
from todo.models import Priority, Task, TaskEvent, TaskSource, TaskState
from todo.rules import RuleTask

SYSTEM = Actor.system("test")


def _count(model=Task) -> int:
    with db.unit_of_work():
        return len(db.session().execute(select(model.id)).all())


def _task(
    actors, world, *, owner="police_officer", agency="police", referral_id=None, due=None, **extra
) -> int:
    with db.unit_of_work():
        task = services.create_task(
            actors["coordinator"],
            agency_id=world.agencies[agency],
            owner_member_id=world[owner].member_id if owner else None,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title="Ask the victim whether the new alarm works",
            due_on=due or today_london() + timedelta(days=10),
            priority=Priority.HIGH,
            **extra,
        )
        return task.id


def _actions() -> list[str]:
    with db.unit_of_work():
        return list(
            db.session().execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars()
        )


def test_a_meeting_action_becomes_a_task_with_its_history_and_ledger_entry(
    app, world, actors, referral
) -> None:
    task_id = _task(
        actors, world, referral_id=referral, source_key="action-17", details="Agreed at the MARAC"
    )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.state, task.priority, task.source) == ("open", "high", "meeting_action")
        assert task.agency_id == world.agencies["police"]
        events = services.task_history(task_id)
        assert [e.kind for e in events] == ["created"]
        assert events[0].member_id == world["coordinator"].member_id
    assert "task:created" in _actions()
    # The same action again (a retried request) returns the same task.
    assert _task(actors, world, referral_id=referral, source_key="action-17") == task_id
    assert _count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"due_on": date(2020, 1, 1)}, "due_on", "today or in the future"),
        ({"due_on": None}, "due_on", "Enter the due date"),
        ({"title": "   "}, "title", "Enter what needs to be done"),
        ({"owner": 999_999}, "owner", "that person is unknown"),
        ({"owner": "nurse"}, "owner", "choose someone from this agency"),
        ({"priority": "whenever"}, "priority", "Select a priority"),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(
    app, world, actors, change, field, message
) -> None:
    owner = change.get("owner", "police_officer")
    owner_id = owner if isinstance(owner, int) else world[owner].member_id
    with pytest.raises(ValidationFailed) as caught, db.unit_of_work():
        services.create_task(
            actors["coordinator"],
            agency_id=world.agencies["police"],
            owner_member_id=owner_id,
            referral_id=None,
            source=TaskSource.MEETING_ACTION,
            title=change.get("title", "Do something useful"),
            due_on=change.get("due_on", today_london()) if "due_on" in change else today_london(),
            priority=change.get("priority", "normal"),
        )
    assert message in caught.value.errors[field]
    assert _count() == 0
    assert "task:created" not in _actions()


def _blocked_police_rep(world) -> int:
    """A police case whose must-not-receive list names the police MARAC representative."""
    return police_case(world, must_not_receive=("police_rep",))


def _walled_nurse(world) -> int:
    """A police case given to health, where the nurse was on the team and is now walled off."""
    referral_id = police_case(world)
    share(world, referral_id, "health")
    on_team(world, referral_id, "nurse")
    wall_off(world, referral_id, "nurse")
    return referral_id


@pytest.mark.parametrize(
    ("situation", "agency", "owner"),
    [(_blocked_police_rep, "police", "police_rep"), (_walled_nurse, "health", "nurse")],
    ids=["must_not_receive", "conflict_wall"],
)
def test_a_task_is_never_given_to_someone_who_may_not_know_its_case(
    app, world, actors, situation, agency, owner
) -> None:
    referral_id = situation(world)
    before = _count()
    # As the meetings' handler calls it: nothing passed in, the owner is checked all the same.
    with pytest.raises(ValidationFailed, match="cannot see this case"), db.unit_of_work():
        services.create_task(
            actors["coordinator"],
            agency_id=world.agencies[agency],
            owner_member_id=world[owner].member_id,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title="Visit",
            due_on=today_london(),
        )
    assert _count() == before


def test_a_template_task_for_an_owner_who_may_not_know_the_case_waits_in_the_queue(
    app, world, actors
) -> None:
    from agencies.services import get_agency
    from todo.models import Trigger

    referral_id = _blocked_police_rep(world)
    with db.unit_of_work():
        made = services.generate_from_template(
            actors["coordinator"],
            agency=get_agency(world.agencies["police"]),
            referral_id=referral_id,
            trigger=Trigger.REFERRAL_ACCEPTED,
            risk_band="high",
            owner_member_id=world["police_rep"].member_id,
        )
        assert made and {t.owner_member_id for t in made} == {None}


def test_reassigning_checks_the_new_owner_may_know_the_case(app, world, actors) -> None:
    referral_id = _blocked_police_rep(world)
    task_id = _task(actors, world, referral_id=referral_id)
    with pytest.raises(ValidationFailed, match="cannot see this case"), db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.reassign_task(
            actors["police_officer"],
            task,
            version=task.version,
            owner_member_id=world["police_rep"].member_id,
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.owner_member_id, task.version) == (world["police_officer"].member_id, 1)


@pytest.mark.parametrize("operation", ["update", "note", "reassign", "take"])
def test_a_forged_write_on_a_task_of_a_hidden_case_changes_nothing(
    app, world, actors, operation
) -> None:
    """The police MARAC representative may change any of the agency's tasks, but not one of a
    case they must not receive: it is "no such task", and the refusal is recorded."""
    referral_id = _blocked_police_rep(world)
    task_id = _task(
        actors,
        world,
        referral_id=referral_id,
        owner=None if operation == "take" else "police_officer",
    )
    rep = actors["police_rep"]
    with pytest.raises(Refused) as refused, db.unit_of_work():
        task = db.session().get(Task, task_id)
        if operation == "update":
            change = services.TaskChange(state="done", note="closing it")
            services.update_task(rep, task, version=task.version, change=change)
        elif operation == "note":
            change = services.TaskChange(note="I know about this")
            services.update_task(rep, task, version=task.version, change=change)
        elif operation == "reassign":
            services.reassign_task(rep, task, version=task.version, owner_member_id=None)
        else:
            services.take_task(rep, task, version=task.version)
    assert refused.value.conceal and str(refused.value) == "There is no such task."
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.state, task.version) == ("open", 1)
        assert [e.kind for e in services.task_history(task_id)] == ["created"]
    denied = refusals(referral_id)[-1]
    assert denied["reason"] == "must_not_receive"
    assert denied["attempted"].startswith("task:")


def test_only_the_agency_or_the_meeting_may_create_its_tasks(app, world, actors) -> None:
    for who in ("nurse", "housing_officer", "auditor", "admin"):
        with pytest.raises(Forbidden), db.unit_of_work():
            services.create_task(
                actors[who],
                agency_id=world.agencies["police"],
                owner_member_id=None,
                referral_id=None,
                source=TaskSource.MEETING_ACTION,
                title="x",
                due_on=today_london(),
            )
    _task(actors, world)  # the coordinator records meeting actions for every agency
    with db.unit_of_work():
        services.create_task(
            actors["police_officer"],
            agency_id=world.agencies["police"],
            owner_member_id=None,
            referral_id=None,
            source=TaskSource.MEETING_ACTION,
            title="x",
            due_on=today_london(),
        )


def test_reassignment_stays_inside_the_agency(app, world, actors) -> None:
    task_id = _task(actors, world, owner="police_officer")
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        with pytest.raises(ValidationFailed, match="from this agency"):
            services.reassign_task(
                actors["police_officer"],
                task,
                version=task.version,
                owner_member_id=world["nurse"].member_id,
            )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.reassign_task(
            actors["police_officer"],
            task,
            version=task.version,
            owner_member_id=world["police_rep"].member_id,
            note="Rep is covering this case",
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert task.owner_member_id == world["police_rep"].member_id
        assert task.agency_id == world.agencies["police"]
        last = services.task_history(task_id)[-1]
        assert last.kind == "reassigned" and last.note == "Rep is covering this case"
        assert last.changes["owner"] == [
            world["police_officer"].member_id,
            world["police_rep"].member_id,
        ]
    assert "task:reassigned" in _actions()


def test_a_queued_task_is_taken_once(app, world, actors) -> None:
    task_id = _task(actors, world, owner=None)
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.take_task(actors["police_officer"], task, version=task.version)
    with pytest.raises(Conflict, match="already taken"), db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.take_task(actors["police_rep"], task, version=task.version)
    with db.unit_of_work():
        assert services.task_history(task_id)[-1].kind == "taken"


def test_completing_with_a_note_and_the_rules_for_closing(app, world, actors) -> None:
    task_id = _task(actors, world)
    officer = actors["police_officer"]
    with pytest.raises(ValidationFailed, match="Say why"), db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            officer,
            task,
            version=task.version,
            change=services.TaskChange(state=TaskState.NOT_DONE.value),
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            officer,
            task,
            version=task.version,
            change=services.TaskChange(
                state="done", note="Alarm fitted and tested with the victim"
            ),
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert task.state == "done" and task.closed_at is not None and task.version == 2
        last = services.task_history(task_id)[-1]
        assert last.changes == {"state": ["open", "done"]}
        assert last.note == "Alarm fitted and tested with the victim"
    assert _actions()[-1] == "task:updated"


def test_an_edit_racing_another_is_refused_not_merged(app, world, actors) -> None:
    task_id = _task(actors, world)
    with db.unit_of_work():
        seen_version = db.session().get(Task, task_id).version
    with db.unit_of_work():  # someone else saves first
        task = db.session().get(Task, task_id)
        services.update_task(
            actors["police_rep"],
            task,
            version=seen_version,
            change=services.TaskChange(priority="urgent"),
        )
    with pytest.raises(Conflict, match="Someone else changed this task"), db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            actors["police_officer"],
            task,
            version=seen_version,
            change=services.TaskChange(state="done", note="done"),
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.state, task.priority) == ("open", "urgent")


def test_a_write_between_load_and_flush_is_caught_by_the_version_column(app, world, actors):
    task_id = _task(actors, world)
    with pytest.raises(Conflict), db.unit_of_work() as uow:
        task = uow.session.get(Task, task_id)
        # Another transaction's committed change, simulated in place: bump the version.
        uow.session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(version=Task.version + 1)
            .execution_options(synchronize_session=False)
        )
        services.update_task(
            actors["police_officer"],
            task,
            version=task.version,
            change=services.TaskChange(state="in_progress"),
        )


def test_others_may_not_change_a_colleagues_task_but_the_representative_may(
    app, world, actors
) -> None:
    task_id = _task(actors, world, owner="police_officer")
    with pytest.raises(Forbidden), db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            actors["chair"],
            task,
            version=task.version,
            change=services.TaskChange(note="chair is in police agency"),
        )
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            actors["police_rep"],
            task,
            version=task.version,
            change=services.TaskChange(note="Spoke to the officer"),
        )
        assert services.task_history(task_id)[-1].kind == "noted"
    with pytest.raises(NotFound), db.unit_of_work():
        services.get_task_for(actors["nurse"], task_id)


def test_system_rule_tasks_are_made_once_per_rule_key(app, world, actors) -> None:
    with db.unit_of_work():
        first, made = services.system_rule_task(
            SYSTEM,
            rule_key="minutes-due:meeting-1",
            agency_id=world.agencies["csp"],
            title="Send the minutes",
            due_on=today_london(),
            owner_member_id=world["coordinator"].member_id,
        )
        again, made_again = services.system_rule_task(
            SYSTEM,
            rule_key="minutes-due:meeting-1",
            agency_id=world.agencies["csp"],
            title="Send the minutes",
            due_on=today_london(),
        )
        assert made and not made_again and first.id == again.id
        assert first.source == "system_rule"
    with db.unit_of_work():
        resolved = services.resolve_system_rule_task(
            SYSTEM, rule_key="minutes-due:meeting-1", agency_id=world.agencies["csp"]
        )
        assert resolved.state == "done"
    assert "task:resolved" in _actions()


def test_the_rules_job_runs_registered_providers_and_survives_a_broken_one(
    app, world, monkeypatch
) -> None:
    csp, police = world.agencies["csp"], world.agencies["police"]
    coordinator = world["coordinator"].member_id

    def meetings(today: date):
        yield rules.minutes_due(
            meeting_id=7, held_on=date(2026, 12, 24), agency_id=csp, owner_member_id=coordinator
        )

    def consent(today: date):
        found = rules.consent_expiring(
            consent_id=3,
            ends_on=today + timedelta(days=5),
            today=today,
            agency_id=police,
            referral_id=None,
        )
        later = rules.consent_expiring(
            consent_id=4,
            ends_on=today + timedelta(days=30),
            today=today,
            agency_id=police,
            referral_id=None,
        )
        assert later is None  # not yet within 7 days
        yield found

    def broken(today: date):
        raise RuntimeError("provider bug")

    monkeypatch.setattr(
        jobs,
        "rule_providers",
        lambda: {"minutes": meetings, "consent": consent, "broken": broken},
    )
    with time_machine.travel(datetime(2026, 12, 24, 18, tzinfo=LONDON), tick=False):
        assert jobs.generate_system_rule_tasks() == 2
        assert jobs.generate_system_rule_tasks() == 0  # idempotent
    with db.unit_of_work():
        tasks = {t.source_key: t for t in db.session().execute(select(Task)).scalars()}
    minutes = tasks["rule:minutes-due:meeting-7"]
    # Three working days after Christmas Eve: not Christmas, not Boxing Day (observed Monday).
    assert minutes.due_on == date(2026, 12, 31)
    assert minutes.owner_member_id == coordinator
    consent_task = tasks[f"rule:consent-expiry:3:{date(2026, 12, 29).isoformat()}"]
    assert consent_task.priority == "high" and consent_task.owner_member_id is None

    def renewed(today: date):
        yield RuleTask(
            rule_key=f"consent-expiry:3:{date(2026, 12, 29).isoformat()}",
            agency_id=police,
            resolved=True,
        )

    monkeypatch.setattr(jobs, "rule_providers", lambda: {"consent": renewed})
    jobs.generate_system_rule_tasks()
    with db.unit_of_work():
        assert db.session().get(Task, consent_task.id).state == "done"


def test_rule_builders_keep_their_windows() -> None:
    today = date(2026, 6, 1)
    assert (
        rules.repeat_window_ending(
            referral_id=1, window_ends_on=today + timedelta(days=20), today=today, agency_id=1
        )
        is None
    )
    ending = rules.repeat_window_ending(
        referral_id=1, window_ends_on=today + timedelta(days=10), today=today, agency_id=1
    )
    assert ending.due_on == today + timedelta(days=10)
    waiting = rules.approval_waiting(
        decision_id=5, requested_on=date(2026, 5, 22), agency_id=1, referral_id=2
    )
    assert waiting.due_on == date(2026, 5, 26)  # over the late May bank holiday
    assert waiting.priority is Priority.URGENT


def test_every_change_is_in_the_ledger_with_ids_only(app, world, actors, referral) -> None:
    task_id = _task(actors, world, referral_id=referral)
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        services.update_task(
            actors["police_officer"],
            task,
            version=task.version,
            change=services.TaskChange(state="in_progress", note="Secret note"),
        )
    with db.unit_of_work():
        bodies = [
            e.body.decode()
            for e in db.session().execute(select(AuditEntry)).scalars()
            if e.action.startswith("task:")
        ]
        events = db.session().execute(select(TaskEvent)).scalars().all()
    assert len(bodies) == 2 and len(events) == 2
    for body in bodies:
        assert "Secret note" not in body and "alarm" not in body.lower()
        assert f'"id":{task_id}' in body
