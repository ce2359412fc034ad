"""The to-do pages: the access matrix over every route, lists, filters, bad input, races."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub.core import db
from hub.core.clock import today_london
from hub.core.workdays import add_working_days
from tests.support.web import sign_in, submit, text
from tests.tasks.conftest import make_referral
from todo import services
from todo.models import Task, TaskSource

POLICE_TITLE = "Check the address markers are in place"
QUEUE_TITLE = "Brief the response team about the address"
HOUSING_TITLE = "Consider a sanctuary scheme referral"


def _signed_in(client, person):
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    return client


def _create(
    world,
    actors,
    *,
    agency="police",
    owner="police_officer",
    referral_id=None,
    title=POLICE_TITLE,
    due=None,
    priority="normal",
) -> int:
    with db.unit_of_work():
        return services.create_task(
            actors["coordinator"],
            agency_id=world.agencies[agency],
            owner_member_id=world[owner].member_id if owner else None,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title=title,
            due_on=due or add_working_days(today_london(), 5),
            priority=priority,
        ).id


def _version(task_id: int) -> int:
    with db.unit_of_work():
        return db.session().get(Task, task_id).version


@pytest.fixture
def case_tasks(world, actors, referral, gate):
    """A police case with the officer's task, a queued police task and a housing task."""
    gate.deny(world["nurse"].member_id, referral)
    return {
        "referral": referral,
        "task": _create(world, actors, referral_id=referral),
        "queued": _create(world, actors, owner=None, referral_id=referral, title=QUEUE_TITLE),
        "housing": _create(
            world,
            actors,
            agency="housing",
            owner="housing_officer",
            referral_id=referral,
            title=HOUSING_TITLE,
        ),
    }


