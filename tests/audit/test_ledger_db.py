"""The ledger against a real database, on SQLite and on PostgreSQL.

Each test checks a property the database must hold on its own: a rolled-back disclosure
leaves no entry, committed entries get dense indexes, the stored bytes are the canonical
bytes that are hashed, the triggers refuse every change, and checkpoints and proofs
verify with the pure audit.merkle verifiers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from audit import merkle, note, services, verifier
from audit.ledger import (
    LedgerError,
    NodeStore,
    Subject,
    record,
    record_in,
    record_refusal,
    refs_of,
)
from audit.models import LEDGER_TABLES
from hub.app import HubFlask
from hub.cli import main
from hub.core import db
from hub.core.access import Actor
from hub.core.db import Database, unit_of_work

ACTOR = Actor.system("test")


class Boom(Exception):
    """Raised on purpose to roll a unit of work back."""


def database_of(app: HubFlask) -> Database:
    return app.extensions["hub.db"]


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in LEDGER_TABLES
        }


def leaves(database: Database) -> list[tuple[int, int, bytes]]:
    """(idx, entry id, stored body) of every sealed leaf, in index order."""
    with database.engine.connect() as conn:
        return [
            (int(idx), int(entry_id), bytes(body))
            for idx, entry_id, body in conn.execute(
                text(
                    "SELECT l.idx, l.entry_id, e.body FROM audit_leaves l "
                    "JOIN audit_entries e ON e.id = l.entry_id ORDER BY l.idx"
                )
            )
        ]


def level0(database: Database) -> dict[int, bytes]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT idx, hash FROM audit_nodes WHERE level = 0"))
        return {int(idx): bytes(digest) for idx, digest in rows}


def independent_canonical(body: bytes) -> bytes:
    """Re-encode without the ledger's code: sorted keys, no spaces, raw UTF-8."""
    value = json.loads(body.decode("utf-8"))
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write(database: Database, count: int, **details: Any) -> list[int]:
    """Record ``count`` entries in one unit of work; return their entry ids."""
    with unit_of_work(database):
        ids = [
            record(ACTOR, "case:viewed", Subject("referral", n), case=n % 7, **details).id
            for n in range(count)
        ]
    return ids


# --- transactions ------------------------------------------------------------------------------


def test_a_rolled_back_entry_leaves_no_entry_leaf_or_node(app: HubFlask) -> None:
    database = database_of(app)
    write(database, 3)
    services.seal(database)
    before = counts(database)
    assert before["audit_leaves"] == before["audit_entries"] >= 3

    with pytest.raises(Boom), unit_of_work(database):
        for n in range(5):
            record(ACTOR, "referral:shared", Subject("referral", 99), agency=n)
        # On SQLite the entries are sealed inline: leaves and nodes exist inside the
        # transaction, and must vanish with it.
        raise Boom

    assert services.seal(database) == 0
    assert counts(database) == before
    with database.engine.connect() as conn:
        shared = conn.execute(
            text("SELECT count(*) FROM audit_entries WHERE action = 'referral:shared'")
        ).scalar_one()
    assert shared == 0


def test_committed_entries_get_dense_indexes_around_rollbacks(app: HubFlask) -> None:
    database = database_of(app)
    start = len(leaves(database))
    committed: list[int] = []
    for round_ in range(6):
        committed += write(database, round_ + 1)
        with pytest.raises(Boom), unit_of_work(database):
            record(ACTOR, "case:viewed", Subject("referral", 1000 + round_))
            raise Boom
    services.seal(database)

    sealed = leaves(database)
    assert [idx for idx, _, _ in sealed] == list(range(len(sealed)))
    assert [entry_id for _, entry_id, _ in sealed[start:]] == committed
    hashes = level0(database)
    assert sorted(hashes) == list(range(len(sealed)))
    for idx, _, body in sealed:
        assert hashes[idx] == hashlib.sha256(b"\x00" + body).digest()
    with database.engine.connect() as conn:
        unsealed = conn.execute(
            text(
                "SELECT count(*) FROM audit_entries e "
                "WHERE NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)"
            )
        ).scalar_one()
    assert unsealed == 0


