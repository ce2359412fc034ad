"""The auditor's pages: search, proofs, CSV export, who has seen a case, public checkpoint."""

from __future__ import annotations

import csv
import io

import pytest

from audit import merkle, note, services
from audit.ledger import Subject, record
from hub.core import db
from hub.core.access import Actor
from tests.support.web import ledger_results, signed_in, text


def _signed_in(client, person):
    return signed_in(client, person)


def _sign(app) -> None:
    services.seal(app.extensions["hub.db"])
    with db.unit_of_work() as uow:
        services.sign_checkpoint(uow.session, app.ledger_key())


def _disclose(world, case: int = 1001) -> None:
    officer = world["police_officer"]
    actor = Actor(
        kind="member",
        member_id=officer.member_id,
        agency_id=officer.agency_id,
        area_id=world.area_id,
        roles=frozenset(),
        name="officer",
    )
    with db.unit_of_work():
        record(
            actor,
            "case:viewed",
            Subject("case", case),
            case=case,
            categories=["identity", "risk"],
            withheld=["whereabouts"],
            purpose="marac",
        )


def test_auditor_finds_entries_by_member_and_each_is_proven(app, client, world) -> None:
    _disclose(world)
    _sign(app)
    _signed_in(client, world["auditor"])
    response = client.get(f"/ledger?member={world['police_officer'].member_id}")
    page = ledger_results(response)
    assert response.status_code == 200
    assert "case:viewed" in page and "Police Officer" in page and "In checkpoint" in page
    entry_id = int(page.split("/ledger/entries/")[1].split('"')[0])
    detail = text(client.get(f"/ledger/entries/{entry_id}"))
    assert "This entry is included in the signed checkpoint" in detail


def test_the_proof_on_the_entry_page_verifies_offline(app, world) -> None:
    _disclose(world)
    _sign(app)
    with db.unit_of_work() as uow:
        size = services.current_size()
        for index in range(size):
            proof = services.prove_inclusion(uow.session, index)
            merkle.verify_inclusion(
                index, proof.tree_size, proof.leaf_hash, proof.proof, proof.root
            )
        checkpoint = note.open_checkpoint(proof.checkpoint, app.ledger_key().vkey)
        assert checkpoint.size == size and checkpoint.root == proof.root


def test_who_has_seen_a_case_groups_by_agency_and_member(app, client, world) -> None:
    _disclose(world, 2002)
    _signed_in(client, world["auditor"])
    page = text(client.get("/ledger/cases/2002"))
    assert "Testshire Police" in page and "Police Officer" in page
    assert "shown: identity, risk" in page and "withheld: whereabouts" in page


def test_csv_export_is_itself_recorded(app, client, world) -> None:
    _disclose(world)
    _signed_in(client, world["auditor"])
    response = client.get("/ledger/export.csv?action=case:viewed")
    rows = list(csv.reader(io.StringIO(text(response))))
    assert response.mimetype == "text/csv"
    assert rows[0][:4] == ["entry", "index", "at", "action"] and rows[1][3] == "case:viewed"
    again = ledger_results(client.get("/ledger?action=ledger:csv_exported"))
    assert "ledger:csv_exported" in again


def test_bad_search_input_gets_a_clear_message(client, world) -> None:
    _signed_in(client, world["auditor"])
    response = client.get(
        "/ledger?case=%3Cscript%3E&date_from-day=31&date_from-month=2&date_from-year=2026"
    )
    page = text(response)
    assert response.status_code == 422
    assert "Enter an identifier" in page and "must be a real date" in page
    assert "<script>" not in page


@pytest.mark.parametrize("persona", ["coordinator", "police_officer", "admin", "chair"])
def test_only_auditors_read_the_ledger(client, world, persona) -> None:
    _signed_in(client, world[persona])
    for url in ("/ledger", "/ledger/export.csv", "/ledger/cases/C-1", "/ledger/entries/1"):
        assert client.get(url).status_code == 403, url


def test_anyone_can_fetch_the_checkpoint_and_key(app, client, world) -> None:
    _sign(app)
    checkpoint = client.get("/ledger/checkpoint")
    key = client.get("/ledger/public-key")
    assert checkpoint.status_code == key.status_code == 200
    opened = note.open_checkpoint(checkpoint.get_data(), text(key).strip())
    with db.unit_of_work():
        assert opened.size == services.current_size() > 0
