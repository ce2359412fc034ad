"""Home is each person's worklist: what it counts is what the linked lists show, and every
case, task and meeting it links opens for that person."""

from __future__ import annotations

import re

from tests.meetings.conftest import circulated_meeting, referred, run_to_close
from tests.support import cases
from tests.support.web import signed_in, text
from tests.support.world import PEOPLE, actor_of


def _ids(page: str, pattern: str) -> set[int]:
    return {int(n) for n in re.findall(pattern, page)}


def _waiting(home: str, words: str) -> int:
    """The number the "Waiting for you" box gives before ``words`` (0 when it says nothing)."""
    found = re.search(r'hub-waiting__number">([\d,]+)</span> ' + words, home)
    return int(found.group(1).replace(",", "")) if found else 0


def test_every_link_on_each_home_opens_and_every_count_is_its_list(app, world) -> None:
    conference = circulated_meeting(world)
    blocked = referred(world, "police_officer", index=2, blocked=("housing_officer",))
    officer = actor_of(world["police_officer"])
    waiting = cases.draft(officer)
    cases.with_consent(officer, waiting)
    cases.submit(officer, waiting)
    for key in PEOPLE:
        client = signed_in(app.test_client(), world[key])
        home = text(client.get("/"))
        for case_id in _ids(home, r'href="/cases/(\d+)"'):
            assert client.get(f"/cases/{case_id}").status_code == 200, (key, case_id)
        for task_id in _ids(home, r'href="/tasks/(\d+)"'):
            assert client.get(f"/tasks/{task_id}").status_code == 200, (key, task_id)
        for meeting_id in _ids(home, r'href="/meetings/(\d+)"'):
            assert client.get(f"/meetings/{meeting_id}").status_code == 200, (key, meeting_id)
        if key == "housing_officer":
            assert f'href="/cases/{blocked}"' not in home  # must-not-receive: not even listed
        inbox = _waiting(home, "referrals? waits? in the MARAC inbox")
        if key == "coordinator":
            listed = _ids(text(client.get("/referrals/inbox")), r'href="/cases/(\d+)"')
            assert inbox == len(listed) == 1 and waiting in listed
        else:
            assert inbox == 0, key
        queued = _waiting(home, "tasks? waits? in your agency(?:'|&#39;)s queue")
        if 'href="/tasks/queue"' in home or queued:
            shown = _ids(text(client.get("/tasks/queue")), r'href="/tasks/(\d+)"')
            assert queued == len(shown), key
        if key in ("coordinator", "chair", "idva", "health_rep"):
            assert f'href="/meetings/{conference.meeting_id}"' in home, key
        if key in ("auditor", "admin"):
            assert "/meetings/" not in home, key
    auditor = text(signed_in(app.test_client(), world["auditor"]).get("/"))
    assert 'href="/ledger"' in auditor and "The disclosure ledger" in auditor


def test_a_meeting_leaves_the_coordinators_home_once_its_minutes_are_sent(app, world) -> None:
    conference = circulated_meeting(world)
    link = f'href="/meetings/{conference.meeting_id}"'
    coordinator = signed_in(app.test_client(), world["coordinator"])
    assert link in text(coordinator.get("/"))
    run_to_close(world, conference)
    home = text(coordinator.get("/"))
    assert link in home and "Minutes to finish and send" in home  # held, minutes not sent
    idva = text(signed_in(app.test_client(), world["idva"]).get("/"))
    assert link not in idva  # nothing left for an invited agency to do before the minutes
