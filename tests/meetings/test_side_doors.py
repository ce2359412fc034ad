"""No side doors in the conference pages: every way a case's content or existence reaches a
person passes the gate (issue 12: meeting pages, minutes extracts, must-not-receive on the
agenda, counter-allegations).

Each test drives the real pages or services as the personas concerned, on real databases,
with the real gate: nothing is faked.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import select

from agencies.models import Member
from cases import services as referrals
from cases.facts import case_facts
from consent import gate
from consent.categories import Category
from consent.models import ConsentRecord
from hub.core import db
from hub.core.access import Role
from hub.core.clock import today_london
from hub.core.errors import ValidationFailed
from meetings import conduct, minutes, services
from meetings.models import Action, AgendaItem, Meeting, ResearchSubmission
from tests.meetings.conftest import (
    FULL_DISCUSSION,
    PEOPLE,
    Conference,
    add_person,
    circulated_meeting,
    on_meeting_day,
    referred,
    run_to_close,
    schedule,
)
from tests.support.cases import Names
from tests.support.ledger import refusals_of
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of

BASE = "http://127.0.0.1:5000"
#: Every kind of agency but the police: consent that leaves the chair's agency out.
NOT_POLICE = [
    "acute_health",
    "primary_care",
    "housing",
    "idva_service",
    "childrens_social_care",
    "other",
]
LATE = "LATE-REASON-B: threats to kill on Sunday"
DEFERRED = "DEFERRAL-REASON-B: the referrer is in court"


def _signed_in(app, person):
    return signed_in(app.test_client(), person)


def _reference(referral_id: int) -> str:
    with db.unit_of_work():
        return referrals.get_referral(referral_id).reference


def _numbers(page: str) -> list[int]:
    """The agenda numbers a page shows, in order."""
    table = page.split('<table class="govuk-table hub-agenda">', 1)[1].split("</table>", 1)[0]
    return [int(n) for n in re.findall(r'<td class="govuk-table__cell">(\d+)</td>', table)]


def _unreferenced(page: str) -> str:
    """A page without what differs between any two requests (its reference, CSRF tokens,
    the seconds left before the session times out)."""
    page = re.sub(r"reference [0-9a-f]+", "reference", page)
    page = re.sub(r'data-hub-idle-left="\d+"', "", page)
    return re.sub(r'(name="csrf_token"[^>]*value=|content=)"[^"]*"', r"\1", page)


def _pdf_text(data: bytes) -> str:
    """A PDF's text with its line breaks as spaces (sentences wrap across lines)."""
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def _meeting(uow, meeting_id: int) -> Meeting:
    return uow.session.get(Meeting, meeting_id)


def _item_of(meeting_id: int, referral_id: int) -> int:
    with db.unit_of_work() as uow:
        return next(i.id for i in _meeting(uow, meeting_id).items if i.referral_id == referral_id)


# --- the agenda ------------------------------------------------------------------------------


@pytest.fixture
def three_cases(world):
    """Three cases on a circulated agenda, B in the middle with a late and a deferral reason.

    B's consent leaves out the police, the IDVA is on B's must-not-receive list, and the
    police officer, on the case team of all three, is walled off from B.
    """
    a = referred(world, "nurse", index=0)
    b = referred(world, "nurse", index=1, agency_types=NOT_POLICE, blocked=("idva",))
    c = referred(world, "nurse", index=2)
    (meeting_id,) = schedule(world, days_ahead=3)  # the cut-off has passed
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        for case_id, reason in ((a, "Escalating this week"), (b, LATE), (c, "Escalating too")):
            services.add_case(coordinator, meeting, _reference(case_id), reason)
        services.circulate_agenda(coordinator, meeting)
        b_item = next(i.id for i in meeting.items if i.referral_id == b)
        services.defer_item(coordinator, meeting, b_item, DEFERRED)
    police_rep = actor_of(world["police_rep"])
    with db.unit_of_work():
        for case_id in (a, b, c):
            referrals.add_to_team(
                police_rep, referrals.get_referral(case_id), world["police_officer"].member_id
            )
        referrals.add_conflict_wall(
            police_rep,
            referrals.get_referral(b),
            perpetrator_worker_id=world["police_officer"].member_id,
            victim_worker_id=None,
        )
    return meeting_id, (a, b, c)


