"""An administrator tampers with the ledger in the database; the offline verifier notices.

Each test builds a ledger of a few hundred entries through audit.ledger, with signed
checkpoints in between, then changes the tables directly, as someone with the database's
superuser (or its file) could: the triggers are switched off for that one transaction
(PostgreSQL: session_replication_role = replica; SQLite: the triggers are dropped and
recreated). The hub then exports the tampered ledger as usual, and the verifier must fail
and name the entry (or the checkpoint) that is wrong.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from audit import merkle, note, services, verifier
from audit.ledger import Subject, build_entry, record
from audit.models import LEDGER_TABLES
from hub.app import HubFlask
from hub.core.access import Actor
from hub.core.db import Database, unit_of_work

ACTOR = Actor.system("tamper-test")
BATCHES = (37, 53, 64, 41, 60, 45)  # checkpoints at 37, 90, 154, 195, 255, 300
SIZE = sum(BATCHES)
TARGET = 123  # inside the span of checkpoint 3 (90..153)


@dataclass
class Ledger:
    app: HubFlask
    database: Database
    checkpoints: int


def build(app: HubFlask) -> Ledger:
    database: Database = app.extensions["hub.db"]
    key = app.ledger_key()
    rng = random.Random(7)
    for count in BATCHES:
        with unit_of_work(database):
            for _ in range(count):
                record(
                    ACTOR,
                    rng.choice(["case:viewed", "referral:shared", "minutes:downloaded"]),
                    Subject("referral", rng.randrange(1, 500)),
                    case=rng.randrange(1, 50),
                    agency=rng.randrange(1, 9),
                )
        services.seal(database)
        with unit_of_work(database) as uow:
            assert services.sign_checkpoint(uow.session, key) is not None
    with database.engine.connect() as conn:
        size = conn.execute(text("SELECT count(*) FROM audit_leaves")).scalar_one()
    assert size == SIZE  # nothing else in the fresh database writes to the ledger
    return Ledger(app, database, len(BATCHES))


@contextmanager
def as_administrator(database: Database) -> Iterator[Connection]:
    """One transaction with the append-only triggers out of the way, as a superuser could."""
    with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        guards = [(name, sql) for name, sql in triggers if name.startswith(LEDGER_TABLES)]
        assert guards, "the ledger's triggers are missing"
        for name, _ in guards:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        yield conn
        for _, sql in guards:
            conn.execute(text(sql))


def entry_id_at(conn: Connection, idx: int) -> int:
    return int(
        conn.execute(
            text("SELECT entry_id FROM audit_leaves WHERE idx = :idx"), {"idx": idx}
        ).scalar_one()
    )


def body_at(conn: Connection, idx: int) -> bytes:
    return bytes(
        conn.execute(
            text(
                "SELECT e.body FROM audit_entries e JOIN audit_leaves l ON l.entry_id = e.id "
                "WHERE l.idx = :idx"
            ),
            {"idx": idx},
        ).scalar_one()
    )


def set_body(conn: Connection, idx: int, body: bytes) -> None:
    conn.execute(
        text("UPDATE audit_entries SET body = :body WHERE id = :id"),
        {"body": body, "id": entry_id_at(conn, idx)},
    )


def delete_entry(conn: Connection, idx: int) -> None:
    entry_id = entry_id_at(conn, idx)
    conn.execute(text("DELETE FROM audit_leaves WHERE idx = :idx"), {"idx": idx})
    conn.execute(text("DELETE FROM audit_entry_refs WHERE entry_id = :id"), {"id": entry_id})
    conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entry_id})


def shift_leaves(conn: Connection, start: int, by: int) -> None:
    # Two steps, since a primary key is checked row by row while it is renumbered.
    conn.execute(
        text("UPDATE audit_leaves SET idx = idx + 1000000 WHERE idx >= :start"), {"start": start}
    )
    conn.execute(
        text("UPDATE audit_leaves SET idx = idx - 1000000 + :by WHERE idx >= 1000000"),
        {"by": by},
    )


def forged_body() -> bytes:
    body = build_entry(ACTOR, "case:viewed", Subject("referral", 1), {"case": 1})
    return body


def insert_entry(conn: Connection, body: bytes) -> int:
    # Entries carry txid on PostgreSQL; give the forged one a plausible past value.
    conn.execute(
        text(
            "INSERT INTO audit_entries (body, action, at, txid) "
            "SELECT :body, 'case:viewed', at, txid FROM audit_entries "
            "ORDER BY id DESC LIMIT 1"
        ),
        {"body": body},
    )
    return int(conn.execute(text("SELECT max(id) FROM audit_entries")).scalar_one())


# --- the tampering -----------------------------------------------------------------------------


def edit(conn: Connection) -> None:
    """Change one entry's bytes, keeping it valid canonical JSON."""
    body = body_at(conn, TARGET)
    value = json.loads(body)
    value["subject"]["id"] = value["subject"]["id"] + 1
    set_body(conn, TARGET, json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def edit_with_leaf_hash(conn: Connection) -> None:
    """Change one entry and rewrite its stored leaf hash to match."""
    edit(conn)
    conn.execute(
        text("UPDATE audit_nodes SET hash = :hash WHERE level = 0 AND idx = :idx"),
        {"hash": merkle.leaf_hash(body_at(conn, TARGET)), "idx": TARGET},
    )


def edit_one_byte(conn: Connection) -> None:
    """Flip one character, so the entry is no longer canonical JSON either."""
    body = body_at(conn, TARGET)
    set_body(conn, TARGET, body.replace(b'"v":1', b'"v": 1'))


def delete(conn: Connection) -> None:
    """Remove one entry and its leaf row (a gap is left in the indexes)."""
    delete_entry(conn, TARGET)


def delete_and_close_gap(conn: Connection) -> None:
    """Remove one entry and renumber the later leaves so the indexes look dense again."""
    delete_entry(conn, TARGET)
    shift_leaves(conn, TARGET + 1, -1)
    conn.execute(text("DELETE FROM audit_nodes WHERE level = 0 AND idx = :idx"), {"idx": SIZE - 1})


def insert(conn: Connection) -> None:
    """Slip a new entry in at one index, moving the later ones up by one."""
    entry_id = insert_entry(conn, forged_body())
    shift_leaves(conn, TARGET, 1)
    conn.execute(
        text(
            "INSERT INTO audit_leaves (idx, entry_id, sealed_at) SELECT :idx, :id, sealed_at "
            "FROM audit_leaves WHERE idx = :next"
        ),
        {"idx": TARGET, "id": entry_id, "next": TARGET + 1},
    )


def swap(conn: Connection) -> None:
    """Exchange the bytes of two entries."""
    first, second = body_at(conn, TARGET), body_at(conn, TARGET + 40)
    set_body(conn, TARGET, second)
    set_body(conn, TARGET + 40, first)


def truncate(conn: Connection) -> None:
    """Remove the newest entries, their leaves and their nodes (the checkpoints stay)."""
    cut = SIZE - 25
    ids = [
        r[0]
        for r in conn.execute(
            text("SELECT entry_id FROM audit_leaves WHERE idx >= :cut"), {"cut": cut}
        )
    ]
    conn.execute(text("DELETE FROM audit_leaves WHERE idx >= :cut"), {"cut": cut})
    for entry_id in ids:
        conn.execute(text("DELETE FROM audit_entry_refs WHERE entry_id = :id"), {"id": entry_id})
        conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entry_id})
    # Every stored subtree that covers a removed leaf goes too.
    conn.execute(
        text("DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > :cut"), {"cut": cut}
    )


