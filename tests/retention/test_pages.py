"""The retention pages: policy settings (coordinator and administrator), the review queue
and legal holds (coordinator), each linked from home, GOV.UK error summaries on bad input."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from audit.actions import LedgerAction
from hub.core import db
from retention.models import LegalHold, RecordClass, RetentionPolicy
from retention.policy import DEFAULTS
from tests.retention.conftest import a_year, adopt, nightly, years_later
from tests.support.ledger import entries_naming
from tests.support.web import signed_in, submit, text


def _policy_form(**changes: str) -> dict[str, str]:
    data = {"source": "Testshire County Council retention schedule 2026, MAR 01.02"}
    for record_class, rule in DEFAULTS.items():
        data[f"{record_class.value}_months"] = str(rule.months)
        data[f"{record_class.value}_trigger"] = rule.trigger.value
        data[f"{record_class.value}_action"] = rule.action.value
    data.update(changes)
    return data


def test_the_policy_page_is_linked_from_the_coordinators_and_administrators_home(
    app, world
) -> None:
    for key in ("coordinator", "admin"):
        client = signed_in(app.test_client(), world[key])
        assert 'href="/retention/policy"' in text(client.get("/")), key
        page = text(client.get("/retention/policy"))
        assert "Local policy required" in page and "No local policy has been adopted" in page
    coordinator = signed_in(app.test_client(), world["coordinator"])
    assert 'href="/retention"' in text(coordinator.get("/"))
    admin = signed_in(app.test_client(), world["admin"])
    assert 'href="/retention"' not in text(admin.get("/"))
    assert admin.get("/retention").status_code in {403, 404}  # the queue names cases
    auditor = signed_in(app.test_client(), world["auditor"])
    assert 'href="/subject-access/retention"' in text(auditor.get("/"))
    assert "nothing is queued" in text(auditor.get("/subject-access/retention"))
    assert coordinator.get("/subject-access/retention").status_code in {403, 404}
    for key in ("chair", "police_officer", "auditor"):
        client = signed_in(app.test_client(), world[key])
        assert client.get("/retention/policy").status_code in {403, 404}, key
        assert client.get("/retention").status_code in {403, 404}, key
        assert client.get("/retention/holds").status_code in {403, 404}, key


def test_adopting_a_policy_saves_a_version_and_records_it_in_the_ledger(app, world) -> None:
    client = signed_in(app.test_client(), world["coordinator"])
    response = submit(client, "/retention/policy", _policy_form())
    assert response.status_code == 303
    page = text(client.get("/retention/policy"))
    assert "Version 1 is in force" in page
    assert "Local policy required" in page  # still the proposed periods, now adopted
    response = submit(client, "/retention/policy", _policy_form(whereabouts_months="6"))
    assert response.status_code == 303
    with db.unit_of_work() as uow:
        versions = uow.session.execute(
            select(RetentionPolicy.version, RetentionPolicy.rules).order_by(RetentionPolicy.version)
        ).all()
    assert [v for v, _ in versions] == [1, 2]
    assert versions[1][1]["whereabouts"]["months"] == 6
    entries = entries_naming("area", world.area_id, LedgerAction.RETENTION_POLICY_ADOPTED)
    assert [e["version"] for e in entries] == [1, 2]
    assert entries[1]["rules"]["whereabouts"] == {
        "months": 6,
        "trigger": "case_closed",
        "action": "review",
    }
    assert "MAR 01.02" not in json.dumps(entries)  # free text stays out of the ledger


def test_a_bad_policy_shows_the_error_summary_and_adopts_nothing(app, world) -> None:
    client = signed_in(app.test_client(), world["coordinator"])
    response = submit(
        client,
        "/retention/policy",
        _policy_form(
            case_months="6", research_months="", minutes_trigger="request_closed", source=""
        ),
    )
    page = text(response)
    assert response.status_code == 422 and "There is a problem" in page
    assert "at least 12 months: repeat referrals" in page
    assert "Enter how many months to keep" in page
    assert 'href="#source"' in page and 'href="#case_months"' in page
    assert 'value="6"' in page  # what was typed is kept
    with db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(RetentionPolicy)) == 0


def test_the_queue_confirm_extend_and_holds_pages(app, world) -> None:
    year = a_year(world)
    adopt(year.coordinator)
    client = signed_in(app.test_client(), world["coordinator"])
    # A hold with bad input, then a good one, on the case not yet due.
    response = submit(client, "/retention/holds", {"reference": "NO-SUCH-1", "reason": ""})
    page = text(response)
    assert response.status_code == 422 and "There is a problem" in page
    assert "There is no case with that reference in your area" in page
    assert "Select why the case must be kept" in page and "Enter who asked" in page
    with db.unit_of_work() as uow:
        from cases.models import Referral

        held_ref = uow.session.get_one(Referral, year.other).reference
        heard_refs = [uow.session.get_one(Referral, c).reference for c in year.heard]
    response = submit(
        client,
        "/retention/holds",
        {"reference": held_ref.lower(), "kind": "litigation", "reason": "Claim issued"},
    )
    assert response.status_code == 303
    holds = text(client.get("/retention/holds"))
    assert held_ref in holds and "Litigation" in holds
    with db.unit_of_work() as uow:
        hold_id = uow.session.execute(select(LegalHold.id)).scalar_one()
    lifted = submit(client, f"/retention/holds/{hold_id}/lift", {"reason": ""})
    assert lifted.status_code == 422 and "Enter why the hold can be lifted" in text(lifted)

    with years_later(6, days=60):
        nightly()
        client = signed_in(app.test_client(), world["coordinator"])
        home = text(client.get("/"))
        assert "2</span> cases past their retention period wait for your review" in home
        queue = text(client.get("/retention"))
        for reference in heard_refs:
            assert reference in queue
        assert held_ref not in queue and "The whole case" in queue
        assert "Example" not in queue  # references and dates only
        listed = entries_naming("area", world.area_id, LedgerAction.RETENTION_QUEUE_LISTED)
        assert sorted(listed[-1]["cases"]) == sorted(year.heard)
        confirm = submit(client, f"/retention/case-{year.heard[0]}/confirm", {})
        assert confirm.status_code == 303
        assert "Confirmed for destruction" in text(client.get("/retention"))
        extend_url = f"/retention/case-{year.heard[1]}/extend"
        bad = submit(
            client, extend_url, {"until-day": "1", "until-month": "1", "until-year": "2020"}
        )
        page = text(bad)
        assert bad.status_code == 422 and "There is a problem" in page
        assert "must be in the future" in page and "Enter why the records" in page
        good = submit(
            client,
            extend_url,
            {"until-day": "1", "until-month": "1", "until-year": "2040", "reason": "Complaint"},
        )
        assert good.status_code == 303
        assert "Extended until 1 January 2040" in text(client.get("/retention"))
        assert client.get("/retention/case-999999/extend").status_code == 404
    assert RecordClass.CASE.value == "case"