@pytest.mark.parametrize("persona", ["police_officer", "idva"])
def test_an_agenda_leaves_out_a_case_the_reader_may_not_know_without_a_gap(
    app, world, three_cases, persona
) -> None:
    """A walled-off worker and a member on the must-not-receive list see neither the case nor
    its reasons, and the agenda they see is numbered 1, 2 with no gap and no count of it."""
    meeting_id, (a, b, c) = three_cases
    client = _signed_in(app, world[persona])
    page = text(client.get(f"/meetings/{meeting_id}"))
    assert _reference(a) in page and _reference(c) in page
    assert _reference(b) not in page
    assert "LATE-REASON-B" not in page and "DEFERRAL-REASON-B" not in page
    assert _numbers(page) == [1, 2]
    index = text(client.get("/meetings"))
    assert re.search(r'<td class="govuk-table__cell">2</td>', index)  # two cases, not three
    with db.unit_of_work() as uow:
        rows = services.agenda_rows(actor_of(world[persona]), _meeting(uow, meeting_id))
        assert [(r.referral_id, r.number) for r in rows] == [(a, 1), (c, 2)]


def test_research_on_a_case_the_reader_may_not_know_is_the_concealed_404(
    app, world, three_cases
) -> None:
    meeting_id, (a, b, _c) = three_cases
    b_item, a_item = _item_of(meeting_id, b), _item_of(meeting_id, a)
    client = _signed_in(app, world["police_officer"])
    url = f"/meetings/{meeting_id}/research/{b_item}"
    assert client.get(url).status_code == 404
    form_url = f"/meetings/{meeting_id}/research/{a_item}"
    for target in (url, f"{url}/share"):
        answer = submit(client, target, {"facts": "FORGED-RESEARCH"}, form_url=form_url)
        assert answer.status_code == 404 and "FORGED" not in text(answer)
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(ResearchSubmission)).first() is None
        assert not uow.session.get(AgendaItem, b_item).contributions


def test_a_member_whose_agency_has_no_basis_sees_the_line_but_not_its_reasons(
    app, world, three_cases
) -> None:
    """The police representative may know B (invited) but no consent covers the police:
    B's line is there, named by reference only, and its late and deferral reasons are not."""
    meeting_id, (_a, b, _c) = three_cases
    page = text(_signed_in(app, world["police_rep"]).get(f"/meetings/{meeting_id}"))
    assert _reference(b) in page and _numbers(page) == [1, 2, 3]
    assert "LATE-REASON-B" not in page and "DEFERRAL-REASON-B" not in page
    assert "Amira KHAN" not in page  # B's victim
    coordinator = text(_signed_in(app, world["coordinator"]).get(f"/meetings/{meeting_id}"))
    assert "LATE-REASON-B" in coordinator and "DEFERRAL-REASON-B" in coordinator


# --- must-not-receive ------------------------------------------------------------------------


@pytest.fixture
def blocked_coordinator(world):
    """Case B names the coordinator on its must-not-receive list; a second coordinator
    accepts it and the chair builds the agenda with A and B."""
    add_person(world, "coordinator_two", "csp", frozenset({Role.COORDINATOR}))
    a = referred(world, "nurse", index=0)
    b = referred(world, "nurse", index=1, blocked=("coordinator",), accepted_by="coordinator_two")
    (meeting_id,) = schedule(world)
    with db.unit_of_work() as uow:
        services.build_agenda(actor_of(world["chair"]), _meeting(uow, meeting_id))
    return meeting_id, a, b


def _agenda_state(meeting_id: int) -> list[tuple[int, int, str, str]]:
    with db.unit_of_work() as uow:
        return sorted(
            (i.referral_id, i.position, i.status, i.deferral_reason)
            for i in _meeting(uow, meeting_id).items
        )


