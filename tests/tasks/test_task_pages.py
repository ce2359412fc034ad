"""The to-do pages: the access matrix over every route, lists, filters, bad input, races."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from hub.core import db
from hub.core.clock import today_london
from hub.core.workdays import add_working_days
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of
from tests.tasks.conftest import on_team, police_case, reference_of, refusals, share, wall_off
from todo import services
from todo.models import Task, TaskSource

POLICE_TITLE = "Check the address markers are in place"
QUEUE_TITLE = "Brief the response team about the address"
HOUSING_TITLE = "Consider a sanctuary scheme referral"


def _signed_in(client, person):
    return signed_in(client, person)


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
def case_tasks(world, actors, referral):
    """A police case with the officer's task, a queued police task and a housing task: the
    case was given to housing and its officer put on the case team."""
    share(world, referral, "housing")
    on_team(world, referral, "housing_officer")
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
#: sign in for the anonymous; 404 = another agency's task, or a case the reader may not know:
#: health and the IDVA service were never given the case).
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
    "idva": [200, 200, 200, 404, 404, 404, 404, 404, 200, 302, 200, 200, 302, 404, 404, 404, 404],
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
    app,
    world,
    actors,
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
    app,
    world,
    actors,
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


def test_the_queue_lets_a_member_take_a_task(app, world, actors) -> None:
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


def test_completing_a_task_with_a_note_through_the_page(app, world, actors) -> None:
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
    app, world, actors, change, message
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
    app,
    world,
    actors,
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
    app, world, actors, owner, message
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


def _pages(client, *urls) -> str:
    return "\n".join(text(client.get(url)) for url in urls)


def _page_of(response) -> str:
    """A response's page, less what changes with every request (token, error reference, the
    seconds left before the session times out)."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", text(response))
    page = re.sub(r'data-hub-idle-left="\d+"', "", page)
    return re.sub(r"reference [0-9a-f]{12}", "", page)


def _not_found_page(client) -> str:
    return _page_of(client.get("/tasks/999999999"))


def test_a_walled_workers_lists_counts_and_pages_hide_the_case(app, world, actors) -> None:
    referral_id = police_case(world)
    share(world, referral_id, "health")  # health's template fills its queue for the case
    on_team(world, referral_id, "nurse")
    task_id = _create(
        world, actors, agency="health", owner="nurse", referral_id=referral_id, title="Walled task"
    )
    _create(world, actors, agency="health", owner="nurse", title="Ordinary task")
    nurse = _signed_in(app.test_client(), world["nurse"])
    before = _pages(nurse, "/tasks", "/tasks/queue")
    assert "Walled task" in before and "To-do: 2 open" in before
    assert "tasks wait in your agency's queue" in before
    wall_off(world, referral_id, "nurse")
    page = _pages(nurse, "/tasks", "/tasks/queue", "/tasks?state=all", "/tasks/queue?state=all")
    reference = reference_of(referral_id)
    assert "Walled task" not in page and reference not in page
    assert "Ordinary task" in page and "To-do: 1 open" in page
    assert (
        "in your agency's queue" not in page and "There are no tasks here for you to take." in page
    )
    assert "not shown" not in page  # no count that betrays a concealed case
    # The way in, said the same whether or not a concealed case exists.
    assert "ask your agency's MARAC representative to add you to its team" in page
    missing = _not_found_page(nurse)
    for url in (f"/tasks/{task_id}", f"/tasks/case/{referral_id}"):
        response = nurse.get(url)
        assert response.status_code == 404
    assert _page_of(nurse.get(f"/tasks/{task_id}")) == missing
    assert [e["reason"] for e in refusals(referral_id)][-3:] == ["conflict_wall"] * 3


def test_a_must_not_receive_members_queue_overdue_list_and_counts_hide_the_case(
    app, world, actors
) -> None:
    import time_machine

    referral_id = police_case(world, must_not_receive=("police_rep",))
    today = today_london()
    queued = _create(world, actors, owner=None, referral_id=referral_id, title="Hidden queued")
    with time_machine.travel(today - timedelta(days=10)):
        late = _create(
            world,
            actors,
            referral_id=referral_id,
            title="Hidden overdue",
            due=today - timedelta(days=2),
        )
        _create(world, actors, title="Visible overdue", due=today - timedelta(days=2))
    _create(world, actors, owner=None, title="Visible queued")
    rep = _signed_in(app.test_client(), world["police_rep"])
    page = _pages(rep, "/tasks", "/tasks/queue", "/tasks/overdue", "/tasks/queue?state=all")
    assert "Visible queued" in page and "Visible overdue" in page
    assert "Hidden queued" not in page and "Hidden overdue" not in page
    assert reference_of(referral_id) not in page
    assert "1 task waits in your agency's queue" in page
    missing = _not_found_page(rep)
    for task_id in (queued, late):
        assert _page_of(rep.get(f"/tasks/{task_id}")) == missing
    assert rep.get(f"/tasks/case/{referral_id}").status_code == 404
    assert {e["reason"] for e in refusals(referral_id)} == {"must_not_receive"}
    # The officer who referred it still sees everything.
    officer = _signed_in(app.test_client(), world["police_officer"])
    mine = _pages(officer, "/tasks", "/tasks/queue")
    assert "Hidden queued" in mine and "Hidden overdue" in mine