def rewrite_history(conn: Connection) -> None:
    """Edit one entry and recompute every stored hash, so only the checkpoints disagree."""
    edit(conn)
    bodies = [
        bytes(r[0])
        for r in conn.execute(
            text(
                "SELECT e.body FROM audit_entries e JOIN audit_leaves l ON l.entry_id = e.id "
                "ORDER BY l.idx"
            )
        )
    ]
    builder = merkle.TreeBuilder()
    rows = [
        {"level": level, "idx": idx, "hash": digest}
        for body in bodies
        for level, idx, digest in builder.append(merkle.leaf_hash(body))
    ]
    conn.execute(text("DELETE FROM audit_nodes"))
    conn.execute(
        text("INSERT INTO audit_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"), rows
    )


def foreign_key_checkpoint(conn: Connection) -> None:
    """Add a checkpoint of the true tree, signed with a key that is not the hub's."""
    size, root, origin = latest_checkpoint(conn)
    impostor = note.generate_signer_key(origin.split("/")[0])
    signed = note.sign_note(note.format_checkpoint(origin, size, root), impostor)
    conn.execute(
        text(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at) "
            "SELECT tree_size, root_hash, :note, signed_at FROM audit_checkpoints "
            "ORDER BY id DESC LIMIT 1"
        ),
        {"note": signed},
    )