def test_a_must_not_receive_coordinator_cannot_add_move_defer_or_remove_the_case(
    app, world, blocked_coordinator
) -> None:
    meeting_id, a, b = blocked_coordinator
    base = f"/meetings/{meeting_id}"
    b_item, a_item = _item_of(meeting_id, b), _item_of(meeting_id, a)
    before = _agenda_state(meeting_id)
    assert len(before) == 2
    client = _signed_in(app, world["coordinator"])
    page = text(client.get(base))
    assert _reference(b) not in page and _numbers(page) == [1]

    # Adding it by its reference answers exactly as for a reference that does not exist.
    added = submit(client, f"{base}/agenda/add", {"reference": _reference(b)}, form_url=base)
    missing = submit(client, f"{base}/agenda/add", {"reference": "NB-2026-9999"}, form_url=base)
    assert added.status_code == missing.status_code == 422
    assert "There is no case with that reference" in text(added)
    assert "There is no case with that reference" in text(missing)
    assert _numbers(text(added)) == [1]

    refused_before = refusals_of(world["coordinator"].member_id, b)
    answers = [
        submit(client, f"{base}/agenda/{b_item}/move", {"direction": "up"}, form_url=base),
        submit(client, f"{base}/agenda/{b_item}/defer", {"reason": "Trying it on"}, form_url=base),
        client.get(f"{base}/agenda/{b_item}/defer"),
        submit(client, f"{base}/agenda/{b_item}/remove", form_url=base),
    ]
    nowhere = submit(client, f"{base}/agenda/987654/move", {"direction": "up"}, form_url=base)
    for answer in answers:
        assert answer.status_code == 404 == nowhere.status_code
        assert "There is no such case." in text(answer) and _reference(b) not in text(answer)
    # The same page as for a line that is not there (but for the request's own reference).
    assert _unreferenced(text(answers[0])) == _unreferenced(text(nowhere))
    assert _agenda_state(meeting_id) == before  # nothing changed
    assert refusals_of(world["coordinator"].member_id, b) == refused_before + 4

    # Moving the case they may see still works, around the one they may not.
    moved = submit(client, f"{base}/agenda/{a_item}/move", {"direction": "down"}, form_url=base)
    assert moved.status_code == 303
    with db.unit_of_work() as uow:
        services.circulate_agenda(actor_of(world["chair"]), _meeting(uow, meeting_id))
    run = text(client.get(f"{base}/run"))
    assert _reference(b) not in run and "Amira KHAN" not in run
    assert client.get(f"{base}/run/{b_item}").status_code == 404
    refused_before = refusals_of(world["coordinator"].member_id, b)
    forged = [
        submit(client, f"{base}/run/{b_item}/{path}", data, form_url=f"{base}/run")
        for path, data in (
            ("discussion", {"risk_victim": "FORGED"}),
            ("contributions", {"shared-agency_id": world.agencies["police"], "shared-text": "X"}),
            ("actions", {"action-text": "FORGED", "action-owner_member_id": "0"}),
            ("outcome", {"outcome": "discussed"}),
        )
    ]
    assert [f.status_code for f in forged] == [404, 404, 404, 404]
    assert refusals_of(world["coordinator"].member_id, b) == refused_before + 4
    with db.unit_of_work() as uow:
        item = uow.session.get(AgendaItem, b_item)
        assert item.discussion is None and not item.contributions and item.status == "listed"
        assert uow.session.execute(select(Action)).first() is None


def test_ids_too_large_for_the_database_are_not_found_not_errors(app, world, conference) -> None:
    client = _signed_in(app, world["coordinator"])
    huge = 2**64
    base = f"/meetings/{conference.meeting_id}"
    assert client.get(f"/meetings/{huge}").status_code == 404
    assert client.get(f"{base}/run/{huge}").status_code == 404
    assert (
        submit(client, f"{base}/agenda/{huge}/move", {"direction": "up"}, form_url=base).status_code
        == 404
    )
    assert submit(client, f"{base}/run/review/{huge}", form_url=f"{base}/run").status_code == 404


# --- a chair whose case page withholds the minutes ------------------------------------------