ROUTES = [
    ("GET", "/tasks"),
    ("GET", "/tasks/queue"),
    ("GET", "/tasks/overdue"),
    ("GET", "/tasks/case/{referral}"),
    ("GET", "/tasks/{task}"),
    ("POST", "/tasks/{task}/update"),
    ("POST", "/tasks/{task}/reassign"),
    ("POST", "/tasks/{queued}/take"),
    ("GET", "/tasks/notifications"),
    ("POST", "/tasks/notifications"),
    ("GET", "/tasks/template"),
    ("GET", "/tasks/template/items/new"),
    ("POST", "/tasks/template/items/new"),
    ("GET", "/tasks/template/items/{item}"),
    ("POST", "/tasks/template/items/{item}"),
    ("POST", "/tasks/template/items/{item}/move"),
    ("POST", "/tasks/template/items/{item}/remove"),
]
#: Expected status per persona for each route above (302 after a POST = saved, or sent to
#: sign in for the anonymous; 404 = another agency's task, or a case the gate denies).
EXPECTED = {
    "anonymous": [302] * 17,
    "police_officer": [200, 200, 403, 200, 200, 302, 302, 302, 200, 302] + [403] * 7,
    "police_rep": [
        200,
        200,
        200,
        200,
        200,
        302,
        302,
        302,
        200,
        302,
        200,
        200,
        302,
        200,
        302,
        302,
        302,
    ],
    "chair": [200, 200, 403, 200, 200, 403, 403, 302, 200, 302] + [403] * 7,
    "nurse": [200, 200, 403, 404, 404, 404, 404, 404, 200, 302] + [403] * 7,
    "housing_officer": [200, 200, 403, 200, 404, 404, 404, 404, 200, 302] + [403] * 7,
    "coordinator": [200, 200, 403, 200, 404, 404, 404, 404, 200, 302] + [403] * 7,
    "idva": [200, 200, 200, 200, 404, 404, 404, 404, 200, 302, 200, 200, 302, 404, 404, 404, 404],
    # No case data by their roles; a case's task list is the 404 of a missing case.
    "auditor": [403, 403, 403, 404] + [403] * 13,
    "admin": [403, 403, 403, 404] + [403] * 13,
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_access_matrix_for_task_routes(app, world, case_tasks, persona) -> None:
    client = app.test_client()
    if persona != "anonymous":
        _signed_in(client, world[persona])
    token_page = text(client.get("/sign-in" if persona == "anonymous" else "/account"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    seen: list[str] = []
    for (method, pattern), expected in zip(ROUTES, EXPECTED[persona], strict=True):
        url = pattern.format(item="police.safety_plan", **case_tasks)
        if method == "GET":
            response = client.get(url)
        else:
            data = {
                "csrf_token": token,
                "version": str(_version(case_tasks["task"])),
                "state": "in_progress",
                "note": "Called the victim",
                "priority": "high",
                "owner": str(world["police_rep"].member_id),
                "mode": "digest",
                "title": "Ring the victim back",
                "due_in_working_days": "2",
                "priority_when_high": "urgent",
                "direction": "down",
            }
            if "/template/" in url:
                with db.unit_of_work():
                    from todo.models import TodoTemplate

                    versions = (
                        db.session()
                        .execute(
                            select(TodoTemplate.version).where(
                                TodoTemplate.agency_id == world[persona].agency_id
                                if persona != "anonymous"
                                else False
                            )
                        )
                        .scalars()
                        .all()
                    )
                data["version"] = str(max(versions, default=1))
            if url.endswith("/take"):
                data["version"] = str(_version(case_tasks["queued"]))
            response = client.post(url, data=data)
        assert response.status_code == expected, (persona, method, url, response.status_code)
        seen.append(text(response))
    page = "\n".join(seen)
    if world.people.get(persona) and world[persona].agency_id != world.agencies["police"]:
        assert POLICE_TITLE not in page and QUEUE_TITLE not in page
    if persona in ("police_officer", "police_rep", "chair"):
        assert HOUSING_TITLE not in page


def test_my_list_puts_due_soon_first_highlights_overdue_and_counts_in_the_header(
    app, world, actors, gate
) -> None:
    import time_machine

    today = today_london()
    with time_machine.travel(today - timedelta(days=14)):
        late = _create(world, actors, title="Overdue thing", due=today - timedelta(days=3))
    _create(world, actors, title="Later thing", due=today + timedelta(days=20))
    _create(world, actors, title="Soon thing", due=add_working_days(today, 1), priority="urgent")
    done = _create(world, actors, title="Finished thing")
    with db.unit_of_work():
        task = db.session().get(Task, done)
        services.update_task(
            actors["police_officer"],
            task,
            version=task.version,
            change=services.TaskChange(state="done"),
        )
    client = _signed_in(app.test_client(), world["police_officer"])
    page = text(client.get("/tasks"))
    order = [page.index(t) for t in ("Overdue thing", "Soon thing", "Later thing")]
    assert order == sorted(order)
    assert "Finished thing" not in page
    assert "hub-tasks__row--overdue" in page and "Overdue</strong>" in page
    assert re.search(r"To-do: 3 open\s*<span class=\"hub-header__overdue\">1 overdue", page)
    # Filters and sort.
    assert "Finished thing" in text(client.get("/tasks?state=done"))
    overdue_only = text(client.get("/tasks?due=overdue"))
    assert "Overdue thing" in overdue_only and "Later thing" not in overdue_only
    by_priority = text(client.get("/tasks?sort=priority"))
    assert by_priority.index("Soon thing") < by_priority.index("Overdue thing")
    fallback = text(client.get("/tasks?state=nonsense&due=bogus&sort=x&page=-4"))
    assert all(t in fallback for t in ("Overdue thing", "Soon thing", "Later thing"))
    # Another agency's header counts only its own member's tasks.
    nurse = _signed_in(app.test_client(), world["nurse"])
    assert "To-do: 0 open" in text(nurse.get("/tasks"))
    assert late


def test_the_representative_sees_the_agencys_overdue_tasks_and_the_escalation(
    app, world, actors, gate
) -> None:
    import time_machine

    from todo import jobs

    today = today_london()
    with time_machine.travel(today - timedelta(days=20)):
        task_id = _create(world, actors, title="Overdue for the rep", due=today - timedelta(days=7))
    with app.app_context():
        jobs.escalate_overdue()
    rep = _signed_in(app.test_client(), world["police_rep"])
    page = text(rep.get("/tasks/overdue"))
    assert "Overdue for the rep" in page and "Escalated to the MARAC representative" in page
    detail = text(rep.get(f"/tasks/{task_id}"))
    assert "escalated to your agency" in detail
    assert "Escalated to the MARAC representative as overdue" in detail


def test_the_queue_lets_a_member_take_a_task(app, world, actors, gate) -> None:
    task_id = _create(world, actors, owner=None, title=QUEUE_TITLE)
    client = _signed_in(app.test_client(), world["police_officer"])
    page = text(client.get("/tasks/queue"))
    assert QUEUE_TITLE in page and "Take<span" in page
    taken = submit(
        client,
        f"/tasks/{task_id}/take",
        {"version": str(_version(task_id))},
        form_url="/tasks/queue",
    )
    assert taken.status_code == 302
    assert QUEUE_TITLE in text(client.get("/tasks"))
    assert QUEUE_TITLE not in text(client.get("/tasks/queue"))
    again = submit(
        client,
        f"/tasks/{task_id}/take",
        {"version": str(_version(task_id))},
        form_url="/tasks/queue",
    )
    assert again.status_code == 409 and "already taken" in text(again)


def test_completing_a_task_with_a_note_through_the_page(app, world, actors, gate) -> None:
    task_id = _create(world, actors)
    client = _signed_in(app.test_client(), world["police_officer"])
    url = f"/tasks/{task_id}"
    due = add_working_days(today_london(), 5)
    form = {
        "version": "1",
        "state": "done",
        "note": "Markers confirmed on the system",
        "priority": "normal",
        "due_on-day": str(due.day),
        "due_on-month": str(due.month),
        "due_on-year": str(due.year),
    }
    response = submit(client, f"{url}/update", form, form_url=url)
    assert response.status_code == 302
    page = text(client.get(url))
    assert "Markers confirmed on the system" in page and "Open → Done" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"due_on-day": "1", "due_on-month": "1", "due_on-year": "2020"},
            "The due date must be today or in the future",
        ),
        ({"due_on-day": "31", "due_on-month": "2", "due_on-year": "2030"}, "must be a real date"),
        ({"state": "not_done", "note": ""}, "Say why in a note"),
        ({"note": "x" * 2001}, "2000 characters or fewer"),
        ({"state": "finished"}, "Select one option"),
    ],
)
def test_bad_updates_say_what_to_fix_and_change_nothing(
    app, world, actors, gate, change, message
) -> None:
    task_id = _create(world, actors)
    client = _signed_in(app.test_client(), world["police_officer"])
    due = add_working_days(today_london(), 5)
    form = {
        "version": "1",
        "state": "open",
        "note": "",
        "priority": "normal",
        "due_on-day": str(due.day),
        "due_on-month": str(due.month),
        "due_on-year": str(due.year),
        **change,
    }
    response = submit(client, f"/tasks/{task_id}/update", form, form_url=f"/tasks/{task_id}")
    assert response.status_code == 422
    assert "There is a problem" in text(response) and message in text(response)
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.state, task.due_on, task.version) == ("open", due, 1)