def latest_checkpoint(conn: Connection) -> tuple[int, bytes, str]:
    raw = bytes(
        conn.execute(
            text("SELECT note FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    )
    body, _ = note.split_note(raw)
    parsed = note.parse_checkpoint(body)
    return parsed.size, parsed.root, parsed.origin


@dataclass(frozen=True)
class Case:
    tamper: Callable[[Connection], None]
    #: The entry index the verifier must name first, or None when it must name a checkpoint.
    index: int | None
    #: Words the first problem's message must contain.
    says: tuple[str, ...]
    #: The checkpoint number (1-based) the verifier must name, if any.
    checkpoint: int | None = None


CASES = {
    "edit": Case(edit, TARGET, (f"entry {TARGET}", "do not match")),
    "edit_one_byte": Case(edit_one_byte, TARGET, (f"entry {TARGET}",)),
    # The leaf hash agrees with the edit; the subtree hash stored over the pair does not,
    # and the signed root vouches for it: the pair is named (which of the two cannot be
    # told from a hash over both).
    "edit_with_leaf_hash": Case(
        edit_with_leaf_hash,
        TARGET - 1,
        ("checkpoint 3", f"entry {TARGET - 1} or {TARGET}", "changed together"),
    ),
    "delete": Case(delete, TARGET, (f"entry {TARGET}", "deleted")),
    "delete_and_close_gap": Case(delete_and_close_gap, TARGET, (f"entry {TARGET}", "deleted")),
    "insert": Case(insert, TARGET, (f"entry {TARGET}", "inserted")),
    "swap": Case(swap, TARGET, (f"entry {TARGET}", f"swapped with entry {TARGET + 40}")),
    "truncate": Case(truncate, SIZE - 25, (f"entries stop at {SIZE - 25}", "truncated")),
    # Every stored hash agrees with the edited entry: only the signed roots catch it, and
    # the verifier narrows it to the span between the last good checkpoint and the first bad.
    "rewrite_history": Case(rewrite_history, 90, ("checkpoint 3", "entries 90..153")),
    "foreign_key_checkpoint": Case(
        foreign_key_checkpoint, None, ("checkpoint 7", "signature does not verify"), 7
    ),
}


def export(ledger: Ledger, out: Path) -> verifier.Report:
    with unit_of_work(ledger.database) as uow:
        services.export_bundle(uow.session, ledger.app.ledger_key(), out)
    return verifier.verify_bundle(out)


@pytest.fixture
def ledger(app: HubFlask, tmp_path: Path) -> Ledger:
    built = build(app)
    clean = export(built, tmp_path / "clean")
    # The untouched ledger verifies: every failure below is the tampering's doing.
    assert clean.ok, clean.summary()
    assert clean.entries == SIZE
    assert clean.checkpoints == len(BATCHES)
    return built


@pytest.mark.parametrize("kind", list(CASES))
def test_the_verifier_names_what_was_tampered_with(
    ledger: Ledger, tmp_path: Path, kind: str
) -> None:
    case = CASES[kind]
    with as_administrator(ledger.database) as conn:
        case.tamper(conn)
    report = export(ledger, tmp_path / "tampered")
    assert not report.ok, f"{kind} went unnoticed"
    problem = report.first_problem
    assert problem is not None
    for words in case.says:
        assert words in problem.message, (kind, report.summary())
    if case.index is not None:
        assert report.first_bad_index == case.index, report.summary()
        assert problem.index == case.index
    else:
        assert problem.index is None
        assert report.first_bad_index is None, report.summary()
    if case.checkpoint is not None:
        assert problem.checkpoint == case.checkpoint
    assert verifier.main([str(tmp_path / "tampered")]) == 1


def test_rewritten_history_is_pinned_between_checkpoints(ledger: Ledger, tmp_path: Path) -> None:
    with as_administrator(ledger.database) as conn:
        rewrite_history(conn)
    report = export(ledger, tmp_path / "tampered")
    spans = [(p.index, p.last_index) for p in report.problems if p.index is not None]
    # Every checkpoint from the third on covers the edited entry; each says so.
    assert spans
    assert all(first <= TARGET <= last for first, last in spans if last is not None)
    assert {p.checkpoint for p in report.problems} >= {3, 4, 5, 6}


def test_the_guards_are_back_after_tampering(ledger: Ledger) -> None:
    with as_administrator(ledger.database) as conn:
        edit(conn)
    with pytest.raises(Exception, match="append-only"), ledger.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