B_RECORD = {
    "referrer_summary": "B-MINUTES-SUMMARY strangled at the bus station",
    "victim_views": "B-MINUTES-VIEWS wants to move away",
    "risk_victim": "B-MINUTES-RISK serious harm likely",
    "risk_children": "B-MINUTES-CHILDREN none",
    "risk_perpetrator": "B-MINUTES-PERPETRATOR on bail",
    "risk_professionals": "B-MINUTES-PROFESSIONALS none known",
}
B_ACTION = "B-ACTION-TEXT refer to the sanctuary scheme"
B_SHARED = "B-SHARED-TEXT two call-outs in May"


@pytest.fixture
def chair_without_minutes(world):
    """Cases A and B at a meeting; B's consent leaves out the police, the chair's agency.
    The coordinator writes both records; the chair closes and approves."""
    a = referred(world, "nurse", index=0)
    b = referred(world, "nurse", index=1, agency_types=NOT_POLICE)
    (meeting_id,) = schedule(world)
    coordinator, chair = actor_of(world["coordinator"]), actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting)
        conduct.mark_confidentiality_read(coordinator, meeting)
        conduct.record_attendance(
            coordinator,
            meeting,
            conduct.AttendanceData(kind="present", agency_id=world.agencies["health"], name="H"),
        )
        for item in meeting.items:
            record = B_RECORD if item.referral_id == b else FULL_DISCUSSION
            conduct.save_discussion(
                coordinator,
                meeting,
                item,
                {**record, "informs_victim_agency_id": world.agencies["idva"]},
            )
            if item.referral_id == b:
                conduct.add_contribution(
                    coordinator, meeting, item, world.agencies["housing"], B_SHARED
                )
            conduct.add_action(
                coordinator,
                meeting,
                item,
                conduct.ActionData(
                    text=B_ACTION if item.referral_id == b else "A-ACTION-TEXT flag records",
                    owner_member_id=world["health_rep"].member_id,
                    due_on=today_london() + timedelta(days=7),
                ),
            )
            conduct.set_outcome(coordinator, meeting, item, "discussed")
    with on_meeting_day(meeting_id), db.unit_of_work() as uow:
        conduct.close_meeting(chair, _meeting(uow, meeting_id))
    with db.unit_of_work() as uow:
        minutes.approve_minutes(chair, _meeting(uow, meeting_id))
        # Every referral made through the hub records its basis for referring to the MARAC,
        # under which the coordinator and chair see its record. The meeting pages must still
        # withhold whatever the gate withholds, so B's basis is taken away here.
        from cases.models import Referral

        uow.session.get(Referral, b).referral_basis = None
    return meeting_id, a, b


def _no_b_minutes(page: str) -> None:
    for marker in ("B-MINUTES-", B_ACTION, B_SHARED):
        assert marker not in page


def test_the_chair_sees_the_minutes_withheld_on_every_meeting_page_and_the_pdf(
    app, world, chair_without_minutes
) -> None:
    meeting_id, a, b = chair_without_minutes
    base = f"/meetings/{meeting_id}"
    chair = _signed_in(app, world["chair"])
    case_page = text(chair.get(f"/cases/{b}"))
    assert "no consent or approved decision covers your agency" in case_page
    withheld = "minutes, no consent or approved decision covers your agency"

    run_b = text(chair.get(f"{base}/run/{_item_of(meeting_id, b)}"))
    _no_b_minutes(run_b)
    assert "The record of this case at the meeting is withheld from you" in run_b
    assert withheld in run_b and 'name="risk_victim"' not in run_b
    run_a = text(chair.get(f"{base}/run/{_item_of(meeting_id, a)}"))
    assert FULL_DISCUSSION["risk_victim"] in run_a  # the chair's other case is shown

    minutes_page = text(chair.get(f"{base}/minutes"))
    _no_b_minutes(minutes_page)
    assert withheld in minutes_page and FULL_DISCUSSION["risk_victim"] in minutes_page

    amend = text(chair.get(f"{base}/minutes/amend"))
    _no_b_minutes(amend)
    assert withheld in amend and f'name="item-{_item_of(meeting_id, b)}.risk_victim"' not in amend

    response = chair.get(f"{base}/minutes.pdf")
    assert response.status_code == 200
    pdf = _pdf_text(response.data)
    for marker in ("B-MINUTES-", "B-ACTION-TEXT", "B-SHARED-TEXT"):
        assert marker not in pdf
    assert "The minutes of this case are withheld from you" in pdf
    assert _reference(b) in pdf and "A-ACTION-TEXT" in pdf

    coordinator = text(_signed_in(app, world["coordinator"]).get(f"{base}/minutes"))
    assert "B-MINUTES-RISK" in coordinator and B_ACTION in coordinator  # consent covers them