def test_an_edit_racing_another_gets_a_409_and_loses_nothing_silently(
    app, world, actors, gate
) -> None:
    task_id = _create(world, actors)
    officer = _signed_in(app.test_client(), world["police_officer"])
    rep = _signed_in(app.test_client(), world["police_rep"])
    due = add_working_days(today_london(), 5)
    base = {
        "version": "1",
        "priority": "normal",
        "due_on-day": str(due.day),
        "due_on-month": str(due.month),
        "due_on-year": str(due.year),
    }
    first = submit(
        rep,
        f"/tasks/{task_id}/update",
        {**base, "state": "in_progress", "note": "Rep started it"},
        form_url=f"/tasks/{task_id}",
    )
    assert first.status_code == 302
    second = submit(
        officer,
        f"/tasks/{task_id}/update",
        {**base, "state": "done", "note": "Officer finished it"},
        form_url=f"/tasks/{task_id}",
    )
    assert second.status_code == 409
    body = text(second)
    assert "Someone else changed this task" in body and "Rep started it" in body
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert task.state == "in_progress"
        assert [e.note for e in services.task_history(task_id)][-1] == "Rep started it"


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("999999", "that person is unknown"),
        ("nurse", "choose someone from this agency"),
        ("abc", "Select someone from the list"),
    ],
)
def test_reassigning_to_an_unknown_or_outside_owner_is_refused(
    app, world, actors, gate, owner, message
) -> None:
    task_id = _create(world, actors)
    client = _signed_in(app.test_client(), world["police_officer"])
    value = str(world[owner].member_id) if owner in world.people else owner
    response = submit(
        client,
        f"/tasks/{task_id}/reassign",
        {"version": "1", "owner": value},
        form_url=f"/tasks/{task_id}",
    )
    assert response.status_code == 422 and message in text(response)
    with db.unit_of_work():
        assert db.session().get(Task, task_id).owner_member_id == world["police_officer"].member_id