def test_stored_bytes_are_exactly_the_canonical_json_of_the_body(app: HubFlask) -> None:
    database = database_of(app)
    actor = Actor.system("canonical-test")
    with unit_of_work(database):
        entry = record(
            actor,
            "minutes:downloaded",
            Subject("meeting", 42),
            zeta=["b", "a"],
            alpha={"y": 2, "x": "Ünïcode – café"},
            case=7,
            flag=True,
            nothing=None,
        )
        entry_id = entry.id
    services.seal(database)
    with database.engine.connect() as conn:
        body = bytes(
            conn.execute(
                text("SELECT body FROM audit_entries WHERE id = :id"), {"id": entry_id}
            ).scalar_one()
        )
    assert body == independent_canonical(body)
    assert b" " not in body.replace("Ünïcode – café".encode(), b"")
    assert "Ünïcode – café".encode() in body  # raw UTF-8, not \\u escapes
    value = json.loads(body)
    assert list(value) == sorted(value)
    assert value["action"] == "minutes:downloaded"
    assert value["subject"] == {"type": "meeting", "id": 42}
    assert value["actor"] == {"kind": "system", "name": "canonical-test"}
    assert value["alpha"] == {"x": "Ünïcode – café", "y": 2}
    assert value["zeta"] == ["b", "a"]
    assert value["request"] == actor.request_id
    assert len(value["id"]) == 32
    idx = next(i for i, eid, _ in leaves(database) if eid == entry_id)
    assert level0(database)[idx] == merkle.leaf_hash(body)


@pytest.mark.parametrize(
    ("action", "details"),
    [
        ("case:viewed", {"score": 0.5}),
        ("case:viewed", {"scores": [1, 2, 3.0]}),
        ("case:viewed", {"nested": {"deep": [{"x": float("nan")}]}}),
        ("case:viewed", {"note": "x" * 201}),
        ("case:viewed", {"notes": ["fine", "y" * 500]}),
        ("case:viewed", {"nested": {"caf\u00e9": 1}}),
        ("case:viewed", {"raw": b"bytes"}),
        ("case:viewed", {"id": "forged"}),
        ("case:viewed", {"request": "forged"}),
        ("case:viewed", {"at": "2020-01-01T00:00:00Z"}),
        ("viewed", {}),
        ("Referral:viewed", {}),
        ("referral:viewed:twice", {}),
        ("case:peeked", {}),  # well formed, but not an action the catalogue names
        ("referral viewed", {}),
        ("referral:", {}),
        ("", {}),
    ],
)
def test_record_refuses_what_the_ledger_must_not_hold(
    app: HubFlask, action: str, details: dict[str, Any]
) -> None:
    database = database_of(app)
    services.seal(database)
    before = counts(database)
    # The unit of work commits: a refused record must leave nothing half-written behind.
    with unit_of_work(database), pytest.raises(LedgerError):
        record(ACTOR, action, Subject("referral", 1), **details)
    services.seal(database)
    assert counts(database) == before


def test_record_refusal_outlives_the_request_that_rolls_back(app: HubFlask) -> None:
    database = database_of(app)
    uow, token = db.begin_request_unit(database)
    try:
        record(ACTOR, "case:viewed", Subject("referral", 5))
        record_refusal(ACTOR, "access:denied", Subject("referral", 5), reason="not_member")
        uow.rollback()
    finally:
        db.end_request_unit(uow, token)
    # The same through unit_of_work, raising out of it as a failing service would.
    with pytest.raises(Boom), unit_of_work(database):
        record(ACTOR, "case:viewed", Subject("referral", 6))
        record_refusal(ACTOR, "access:denied", Subject("referral", 6), reason="not_member")
        raise Boom
    # A bad refusal fails in the caller, at once, not later in its own transaction.
    with pytest.raises(LedgerError), unit_of_work(database):
        record_refusal(ACTOR, "access:denied", reason="z" * 300)
    services.seal(database)

    bodies = [json.loads(body) for _, _, body in leaves(database)]
    denied = [b for b in bodies if b["action"] == "access:denied"]
    assert [b["subject"]["id"] for b in denied] == [5, 6]
    assert all(b["reason"] == "not_member" for b in denied)
    assert not [b for b in bodies if b["action"] == "case:viewed"]


# --- the database refuses changes ----------------------------------------------------------------

CHANGES = {
    "audit_entries": "body = body || body",
    "audit_entry_refs": "ref = 'changed'",
    "audit_leaves": "idx = idx + 1000",
    "audit_nodes": "hash = hash || hash",
    "audit_seal_batches": "count = count + 1",
    "audit_checkpoints": "tree_size = tree_size + 1",
}


def snapshot(database: Database, table: str) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
    return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows)


@pytest.fixture
def full_ledger(app: HubFlask) -> Database:
    """A ledger with a row in every ledger table."""
    database = database_of(app)
    write(database, 4, agency=3, person="p-1")
    services.seal(database)
    with unit_of_work(database) as uow:
        assert services.sign_checkpoint(uow.session, app.ledger_key(), force=True)
    for table, rows in counts(database).items():
        assert rows > 0, table
    return database