def test_the_chair_cannot_write_or_amend_a_record_they_may_not_read(
    app, world, chair_without_minutes
) -> None:
    meeting_id, _a, b = chair_without_minutes
    base = f"/meetings/{meeting_id}"
    key = f"item-{_item_of(meeting_id, b)}.risk_victim"
    chair = _signed_in(app, world["chair"])
    refused = submit(
        chair,
        f"{base}/minutes/amend",
        {key: "OVERWRITTEN", "reason": "Correcting what I cannot see"},
    )
    assert refused.status_code == 403 and "OVERWRITTEN" not in text(refused)
    with db.unit_of_work() as uow:
        latest = minutes.latest_revision(_meeting(uow, meeting_id))
        assert latest.number == 1
        assert "OVERWRITTEN" not in str(latest.content)


def test_the_review_at_the_next_meeting_withholds_the_action_from_that_chair(
    app, world, chair_without_minutes
) -> None:
    _meeting_id, _a, b = chair_without_minutes
    later = circulated_meeting(world, ("housing_officer",), days_ahead=30)
    run = text(_signed_in(app, world["chair"]).get(f"/meetings/{later.meeting_id}/run"))
    assert "A-ACTION-TEXT" in run and B_ACTION not in run
    assert _reference(b) in run and "minutes, no consent or approved decision" in run
    with db.unit_of_work() as uow:
        b_action = uow.session.execute(
            select(Action.id).where(Action.referral_id == b)
        ).scalar_one()
    assert f'action="/meetings/{later.meeting_id}/run/review/{b_action}"' not in run
    coordinator = text(
        _signed_in(app, world["coordinator"]).get(f"/meetings/{later.meeting_id}/run")
    )
    assert B_ACTION in coordinator


# --- amendments and extracts -----------------------------------------------------------------

AMENDED = "AMEND-REASON-A: Jane's ribs were broken, not bruised"
BOTH = "AMEND-REASON-BOTH: both risk summaries were swapped"


def test_an_extract_never_shows_another_case_s_amendment_reason(app, world, conference) -> None:
    run_to_close(world, conference)
    chair = actor_of(world["chair"])
    a_item, b_item = conference.item_ids
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, conference.meeting_id)
        minutes.approve_minutes(chair, meeting)
    with db.unit_of_work() as uow:
        minutes.amend_minutes(
            chair,
            _meeting(uow, conference.meeting_id),
            {f"item-{a_item}.risk_victim": "Broken ribs: serious harm likely"},
            AMENDED,
        )
    with db.unit_of_work() as uow:
        minutes.amend_minutes(
            chair,
            _meeting(uow, conference.meeting_id),
            {
                f"item-{a_item}.risk_children": "Three children",
                f"item-{b_item}.risk_children": "No children",
            },
            BOTH,
        )
    with db.unit_of_work() as uow:
        minutes.distribute_minutes(
            actor_of(world["coordinator"]), _meeting(uow, conference.meeting_id)
        )
    housing = _signed_in(app, world["housing_officer"]).get(
        f"/meetings/{conference.meeting_id}/extract.pdf"
    )
    assert housing.status_code == 200
    everything = _pdf_text(housing.data)
    assert "Amira KHAN" in everything  # housing's own case
    assert "AMEND-REASON-A" not in everything and "Jane" not in everything
    assert "AMEND-REASON-BOTH" not in everything
    assert "the reason also concerns a case whose minutes are not in this copy" in everything

    nurse = _pdf_text(
        _signed_in(app, world["nurse"]).get(f"/meetings/{conference.meeting_id}/extract.pdf").data
    )
    assert "AMEND-REASON-A" in nurse and "AMEND-REASON-BOTH" not in nurse
    full = _pdf_text(
        _signed_in(app, world["coordinator"])
        .get(f"/meetings/{conference.meeting_id}/minutes.pdf")
        .data
    )
    assert "AMEND-REASON-A" in full and "AMEND-REASON-BOTH" in full