def test_tasks_for_a_case_the_gate_denies_are_hidden(app, world, actors, gate) -> None:
    referral_id = make_referral(world)
    task_id = _create(world, actors, referral_id=referral_id, title="Walled case task")
    _create(world, actors, title="Ordinary task")
    gate.deny(world["police_officer"].member_id, referral_id)
    client = _signed_in(app.test_client(), world["police_officer"])
    page = text(client.get("/tasks"))
    assert "Walled case task" not in page and "Ordinary task" in page
    assert "1 task is not shown" in page
    assert client.get(f"/tasks/{task_id}").status_code == 404
    assert client.get(f"/tasks/case/{referral_id}").status_code == 404


def test_without_the_gate_wired_no_case_task_is_shown(app, world, actors) -> None:
    app.extensions.pop("hub.case_visibility", None)
    referral_id = make_referral(world)
    task_id = _create(world, actors, referral_id=referral_id, title="Case task")
    client = _signed_in(app.test_client(), world["police_officer"])
    assert "Case task" not in text(client.get("/tasks"))
    assert client.get(f"/tasks/{task_id}").status_code == 404


def test_the_case_page_shows_only_the_viewers_agencys_tasks(app, world, case_tasks) -> None:
    housing = _signed_in(app.test_client(), world["housing_officer"])
    page = text(housing.get(f"/tasks/case/{case_tasks['referral']}"))
    assert HOUSING_TITLE in page and POLICE_TITLE not in page and QUEUE_TITLE not in page
    assert "TS-2026-" in page  # the reference the gate allowed


def test_notification_settings_are_saved_and_recorded(app, world) -> None:
    client = _signed_in(app.test_client(), world["nurse"])
    assert submit(client, "/tasks/notifications", {"mode": "digest"}).status_code == 302
    page = text(client.get("/tasks/notifications"))
    assert 'value="digest" checked' in page
    bad = submit(client, "/tasks/notifications", {"mode": "weekly"})
    assert bad.status_code == 422 and "Select one option" in text(bad)


def test_the_representative_edits_the_template_through_the_pages(app, world) -> None:
    client = _signed_in(app.test_client(), world["police_rep"])
    page = text(client.get("/tasks/template"))
    assert "Version <strong>1</strong>" in page and "Make a safety plan with the victim" in page
    assert "seed 002" in page
    bad = submit(
        client,
        "/tasks/template/items/new",
        {
            "version": "1",
            "title": "",
            "due_in_working_days": "soon",
            "priority": "normal",
            "priority_when_high": "high",
        },
    )
    assert bad.status_code == 422
    assert "Enter what needs to be done" in text(bad)
    assert "whole number" in text(bad)
    added = submit(
        client,
        "/tasks/template/items/new",
        {
            "version": "1",
            "title": "Check the address markers",
            "due_in_working_days": "2",
            "priority": "normal",
            "priority_when_high": "urgent",
        },
    )
    assert added.status_code == 302
    page = text(client.get("/tasks/template"))
    assert "Version <strong>2</strong>" in page and "Check the address markers" in page
    stale = submit(
        client,
        "/tasks/template/items/police.safety_plan/remove",
        {"version": "1"},
        form_url="/tasks/template",
        follow=True,
    )
    assert "Someone else changed this template" in text(stale)
    assert "Make a safety plan with the victim" in text(client.get("/tasks/template"))


def test_every_task_route_declares_its_access(app) -> None:
    from hub.core.access import declared_access

    task_routes = [e for e in app.view_functions if e.startswith("tasks.")]
    assert len(task_routes) == len({p for _m, p in ROUTES}) - 0 or len(task_routes) >= 13
    for endpoint in task_routes:
        assert declared_access(app.view_functions[endpoint]) is not None, endpoint


def test_the_to_do_card_is_on_the_home_page(app, world) -> None:
    client = _signed_in(app.test_client(), world["police_officer"])
    home = text(client.get("/"))
    assert 'href="/tasks"' in home and "To-do" in home
    auditor = _signed_in(app.test_client(), world["auditor"])
    assert 'href="/tasks"' not in text(auditor.get("/"))


def test_old_dates_are_shown_as_london_days(app, world, actors, gate) -> None:
    _create(world, actors, due=date(2031, 1, 2))
    client = _signed_in(app.test_client(), world["police_officer"])
    assert "2 January 2031" in text(client.get("/tasks"))