def refused(database: Database, statement: str) -> str:
    with pytest.raises(DBAPIError) as caught, database.engine.begin() as conn:
        conn.execute(text(statement))
    return str(caught.value)


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_the_database_refuses_update_delete_and_truncate(full_ledger: Database, table: str) -> None:
    database = full_ledger
    before = snapshot(database, table)
    statements = [
        f"UPDATE {table} SET {CHANGES[table]}",  # noqa: S608
        f"DELETE FROM {table}",  # noqa: S608
        f"DELETE FROM {table} WHERE 1 = 1",  # noqa: S608
    ]
    if database.dialect == "postgresql":
        statements.append(f"TRUNCATE {table}")
        statements.append(f"TRUNCATE {table} CASCADE")
    for statement in statements:
        message = refused(database, statement)
        if statement == f"TRUNCATE {table}" and "foreign key" in message:
            # PostgreSQL refuses a plain TRUNCATE of a referenced table before any trigger
            # runs; the CASCADE form below gets past that and must meet the trigger.
            continue
        assert "append-only" in message, (statement, message)
        assert snapshot(database, table) == before, statement


def test_inserting_into_the_ledger_is_still_allowed(full_ledger: Database) -> None:
    # The guards must refuse changes, not appends: the sealer and checkpoints insert.
    before = counts(full_ledger)
    write(full_ledger, 2)
    services.seal(full_ledger)
    after = counts(full_ledger)
    assert after["audit_entries"] == before["audit_entries"] + 2
    assert after["audit_leaves"] == before["audit_leaves"] + 2


# --- checkpoints and proofs ----------------------------------------------------------------------


def test_checkpoints_and_proofs_verify_at_every_index_and_size(app: HubFlask) -> None:
    database = database_of(app)
    key = app.ledger_key()
    signed: list[tuple[int, bytes]] = []
    target_sizes = [1, 2, 3, 4, 5, 8, 13, 16, 17, 31, 33, 64, 70]
    for size in target_sizes:
        current = len(leaves(database))
        if size > current:
            write(database, size - current)
        services.seal(database)
        sealed = leaves(database)
        n = len(sealed)
        assert n >= size
        with unit_of_work(database) as uow:
            checkpoint = services.sign_checkpoint(uow.session, key, force=True)
            assert checkpoint is not None
            opened = note.open_checkpoint(checkpoint.note, key.vkey, key.origin)
        assert opened.size == n
        # The signed root is the root of the stored bytes, rebuilt without the database.
        expected_root = merkle.root_from_leaves([merkle.leaf_hash(b) for _, _, b in sealed])
        assert opened.root == expected_root
        signed.append((n, opened.root))
        with unit_of_work(database) as uow:
            for idx, _, body in sealed:
                proof = services.prove_inclusion(uow.session, idx)
                assert proof is not None
                assert proof.tree_size == n
                assert proof.leaf_hash == merkle.leaf_hash(body)
                merkle.verify_inclusion(idx, n, merkle.leaf_hash(body), proof.proof, opened.root)
                if n > 1:
                    other = sealed[(idx + 1) % n][2]
                    with pytest.raises(merkle.ProofError):
                        merkle.verify_inclusion(
                            idx, n, merkle.leaf_hash(other), proof.proof, opened.root
                        )
            assert services.prove_inclusion(uow.session, n) is None
            assert services.prove_inclusion(uow.session, -1) is None

    with unit_of_work(database) as uow:
        store = NodeStore(uow.session)
        for i, (size1, root1) in enumerate(signed):
            for size2, root2 in signed[i:]:
                proof = merkle.consistency_proof(size1, size2, store)
                merkle.verify_consistency(size1, size2, root1, root2, proof)
                if size1 < size2:
                    with pytest.raises(merkle.ProofError):
                        merkle.verify_consistency(size1, size2, root2, root2, proof)


def test_sign_checkpoint_skips_when_nothing_new_was_sealed(app: HubFlask) -> None:
    database = database_of(app)
    write(database, 3)
    services.seal(database)
    key = app.ledger_key()
    with unit_of_work(database) as uow:
        assert services.sign_checkpoint(uow.session, key) is not None
    with unit_of_work(database) as uow:
        assert services.sign_checkpoint(uow.session, key) is None
    write(database, 1)
    services.seal(database)
    size = len(leaves(database))
    with unit_of_work(database) as uow:
        later = services.sign_checkpoint(uow.session, key)
        assert later is not None
        assert later.tree_size == size


# --- export and the offline verifier ------------------------------------------------------------