# --- actions and their owners ----------------------------------------------------------------


def test_an_action_cannot_be_given_to_an_owner_whose_agency_may_not_read_it(app, world) -> None:
    case_id = referred(world, "nurse", agency_types=NOT_POLICE)
    (meeting_id,) = schedule(world)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting)
        item = meeting.items[0]
        owners = {m.id for m in conduct.eligible_owners(meeting, referrals.get_referral(case_id))}
        assert world["health_rep"].member_id in owners
        assert world["police_rep"].member_id not in owners
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        meeting = _meeting(uow, meeting_id)
        conduct.add_action(
            coordinator,
            meeting,
            services.get_item(meeting, item.id),
            conduct.ActionData(
                text="Police to visit the address",
                owner_member_id=world["police_rep"].member_id,
                due_on=today_london() + timedelta(days=2),
            ),
        )
    assert refused.value.errors["owner_member_id"].endswith(
        "record consent or a decision to share covering Testshire Police first"
    )
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(Action)).first() is None
    page = text(_signed_in(app, world["coordinator"]).get(f"/meetings/{meeting_id}/run/{item.id}"))
    assert "Testshire Hospital – Health Rep" in page
    assert "Testshire Police – Police Rep" not in page


def test_an_action_s_text_follows_the_minutes_rule_for_its_owner(world, conference) -> None:
    """The IDVA owns an action; once the victim withdraws consent the IDVA's decision on the
    case withholds the minutes, and with them the action's wording: the rule the owner's task
    applies (``presenters.action_text`` with the reader's own decision on the task's case)."""
    from meetings import presenters

    case_id = conference.referral_ids[0]
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, conference.meeting_id)
        conduct.add_action(
            actor_of(world["chair"]),
            meeting,
            services.get_item(meeting, conference.item_ids[0]),
            conduct.ActionData(
                text="IDVA-ACTION-TEXT safety plan",
                owner_member_id=world["idva"].member_id,
                due_on=today_london() + timedelta(days=3),
            ),
        )
    idva, nurse = actor_of(world["idva"]), actor_of(world["nurse"])

    def decided() -> gate.Disclosure:
        return gate.disclose(idva, case_facts(referrals.get_referral(case_id)), [Category.MINUTES])

    with db.unit_of_work():
        assert presenters.action_text(decided(), case_id, "IDVA-ACTION-TEXT") == (
            "IDVA-ACTION-TEXT",
            "",
        )
    with db.unit_of_work() as uow:
        for consent_id in uow.session.execute(
            select(ConsentRecord.id).where(ConsentRecord.referral_id == case_id)
        ).scalars():
            referrals.withdraw_case_consent(nurse, referrals.get_referral(case_id), consent_id)
    with db.unit_of_work() as uow:
        shown, why = presenters.action_text(decided(), case_id, "IDVA-ACTION-TEXT")
        assert shown == "" and why.startswith("Withheld: minutes")
        with pytest.raises(gate.NotDisclosed):  # another case's decision never serves
            presenters.action_text(decided(), conference.referral_ids[1], "IDVA-ACTION-TEXT")
        owner = uow.session.get(Member, world["idva"].member_id)
        assert not conduct.owner_may_read(owner, referrals.get_referral(case_id)).allows(
            Category.MINUTES
        )


# --- counter-allegations ---------------------------------------------------------------------

ADDRESS_A = "14 Hidden Lane"  # Jane's address
ADDRESS_C = "9 Quiet Close"  # John's address


