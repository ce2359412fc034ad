"""Write ledger export bundles for the offline verifier (audit.verifier), on the standard library.

A bundle is a directory of five files:

* ``manifest.json``: ``{"format": "marac-hub-ledger-bundle/1", "origin": ..., "tree_size":
  ..., "exported_at": ...}``, written last so a half-written bundle has no manifest.
* ``entries.ndjson``: line i is the exact stored bytes of ledger entry i, then ``\\n``.
* ``leaf_hashes.txt``: line i is the lowercase hex leaf hash sealed for index i. The hub
  keeps these apart from the entry rows, so an edited, deleted or inserted row is caught
  at its exact index.
* ``checkpoints.ndjson``: one ``{"note": ..., "signed_at": ...}`` per line, in signing order.
* ``public_key.txt``: the hub's verifier key, then ``\\n``.
* ``subtree_hashes.txt`` (optional): the complete subtree hashes the hub stored as they
  closed, level 1 first (``tree_size >> 1`` lines), then level 2, and so on, one lowercase
  hex hash per line. The verifier reads it only when a checkpoint's root disagrees with the
  entries, to find which entries were rewritten together with their leaf hashes.

The manifest may also say what was waiting to be sealed at export (``waiting``: ``count``
and ``oldest_at``) and the hub's limit on that wait (``max_seal_lag_seconds``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINTS",
    "ENTRIES",
    "FORMAT",
    "LEAF_HASHES",
    "MANIFEST",
    "PUBLIC_KEY",
    "SUBTREE_HASHES",
    "canonical_json",
    "write_bundle",
]

FORMAT = "marac-hub-ledger-bundle/1"
MANIFEST = "manifest.json"
ENTRIES = "entries.ndjson"
LEAF_HASHES = "leaf_hashes.txt"
CHECKPOINTS = "checkpoints.ndjson"
PUBLIC_KEY = "public_key.txt"
SUBTREE_HASHES = "subtree_hashes.txt"

_BUFFER = 1 << 20


def canonical_json(value: Any) -> bytes:
    """Encode a JSON value in the form the verifier accepts as canonical.

    Sorted keys, no insignificant whitespace, non-ASCII characters as raw UTF-8 and no
    NaN or infinities: the exact encoding an entry must have been stored in.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _write(path: Path, lines: Iterable[bytes]) -> None:
    # Write beside the target and rename, so a reader never sees a half-written file.
    temporary = path.with_name(path.name + ".part")
    try:
        with open(temporary, "wb", buffering=_BUFFER) as out:
            out.writelines(lines)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _entry_lines(entries: Iterable[bytes]) -> Iterable[bytes]:
    for index, entry in enumerate(entries):
        if not isinstance(entry, bytes):
            raise TypeError(f"entry {index} must be bytes, not {type(entry).__name__}")
        if b"\n" in entry:
            # One entry per line is the format; canonical JSON never holds a raw newline.
            raise ValueError(f"entry {index} contains a newline and cannot be exported")
        yield entry + b"\n"


def _hash_lines(hashes: Iterable[bytes]) -> Iterable[bytes]:
    for index, digest in enumerate(hashes):
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise ValueError(f"leaf hash {index} must be 32 bytes")
        yield digest.hex().encode("ascii") + b"\n"


def _checkpoint_lines(checkpoints: Iterable[tuple[str, bytes]]) -> Iterable[bytes]:
    for index, (signed_at, note) in enumerate(checkpoints):
        if not isinstance(signed_at, str) or not isinstance(note, bytes):
            raise TypeError(f"checkpoint {index + 1} must be (ISO time str, note bytes)")
        record = {"note": note.decode("utf-8"), "signed_at": signed_at}
        yield canonical_json(record) + b"\n"


def write_bundle(
    path: str | os.PathLike[str],
    *,
    origin: str,
    entries: Iterable[bytes],
    leaf_hashes: Iterable[bytes],
    checkpoints: Iterable[tuple[str, bytes]],
    vkey: str,
    tree_size: int,
    exported_at: datetime | None = None,
    subtree_hashes: Iterable[bytes] | None = None,
    waiting: tuple[int, datetime | None] | None = None,
    max_seal_lag_seconds: float | None = None,
) -> None:
    """Write a bundle directory at ``path`` (created if missing; bundle files replaced).

    ``entries`` are the stored entry bytes in index order, ``leaf_hashes`` the 32-byte leaf
    hashes the hub sealed, in index order, and ``checkpoints`` (signed_at ISO string,
    signed note) pairs in signing order. The data is written as given, even when entries
    and leaf hashes disagree: finding that out is the verifier's job, not the exporter's.
    Iterables are consumed once, streaming, so a large ledger need not fit in memory.
    """
    if not isinstance(origin, str) or not origin:
        raise ValueError("origin must be a non-empty string")
    if type(tree_size) is not int or tree_size < 0:
        raise ValueError("tree_size must be a non-negative int")
    if not isinstance(vkey, str) or not vkey or "\n" in vkey.strip():
        raise ValueError("vkey must be one line of text")
    when = exported_at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("exported_at must carry a time zone")
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST
    # Drop any old manifest first: until the new one lands the directory is not a bundle.
    manifest.unlink(missing_ok=True)
    _write(directory / ENTRIES, _entry_lines(entries))
    _write(directory / LEAF_HASHES, _hash_lines(leaf_hashes))
    _write(directory / CHECKPOINTS, _checkpoint_lines(checkpoints))
    _write(directory / PUBLIC_KEY, [vkey.strip().encode("utf-8") + b"\n"])
    (directory / SUBTREE_HASHES).unlink(missing_ok=True)
    if subtree_hashes is not None:
        _write(directory / SUBTREE_HASHES, _hash_lines(subtree_hashes))
    record: dict[str, Any] = {
        "exported_at": when.isoformat(),
        "format": FORMAT,
        "origin": origin,
        "tree_size": tree_size,
    }
    if waiting is not None:
        count, oldest_at = waiting
        if type(count) is not int or count < 0 or (oldest_at is None) != (count == 0):
            raise ValueError("waiting must be (count, oldest time), the time only when count > 0")
        record["waiting"] = {
            "count": count,
            "oldest_at": None if oldest_at is None else oldest_at.isoformat(),
        }
    if max_seal_lag_seconds is not None:
        record["max_seal_lag_seconds"] = max_seal_lag_seconds
    _write(manifest, [json.dumps(record, indent=2, sort_keys=True).encode("utf-8") + b"\n"])