@pytest.fixture
def cli(app: HubFlask, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The same database and instance folder (hence the same signing key) as the app fixture.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HUB_ENV", "development")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_export_then_verify_round_trip(app: HubFlask, cli: Any, tmp_path: Path) -> None:
    database = database_of(app)
    for n in range(4):
        write(database, 5 + n, person=f"p-{n}")
        services.seal(database)
        with unit_of_work(database) as uow:
            services.sign_checkpoint(uow.session, app.ledger_key())
    write(database, 3)  # newer than any checkpoint: export signs one first
    out = tmp_path / "bundle"
    exported = cli("audit", "export", str(out))
    assert exported.exit_code == 0, exported.output
    services.seal(database)
    size = len(leaves(database))
    assert f"Exported {size - 1} entries" in exported.output  # the export records itself

    checked = cli("audit", "verify", str(out))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith(f"OK: {size - 1} entries, 5 checkpoints")
    report = verifier.verify_bundle(out)
    assert report.ok
    assert report.entries == size - 1
    assert (out / "entries.ndjson").read_bytes() == b"".join(
        body + b"\n" for _, _, body in leaves(database)[: size - 1]
    )

    status = cli("audit", "status")
    assert status.exit_code == 0
    assert f"sealed entries:     {size}" in status.output
    proved = cli("audit", "prove", "0")
    assert proved.exit_code == 0, proved.output
    proof = json.loads(proved.output)
    merkle.verify_inclusion(
        0,
        proof["tree_size"],
        merkle.leaf_hash(leaves(database)[0][2]),
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )

    # The CLI's verify fails, with exit status 1, on a bundle whose entry was edited.
    entries = (out / "entries.ndjson").read_bytes().split(b"\n")
    entries[2] = entries[2].replace(b"case:viewed", b"referral:shared")
    (out / "entries.ndjson").write_bytes(b"\n".join(entries))
    failed = cli("audit", "verify", str(out))
    assert failed.exit_code == 1
    assert "entry 2" in failed.output


def test_record_in_an_explicit_session_joins_its_transaction(app: HubFlask) -> None:
    database = database_of(app)
    before = counts(database)
    session = database.session_factory()
    try:
        record_in(session, ACTOR, "case:viewed", Subject("referral", 1), {})
        session.rollback()
    finally:
        session.close()
    services.seal(database)
    assert counts(database) == before


def test_an_inclusion_proof_reads_its_nodes_in_one_query(app: HubFlask) -> None:
    from sqlalchemy import event

    database = database_of(app)
    write(database, 300)
    services.seal(database)
    with unit_of_work(database) as uow:
        services.sign_checkpoint(uow.session, app.ledger_key(), force=True)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with unit_of_work(database) as uow:
        uow.session.execute(text("SELECT 1"))  # begin first: BEGIN is not the proof's
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            for index in (0, 137, 255, 256, 299):
                statements.clear()
                proof = services.prove_inclusion(uow.session, index)
                assert proof is not None
                # The latest checkpoint, then every node of the path and the leaf at once.
                assert len(statements) <= 2, statements
        finally:
            event.remove(database.engine, "before_cursor_execute", count)


def test_search_finds_an_entry_by_identifiers_with_awkward_characters(app: HubFlask) -> None:
    # The identifiers travel to the database as one JSON text on PostgreSQL: commas, quotes,
    # braces and backslashes must arrive as they were, and each must find its entry.
    awkward = 'P-1,2 "x" {y} \\z\''
    with unit_of_work(database_of(app)):
        entry_id = record(ACTOR, "case:searched", Subject("case", 9), person=awkward, agency=3).id
    with db.unit_of_work(database_of(app)) as uow:
        found = services.search(
            uow.session, services.SearchFilters(person=awkward, agency="3", case="9")
        )
        assert [entry.entry_id for entry in found] == [entry_id]
        assert services.search(uow.session, services.SearchFilters(person="P-1")) == []


def test_search_references_are_exactly_what_each_entry_names(app: HubFlask) -> None:
    # An auditor's search by case, person, agency or member reads the references: they must
    # be the identifiers each entry's own bytes hold, no more and no fewer.
    member = Actor(kind="member", member_id=41, agency_id=7, area_id=1, roles=frozenset(), name="x")
    database = database_of(app)
    with unit_of_work(database):
        shared = record(
            member,
            "referral:shared",
            Subject("referral", 4),
            case="C-9",
            agencies=[2, 3],
            person="P-7",
            purpose="safety_planning",
        ).id
        record(ACTOR, "ledger:exported", None, size=3)
    with database.engine.connect() as conn:
        bodies = dict(conn.execute(text("SELECT id, body FROM audit_entries")).all())
        stored: dict[int, set[tuple[str, str]]] = {entry_id: set() for entry_id in bodies}
        for entry_id, kind, ref in conn.execute(
            text("SELECT entry_id, kind, ref FROM audit_entry_refs")
        ):
            stored[entry_id].add((kind, ref))
    assert stored[shared] == {
        ("member", "41"),
        ("agency", "7"),
        ("area", "1"),
        ("referral", "4"),
        ("case", "C-9"),
        ("agency", "2"),
        ("agency", "3"),
        ("person", "P-7"),
    }
    for entry_id, body in bodies.items():
        assert stored[entry_id] == refs_of(json.loads(bytes(body))), entry_id