@pytest.fixture
def counter_pair(world):
    """Jane's case (referred by health) and John's counter-allegation (referred by the
    police, the chair's agency), heard together at one meeting."""
    jane, john = PEOPLE[0]
    a = referred(world, "nurse", victim=jane, perpetrator=john, address=ADDRESS_A)
    c = referred(
        world,
        "police_officer",
        victim=Names(john.given, john.family, john.born_on),
        perpetrator=Names(jane.given, jane.family, jane.born_on),
        address=ADDRESS_C,
    )
    (meeting_id,) = schedule(world)
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        services.build_agenda(actor_of(world["coordinator"]), meeting)
        services.circulate_agenda(actor_of(world["coordinator"]), meeting)
        assert sorted(i.referral_id for i in meeting.items) == sorted([a, c])
        assert all(i.is_counter_allegation for i in meeting.items)
    return meeting_id, a, c


def test_whereabouts_go_into_the_minutes_only_by_a_chair_who_could_reveal_them(
    app, world, counter_pair
) -> None:
    meeting_id, a, c = counter_pair
    base = f"/meetings/{meeting_id}"
    a_item, c_item = _item_of(meeting_id, a), _item_of(meeting_id, c)
    wanted = {"include_whereabouts": True, "whereabouts_reason": "Police must find the refuge"}

    def save(persona: str, item_id: int) -> None:
        with db.unit_of_work() as uow:
            meeting = _meeting(uow, meeting_id)
            conduct.save_discussion(
                actor_of(world[persona]), meeting, services.get_item(meeting, item_id), wanted
            )

    # Jane's referrer does not know John's counter-allegation: her line does not name it.
    nurse = text(_signed_in(app, world["nurse"]).get(base))
    assert _reference(a) in nurse and _reference(c) not in nurse
    assert "Counter-allegation" not in nurse
    assert "Counter-allegation" in text(_signed_in(app, world["health_rep"]).get(base))

    with pytest.raises(ValidationFailed, match="Only the chair"):
        save("coordinator", c_item)
    # The chair works for the police, who referred John's case: the other side of Jane's.
    with pytest.raises(ValidationFailed, match="could not reveal them yourself"):
        save("chair", a_item)
    chair = _signed_in(app, world["chair"])
    assert 'id="include_whereabouts"' not in text(chair.get(f"{base}/run/{a_item}"))
    assert 'id="include_whereabouts"' in text(chair.get(f"{base}/run/{c_item}"))
    save("chair", c_item)
    with db.unit_of_work() as uow:
        items = {i.referral_id: i for i in _meeting(uow, meeting_id).items}
        assert items[c].discussion.include_whereabouts
        assert items[a].discussion is None or not items[a].discussion.include_whereabouts


def test_an_extract_reveals_whereabouts_only_to_an_agency_the_gate_reveals_them_to(
    app, world, counter_pair
) -> None:
    meeting_id, a, c = counter_pair
    c_item = _item_of(meeting_id, c)
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, meeting_id)
        conduct.save_discussion(
            chair,
            meeting,
            services.get_item(meeting, c_item),
            {"include_whereabouts": True, "whereabouts_reason": "Police must find the address"},
        )
    run_to_close(world, Conference(meeting_id, [a, c]))
    with db.unit_of_work() as uow:
        minutes.approve_minutes(chair, _meeting(uow, meeting_id))
        minutes.distribute_minutes(actor_of(world["coordinator"]), _meeting(uow, meeting_id))
    # The health representative owns an action on John's case (so it is in health's extract),
    # but health referred Jane's: the other side. Health knows John's case only from the agenda.
    health = _pdf_text(
        _signed_in(app, world["health_rep"]).get(f"/meetings/{meeting_id}/extract.pdf").data
    )
    assert _reference(c) in health and ADDRESS_C not in health and "07700 900999" not in health
    assert ADDRESS_A not in health  # Jane's were never included
    police = _pdf_text(
        _signed_in(app, world["police_officer"]).get(f"/meetings/{meeting_id}/extract.pdf").data
    )
    assert ADDRESS_C in police  # John's referrer, revealed under the chair's reason
