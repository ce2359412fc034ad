"""Research is private to the agency that wrote it: another agency never sees it, the auditor
sees only that it exists, and only what the agency shares at the meeting enters the minutes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from hub.core import db
from hub.core.errors import Conflict, NotFound, ValidationFailed
from meetings import minutes, research, services
from meetings.models import Meeting, ResearchSubmission
from tests.meetings.conftest import Conference, run_to_close
from tests.support.web import ledger_results, signed_in, submit, text
from tests.support.world import actor_of

FACTS = "Three calls for service since June; non-molestation order served 2 September."
OPINION = "The officer in the case believes the risk is rising quickly."
HELD = "A sealed family court report"
REASON = "Court permission is needed before it can be shared"
TO_SHARE = "Police: three calls for service since June and an order in force until March."


def _save(world, conference: Conference, persona: str, **data) -> ResearchSubmission:
    who = actor_of(world[persona])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        item = services.get_item(meeting, conference.item_ids[0])
        return research.save_research(who, meeting, item, research.ResearchData(**data))


def _signed_in(client, person):
    return signed_in(client, person)


def test_research_is_never_shown_to_another_agency(app, world, conference) -> None:
    saved = _save(
        world,
        conference,
        "health_rep",
        facts=FACTS,
        opinions=OPINION,
        to_share=TO_SHARE,
        withheld=[research.WithheldRow(HELD, REASON)],
    )
    idva = actor_of(world["idva"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        item = services.get_item(meeting, conference.item_ids[0])
        assert research.research_of(idva, meeting, item)[2] is None  # the IDVA's own: none yet
        own = research.research_of(actor_of(world["health_rep"]), meeting, item)[2]
        assert own is not None and own.version == saved.version
        assert own.facts == FACTS and own.withheld[0].reason == REASON

    url = f"/meetings/{conference.meeting_id}/research/{conference.item_ids[0]}"
    for persona in ("idva", "coordinator", "chair"):
        client = _signed_in(app.test_client(), world[persona])
        response = client.get(url)
        page = text(response)
        assert FACTS not in page and OPINION not in page and HELD not in page, persona
        assert TO_SHARE not in text(
            client.get(f"/meetings/{conference.meeting_id}/run/{conference.item_ids[0]}")
        ), persona
    health = _signed_in(app.test_client(), world["health_rep"])
    page = text(health.get(url))
    assert FACTS in page and HELD in page and REASON in page


def test_the_auditor_sees_that_research_exists_but_not_what_it_says(app, world, conference) -> None:
    saved = _save(world, conference, "health_rep", facts=FACTS, opinions=OPINION)
    with db.unit_of_work() as uow:
        rows = (
            uow.session.execute(select(AuditEntry).where(AuditEntry.action == "research:saved"))
            .scalars()
            .all()
        )
        bodies = [json.loads(r.body) for r in rows]
    assert bodies[-1]["subject"] == {"type": "research", "id": saved.id}
    assert bodies[-1]["agency"] == world.agencies["health"]
    assert all(FACTS not in r.body.decode() and OPINION not in r.body.decode() for r in rows)
    auditor = _signed_in(app.test_client(), world["auditor"])
    page = ledger_results(
        auditor.get(f"/ledger?case={conference.referral_ids[0]}&action=research:saved")
    )
    assert "research:saved" in page and FACTS not in page


def test_held_back_items_need_a_reason_and_nothing_is_saved_without_one(world, conference) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _save(
            world, conference, "health_rep", facts=FACTS, withheld=[research.WithheldRow(HELD, "")]
        )
    assert refused.value.errors == {"withheld_reason_0": "Say why this is not shared"}
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(ResearchSubmission)).first() is None


def test_an_agency_not_invited_cannot_research(world, conference) -> None:
    with db.unit_of_work() as uow:  # circulated to everyone: take the police off the list
        meeting = uow.session.get(Meeting, conference.meeting_id)
        meeting.invitations = [
            i for i in meeting.invitations if i.agency_id != world.agencies["police"]
        ]
    with pytest.raises(NotFound):
        _save(world, conference, "police_rep", facts="anything")


def test_only_what_is_shared_enters_the_minutes(world, conference) -> None:
    _save(world, conference, "health_rep", facts=FACTS, opinions=OPINION, to_share=TO_SHARE)
    health_rep = actor_of(world["health_rep"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        item = services.get_item(meeting, conference.item_ids[0])
        shared = research.share_at_meeting(health_rep, meeting, item)
        assert shared.from_research and shared.agency_id == world.agencies["health"]
    run_to_close(world, conference)
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        content = minutes.live_content(meeting)
        dumped = json.dumps(content)
        assert TO_SHARE in dumped and FACTS not in dumped and OPINION not in dumped
    with db.unit_of_work() as uow, pytest.raises(Conflict, match="closed"):
        meeting = uow.session.get(Meeting, conference.meeting_id)
        research.save_research(
            health_rep,
            meeting,
            services.get_item(meeting, conference.item_ids[0]),
            research.ResearchData(facts="late"),
        )


def test_research_page_round_trip_and_stale_edit(app, world, conference) -> None:
    url = f"/meetings/{conference.meeting_id}/research/{conference.item_ids[0]}"
    client = _signed_in(app.test_client(), world["health_rep"])
    saved = submit(
        client,
        url,
        {
            "facts": FACTS,
            "opinions": OPINION,
            "to_share": "",
            "withheld_item_0": HELD,
            "withheld_reason_0": "",
            "withheld_item_1": "",
            "withheld_reason_1": "",
        },
    )
    assert saved.status_code == 422 and "Say why this is not shared" in text(saved)
    assert FACTS in text(saved)  # what was typed is kept
    saved = submit(
        client,
        url,
        {
            "facts": FACTS,
            "opinions": OPINION,
            "to_share": "",
            "withheld_item_0": HELD,
            "withheld_reason_0": REASON,
            "withheld_item_1": "",
            "withheld_reason_1": "",
        },
    )
    assert saved.status_code == 303
    page = text(client.get(url))
    assert REASON in page and 'name="withheld_item_2"' in page  # one more empty row
    stale = submit(client, url, {"version": "0", "facts": "overwrite"})
    assert stale.status_code == 422 and "Someone else in your agency" in text(stale)


def test_a_research_record_lists_at_most_fifty_held_back_items(world, conference) -> None:
    rows = [research.WithheldRow(f"Item {n}", "Not relevant") for n in range(51)]
    with pytest.raises(ValidationFailed, match="at most 50"):
        _save(world, conference, "health_rep", facts=FACTS, withheld=rows)