def test_pages_and_totals_are_right_when_the_first_rows_are_hidden(app, world, actors) -> None:
    from hub.core.access import Actor

    referral_id = police_case(world, must_not_receive=("police_rep",))
    soon, later = add_working_days(today_london(), 1), add_working_days(today_london(), 10)
    with db.unit_of_work():
        for n in range(65):
            hidden = n < 10  # due first: the first page would start with them
            services.create_task(
                actors["coordinator"],
                agency_id=world.agencies["police"],
                owner_member_id=None,
                referral_id=referral_id if hidden else None,
                source=TaskSource.MEETING_ACTION,
                title=f"{'Hidden' if hidden else 'Visible'} queued task {n:02d}",
                due_on=soon if hidden else later,
            )
    rep: Actor = actors["police_rep"]
    with db.unit_of_work():
        first = services.list_queue(rep, services.ListQuery())
        second = services.list_queue(rep, services.ListQuery(page=2))
        assert (first.total, first.pages, len(first.tasks), len(second.tasks)) == (55, 2, 50, 5)
        assert services.queue_count(rep) == 55
    client = _signed_in(app.test_client(), world["police_rep"])
    one, two = text(client.get("/tasks/queue")), text(client.get("/tasks/queue?page=2"))
    assert "Page 1 of 2" in one and "Page 2 of 2" in two
    assert one.count("Visible queued task") == 50 * 2  # the link and the button's hidden text
    assert two.count("Visible queued task") == 5 * 2
    assert "Hidden" not in one + two
    assert "55 tasks wait in your agency's queue" in text(client.get("/tasks"))


