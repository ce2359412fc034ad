"""MARAC-to-MARAC transfer inside one hub, on the demo's two areas (Northbridge, Southport)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from audit.actions import LedgerAction
from audit.models import AuditEntry
from cases.models import Referral, ReferralStatus, Whereabouts
from hub import demo
from hub.core import db
from meetings.models import AgendaItem
from tests.support.web import signed_in, submit, text
from tests.transfers.conftest import (
    NB_COORDINATOR,
    OLD_ADDRESS,
    OLD_PHONE,
    SP_COORDINATOR,
    _member,
    southport_id,
    start_form,
    transfer_to_southport,
)
from todo.models import Task
from transfers.models import Transfer, TransferStatus


def test_the_whole_path_from_northbridge_to_southport(app, two_areas) -> None:
    case_id, reference = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    # Only the coordinator's case page offers it.
    assert f"/cases/{case_id}/transfer" in text(sender.get(f"/cases/{case_id}"))
    started = start_form(
        sender,
        case_id,
        to_area=str(southport_id()),
        reason="refuge",
        heard_here="no",
        agenda_circulated="yes",
    )
    assert started.status_code == 303, text(started)
    with db.unit_of_work() as uow:
        transfer = uow.session.execute(select(Transfer)).scalar_one()
        transfer_id = transfer.id
        assert transfer.status is TransferStatus.DRAFT
    # The receiver sees no draft.
    assert receiver.get(f"/transfers/{transfer_id}").status_code == 404
    sent = submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    assert sent.status_code == 303
    home = text(receiver.get("/"))
    assert "1 transfer from another MARAC waiting for you" in home
    assert 'href="/transfers"' in home
    page = text(receiver.get(f"/transfers/{transfer_id}"))
    assert "Transfer in from Northbridge MARAC" in page
    assert "should be revisited after a move" in page
    assert "Contact the victim within two working days" not in page  # not heard: no plan
    assert "Zainab ALI" in page
    submit(receiver, f"/transfers/{transfer_id}/acknowledge", form_url=f"/transfers/{transfer_id}")
    accepted = submit(
        receiver, f"/transfers/{transfer_id}/accept", form_url=f"/transfers/{transfer_id}"
    )
    assert accepted.status_code == 303
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None and transfer.status is TransferStatus.LISTED
        for step in ("sent_at", "acknowledged_at", "listed_at"):
            assert getattr(transfer, step) is not None, step
        old = uow.session.get(Referral, case_id)
        new = uow.session.get(Referral, transfer.new_referral_id)
        assert old is not None and old.status is ReferralStatus.TRANSFERRED
        assert new is not None and new.status is ReferralStatus.ACCEPTED
        assert new.area_id == southport_id() and new.transferred_from == reference
        item = uow.session.execute(
            select(AgendaItem).where(AgendaItem.referral_id == new.id)
        ).scalar_one()
        assert item.transferred_from == "Northbridge MARAC"
        titles = set(uow.session.execute(select(Task.title)).scalars())
        assert "List the case transferred from Northbridge MARAC at the next meeting" in titles
        assert "Ask Northbridge MARAC for what the transfer pack lacks" in titles
        assert "Hand the case over to the IDVA service in Southport MARAC" in titles
        # Each kind of agency in both areas speaks to its counterpart (police, IDVA, housing).
        # They name the transfer, never the case: those agencies may not know it exists yet.
        about = f"the case transferred in from Northbridge MARAC (TR-{transfer_id})"
        assert f"Speak to Northbridge Police about {about}" in titles
        assert f"Speak to Northbridge Homes about {about}" in titles
        assert f"Take the hand-over from Northbridge IDVA Service of {about}" in titles
        assert not [t for t in titles if new.reference in t and t.startswith(("Speak", "Take"))]
        new_id, listed_meeting = new.id, item.meeting_id
        entries = [
            json.loads(e.body)
            for e in uow.session.execute(select(AuditEntry)).scalars()
            if e.action.startswith("transfer:")
        ]
    pieces = [e for e in entries if e["action"] == LedgerAction.TRANSFER_PACK_DISCLOSED]
    assert pieces and all("basis" in e for e in pieces)
    assert {e["piece"] for e in pieces} >= {"referral", "risk", "actions", "meetings"}
    agenda = text(receiver.get(f"/meetings/{listed_meeting}"))
    assert "Transferred in from Northbridge MARAC" in agenda
    # Nothing the receiver is given carries the old whereabouts.
    for url in (
        "/",
        "/transfers",
        f"/transfers/{transfer_id}",
        f"/cases/{new_id}",
        f"/meetings/{listed_meeting}",
    ):
        body = text(receiver.get(url))
        assert OLD_ADDRESS not in body and OLD_PHONE not in body, url
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None
        assert OLD_ADDRESS not in json.dumps(transfer.pack)
        assert OLD_PHONE not in json.dumps(transfer.pack)
        assert uow.session.get(Whereabouts, new.victim_id) is None
    # The receiving coordinator still cannot open the old case.
    assert receiver.get(f"/cases/{case_id}").status_code == 404


def test_a_non_coordinator_cannot_start_or_accept(app, two_areas) -> None:
    case_id, _ = two_areas
    officer = signed_in(app.test_client(), _member("pc.walsh@police.northbridge.example"))
    assert officer.get(f"/cases/{case_id}/transfer").status_code in {403, 404}
    assert f"/cases/{case_id}/transfer" not in text(officer.get(f"/cases/{case_id}"))
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    transfer_id = transfer_to_southport(sender, case_id, "permanent_move")
    submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    southport_officer = signed_in(app.test_client(), _member("pc.clarke@police.southport.example"))
    assert southport_officer.get(f"/transfers/{transfer_id}").status_code in {403, 404}
    refused = southport_officer.post(f"/transfers/{transfer_id}/accept")
    assert refused.status_code in {400, 403, 404}
    # The sender cannot accept its own transfer.
    own = submit(sender, f"/transfers/{transfer_id}/accept", form_url=f"/transfers/{transfer_id}")
    assert own.status_code in {303, 403}
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None and transfer.status is TransferStatus.SENT
        assert transfer.new_referral_id is None


def test_bad_input_shows_the_error_summary_and_saves_nothing(app, two_areas) -> None:
    case_id, _ = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    response = start_form(sender, case_id, reason="refuge")
    assert response.status_code == 422
    page = text(response)
    assert "There is a problem" in page
    assert "Select the MARAC the victim has moved to" in page
    assert "Select whether this MARAC has already heard the case" in page
    assert re.search(r'value="refuge"\s+checked', page) or 'value="refuge" checked' in page
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(Transfer.id)).first() is None


def test_declining_needs_a_reason_and_leaves_the_old_case_alone(app, two_areas) -> None:
    case_id, _ = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    start_form(
        sender,
        case_id,
        to_area=str(southport_id()),
        reason="temporary_move",
        heard_here="yes",
        agenda_circulated="no",
    )
    with db.unit_of_work() as uow:
        transfer_id = uow.session.execute(select(Transfer.id)).scalar_one()
    submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    short = submit(
        receiver,
        f"/transfers/{transfer_id}/decline",
        {"reason": "no"},
        form_url=f"/transfers/{transfer_id}",
    )
    assert short.status_code == 422 and "Say why this MARAC cannot take the case" in text(short)
    done = submit(
        receiver,
        f"/transfers/{transfer_id}/decline",
        {"reason": "The victim has not moved into Southport after all."},
        form_url=f"/transfers/{transfer_id}",
    )
    assert done.status_code == 303
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None and transfer.status is TransferStatus.DECLINED
        assert transfer.declined_at is not None
        old = uow.session.get(Referral, case_id)
        assert old is not None and old.status is ReferralStatus.ACCEPTED


def test_repeat_detection_follows_the_case_into_either_area(app, two_areas) -> None:
    case_id, _ = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    transfer_id = transfer_to_southport(sender, case_id, "permanent_move")
    submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    submit(receiver, f"/transfers/{transfer_id}/accept", form_url=f"/transfers/{transfer_id}")
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None
        new_id = transfer.new_referral_id
        index = next(
            n for n, ((given, _f, _b), _p) in enumerate(demo.DEMO_PEOPLE) if given == "Zainab"
        )
    # A new incident reported in the new area is a repeat of the transferred-in case ...
    with db.unit_of_work():
        southport = demo._referral(demo._member_actor("pc.clarke@police.southport.example"), index)
    # ... and one reported in the old area a repeat of the case that was transferred out.
    with db.unit_of_work():
        northbridge = demo._referral(
            demo._member_actor("pc.walsh@police.northbridge.example"), index
        )
    with db.unit_of_work() as uow:
        later_here = uow.session.get(Referral, southport)
        later_there = uow.session.get(Referral, northbridge)
        assert later_here is not None and later_there is not None
        assert later_here.is_repeat and later_here.previous_referral_id == new_id
        assert later_there.is_repeat and later_there.previous_referral_id == case_id
