"""Run every benchmark: ``python -m bench`` (what ``make bench`` does), or name some.

    python -m bench                 # all of them, in order
    python -m bench ledger          # only bench/bench_ledger.py
    python -m bench verify -- --entries 100000   # arguments after -- go to each benchmark

Each benchmark runs in a process of its own (one pins itself to a core, another starts a
PostgreSQL server), merges its figures into bench/results/, and prints them. A summary of
bench/results/audit.json against the goals follows at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "audit.json"

#: (short name, module). Add a benchmark by adding its module here; it must accept
#: ``--no-save`` and merge its results into bench/results/ itself.
BENCHMARKS: list[tuple[str, str]] = [
    ("verify", "bench.bench_verify"),
    ("ledger", "bench.bench_ledger"),
    ("todo", "bench.bench_todo"),
    ("minutes", "bench.bench_minutes"),
    ("signin", "bench.bench_signin"),
    ("pages", "bench.bench_pages"),
]

#: (key, goal, "min" when the figure must reach the goal, "max" when it must stay below it)
GOALS: list[tuple[str, float, str, str]] = [
    ("verify_entries_per_s", 400_000, "min", "offline verifier, entries/s on one core"),
    ("disclosures_per_s_unaudited", 0, "min", "writes/s, 8 writers, no ledger"),
    ("disclosures_per_s_audited", 0, "min", "writes/s, 8 writers, with a ledger entry each"),
    ("ratio", 0.85, "min", "audited / unaudited"),
    ("seal_latency_ms_p50", 0, "max", "commit to sealed, median"),
    ("seal_latency_ms_p99", 250, "max", "commit to sealed, 99th percentile"),
    ("seal_latency_ms_p99_paced", 250, "max", "the same, writers paced below saturation"),
    (
        "seal_lag_p99_ms_under_load",
        250,
        "max",
        "paced, with a 30 s transaction open in another database",
    ),
    ("cpu_ratio", 0.85, "min", "CPU per unaudited / per audited disclosure"),
    ("pgbench_ratio_entry_only", 0, "min", "pgbench (C client): + a bare entry row / none"),
    ("pgbench_ratio_entry", 0, "min", "pgbench: + the entry as recorded (with references)"),
    ("pgbench_ratio_entry_notify", 0, "min", "pgbench: the same, plus a NOTIFY at commit"),
    ("inclusion_proof_ms_postgres", 1.0, "max", "inclusion proof at 1M entries in PostgreSQL"),
]


def summary() -> str:
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return "no results in bench/results/audit.json"
    lines = ["", f"Summary ({RESULTS.relative_to(REPO)}):"]
    for key, goal, kind, what in GOALS:
        value = results.get(key)
        if value is None:
            lines.append(f"  {key:<30} (not measured)")
            continue
        if goal:
            met = value >= goal if kind == "min" else value <= goal
            verdict = (
                f"goal {'>=' if kind == 'min' else '<='} {goal:g}: {'met' if met else 'MISSED'}"
            )
        else:
            verdict = ""
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
        lines.append(f"  {key:<30} {shown:>10}   {what}; {verdict}".rstrip("; "))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra = args[:cut], args[cut + 1 :]
    known = dict(BENCHMARKS)
    unknown = [name for name in args if name not in known]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    chosen = [(name, module) for name, module in BENCHMARKS if not args or name in args]
    failed = []
    for name, module in chosen:
        print(f"== {name} ({module})", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", module, *extra], cwd=REPO)
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    print(summary())
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
