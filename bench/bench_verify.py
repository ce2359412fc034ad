"""Benchmark the offline ledger verifier and Merkle proofs on a synthetic bundle.

Generates N realistic canonical JSON entries (about 200 bytes each) with signed checkpoints,
writes a bundle, then measures on one core:

* verify_entries_per_s: the full audit.verifier.verify_bundle, reading from disk;
* sha256_entries_per_s: plain hashlib.sha256 over the same entry lines, in memory;
* inclusion_proof_ms: building an inclusion proof over an in-memory node store at N
  entries and verifying it, for random indexes.

Prints the figures as JSON and merges them into bench/results/audit.json, keeping the
keys other benchmarks wrote there.

    python bench/bench_verify.py [--entries N] [--runs R]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audit import bundle, merkle, note, verifier  # noqa: E402

RESULTS = REPO / "bench" / "results" / "audit.json"
ORIGIN = "marac-hub.example/ledger"
ACTIONS = {
    "case:viewed": ["referral"],
    "referral:shared": ["referral", "agency"],
    "referral:created": ["referral", "categories"],
    "case:opened": ["case", "categories"],
    "case:closed": ["case", "reason"],
    "consent:recorded": ["consent", "person"],
    "consent:withdrawn": ["consent", "person", "reason"],
    "meeting:held": ["meeting"],
    "task:assigned": ["task", "member"],
    "task:completed": ["task"],
    "member:signed_in": [],
    "export:downloaded": ["fields"],
}
CATEGORIES = ["children", "housing", "health", "police", "probation", "education", "idva"]
ROLES = ["idva", "chair", "coordinator", "police", "health", "housing"]


def make_entry(i: int, rng: random.Random, start: float) -> bytes:
    """Return one realistic canonical ledger entry."""
    action = rng.choice(list(ACTIONS))
    at = datetime.fromtimestamp(start + i * 0.37, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value: dict[str, Any] = {
        "v": 1,
        "id": f"{rng.getrandbits(128):032x}",
        "at": at,
        "action": action,
        "actor": {
            "agency": rng.randrange(1, 60),
            "member": rng.randrange(1, 5000),
            "role": rng.choice(ROLES),
        },
        "request": f"{rng.getrandbits(64):016x}",
    }
    for key in ACTIONS[action]:
        if key == "categories":
            value[key] = sorted(rng.sample(CATEGORIES, rng.randrange(1, 4)))
        elif key == "fields":
            value[key] = ["referral", "risk", "actions"][: rng.randrange(1, 4)]
        elif key == "reason":
            value[key] = rng.choice(["duplicate", "no_consent", "resolved", "moved_area"])
        else:
            value[key] = rng.randrange(1, 10**6)
    return bundle.canonical_json(value)


def pin_one_core() -> bool:
    """Run on one core, so figures do not depend on how the scheduler spreads the work."""
    try:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
    except (AttributeError, OSError):
        return False
    return True


def timed(action: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--no-save", action="store_true", help="print only; leave results alone")
    args = parser.parse_args(argv)
    n = args.entries
    pinned = pin_one_core()
    rng = random.Random(20250203)

    entries = [make_entry(i, rng, 1_738_000_000.0) for i in range(n)]
    leaves = [merkle.leaf_hash(entry) for entry in entries]
    tree = merkle.MemoryTree(leaves)
    skey = note.generate_signer_key(ORIGIN)
    step = 1 << 17
    sizes = [*range(step, n, step), n] if n else []
    checkpoints = [
        (
            datetime.now(UTC).isoformat(),
            note.sign_note(note.format_checkpoint(ORIGIN, size, tree.root(size)), skey),
        )
        for size in sizes
    ]

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        path = Path(tmp) / "bundle"
        bundle.write_bundle(
            path,
            origin=ORIGIN,
            entries=entries,
            leaf_hashes=leaves,
            checkpoints=checkpoints,
            vkey=note.vkey_from_skey(skey),
            tree_size=n,
        )
        bundle_bytes = sum(p.stat().st_size for p in path.iterdir())
        report = verifier.verify_bundle(path)  # also warms the page cache
        if not report.ok:
            print(report.summary(), file=sys.stderr)
            return 1
        verify_times = timed(lambda: verifier.verify_bundle(path), args.runs)

    sha = hashlib.sha256
    sha_times = timed(lambda: [sha(entry).digest() for entry in entries], args.runs)

    store = {
        (level, index): digest
        for level, hashes in enumerate(tree.levels)
        for index, digest in enumerate(hashes)
        if (index + 1) << level <= n
    }
    root = tree.root()
    picks = [rng.randrange(n) for _ in range(args.proofs)]
    node = store.__getitem__

    def prove(index: int) -> None:
        proof = merkle.inclusion_proof(index, n, lambda level, i: node((level, i)))
        merkle.verify_inclusion(index, n, leaves[index], proof, root)

    started = time.perf_counter()
    for index in picks:
        prove(index)
    proof_ms = (time.perf_counter() - started) * 1000 / len(picks)
    first_sizes = [rng.randrange(1, n) for _ in range(args.proofs)]
    started = time.perf_counter()
    for size in first_sizes:
        proof = merkle.consistency_proof(size, n, lambda level, i: node((level, i)))
        merkle.verify_consistency(size, n, tree.root(size), root, proof)
    consistency_ms = (time.perf_counter() - started) * 1000 / len(first_sizes)

    verify_rate = n / statistics.median(verify_times)
    sha_rate = n / statistics.median(sha_times)
    results = {
        "verify_entries": n,
        "verify_entry_bytes_mean": round(sum(map(len, entries)) / max(n, 1), 1),
        "verify_bundle_bytes": bundle_bytes,
        "verify_checkpoints": len(checkpoints),
        "verify_runs_s": [round(t, 3) for t in verify_times],
        "verify_entries_per_s": round(verify_rate),
        "verify_entries_per_s_best": round(n / min(verify_times)),
        "sha256_entries_per_s": round(sha_rate),
        "verify_to_sha256_ratio": round(verify_rate / sha_rate, 3),
        "inclusion_proof_ms": round(proof_ms, 4),
        "consistency_proof_ms": round(consistency_ms, 4),
        "verify_one_core_pinned": pinned,
        "verify_python": platform.python_version(),
        "verify_measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(results, indent=2))
    if not args.no_save:
        merged: dict[str, Any] = {}
        if RESULTS.exists():
            try:
                merged = json.loads(RESULTS.read_text())
            except ValueError:
                merged = {}
        merged.update(results)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
