"""The conference pages without JavaScript (plain form posts), the autosave endpoint, bad
input on each form, and the access matrix over every meeting route and persona."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
import time_machine

from hub.core import db
from hub.core.clock import LONDON, today_london
from meetings.models import Meeting
from tests.meetings.conftest import accepted_case, circulated_meeting, run_to_close, schedule
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _signed_in(client, person):
    return signed_in(client, person)


def _date(prefix: str, day) -> dict[str, str]:
    return {
        f"{prefix}-day": str(day.day),
        f"{prefix}-month": str(day.month),
        f"{prefix}-year": str(day.year),
    }


def test_a_conference_through_the_pages_without_javascript(app, world) -> None:
    first = accepted_case(world, "nurse", index=0)
    accepted_case(world, "housing_officer", index=1)
    coordinator = _signed_in(app.test_client(), world["coordinator"])
    when = today_london() + timedelta(days=12)
    bad = submit(coordinator, "/meetings/schedule", {"kind": "ad_hoc", "venue": ""})
    assert bad.status_code == 422 and "Enter where the meeting is held" in text(bad)
    made = submit(
        coordinator,
        "/meetings/schedule",
        {
            "kind": "ad_hoc",
            **_date("first_on", when),
            "start_time": "10:00",
            "venue": "Town Hall",
            "cadence": "monthly",
            "count": "1",
        },
    )
    assert made.status_code == 303
    base = made.headers["Location"]
    meeting_id = int(base.rsplit("/", 1)[1])
    assert submit(coordinator, f"{base}/agenda/build", form_url=base).status_code == 303
    page = text(coordinator.get(base))
    assert "Jane EXAMPLE" in page and "Amira KHAN" in page
    late = submit(
        coordinator, f"{base}/agenda/add", {"reference": "NOPE-1", "reason": ""}, form_url=base
    )
    assert late.status_code == 422 and "There is no case with that reference" in text(late)
    circulated = submit(coordinator, f"{base}/circulate", {"agency_ids": []})
    assert circulated.status_code == 422 and "Select the agencies to invite" in text(circulated)
    circulated = submit(
        coordinator,
        f"{base}/circulate",
        {"agency_ids": [str(world.agencies[k]) for k in ("police", "health", "idva")]},
    )
    assert circulated.status_code == 303

    # Before its day the meeting cannot be closed; on the day the chair runs it.
    early = _signed_in(app.test_client(), world["chair"])
    too_soon = submit(early, f"{base}/close", form_url=f"{base}/run")
    assert too_soon.status_code == 422 and "it can be closed on that day" in text(too_soon)
    with time_machine.travel(datetime.combine(when, time(10, 30), LONDON), tick=True):
        chair = _signed_in(app.test_client(), world["chair"])
        run = text(chair.get(f"{base}/run"))
        assert "Run the meeting" in run
        item_ids = [int(i) for i in re.findall(rf"/meetings/{meeting_id}/run/(\d+)\"", run)]
        assert len(set(item_ids)) == 2
        item = item_ids[0]
        assert (
            submit(chair, f"{base}/run/confidentiality", form_url=f"{base}/run").status_code == 303
        )
        bad = submit(
            chair,
            f"{base}/run/attendance",
            {"kind": "observer", "agency_id": "0", "name": "Student"},
            form_url=f"{base}/run",
        )
        assert bad.status_code == 422 and "must sign the confidentiality statement" in text(bad)
        assert (
            submit(
                chair,
                f"{base}/run/attendance",
                {
                    "kind": "present",
                    "agency_id": str(world.agencies["health"]),
                    "name": "Helen Rep",
                    "role": "Lead nurse",
                },
                form_url=f"{base}/run",
            ).status_code
            == 303
        )
        case_url = f"{base}/run/{item}"
        case = text(chair.get(case_url))
        assert "Case 1 of 2" in case and 'id="next-case"' in case and "chair.js" in case
        fields = {
            "referrer_summary": "Reason and risks",
            "victim_views": "Wants to stay",
            "risk_victim": "High",
            "risk_children": "Two children",
            "risk_perpetrator": "On bail",
            "risk_professionals": "None known",
            "informs_victim_agency_id": str(world.agencies["idva"]),
            "informs_victim_name": "Ida Vale",
            "whereabouts_reason": "",
        }
        saved = submit(chair, f"{case_url}/discussion", fields, form_url=case_url)
        assert saved.status_code == 303
        assert "Two children" in text(chair.get(case_url))
        refused = submit(
            chair,
            f"{case_url}/actions",
            {
                "action-text": "Safety plan",
                "action-owner_member_id": "0",
                **_date("action-due_on", today_london() - timedelta(days=1)),
            },
            form_url=case_url,
        )
        page = text(refused)
        assert refused.status_code == 422 and "Select who owns this action" in page
        assert "The due date must be today or in the future" in page
        assert "Two children" in page  # nothing typed elsewhere was lost
        agreed = submit(
            chair,
            f"{case_url}/actions",
            {
                "action-text": "Safety plan with the victim",
                "action-owner_member_id": str(world["health_rep"].member_id),
                **_date("action-due_on", today_london()),
            },
            form_url=case_url,
        )
        assert agreed.status_code == 303
        discussed = submit(
            chair, f"{case_url}/outcome", {"outcome": "discussed"}, form_url=case_url
        )
        assert discussed.headers["Location"].endswith(f"/run/{item_ids[1]}")
        closed = submit(chair, f"{base}/close", form_url=f"{base}/run")
        assert closed.status_code == 422 and "mark it discussed or deferred" in text(closed)
        deferred = submit(
            chair,
            f"{base}/run/{item_ids[1]}/outcome",
            {"outcome": "referrer_absent"},
            form_url=f"{base}/run/{item_ids[1]}",
        )
        assert deferred.status_code == 303
        assert submit(chair, f"{base}/close", form_url=f"{base}/run").status_code == 303
        assert (
            submit(chair, f"{base}/minutes/approve", form_url=f"{base}/minutes").status_code == 303
        )
        minutes_page = text(chair.get(f"{base}/minutes"))
        assert "Approved and locked" in minutes_page and "Amend the minutes" in minutes_page
        locked = submit(
            chair,
            f"{case_url}/discussion",
            dict(fields, risk_victim="Changed"),
            form_url=f"{base}/run",
        )
        assert locked.status_code == 303
        assert "High" in text(chair.get(f"{base}/minutes"))
        assert "Changed" not in text(chair.get(f"{base}/minutes"))
        amend = submit(
            chair, f"{base}/minutes/amend", {f"item-{item}.risk_victim": "Very high", "reason": ""}
        )
        assert amend.status_code == 422 and "Say why the minutes are being amended" in text(amend)
        amend = submit(
            chair,
            f"{base}/minutes/amend",
            {f"item-{item}.risk_victim": "Very high", "reason": "Corrected after the meeting"},
        )
        assert amend.status_code == 303
        assert "Corrected after the meeting" in text(chair.get(f"{base}/minutes"))
    del first


def test_autosave_answers_json_and_keeps_other_fields(app, world, conference) -> None:
    chair = _signed_in(app.test_client(), world["chair"])
    case_url = f"/meetings/{conference.meeting_id}/run/{conference.item_ids[0]}"
    token = CSRF.search(text(chair.get(case_url))).group(1)
    for field, value in (("victim_views", "Wants to stay"), ("risk_victim", "High")):
        response = chair.post(
            f"{case_url}/discussion",
            data={"csrf_token": token, "_partial": "1", field: value},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200 and response.json["saved"] is True
        assert re.match(r"\d\d:\d\d:\d\d", response.json["saved_at"])
    page = text(chair.get(case_url))
    assert "Wants to stay" in page and "High" in page
    bad = chair.post(
        f"{case_url}/discussion",
        data={
            "csrf_token": token,
            "_partial": "1",
            "include_whereabouts": "1",
            "whereabouts_reason": "",
        },
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 422 and "whereabouts_reason" in bad.json["errors"]
    no_token = chair.post(
        f"{case_url}/discussion",
        data={"_partial": "1", "risk_victim": "X"},
        headers={"Accept": "application/json"},
    )
    assert no_token.status_code == 400
    run_to_close(world, conference)
    with db.unit_of_work() as uow:
        from meetings import minutes

        minutes.approve_minutes(
            actor_of(world["chair"]), uow.session.get(Meeting, conference.meeting_id)
        )
    locked = chair.post(
        f"{case_url}/discussion",
        data={"csrf_token": token, "_partial": "1", "risk_victim": "changed"},
        headers={"Accept": "application/json"},
    )
    assert locked.status_code == 409 and "approved and locked" in locked.json["error"]


def test_the_chair_script_is_served_and_pages_load_no_inline_script(app, world, conference) -> None:
    script = app.test_client().get("/meetings/static/meetings/chair.js")
    assert script.status_code == 200 and b"localStorage" in script.data
    chair = _signed_in(app.test_client(), world["chair"])
    page = text(chair.get(f"/meetings/{conference.meeting_id}/run/{conference.item_ids[0]}"))
    assert "<script>" not in page and "<script " in page
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", page))


# --- the access matrix --------------------------------------------------------------------

#: (method, path); {m} is the meeting, {i} its agenda item, {a} an earlier action, {r} a row
#: of attendance. The meeting is circulated to health (the referrer) and the IDVA service only.
ROUTES = [
    ("GET", "/meetings"),
    ("GET", "/meetings/schedule"),
    ("GET", "/meetings/{m}"),
    ("POST", "/meetings/{m}/agenda/build"),
    ("POST", "/meetings/{m}/agenda/add"),
    ("POST", "/meetings/{m}/agenda/{i}/move"),
    ("GET", "/meetings/{m}/agenda/{i}/defer"),
    ("POST", "/meetings/{m}/agenda/{i}/remove"),
    ("GET", "/meetings/{m}/circulate"),
    ("GET", "/meetings/{m}/research/{i}"),
    ("POST", "/meetings/{m}/research/{i}/share"),
    ("GET", "/meetings/{m}/run"),
    ("POST", "/meetings/{m}/run/confidentiality"),
    ("POST", "/meetings/{m}/run/attendance"),
    ("POST", "/meetings/{m}/run/attendance/{r}/remove"),
    ("POST", "/meetings/{m}/run/review/{a}"),
    ("GET", "/meetings/{m}/run/{i}"),
    ("POST", "/meetings/{m}/run/{i}/discussion"),
    ("POST", "/meetings/{m}/run/{i}/contributions"),
    ("POST", "/meetings/{m}/run/{i}/actions"),
    ("POST", "/meetings/{m}/run/{i}/outcome"),
    ("POST", "/meetings/{m}/close"),
    ("GET", "/meetings/{m}/minutes"),
    ("POST", "/meetings/{m}/minutes/approve"),
    ("GET", "/meetings/{m}/minutes/amend"),
    ("POST", "/meetings/{m}/minutes/distribute"),
    ("GET", "/meetings/{m}/minutes.pdf"),
    ("GET", "/meetings/{m}/extract.pdf"),
    ("GET", "/meetings/static/meetings/chair.js"),
]
A, F, N, K, S = 302, 403, 404, 200, 303
#: Expected status per persona, in the order of ROUTES. 302 = sent to sign in, 303 = done (or
#: refused with a message, then back to the page), 422 = the form's own errors.
EXPECTED = {
    "anonymous": [A] * 28 + [K],
    # The coordinator and chair run it: every route but those of research (their agency was
    # not invited) and the chair's own (close, approve, amend).
    "coordinator": [
        K,
        K,
        K,
        S,
        422,
        S,
        K,
        S,
        K,
        N,
        N,
        K,
        S,
        422,
        S,
        422,
        K,
        S,
        422,
        422,
        S,
        F,
        K,
        F,
        F,
        S,
        K,
        K,
        K,
    ],
    "chair": [
        K,
        K,
        K,
        S,
        422,
        S,
        K,
        S,
        K,
        N,
        N,
        K,
        S,
        422,
        S,
        422,
        K,
        S,
        422,
        422,
        S,
        422,
        K,
        S,
        S,
        S,
        K,
        K,
        K,
    ],
    # The referrer (health): the agenda and research; the extract waits for distribution.
    "nurse": [
        K,
        F,
        K,
        F,
        F,
        F,
        F,
        F,
        F,
        K,
        S,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        K,
    ],
    "health_rep": [
        K,
        F,
        K,
        F,
        F,
        F,
        F,
        F,
        F,
        K,
        S,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        K,
    ],
    "idva": [K, F, K, F, F, F, F, F, F, K, S, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, N, K],
    # Not invited: the meeting does not exist for them.
    "police_rep": [
        K,
        F,
        N,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        N,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        K,
    ],
    "housing_officer": [
        K,
        F,
        N,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        N,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        F,
        N,
        K,
    ],
    # No case work at all.
    "auditor": [F] * 28 + [K],
    "admin": [F] * 28 + [K],
}


@pytest.fixture
def matrix_meeting(world):
    """A meeting the health agency referred to, circulated to health and the IDVA only, with
    an earlier meeting's action outstanding and one line of attendance."""
    earlier = circulated_meeting(world, ("nurse",), days_ahead=5)
    run_to_close(world, earlier)
    referral_id = accepted_case(world, "nurse", index=2)
    (meeting_id,) = schedule(world, days_ahead=20)
    from meetings import conduct, services
    from meetings.models import Action

    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting, [world.agencies["idva"]])
        row = conduct.record_attendance(
            coordinator,
            meeting,
            conduct.AttendanceData(kind="apologies", agency_id=world.agencies["idva"]),
        )
        action = uow.session.query(Action).first()
        item = next(i for i in meeting.items if i.referral_id == referral_id)
        return {"m": meeting_id, "i": item.id, "a": action.id, "r": row.id}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_access_matrix_for_meeting_routes(app, world, matrix_meeting, persona) -> None:
    assert len(EXPECTED[persona]) == len(ROUTES)
    client = app.test_client()
    if persona != "anonymous":
        _signed_in(client, world[persona])
    token = CSRF.search(
        text(client.get("/sign-in" if persona == "anonymous" else "/account"))
    ).group(1)
    seen = []
    for method, pattern in ROUTES:
        url = pattern.format(**matrix_meeting)
        if method == "GET":
            status = client.get(url).status_code
        else:
            status = client.post(url, data={"csrf_token": token}).status_code
        seen.append(status)
    mismatches = [
        (m, p, want, got)
        for (m, p), want, got in zip(ROUTES, EXPECTED[persona], seen, strict=True)
        if want != got
    ]
    assert mismatches == [], persona
