"""Tamper with exported bundles in every way an administrator could, and check the verifier."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import bundle, merkle, note, verifier
from audit.verifier import BundleError, Report, verify_bundle

ORIGIN = "marac.example.gov.uk/ledger"
SKEY = note.generate_signer_key(ORIGIN)
VKEY = note.vkey_from_skey(SKEY)
N = 300
SIZES = (64, 128, 200, 300)
REPO = Path(__file__).resolve().parents[2]

ACTIONS = ["referral:viewed", "referral:shared", "case:opened", "consent:recorded", "task:done"]


def make_entry(i: int, rng: random.Random) -> bytes:
    """Return a realistic canonical ledger entry."""
    value: dict[str, Any] = {
        "v": 1,
        "id": f"{rng.getrandbits(128):032x}",
        "at": f"2025-02-03T10:{i % 60:02d}:{i % 59:02d}.{i:06d}Z",
        "action": ACTIONS[i % len(ACTIONS)],
        "actor": {"member": rng.randrange(10**6), "agency": rng.randrange(50), "role": "idva"},
        "request": f"{rng.getrandbits(64):016x}",
        "subject": {"type": "referral", "id": rng.randrange(10**7)},
    }
    if i % 3 == 0:
        value["categories"] = rng.sample(["health", "housing", "police", "children"], i % 4 + 1)
    if i % 7 == 0:
        value["note_kind"] = "Überprüfung – café"  # non-ASCII, as raw UTF-8
    return bundle.canonical_json(value)


@dataclass
class Ledger:
    entries: list[bytes]
    sealed: list[bytes]
    checkpoints: list[tuple[str, bytes]]
    tree_size: int = N
    #: The stored complete subtree hashes, levels 1 and up, as the hub exports them.
    subtrees: list[bytes] | None = None
    waiting: tuple[int, datetime | None] | None = None
    exported_at: datetime | None = None

    def write(self, path: Path) -> Path:
        bundle.write_bundle(
            path,
            origin=ORIGIN,
            entries=self.entries,
            leaf_hashes=self.sealed,
            checkpoints=self.checkpoints,
            vkey=VKEY,
            tree_size=self.tree_size,
            subtree_hashes=self.subtrees,
            waiting=self.waiting,
            exported_at=self.exported_at,
        )
        return path


def stored_subtrees(leaf_hashes: list[bytes]) -> list[bytes]:
    """The complete subtree hashes above the leaves, level by level, as the hub stores them."""
    levels = merkle.tree_levels(leaf_hashes)
    n = len(leaf_hashes)
    # Only complete subtrees: level k holds n >> k of them (a tree's last node at a level
    # may cover fewer leaves, and the hub stores only those that closed).
    return [digest for k in range(1, len(levels)) for digest in levels[k][: n >> k]]


def checkpoint(size: int, root: bytes, skey: str = SKEY, origin: str = ORIGIN) -> bytes:
    return note.sign_note(note.format_checkpoint(origin, size, root), skey)


def honest_ledger(n: int = N, sizes: tuple[int, ...] = SIZES) -> Ledger:
    rng = random.Random(7)
    entries = [make_entry(i, rng) for i in range(n)]
    sealed = [merkle.leaf_hash(e) for e in entries]
    tree = merkle.MemoryTree(sealed)
    cps = [
        (f"2025-02-03T11:00:{k:02d}+00:00", checkpoint(s, tree.root(s)))
        for k, s in enumerate(sizes)
    ]
    return Ledger(entries, sealed, cps)


@pytest.fixture
def ledger() -> Ledger:
    return honest_ledger()


def verify(ledger: Ledger, tmp_path: Path) -> Report:
    return verify_bundle(ledger.write(tmp_path / "bundle"))


def run_main(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = verifier.main([str(path)])
    return code, capsys.readouterr().out


# --- the honest bundle --------------------------------------------------------------------


def test_an_honest_bundle_verifies(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ledger.write(tmp_path / "bundle")
    report = verify_bundle(path)
    assert report.ok, report.summary()
    assert (report.entries, report.checkpoints) == (N, len(SIZES))
    assert report.root == merkle.root_from_leaves(ledger.sealed)
    assert report.first_bad_index is None
    code, out = run_main(path, capsys)
    assert code == 0
    assert out.startswith(f"OK: {N} entries, {len(SIZES)} checkpoints, root {report.root.hex()}")
    files = sorted(p.name for p in path.iterdir())
    assert files == sorted(
        [bundle.MANIFEST, bundle.ENTRIES, bundle.LEAF_HASHES, bundle.CHECKPOINTS, bundle.PUBLIC_KEY]
    )
    manifest = json.loads((path / bundle.MANIFEST).read_text())
    assert manifest["format"] == "marac-hub-ledger-bundle/1"
    assert manifest["tree_size"] == N
    assert (path / bundle.ENTRIES).read_bytes() == b"".join(e + b"\n" for e in ledger.entries)


def test_an_empty_ledger_verifies(tmp_path: Path) -> None:
    empty = Ledger([], [], [], tree_size=0)
    report = verify(empty, tmp_path)
    assert report.ok
    assert report.entries == 0
    assert report.root == merkle.EMPTY_ROOT


def test_entries_past_the_last_checkpoint_are_noted_not_failed(tmp_path: Path) -> None:
    report = verify(honest_ledger(sizes=(64, 128, 250)), tmp_path)
    assert report.ok
    assert "250..299" in report.notes[0]


def test_constants_agree_with_the_writer() -> None:
    for name in (
        "FORMAT",
        "MANIFEST",
        "ENTRIES",
        "LEAF_HASHES",
        "CHECKPOINTS",
        "PUBLIC_KEY",
        "SUBTREE_HASHES",
    ):
        assert getattr(verifier, name) == getattr(bundle, name)


# --- tampering with entries ---------------------------------------------------------------


def edited(entry: bytes) -> bytes:
    value = json.loads(entry)
    value["actor"]["member"] += 1
    return bundle.canonical_json(value)


def assert_fails_at(report: Report, index: int, *phrases: str) -> None:
    assert not report.ok
    assert report.first_bad_index == index, report.summary()
    first = report.problems[0].message
    for phrase in phrases:
        assert phrase in first, first


def test_an_edited_entry_is_named(ledger: Ledger, tmp_path: Path) -> None:
    ledger.entries[17] = edited(ledger.entries[17])
    report = verify(ledger, tmp_path)
    assert_fails_at(
        report,
        17,
        "entry 17: its bytes do not match the leaf hash sealed at index 17",
        "edited",
    )
    # Every checkpoint covers entry 17, so each one disagrees with the rebuilt tree too.
    assert sum("root hash differs" in p.message for p in report.problems) == len(SIZES)


def test_a_deleted_entry_is_named(ledger: Ledger, tmp_path: Path) -> None:
    del ledger.entries[17]
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 17, "entry 17:", "deleted")
    assert any("entries stop at 299" in p.message for p in report.problems)


def test_an_inserted_entry_is_named(ledger: Ledger, tmp_path: Path) -> None:
    ledger.entries.insert(17, edited(ledger.entries[3]))
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 17, "entry 17:", "inserted")
    assert any("entry 300: no leaf hash was sealed" in p.message for p in report.problems)


def test_swapped_entries_are_named(ledger: Ledger, tmp_path: Path) -> None:
    ledger.entries[17], ledger.entries[40] = ledger.entries[40], ledger.entries[17]
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 17, "entry 17:", "swapped with entry 40")


def test_a_truncated_tail_is_named(ledger: Ledger, tmp_path: Path) -> None:
    del ledger.entries[290:]
    report = verify(ledger, tmp_path)
    assert_fails_at(
        report, 290, "entries stop at 290 but checkpoint 4 covers 300 entries (truncated)"
    )


def test_truncation_of_every_unsigned_file_is_still_caught(ledger: Ledger, tmp_path: Path) -> None:
    # The administrator cuts entries, sealed hashes and the manifest alike: only the signed
    # checkpoint still remembers the true size.
    del ledger.entries[250:]
    del ledger.sealed[250:]
    ledger.tree_size = 250
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 250, "entries stop at 250 but checkpoint 4 covers 300 entries")


def test_truncation_is_caught_from_the_manifest_alone(tmp_path: Path) -> None:
    ledger = honest_ledger(sizes=(64, 128))
    del ledger.entries[250:]
    del ledger.sealed[250:]
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 250, "entries stop at 250 but the manifest's tree_size is 300")


def test_an_entry_cut_mid_line_is_named(ledger: Ledger, tmp_path: Path) -> None:
    path = ledger.write(tmp_path / "bundle")
    entries = path / bundle.ENTRIES
    entries.write_bytes(entries.read_bytes()[:-30])
    report = verify_bundle(path)
    assert_fails_at(report, 299, "entry 299:")
    assert any("has no newline" in p.message for p in report.problems)


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        (b'{"b":1,"a":2}', "not canonical"),
        (b'{"a": 1}', "not canonical"),
        (b'{"a":1,"a":1}', "not canonical"),
        (b'{"a":"\\u00e9"}', "not canonical"),
        (b'{"a":"\\/"}', "not canonical"),
        (b'{"a":1.50}', "not canonical"),
        (b'{"a":-0}', "not canonical"),
        (b'{"a":NaN}', "not valid JSON"),
        (b'{"a":Infinity}', "not valid JSON"),
        (b'{"a":1e999}', "not valid JSON"),
        (b'{"a":01}', "not valid JSON"),
        (b'{"a":1} ', "not canonical"),
        (b'{"a":1}\r', "not canonical"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"a":"\xff"}', "not valid UTF-8"),
        (b'{"a":"\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"a":', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_non_canonical_entry_is_named(
    ledger: Ledger, tmp_path: Path, line: bytes, phrase: str
) -> None:
    # Seal the bad line honestly, so canonical form is the only thing wrong.
    ledger.entries[33] = line
    ledger.sealed[33] = merkle.leaf_hash(line)
    tree = merkle.MemoryTree(ledger.sealed)
    ledger.checkpoints = [("2025-02-03T11:00:00Z", checkpoint(s, tree.root(s))) for s in SIZES]
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 33, "entry 33:", phrase)
    assert len(report.problems) == 1, report.summary()


def test_an_edit_with_a_rewritten_leaf_hash_is_placed_between_checkpoints(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.entries[150] = edited(ledger.entries[150])
    ledger.sealed[150] = merkle.leaf_hash(ledger.entries[150])
    report = verify(ledger, tmp_path)
    assert_fails_at(
        report,
        128,
        "checkpoint 3 (size 200): root hash differs from the tree rebuilt from entries; "
        "the difference lies in entries 128..199",
    )
    assert report.problems[0].last_index == 199
    assert "entries 128..299" in report.problems[1].message


def test_an_edit_with_a_rewritten_leaf_hash_is_named_from_the_stored_subtree_hashes(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.subtrees = stored_subtrees(ledger.sealed)  # stored before the tampering
    ledger.entries[150] = edited(ledger.entries[150])
    ledger.sealed[150] = merkle.leaf_hash(ledger.entries[150])
    report = verify(ledger, tmp_path)
    assert_fails_at(
        report,
        150,
        "checkpoint 3 (size 200): root hash differs from the tree rebuilt from entries; "
        "entry 150 or 151 changed together with their sealed leaf hash",
        "the subtree hash sealed over 150..151",
    )
    assert report.problems[0].last_index == 151
    # The later checkpoint, too, names the same pair rather than a span of a hundred.
    assert report.problems[1].index == 150 and report.problems[1].last_index == 151


def test_subtree_hashes_rewritten_too_leave_the_span_between_checkpoints(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.entries[150] = edited(ledger.entries[150])
    ledger.sealed[150] = merkle.leaf_hash(ledger.entries[150])
    ledger.subtrees = stored_subtrees(ledger.sealed)  # every stored hash agrees with the edit
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 128, "the difference lies in entries 128..199")


def test_forged_subtree_hashes_never_blame_an_entry(ledger: Ledger, tmp_path: Path) -> None:
    ledger.entries[150] = edited(ledger.entries[150])
    ledger.sealed[150] = merkle.leaf_hash(ledger.entries[150])
    honest = stored_subtrees(ledger.sealed)
    ledger.subtrees = [merkle.leaf_hash(b"forged %d" % n) for n in range(len(honest))]
    report = verify(ledger, tmp_path)
    # The signed root does not vouch for them, so only the signed roots speak.
    assert_fails_at(report, 128, "the difference lies in entries 128..199")


def test_a_malformed_subtree_file_is_noted_and_ignored(ledger: Ledger, tmp_path: Path) -> None:
    ledger.subtrees = stored_subtrees(ledger.sealed)[:-3]
    ledger.entries[150] = edited(ledger.entries[150])
    ledger.sealed[150] = merkle.leaf_hash(ledger.entries[150])
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 128, "entries 128..199")
    assert any("subtree_hashes.txt is malformed" in n for n in report.notes)


# --- what was waiting to be sealed ----------------------------------------------------------


EXPORTED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_entries_waiting_too_long_at_export_fail_the_bundle(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger.exported_at = EXPORTED
    ledger.waiting = (1453, EXPORTED - timedelta(seconds=56))
    path = ledger.write(tmp_path / "bundle")
    assert verify_bundle(path).ok  # 56 s is within the default limit of 60 s
    strict = verify_bundle(path, max_seal_lag=30)
    assert not strict.ok
    assert strict.problems[0].message == (
        "1453 committed entries were waiting to be sealed at export; the oldest had waited "
        "56 s (the limit is 30 s): sealing had stopped or fallen behind, and those entries "
        "are in no checkpoint"
    )
    assert verifier.main([str(path), "--max-seal-lag", "30"]) == 1
    assert "FAILED: 1453 committed entries" in capsys.readouterr().out


def test_the_hubs_own_limit_in_the_manifest_applies(ledger: Ledger, tmp_path: Path) -> None:
    ledger.exported_at = EXPORTED
    ledger.waiting = (3, EXPORTED - timedelta(seconds=20))
    path = ledger.write(tmp_path / "bundle")
    manifest = json.loads((path / bundle.MANIFEST).read_text())
    manifest["max_seal_lag_seconds"] = 10
    (path / bundle.MANIFEST).write_text(json.dumps(manifest))
    assert not verify_bundle(path).ok
    assert verify_bundle(path, max_seal_lag=30).ok


def test_a_bundle_silent_about_waiting_entries_is_noted(ledger: Ledger, tmp_path: Path) -> None:
    report = verify(ledger, tmp_path)
    assert report.ok
    assert "the bundle does not say whether entries were waiting" in report.notes[-1]
    ledger.waiting = (0, None)
    assert not any("waiting" in n for n in verify(ledger, tmp_path / "again").notes)


# --- tampering with checkpoints -----------------------------------------------------------


def test_a_checkpoint_signed_with_another_key_is_named(ledger: Ledger, tmp_path: Path) -> None:
    stranger = note.generate_signer_key(ORIGIN)
    tree = merkle.MemoryTree(ledger.sealed)
    ledger.checkpoints[1] = ("2025-02-03T11:00:01Z", checkpoint(128, tree.root(128), stranger))
    report = verify(ledger, tmp_path)
    assert not report.ok
    assert report.problems[0].message.startswith(
        "checkpoint 2 (size 128): signature does not verify with the hub's public key"
    )
    assert report.first_bad_index is None
    assert report.problems[0].checkpoint == 2


def test_a_checkpoint_with_a_wrong_root_is_named(ledger: Ledger, tmp_path: Path) -> None:
    ledger.checkpoints[1] = ("2025-02-03T11:00:01Z", checkpoint(128, merkle.leaf_hash(b"forged")))
    report = verify(ledger, tmp_path)
    assert not report.ok
    message = report.problems[0].message
    assert message.startswith("checkpoint 2 (size 128): root hash differs from the tree rebuilt")
    assert "checkpoint 3 (size 200) confirms" in message


def test_a_last_checkpoint_with_a_wrong_root_names_the_range(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.checkpoints[3] = ("2025-02-03T11:00:03Z", checkpoint(300, merkle.leaf_hash(b"forged")))
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 200, "checkpoint 4 (size 300)", "entries 200..299")


def test_a_checkpoint_for_another_origin_is_named(ledger: Ledger, tmp_path: Path) -> None:
    tree = merkle.MemoryTree(ledger.sealed)
    ledger.checkpoints[0] = ("2025-02-03T11:00:00Z", checkpoint(64, tree.root(64), origin="x/y"))
    report = verify(ledger, tmp_path)
    assert "checkpoint 1 (size 64): origin 'x/y' is not the bundle's origin" in report.summary()


def test_a_shrinking_checkpoint_is_named(ledger: Ledger, tmp_path: Path) -> None:
    ledger.checkpoints[1], ledger.checkpoints[2] = ledger.checkpoints[2], ledger.checkpoints[1]
    report = verify(ledger, tmp_path)
    assert not report.ok
    assert "checkpoint 3 (size 128): the tree shrinks from 200" in report.problems[0].message


def test_a_garbled_checkpoint_note_fails_verification(ledger: Ledger, tmp_path: Path) -> None:
    ledger.checkpoints[0] = ("2025-02-03T11:00:00Z", b"not a note at all")
    report = verify(ledger, tmp_path)
    assert report.problems[0].message.startswith("checkpoint 1: signature does not verify")


def test_entries_without_any_checkpoint_fail(tmp_path: Path) -> None:
    ledger = honest_ledger(sizes=())
    report = verify(ledger, tmp_path)
    assert_fails_at(report, 0, "no checkpoint signed by the hub's key")


# --- malformed bundles --------------------------------------------------------------------


def break_file(path: Path, name: str, content: bytes | None) -> None:
    if content is None:
        (path / name).unlink()
    else:
        (path / name).write_bytes(content)


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        (bundle.MANIFEST, None, "manifest.json: cannot be read"),
        (bundle.MANIFEST, b"{", "manifest.json: not valid JSON"),
        (bundle.MANIFEST, b"[]", "not a JSON object"),
        (bundle.MANIFEST, b'{"format": "other/9"}', "format is 'other/9'"),
        (
            bundle.MANIFEST,
            b'{"format": "marac-hub-ledger-bundle/1", "origin": "o", "tree_size": true, '
            b'"exported_at": "2025-01-01T00:00:00Z"}',
            "tree_size",
        ),
        (
            bundle.MANIFEST,
            b'{"format": "marac-hub-ledger-bundle/1", "origin": "o", "tree_size": 1, '
            b'"exported_at": "yesterday"}',
            "exported_at",
        ),
        (bundle.PUBLIC_KEY, None, "public_key.txt: cannot be read"),
        (bundle.PUBLIC_KEY, b"not a key\n", "public_key.txt: not a verifier key"),
        (bundle.PUBLIC_KEY, b"\xff\n", "public_key.txt: not UTF-8"),
        (bundle.CHECKPOINTS, b"{]\n", "checkpoints.ndjson line 1: not valid JSON"),
        (bundle.CHECKPOINTS, b'{"note": 5, "signed_at": "x"}\n', "needs string fields"),
        (bundle.CHECKPOINTS, b'{"note": "", "signed_at": "noon"}\n', "signed_at"),
        (bundle.CHECKPOINTS, b'{"note": "", "signed_at": "2025-01-01"}', "no newline"),
        (bundle.CHECKPOINTS, None, "checkpoints.ndjson: cannot be read"),
        (bundle.ENTRIES, None, "entries.ndjson: cannot be read"),
        (bundle.LEAF_HASHES, None, "leaf_hashes.txt: cannot be read"),
        (bundle.LEAF_HASHES, b"zz\n", "leaf_hashes.txt line 1"),
    ],
)
def test_malformed_bundles_are_refused(
    ledger: Ledger, tmp_path: Path, name: str, content: bytes | None, phrase: str
) -> None:
    path = ledger.write(tmp_path / "bundle")
    break_file(path, name, content)
    with pytest.raises(BundleError, match=phrase.replace("(", r"\(")):
        verify_bundle(path)
    assert verifier.main([str(path)]) == 2


def test_an_uppercase_sealed_hash_is_malformed(ledger: Ledger, tmp_path: Path) -> None:
    path = ledger.write(tmp_path / "bundle")
    sealed = path / bundle.LEAF_HASHES
    lines = sealed.read_bytes().split(b"\n")
    lines[200] = lines[200].upper()
    sealed.write_bytes(b"\n".join(lines))
    with pytest.raises(BundleError, match=r"leaf_hashes\.txt line 201"):
        verify_bundle(path)
    lines[200] = lines[200].lower()
    sealed.write_bytes(b"\n".join(lines) + b"garbage")
    with pytest.raises(BundleError, match=r"leaf_hashes\.txt: malformed after line 300"):
        verify_bundle(path)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        verify_bundle(tmp_path / "nowhere")


def test_write_bundle_refuses_what_it_cannot_represent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newline"):
        Ledger([b"{}\n{}"], [merkle.leaf_hash(b"{}")], [], 1).write(tmp_path / "b")
    with pytest.raises(ValueError, match="32 bytes"):
        Ledger([b"{}"], [b"short"], [], 1).write(tmp_path / "c")
    assert not list((tmp_path / "b").glob("*.part"))


# --- the canonical-form fast path is sound --------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


def fits_fast_path(value: Any) -> bool:
    # By design, ints beyond 16 digits and strings that need escapes take the slow path.
    if isinstance(value, dict):
        return all(fits_fast_path(v) for v in value.values())
    if isinstance(value, list):
        return all(fits_fast_path(v) for v in value)
    if isinstance(value, str):
        return not any(ch in '"\\' or ord(ch) < 0x20 for ch in value)
    return not isinstance(value, int) or abs(value) < 10**16


@settings(max_examples=300, deadline=None)
@given(
    teach=st.lists(st.dictionaries(st.text(max_size=4), json_values, max_size=5), max_size=6),
    probe=json_values,
    cut=st.integers(min_value=0),
    insert=st.sampled_from([" ", "\\", '"', ",", "0", "-", "a", "\\u0041", "\t", ".5", "e1", "}"]),
)
def test_fast_path_accepts_only_what_the_slow_path_accepts(
    teach: list[dict[str, Any]], probe: Any, cut: int, insert: str
) -> None:
    checker = verifier._CanonicalChecker()
    lines = [bundle.canonical_json(value) for value in teach]
    for line in lines:
        assert checker.slow(line) is None
    canonical = bundle.canonical_json(probe)
    assert checker.slow(canonical) is None
    checker.flush()
    if fits_fast_path(probe):
        assert checker.match(canonical) is not None
    for line in lines:
        text = line.decode()
        position = cut % (len(text) + 1)
        mutated = (text[:position] + insert + text[position:]).encode()
        for candidate in (mutated, mutated.replace(b":", b": ", 1), line[:-1]):
            if checker.match(candidate) is not None:
                assert checker.slow(candidate) is None, candidate
            # Matching a block of lines at once agrees with matching them one by one.
            both = [line, candidate]
            expected = all(checker.match(x) is not None for x in both)
            assert (checker.match_block(b"\n".join(both)) is not None) == expected


def test_fast_path_learns_few_shapes(ledger: Ledger) -> None:
    checker = verifier._CanonicalChecker()
    for line in ledger.entries:
        if checker.match(line) is None:
            assert checker.slow(line) is None
            checker.flush()
    # Entries differ in values and array lengths, but share a handful of shapes.
    assert len(checker._shapes) <= 8


# --- the command line ---------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "audit.verifier", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def bundles(tmp_path: Path) -> dict[str, Path]:
    good = honest_ledger().write(tmp_path / "good")
    bad_ledger = honest_ledger()
    bad_ledger.entries[17] = edited(bad_ledger.entries[17])
    bad = bad_ledger.write(tmp_path / "bad")
    broken = honest_ledger().write(tmp_path / "broken")
    (broken / bundle.MANIFEST).write_text("{")
    return {"good": good, "bad": bad, "broken": broken}


def test_cli_exit_codes(bundles: dict[str, Path]) -> None:
    good = cli(str(bundles["good"]))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith(f"OK: {N} entries, {len(SIZES)} checkpoints, root ")
    bad = cli(str(bundles["bad"]))
    assert bad.returncode == 1
    assert bad.stdout.startswith("FAILED: entry 17: its bytes do not match the leaf hash sealed")
    broken = cli(str(bundles["broken"]))
    assert broken.returncode == 2
    assert "ERROR: malformed bundle: manifest.json" in broken.stderr
    as_json = cli("--json", str(bundles["bad"]))
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["first_bad_index"] == 17
    assert cli().returncode == 2  # argparse: no bundle given


def test_verifier_imports_nothing_of_the_hub() -> None:
    code = (
        "import sys, audit.verifier; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'flask', 'hub', 'agencies', 'consent', 'meetings', 'tqdm'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"
