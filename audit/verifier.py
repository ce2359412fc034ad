"""Verify a MARAC Hub ledger export bundle offline: ``python -m audit.verifier BUNDLE``.

An auditor runs this on a bundle written by the hub's export (see audit.bundle for the
format) with nothing but Python, ``cryptography`` and, for a progress bar, ``tqdm``. It

* rebuilds the RFC 9162 Merkle tree from ``entries.ndjson``, one leaf per line;
* checks that every entry is canonical JSON (sorted unique keys, no insignificant
  whitespace, UTF-8, no NaN) and that its leaf hash is the one the hub sealed for that
  index in ``leaf_hashes.txt``, naming the first index that differs;
* opens every checkpoint with the hub's public key, checks its origin, its root hash
  against the rebuilt tree at its size, and consistency with the checkpoint before it;
* notices truncation: fewer entries than a checkpoint, the manifest or the sealed leaf
  hashes account for;
* where a checkpoint's root disagrees with entries whose leaf hashes were rewritten with
  them, uses the stored subtree hashes (``subtree_hashes.txt``, once the signed root has
  vouched for them) to find the rewritten entries: one pair of neighbours, at best, since
  a subtree hash over two leaves cannot say which of the two changed;
* fails a bundle exported while committed entries waited to be sealed for longer than
  the limit (``--max-seal-lag``, or the hub's own in the manifest, or 60 seconds): sealing
  had stopped, and those entries are in no checkpoint.

Entries are named by their 0-based leaf index, checkpoints by their 1-based line number
in ``checkpoints.ndjson``. Exit status: 0 when everything holds, 1 when verification
fails, 2 when the bundle cannot be read or is malformed.

This module must import nothing of the hub beyond audit.merkle and audit.note, so an
auditor can run it without the hub's database or web code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, BinaryIO

from audit import merkle, note

__all__ = ["BundleError", "Problem", "Report", "main", "verify_bundle"]

FORMAT = "marac-hub-ledger-bundle/1"
MANIFEST = "manifest.json"
ENTRIES = "entries.ndjson"
LEAF_HASHES = "leaf_hashes.txt"
CHECKPOINTS = "checkpoints.ndjson"
PUBLIC_KEY = "public_key.txt"
SUBTREE_HASHES = "subtree_hashes.txt"
#: Seconds an entry may have waited to be sealed at export, unless the bundle or the
#: auditor says otherwise.
DEFAULT_MAX_SEAL_LAG = 60.0

_CHUNK = 1 << 22
_HASH_LINE = 65  # 64 hex digits and a newline
_PROGRESS_FROM = 100_000  # entries; below this a bar only flickers
_SHOWN_PROBLEMS = 20
_SEALED_LINES = re.compile(rb"(?:[0-9a-f]{64}\n)*")


class BundleError(Exception):
    """The bundle cannot be read or is not in the expected format."""


@dataclass(frozen=True)
class Problem:
    """One way in which the bundle fails verification."""

    message: str
    #: First entry index concerned, when one can be named.
    index: int | None = None
    #: Last entry index concerned, when the problem spans a range.
    last_index: int | None = None
    #: 1-based checkpoint number, when the problem is about a checkpoint.
    checkpoint: int | None = None


@dataclass
class Report:
    """The outcome of verifying a bundle."""

    entries: int
    checkpoints: int
    root: bytes
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether everything holds."""
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """Return the problem to act on first: the most precise one at the lowest index."""
        return self.problems[0] if self.problems else None

    @property
    def first_bad_index(self) -> int | None:
        """Return the first entry index the problems name, if any does."""
        for problem in self.problems:
            if problem.index is not None:
                return problem.index
        return None

    def summary(self) -> str:
        """Return the text to print for a person."""
        if self.ok:
            lines = [
                f"OK: {self.entries} entries, {self.checkpoints} checkpoints, "
                f"root {self.root.hex()}"
            ]
        else:
            lines = [f"FAILED: {self.problems[0].message}"]
            lines += [f"  also: {p.message}" for p in self.problems[1:_SHOWN_PROBLEMS]]
            hidden = len(self.problems) - _SHOWN_PROBLEMS
            if hidden > 0:
                lines.append(f"  and {hidden} more problems")
            lines.append(
                f"  ({self.entries} entries and {self.checkpoints} checkpoints read; "
                f"root of the entries as found {self.root.hex()})"
            )
        lines += [f"note: {text}" for text in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """Return the report as plain JSON data."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "root": self.root.hex(),
            "first_bad_index": self.first_bad_index,
            "problems": [
                {
                    "message": p.message,
                    "index": p.index,
                    "last_index": p.last_index,
                    "checkpoint": p.checkpoint,
                }
                for p in self.problems
            ],
            "notes": self.notes,
        }


# --- canonical JSON ------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# A scalar exactly as the canonical encoder writes it: a string that needs no escape, an
# int of at most 16 digits (longer ones take the slow path), true, false or null.
_VALUE = rb'(?:"[^"\\\x00-\x1f]*+"|-?[1-9][0-9]{0,15}+|0|true|false|null)'
_ARRAY = rb"\[(?:" + _VALUE + rb"(?:," + _VALUE + rb")*+)?\]"
_VALUE_ATOM = 256
_ARRAY_ATOM = 257
_MAX_SHAPES = 128
_MAX_DEPTH = 16

_Trie = dict[int | None, "_Trie"]


def _no_match(line: bytes) -> None:
    return None


class _CanonicalChecker:
    """Decide whether entry lines are canonical JSON, fast for shapes already seen.

    Parsing and re-encoding every line costs several microseconds, more than all the
    hashing. So each canonical line seen on the slow path teaches its *shape*: its exact
    bytes with every scalar value (and every array of scalars) left open. A shape, read as a
    regular expression, matches only canonical texts: its keys come sorted and unique from
    a canonical line, and the open slots accept only scalars spelled the canonical way. All
    shapes are merged into one prefix tree and compiled once, so a known line is checked
    by a single regular-expression match; anything else takes the slow path, which alone
    decides and explains a failure.
    """

    def __init__(self) -> None:
        self._trie: _Trie = {}
        self._pending: _Trie | None = None
        self._shapes: set[tuple[int, ...]] = set()
        self._compiled = 0
        self._slow_lines = 0
        self._keys: dict[str, bytes] = {}
        self._full = False
        self.match: Callable[[bytes], object] = _no_match
        #: Match a whole block of lines joined by newlines: one call instead of one per line.
        self.match_block: Callable[[bytes], object] = _no_match

    def slow(self, line: bytes) -> str | None:
        """Return what is wrong with the line, or None when it is canonical JSON."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return "is not valid UTF-8"
        try:
            value = json.loads(text, parse_constant=_no_constant)
            again = _canonical(value)
        except RecursionError:
            return "is nested too deeply to check"
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                return f"is not valid JSON ({exc.msg} at character {exc.pos})"
            return f"is not valid JSON ({exc})"
        if again != text:
            return (
                "is valid JSON but not canonical (keys sorted and unique, no spaces, "
                "UTF-8 rather than escapes, numbers in shortest form)"
            )
        self._learn(value)
        # Recompile once enough lines have been slow, not per new shape: compiling costs
        # more as shapes grow, so the batch grows with them.
        self._slow_lines += 1
        if self._pending is not None and self._slow_lines >= 64 + 32 * self._compiled:
            self.flush()
        return None

    def _learn(self, value: Any) -> None:
        if self._full or len(self._shapes) >= _MAX_SHAPES:
            return
        atoms: list[int] = []
        if not _atoms(value, atoms, 0, self._keys):
            return
        shape = tuple(atoms)
        if shape in self._shapes:
            return
        self._shapes.add(shape)
        self._pending = _add(self._trie if self._pending is None else self._pending, shape)

    def flush(self) -> None:
        """Compile the shapes learned since the last flush into the fast matcher.

        Compiling grows with the number of shapes, so it is done once per batch of lines
        rather than once per new shape.
        """
        self._slow_lines = 0
        if self._pending is None:
            return
        trie, self._pending = self._pending, None
        try:
            pattern = _emit(trie)
            match = re.compile(pattern).fullmatch
            # A shape never matches a newline, so each repetition covers exactly one line.
            block = re.compile(b"(?:" + pattern + b")(?:\n(?:" + pattern + b"))*+").fullmatch
        except (RecursionError, re.error, OverflowError):
            # Too big a tree for the regex engine: keep the shapes compiled so far.
            self._full = True
            return
        self._trie = trie
        self._compiled = len(self._shapes)
        self.match = match
        self.match_block = block


def _add(trie: _Trie, shape: tuple[int, ...]) -> _Trie:
    # Copy along the new path only, so a failed compile leaves the old tree intact.
    top: _Trie = dict(trie)
    node = top
    for atom in shape:
        child: _Trie = dict(node.get(atom, {}))
        node[atom] = child
        node = child
    node[None] = {}
    return top


def _atoms(value: Any, out: list[int], depth: int, keys: dict[str, bytes]) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        out.append(ord("{"))
        for n, (key, item) in enumerate(value.items()):
            if n:
                out.append(ord(","))
            spelled = keys.get(key)
            if spelled is None:
                spelled = keys[key] = _canonical(key).encode("utf-8") + b":"
            out.extend(spelled)
            if not _atoms(item, out, depth + 1, keys):
                return False
        out.append(ord("}"))
    elif isinstance(value, list):
        if not any(isinstance(item, dict | list) for item in value):
            out.append(_ARRAY_ATOM)
            return True
        out.append(ord("["))
        for n, item in enumerate(value):
            if n:
                out.append(ord(","))
            if not _atoms(item, out, depth + 1, keys):
                return False
        out.append(ord("]"))
    else:
        out.append(_VALUE_ATOM)
    return True


def _piece(atom: int) -> bytes:
    if atom == _VALUE_ATOM:
        return _VALUE
    if atom == _ARRAY_ATOM:
        return _ARRAY
    return re.escape(bytes([atom]))


def _emit(node: _Trie) -> bytes:
    # Straight runs are emitted in a loop; only branch points recurse, so the depth is
    # bounded by the number of shapes, not by the length of an entry.
    out: list[bytes] = []
    while True:
        if len(node) == 1 and None not in node:
            ((atom, node),) = node.items()
            assert atom is not None
            out.append(_piece(atom))
            continue
        branches = [_piece(atom) + _emit(child) for atom, child in node.items() if atom is not None]
        if None in node:
            branches.append(b"")
        out.append(branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")")
        return b"".join(out)


# --- reading the bundle ------------------------------------------------------------------


@dataclass(frozen=True)
class _Manifest:
    origin: str
    tree_size: int
    exported_at: datetime
    #: (count, oldest commit time) of entries waiting to be sealed at export, if stated.
    waiting: tuple[int, datetime | None] | None = None
    max_seal_lag: float | None = None


@dataclass
class _Checkpoint:
    number: int
    size: int | None
    root: bytes | None
    problem: str | None
    matches: bool | None = None


def _read_manifest(directory: Path) -> _Manifest:
    try:
        data = json.loads((directory / MANIFEST).read_bytes())
    except OSError as exc:
        raise BundleError(f"{MANIFEST}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError):
        raise BundleError(f"{MANIFEST}: not valid JSON") from None
    if not isinstance(data, dict):
        raise BundleError(f"{MANIFEST}: not a JSON object")
    if data.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST}: format is {data.get('format')!r}, expected {FORMAT!r}")
    origin = data.get("origin")
    size = data.get("tree_size")
    exported = data.get("exported_at")
    if not isinstance(origin, str) or not origin:
        raise BundleError(f"{MANIFEST}: origin must be a non-empty string")
    if type(size) is not int or size < 0:
        raise BundleError(f"{MANIFEST}: tree_size must be a non-negative integer")
    if not isinstance(exported, str) or not _is_time(exported):
        raise BundleError(f"{MANIFEST}: exported_at must be an ISO 8601 time")
    waiting = data.get("waiting")
    waited: tuple[int, datetime | None] | None = None
    if waiting is not None:
        count = waiting.get("count") if isinstance(waiting, dict) else None
        oldest = waiting.get("oldest_at") if isinstance(waiting, dict) else None
        if type(count) is not int or count < 0:
            raise BundleError(f"{MANIFEST}: waiting.count must be a non-negative integer")
        if count and (not isinstance(oldest, str) or not _is_aware_time(oldest)):
            raise BundleError(f"{MANIFEST}: waiting.oldest_at must be an ISO 8601 time")
        waited = (count, datetime.fromisoformat(oldest) if count and oldest else None)
    limit = data.get("max_seal_lag_seconds")
    if limit is not None and (type(limit) not in (int, float) or limit <= 0):
        raise BundleError(f"{MANIFEST}: max_seal_lag_seconds must be a positive number")
    when = datetime.fromisoformat(exported)
    if waited is not None and waited[0] and when.tzinfo is None:
        raise BundleError(f"{MANIFEST}: exported_at must carry a time zone")
    return _Manifest(origin, size, when, waited, None if limit is None else float(limit))


def _is_aware_time(text: str) -> bool:
    return _is_time(text) and datetime.fromisoformat(text).tzinfo is not None


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _read_vkey(directory: Path) -> str:
    try:
        text = (directory / PUBLIC_KEY).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BundleError(f"{PUBLIC_KEY}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise BundleError(f"{PUBLIC_KEY}: not UTF-8 text") from None
    try:
        note.parse_vkey(text)
    except note.NoteError as exc:
        raise BundleError(f"{PUBLIC_KEY}: not a verifier key ({exc})") from None
    return text


def _read_checkpoints(directory: Path, vkey: str, origin: str) -> list[_Checkpoint]:
    try:
        raw = (directory / CHECKPOINTS).read_bytes()
    except OSError as exc:
        raise BundleError(f"{CHECKPOINTS}: cannot be read ({exc.strerror or exc})") from None
    if raw and not raw.endswith(b"\n"):
        raise BundleError(f"{CHECKPOINTS}: the last line has no newline (cut short?)")
    out = []
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        where = f"{CHECKPOINTS} line {number}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise BundleError(f"{where}: not valid JSON") from None
        if not isinstance(record, dict):
            raise BundleError(f"{where}: not a JSON object")
        text, signed_at = record.get("note"), record.get("signed_at")
        if not isinstance(text, str) or not isinstance(signed_at, str):
            raise BundleError(f"{where}: needs string fields note and signed_at")
        if not _is_time(signed_at):
            raise BundleError(f"{where}: signed_at is not an ISO 8601 time")
        out.append(_open_checkpoint(number, text, vkey, origin))
    return out


def _open_checkpoint(number: int, text: str, vkey: str, origin: str) -> _Checkpoint:
    try:
        signed = text.encode("utf-8")
    except UnicodeEncodeError:
        return _Checkpoint(number, None, None, "is not valid Unicode text")
    try:
        checkpoint = note.open_checkpoint(signed, vkey)
    except note.NoteError as exc:
        # Describe the checkpoint by what it claims, though nothing of it can be trusted.
        size: int | None = None
        with contextlib.suppress(note.NoteError):
            size = note.parse_checkpoint(note.split_note(signed)[0]).size
        return _Checkpoint(
            number, size, None, f"signature does not verify with the hub's public key: {exc}"
        )
    if checkpoint.origin != origin:
        return _Checkpoint(
            number,
            checkpoint.size,
            None,
            f"origin {checkpoint.origin!r} is not the bundle's origin {origin!r}",
        )
    return _Checkpoint(number, checkpoint.size, checkpoint.root, None)


def _open_binary(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise BundleError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def _label(number: int, size: int | None) -> str:
    return f"checkpoint {number}" + ("" if size is None else f" (size {size})")


# --- the entry scan ------------------------------------------------------------------------


class _Scan:
    """Stream the entries and sealed leaf hashes in step, keeping only the leaf hashes."""

    def __init__(self, sealed: BinaryIO) -> None:
        self.sealed = sealed
        self.leaves: list[bytes] = []
        self.count = 0
        self.sealed_count = 0
        self.sealed_ended = False
        self.mismatch: int | None = None
        self.mismatches = 0
        self.invalid: tuple[int, str] | None = None
        self.mismatch_message = ""
        self.canonical = _CanonicalChecker()

    def lines(self, lines: list[bytes], block: bytes) -> None:
        start = self.count
        sha = sha256
        hashes = [sha(b"\x00" + line).digest() for line in lines]
        self.leaves += hashes
        self.count += len(lines)
        self._compare(start, hashes)
        if self.invalid is not None:
            return  # only the first invalid entry is reported
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                self._find_invalid(start, lines)
                return
        if self.canonical.match_block(block) is None:
            self._find_invalid(start, lines)

    def _find_invalid(self, start: int, lines: list[bytes]) -> None:
        checker = self.canonical
        try:
            for offset, line in enumerate(lines):
                reason = None
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    reason = "is not valid UTF-8"
                # Not bound once: the checker may recompile while going through the lines.
                if reason is None and checker.match(line) is None:
                    reason = checker.slow(line)
                if reason is not None:
                    self.invalid = (start + offset, reason)
                    return
        finally:
            checker.flush()

    def _compare(self, start: int, hashes: list[bytes]) -> None:
        if self.sealed_ended:
            return
        count = len(hashes)
        position = self.sealed.tell()
        want = self.sealed.read(_HASH_LINE * count)
        if (
            len(want) == _HASH_LINE * count
            and want[64::_HASH_LINE] == b"\n" * count
            and want.replace(b"\n", b"") == b"".join(hashes).hex().encode("ascii")
        ):
            self.sealed_count += count
            return
        # Something differs or is malformed: go back and look line by line.
        self.sealed.seek(position)
        for offset, digest in enumerate(hashes):
            line = self.sealed.readline()
            if not line:
                self.sealed_ended = True
                return
            index = start + offset
            if len(line) != _HASH_LINE or not _SEALED_LINES.fullmatch(line):
                raise BundleError(
                    f"{LEAF_HASHES} line {index + 1}: not 64 lowercase hex digits and a newline"
                )
            self.sealed_count += 1
            if line[:64] != digest.hex().encode("ascii"):
                self.mismatches += 1
                if self.mismatch is None:
                    self.mismatch = index

    def finish(self) -> None:
        """Count and check the sealed leaf hashes left after the last entry."""
        if self.sealed_ended:
            return
        rest = self.sealed.read()
        if not _SEALED_LINES.fullmatch(rest):
            raise BundleError(f"{LEAF_HASHES}: malformed after line {self.sealed_count}")
        self.sealed_count += len(rest) // _HASH_LINE

    def diagnose(self, index: int) -> str:
        """Say what most likely happened at the first mismatching index."""
        found = self.leaves[index]
        # Every sealed line up to the end of the compared range is fixed-width and checked.
        self.sealed.seek(index * _HASH_LINE)
        sealed = self.sealed.read(_HASH_LINE * (self.sealed_count - index))
        sealed_here = sealed[:64]
        found_hex = found.hex().encode("ascii")
        # Where was the entry now at `index` sealed, and where now stands the one sealed here?
        sealed_at = _aligned_find(sealed, found_hex)
        try:
            moved_to = self.leaves.index(bytes.fromhex(sealed_here.decode("ascii")), index + 1)
        except ValueError:
            moved_to = None
        if sealed_at is not None:
            sealed_at += index
        if sealed_at is not None and sealed_at == moved_to:
            kind = f"swapped with entry {moved_to}"
        elif sealed_at is not None and moved_to is None:
            kind = (
                f"deleted or replaced: the entry sealed at {index} is gone and the one "
                f"sealed at {sealed_at} stands here"
            )
        elif sealed_at is None and moved_to is not None:
            kind = (
                f"inserted: this entry was never sealed and the one sealed at {index} "
                f"now stands at {moved_to}"
            )
        elif sealed_at is not None:
            kind = f"reordered: this entry was sealed at index {sealed_at}"
        else:
            kind = "edited, deleted, inserted or reordered"
        return (
            f"entry {index}: its bytes do not match the leaf hash sealed at index {index} ({kind})"
        )


def _aligned_find(sealed: bytes, digest_hex: bytes) -> int | None:
    start = 0
    while True:
        at = sealed.find(digest_hex, start)
        if at < 0:
            return None
        if at % _HASH_LINE == 0:
            return at // _HASH_LINE
        start = at + 1


def _scan_entries(directory: Path, expected: int, progress: bool) -> _Scan:
    entries_path = directory / ENTRIES
    bar: Any = None
    with _open_binary(entries_path) as entries, _open_binary(directory / LEAF_HASHES) as sealed:
        scan = _Scan(sealed)
        if progress and expected >= _PROGRESS_FROM:
            from tqdm import tqdm

            bar = tqdm(
                total=os.fstat(entries.fileno()).st_size,
                unit="B",
                unit_scale=True,
                desc="verifying entries",
                file=sys.stderr,
            )
        try:
            tail = b""
            while True:
                try:
                    data = entries.read(_CHUNK)
                except OSError as exc:
                    raise BundleError(f"{ENTRIES}: read failed ({exc})") from None
                if not data:
                    break
                if bar is not None:
                    bar.update(len(data))
                if tail:
                    data = tail + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                block, tail = data[:cut], data[cut + 1 :]
                scan.lines(block.split(b"\n"), block)
            if tail:
                ending = scan.count
                scan.lines([tail], tail)
                if scan.invalid is None or scan.invalid[0] >= ending:
                    scan.invalid = (ending, "has no newline: the file ends inside this entry")
            scan.finish()
            if scan.mismatch is not None:
                scan.mismatch_message = scan.diagnose(scan.mismatch)
        finally:
            if bar is not None:
                bar.close()
    return scan


# --- verification ---------------------------------------------------------------------------


def verify_bundle(
    path: str | os.PathLike[str], progress: bool = False, max_seal_lag: float | None = None
) -> Report:
    """Verify the bundle directory at ``path`` and return the report.

    Raises BundleError when the bundle cannot be read or is malformed; a bundle that reads
    but does not verify comes back as a report with problems. ``max_seal_lag`` (seconds)
    overrides the bundle's own limit on how long entries may have waited to be sealed.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise BundleError(f"{directory.name or path}: not a bundle directory")
    manifest = _read_manifest(directory)
    vkey = _read_vkey(directory)
    checkpoints = _read_checkpoints(directory, vkey, manifest.origin)
    scan = _scan_entries(directory, manifest.tree_size, progress)
    tree = merkle.MemoryTree(scan.leaves)
    scan.leaves = []
    report = Report(entries=scan.count, checkpoints=len(checkpoints), root=tree.root())
    entry_problems = _entry_problems(scan)
    report.problems += entry_problems
    report.problems += _count_problems(scan, manifest, checkpoints)
    explained = entry_problems[0].index if entry_problems else None
    stored = _StoredTree(directory, manifest.tree_size)
    try:
        report.problems += _checkpoint_problems(tree, checkpoints, explained, stored)
    finally:
        stored.close()
    if stored.unusable:
        report.notes.append(f"{SUBTREE_HASHES} is malformed and was not used ({stored.unusable})")
    report.problems += _waiting_problems(manifest, max_seal_lag)
    signed = [c.size for c in checkpoints if c.problem is None and c.size is not None]
    covered = max(signed, default=0)
    if scan.count and not signed:
        report.problems.append(
            Problem("no checkpoint signed by the hub's key covers any entry", index=0)
        )
    elif covered < scan.count:
        report.notes.append(
            f"entries {covered}..{scan.count - 1} are newer than the last checkpoint: they "
            "are checked against their sealed leaf hashes only"
        )
    if manifest.waiting is None:
        report.notes.append(
            "the bundle does not say whether entries were waiting to be sealed at export"
        )
    return report


def _entry_problems(scan: _Scan) -> list[Problem]:
    found: list[Problem] = []
    if scan.mismatch is not None:
        message = scan.mismatch_message
        if scan.mismatches > 1:
            message += f"; {scan.mismatches - 1} later entries differ too"
        found.append(Problem(message, index=scan.mismatch))
    if scan.invalid is not None:
        index, reason = scan.invalid
        found.append(Problem(f"entry {index}: {reason}", index=index))
    if scan.sealed_ended and scan.sealed_count < scan.count:
        index = scan.sealed_count
        found.append(
            Problem(
                f"entry {index}: no leaf hash was sealed for this index ({LEAF_HASHES} "
                f"stops at {index}; entries inserted or appended after sealing)",
                index=index,
            )
        )
    found.sort(key=lambda p: p.index if p.index is not None else -1)
    return found


def _waiting_problems(manifest: _Manifest, max_seal_lag: float | None) -> list[Problem]:
    if manifest.waiting is None:
        return []
    count, oldest = manifest.waiting
    if not count or oldest is None:
        return []
    limit = max_seal_lag or manifest.max_seal_lag or DEFAULT_MAX_SEAL_LAG
    waited = (manifest.exported_at - oldest).total_seconds()
    if waited <= limit:
        return []
    return [
        Problem(
            f"{count} committed entries were waiting to be sealed at export; the oldest had "
            f"waited {waited:.0f} s (the limit is {limit:g} s): sealing had stopped or fallen "
            "behind, and those entries are in no checkpoint"
        )
    ]


def _count_problems(
    scan: _Scan, manifest: _Manifest, checkpoints: Sequence[_Checkpoint]
) -> list[Problem]:
    count = scan.count
    signed = [c for c in checkpoints if c.problem is None and c.size is not None]
    beyond = [c for c in signed if c.size is not None and c.size > count]
    found: list[Problem] = []
    if beyond:
        worst = max(beyond, key=lambda c: c.size or 0)
        found.append(
            Problem(
                f"entries stop at {count} but checkpoint {worst.number} covers "
                f"{worst.size} entries (truncated)",
                index=count,
                checkpoint=worst.number,
            )
        )
    elif manifest.tree_size > count:
        found.append(
            Problem(
                f"entries stop at {count} but the manifest's tree_size is "
                f"{manifest.tree_size} (truncated)",
                index=count,
            )
        )
    elif scan.sealed_count > count:
        found.append(
            Problem(
                f"entries stop at {count} but {LEAF_HASHES} seals {scan.sealed_count} "
                "entries (truncated)",
                index=count,
            )
        )
    if count > manifest.tree_size:
        found.append(
            Problem(
                f"entry {manifest.tree_size}: entries go on past the manifest's tree_size of "
                f"{manifest.tree_size} ({count - manifest.tree_size} more)",
                index=manifest.tree_size,
            )
        )
    top = max((c.size for c in signed if c.size is not None), default=0)
    if top > manifest.tree_size:
        found.append(
            Problem(
                f"the manifest's tree_size {manifest.tree_size} is below the {top} entries "
                "a signed checkpoint covers",
                index=manifest.tree_size,
            )
        )
    return found


def _checkpoint_problems(
    tree: merkle.MemoryTree,
    checkpoints: Sequence[_Checkpoint],
    explained: int | None,
    stored: _StoredTree | None = None,
) -> list[Problem]:
    count = tree.size
    usable = [c for c in checkpoints if c.problem is None]
    for c in usable:
        if c.size is not None and c.size <= count:
            c.matches = tree.root(c.size) == c.root
    found: list[Problem] = []
    flagged: set[int] = set()
    for c in checkpoints:
        if c.problem is not None:
            found.append(Problem(f"{_label(c.number, c.size)}: {c.problem}", checkpoint=c.number))
            flagged.add(c.number)
        elif c.matches is False:
            found.append(_root_problem(c, usable, explained, tree, stored))
            flagged.add(c.number)
    previous: _Checkpoint | None = None
    for c in usable:
        assert c.size is not None
        assert c.root is not None
        if previous is not None:
            assert previous.size is not None
            assert previous.root is not None
            if c.size < previous.size:
                found.append(
                    Problem(
                        f"{_label(c.number, c.size)}: the tree shrinks from {previous.size} "
                        f"entries at checkpoint {previous.number} (rolled back or out of order)",
                        checkpoint=c.number,
                    )
                )
                flagged.add(c.number)
            elif previous.size > 0 and c.size <= count:
                proof = tree.consistency_proof(previous.size, c.size)
                try:
                    merkle.verify_consistency(previous.size, c.size, previous.root, c.root, proof)
                except merkle.ProofError as exc:
                    # A root that differs from the rebuilt tree is already reported.
                    if not {c.number, previous.number} & flagged:
                        found.append(
                            Problem(
                                f"{_label(c.number, c.size)} is not consistent with "
                                f"checkpoint {previous.number} (size {previous.size}): {exc}",
                                checkpoint=c.number,
                            )
                        )
        previous = c
    return found


def _root_problem(
    c: _Checkpoint,
    usable: Sequence[_Checkpoint],
    explained: int | None,
    tree: merkle.MemoryTree | None = None,
    stored: _StoredTree | None = None,
) -> Problem:
    assert c.size is not None
    assert c.root is not None
    label = _label(c.number, c.size)
    vouching = [
        d
        for d in usable
        if d.matches and d.number > c.number and d.size is not None and d.size >= c.size
    ]
    if vouching:
        # A later signed checkpoint agrees with the entries: it is this one that is odd.
        d = vouching[0]
        return Problem(
            f"{label}: root hash differs from the tree rebuilt from entries, which checkpoint "
            f"{d.number} (size {d.size}) confirms: this checkpoint is inconsistent with the "
            "log (a fork, or a forged checkpoint signed with the hub's key)",
            checkpoint=c.number,
        )
    good = [d.size for d in usable if d.matches and d.size is not None and d.size <= c.size]
    first = max(good, default=0)
    last = c.size - 1
    located = (
        _locate(tree, stored, c.size, c.root)
        if tree is not None and stored is not None and not first <= (explained or -1) <= last
        else None
    )
    if located is not None:
        low, high = located
        which = (
            f"entry {low}"
            if low == high
            else f"entry {low} or {high}"
            if high == low + 1
            else f"entries {low}..{high}"
        )
        return Problem(
            f"{label}: root hash differs from the tree rebuilt from entries; {which} "
            f"changed together with {'its' if low == high else 'their'} sealed leaf hash: the "
            f"subtree hash sealed over {low}..{high}, which the checkpoint's signed root "
            "vouches for, no longer matches them",
            index=low,
            last_index=high,
            checkpoint=c.number,
        )
    why = (
        f" (entry {explained} above is in that range)" if first <= (explained or -1) <= last else ""
    )
    return Problem(
        f"{label}: root hash differs from the tree rebuilt from entries; the difference lies "
        f"in entries {first}..{last}{why}",
        index=first,
        last_index=last,
        checkpoint=c.number,
    )


# --- the stored subtree hashes ----------------------------------------------------------------


class _Unavailable(Exception):
    """A stored hash the bundle does not hold."""


class _StoredTree:
    """The hashes the hub stored, read on demand: leaves from leaf_hashes.txt, the complete
    subtrees above them from subtree_hashes.txt (level by level, each in index order).

    Nothing here is trusted until a signed root vouches for it (see _locate).
    """

    def __init__(self, directory: Path, tree_size: int) -> None:
        self.directory = directory
        self.size = tree_size
        self.unusable = ""
        self._files: dict[str, BinaryIO] = {}
        self._starts: dict[int, int] = {}
        line = 0
        level = 1
        while tree_size >> level:
            self._starts[level] = line
            line += tree_size >> level
            level += 1
        self._lines = line

    def _file(self, name: str) -> BinaryIO:
        handle = self._files.get(name)
        if handle is None:
            try:
                handle = open(self.directory / name, "rb")  # noqa: SIM115 - closed by close()
            except OSError:
                raise _Unavailable(name) from None
            if name == SUBTREE_HASHES and os.fstat(handle.fileno()).st_size != (
                self._lines * _HASH_LINE
            ):
                handle.close()
                self.unusable = f"it should hold {self._lines} hashes"
                raise _Unavailable(name)
            self._files[name] = handle
        return handle

    def __call__(self, level: int, index: int) -> bytes:
        if self.unusable:
            raise _Unavailable(SUBTREE_HASHES)
        if level == 0:
            name, line = LEAF_HASHES, index
        else:
            name, line = SUBTREE_HASHES, self._starts[level] + index
        handle = self._file(name)
        handle.seek(line * _HASH_LINE)
        text = handle.read(_HASH_LINE)
        if len(text) != _HASH_LINE or not _SEALED_LINES.fullmatch(text):
            raise _Unavailable(name)
        return bytes.fromhex(text[:64].decode("ascii"))

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


def _locate(
    tree: merkle.MemoryTree, stored: _StoredTree, size: int, signed_root: bytes
) -> tuple[int, int] | None:
    """Find the entries rewritten together with their leaf hashes, as a span of indexes.

    The stored subtree hashes that make up the checkpoint's root are trusted only if they
    give its signed root; from each of them that the entries disagree with, go down while
    a stored node's two children still hash to it and exactly one differs from the rebuilt
    tree. Where a node's stored children no longer give it, those children were rewritten:
    the span under that node holds the change. None when the stored hashes cannot vouch.
    """
    try:
        if merkle.root(size, stored) != signed_root:
            return None  # the stored hashes were rewritten too: only the signed roots remain
        for level, index in merkle.border_positions(size):
            if tree.node(level, index) == stored(level, index):
                continue
            while level > 0:
                children = (2 * index, 2 * index + 1)
                left, right = (stored(level - 1, child) for child in children)
                if merkle.node_hash(left, right) != stored(level, index):
                    break
                differ = [
                    child
                    for child, kept in zip(children, (left, right), strict=True)
                    if tree.node(level - 1, child) != kept
                ]
                if len(differ) != 1:
                    break
                level, index = level - 1, differ[0]
            return index << level, ((index + 1) << level) - 1
    except _Unavailable:
        return None
    return None


# --- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier from the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m audit.verifier",
        description="Verify a MARAC Hub ledger export bundle offline.",
        epilog="Exit status: 0 verified, 1 verification failed, 2 unreadable or malformed.",
    )
    parser.add_argument("bundle", help="the bundle directory")
    parser.add_argument(
        "--progress", action="store_true", help="show a progress bar even when not on a terminal"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--max-seal-lag",
        type=float,
        metavar="SECONDS",
        help="how long entries may have waited to be sealed at export "
        f"(default: the bundle's own limit, else {DEFAULT_MAX_SEAL_LAG:g})",
    )
    args = parser.parse_args(argv)
    progress = args.progress or sys.stderr.isatty()
    try:
        report = verify_bundle(args.bundle, progress=progress, max_seal_lag=args.max_seal_lag)
    except BundleError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        print(f"ERROR: malformed bundle: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