@pytest.mark.parametrize("route", ["update", "reassign", "take"])
def test_a_forged_post_on_a_hidden_task_is_the_404_of_a_missing_task(
    app, world, actors, route
) -> None:
    referral_id = police_case(world, must_not_receive=("police_rep",))
    task_id = _create(
        world, actors, referral_id=referral_id, owner=None if route == "take" else "police_officer"
    )
    rep = _signed_in(app.test_client(), world["police_rep"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(rep.get("/account"))).group(1)
    form = {
        "csrf_token": token,
        "version": "1",
        "state": "done",
        "note": "Closing it",
        "priority": "normal",
        "owner": str(world["police_rep"].member_id),
    }
    forged = rep.post(f"/tasks/{task_id}/{route}", data=form)
    missing = rep.post(f"/tasks/999999999/{route}", data=form)
    assert forged.status_code == missing.status_code == 404
    assert _page_of(forged) == _page_of(missing)
    with db.unit_of_work():
        task = db.session().get(Task, task_id)
        assert (task.state, task.version, task.owner_member_id) == (
            "open",
            1,
            None if route == "take" else world["police_officer"].member_id,
        )
        assert [e.kind for e in services.task_history(task_id)] == ["created"]
    operation = {"update": "task:updated", "reassign": "task:reassigned", "take": "task:taken"}
    denied = refusals(referral_id)
    assert denied, "the refused write is not in the ledger"
    assert (denied[-1]["reason"], denied[-1]["attempted"]) == ("must_not_receive", operation[route])


def test_a_task_is_offered_only_to_colleagues_who_may_know_its_case(app, world, actors) -> None:
    referral_id = police_case(world, must_not_receive=("police_rep",))
    task_id = _create(world, actors, referral_id=referral_id)
    officer = _signed_in(app.test_client(), world["police_officer"])
    page = text(officer.get(f"/tasks/{task_id}"))
    choices = re.findall(
        r'<option value="(\d*)"', page.split('id="owner"')[1].split("</select>")[0]
    )
    assert str(world["police_rep"].member_id) not in choices
    assert str(world["chair"].member_id) in choices  # the chair may know every case
    forced = submit(
        officer,
        f"/tasks/{task_id}/reassign",
        {"version": "1", "owner": str(world["police_rep"].member_id)},
        form_url=f"/tasks/{task_id}",
    )
    assert forced.status_code == 422 and "cannot see this case" in text(forced)


@pytest.mark.parametrize("number", [2**31, 2**63, 10**30])
def test_ids_too_large_for_any_row_are_not_found_never_an_error(app, world, actors, number):
    task_id = _create(world, actors)
    client = _signed_in(app.test_client(), world["police_officer"])
    missing = _not_found_page(client)
    for url in (f"/tasks/{number}", f"/tasks/case/{number}"):
        response = client.get(url)
        assert response.status_code == 404, url
    assert _page_of(client.get(f"/tasks/{number}")) == missing
    posted = submit(
        client,
        f"/tasks/{task_id}/reassign",
        {"version": "1", "owner": str(number)},
        form_url=f"/tasks/{task_id}",
    )
    assert posted.status_code == 422 and "that person is unknown" in text(posted)
    assert [e["reason"] for e in refusals(number)] == ["no_such_case"]


ACTION = "Tell the victim that John Sample is out on bail from 3 March"


def _minutes_withheld_case(world) -> int:
    """A police case shared with housing without consent (the request is still pending): the
    housing officer on its team may know the case but has no basis for its minutes."""
    referral_id = police_case(world, consent=False)
    share(world, referral_id, "housing")
    on_team(world, referral_id, "housing_officer")
    return referral_id


def test_an_owner_whose_agency_may_not_read_the_minutes_never_sees_the_action_text(
    app, world, actors
) -> None:
    referral_id = _minutes_withheld_case(world)
    with db.unit_of_work():
        task_id = services.create_task(
            actors["coordinator"],
            agency_id=world.agencies["housing"],
            owner_member_id=world["housing_officer"].member_id,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title=ACTION,
            due_on=add_working_days(today_london(), 3),
            details=f"Agreed at the MARAC meeting.\n\n{ACTION}",
        ).id
    housing = _signed_in(app.test_client(), world["housing_officer"])
    page = _pages(housing, "/tasks", f"/tasks/{task_id}", f"/tasks/case/{referral_id}")
    assert "John Sample" not in page and "bail" not in page
    assert "Action agreed at a MARAC meeting" in page
    assert "Withheld: minutes, no consent or approved decision covers your agency." in page
    assert reference_of(referral_id) in page  # the owner keeps the task and its case
    # The referring agency's own record: the same wording shows there.
    with db.unit_of_work():
        own = services.create_task(
            actors["coordinator"],
            agency_id=world.agencies["police"],
            owner_member_id=world["police_officer"].member_id,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title=ACTION,
            due_on=add_working_days(today_london(), 3),
        ).id
    officer = _signed_in(app.test_client(), world["police_officer"])
    assert ACTION in _pages(officer, "/tasks", f"/tasks/{own}")
    # Each page that decided on the minutes is in the ledger, with what it withheld.
    with db.unit_of_work():
        entries = [
            json.loads(e.body)
            for e in db.session().execute(select(AuditEntry)).scalars()
            if e.action in ("task:listed", "task:viewed")
        ]
    housing_entries = [
        e for e in entries if e["actor"]["member"] == world["housing_officer"].member_id
    ]
    assert {e["action"] for e in housing_entries} == {"task:listed", "task:viewed"}
    assert all(e["withheld"]["minutes"] == "no_basis" for e in housing_entries)


def test_an_action_task_follows_the_minutes_rule_after_consent_is_withdrawn(app, world) -> None:
    """A task made from an action when its owner could read the minutes: once they no longer
    may, the task keeps its date, state and case but reads as the meeting's action."""
    from cases import services as referrals
    from consent import services as consent_services
    from meetings.models import Action, Meeting
    from tests.meetings.conftest import circulated_meeting, run_to_close

    conference = circulated_meeting(world)  # health's and housing's cases, with consent
    run_to_close(world, conference)  # an action on each for health's representative
    housing_case = conference.referral_ids[1]
    with db.unit_of_work():
        action = (
            db.session()
            .execute(select(Action).where(Action.referral_id == housing_case))
            .scalar_one()
        )
        held_on = db.session().get(Meeting, action.meeting_id).held_on
        task_id, wording = action.task_id, action.text
    rep = _signed_in(app.test_client(), world["health_rep"])
    assert wording in text(rep.get(f"/tasks/{task_id}"))
    referrer = actor_of(world["housing_officer"])
    with db.unit_of_work():
        for consent in consent_services.consents_for(housing_case):
            referrals.withdraw_case_consent(
                referrer, referrals.get_referral(housing_case), consent.id
            )
    neutral = f"Action agreed at the MARAC meeting on {held_on.day} {held_on:%B %Y}"
    page = _pages(rep, f"/tasks/{task_id}", "/tasks")
    assert neutral in page and "Withheld: minutes" in page
    own_case_task = text(rep.get("/tasks")).count(wording)
    assert own_case_task == 1  # health's own case: its action still reads as agreed


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
    from hub.core.routes import declared_access

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


def test_old_dates_are_shown_as_london_days(app, world, actors) -> None:
    _create(world, actors, due=date(2031, 1, 2))
    client = _signed_in(app.test_client(), world["police_officer"])
    assert "2 January 2031" in text(client.get("/tasks"))
