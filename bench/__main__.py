"""Run every benchmark: ``python -m bench`` (what ``make bench`` does), or name some.

    python -m bench                 # all of them, in order
    python -m bench ledger          # only bench/bench_ledger.py
    python -m bench verify -- --entries 100000   # arguments after -- go to each benchmark

    python -m bench --compare       # run nothing: compare bench/results/ with git HEAD

Each benchmark runs in a process of its own (one pins itself to a core, another starts a
PostgreSQL server), merges its figures into bench/results/, and prints them. A summary
against the goals follows at the end, then the guard: every figure that got worse than the
committed one (bench/results/ as in git HEAD) by more than its noise, as
``WORSE: key old -> new (+x %, noise y %)``. A benchmark states its noise per key in its
results' ``noise`` mapping (bench_pages: the two halves of its rounds, or two runs); counts
of statements, errors and failures have none (any increase is worse); any other figure
gets ``DEFAULT_NOISE`` (20 %), and no measured figure less than ``NOISE_FLOOR`` (5 %).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
RESULTS = RESULTS_DIR / "audit.json"

#: (short name, module). Add a benchmark by adding its module here; it must accept
#: ``--no-save`` and merge its results into bench/results/ itself.
BENCHMARKS: list[tuple[str, str]] = [
    ("verify", "bench.bench_verify"),
    ("ledger", "bench.bench_ledger"),
    ("todo", "bench.bench_todo"),
    ("minutes", "bench.bench_minutes"),
    ("signin", "bench.bench_signin"),
    ("pages", "bench.bench_pages"),
    ("returns", "bench.bench_returns"),
    ("retention", "bench.bench_retention"),
]

#: The results file each benchmark merges its figures into (in bench/results/).
RESULT_FILES: dict[str, str] = {
    "verify": "audit.json",
    "ledger": "audit.json",
    "todo": "todo.json",
    "minutes": "minutes.json",
    "signin": "signin.json",
    "pages": "pages.json",
    "returns": "returns.json",
    "retention": "retention.json",
}

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


#: bench/results/pages.json: the everyday pages against an area's history (bench_pages).
PAGES_GOALS: list[tuple[str, float, str, str]] = [
    ("statements_ratio", 1.0, "max", "worst page: statements at 10,000 / at 10 referrals"),
    ("p95_ratio", 1.3, "max", "worst page: p95 at 10,000 / at 10 referrals"),
    ("case_page_p95_ms_16_clients", 100, "max", "case page p95, 16 clients, hub serve"),
    ("ledger_share", 0.15, "max", "share of a gated case-page read spent in audit"),
]

#: bench/results/returns.json: the quarterly data return at national size (bench_returns).
RETURNS_GOALS: list[tuple[str, float, str, str]] = [
    ("returns_one_area_ms", 200, "max", "largest area's quarter and rolling year, p95"),
    ("returns_all_areas_s", 30, "max", "every area's return, one after the other"),
    ("statements_ratio", 1.0, "max", "statements, largest area / smallest area"),
]

#: bench/results/retention.json: destroying 10,000 expired cases, one subject's bundle.
RETENTION_GOALS: list[tuple[str, float, str, str]] = [
    ("unrelated_p95_ratio", 1.5, "max", "unrelated area's case page p95, during / before"),
    ("sar_bundle_s", 2.0, "max", "one subject's bundle from a 1,000,000-entry ledger"),
]

#: The goals of each results file, for the summary.
GOALS_BY_FILE: list[tuple[str, list[tuple[str, float, str, str]]]] = [
    ("audit.json", GOALS),
    ("pages.json", PAGES_GOALS),
    ("returns.json", RETURNS_GOALS),
    ("retention.json", RETENTION_GOALS),
]


def summary() -> str:
    return "\n".join(_summary(name, goals) for name, goals in GOALS_BY_FILE)


def _summary(name: str, goals: list[tuple[str, float, str, str]]) -> str:
    path = RESULTS_DIR / name
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"no results in {path.relative_to(REPO)}"
    lines = ["", f"Summary ({path.relative_to(REPO)}):"]
    for key, goal, kind, what in goals:
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


# --- the guard: what got worse than the committed figures ------------------------------

#: Noise assumed for a figure its benchmark states none for.
DEFAULT_NOISE = 0.20
#: The least noise any measured (not counted) figure is given.
NOISE_FLOOR = 0.05
#: Subtrees that hold settings, goals and noise, not figures.
NOT_FIGURES = ("noise", "goals", "goals_met", "ledger_bench_runs", "minutes_bench_goals")
#: Counts: exact, so any increase is worse.
EXACT = ("statements", "errors", "failures")
#: Figures where more is better (everything named like a time, a count of statements, a
#: share or a growth ratio is better lower; anything else is not compared).
HIGHER = ("per_s", "tps", "pgbench_ratio", "verify_to_sha256_ratio")
HIGHER_KEYS = ("ratio", "cpu_ratio")
LOWER = ("_ms", "ms_", "statements", "share", "latency", "lag", "_ratio", "errors", "failures")


def direction(key: str) -> str | None:
    """ "lower" or "higher" when the figure is better that way; None when it is no figure."""
    leaf = key.rsplit(".", 1)[-1]
    for goal_key, _goal, kind, _what in GOALS + PAGES_GOALS + RETURNS_GOALS + RETENTION_GOALS:
        if leaf == goal_key:
            return "higher" if kind == "min" else "lower"
    if leaf in HIGHER_KEYS or any(part in leaf for part in HIGHER):
        return "higher"
    if any(part in leaf for part in LOWER) or leaf.startswith("ratio_"):
        return "lower"
    if leaf.endswith("_s") or "_s_" in leaf:  # seconds
        return "lower"
    return None


def _flatten(values: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in values.items():
        if key in NOT_FIGURES:
            continue
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[prefix + key] = float(value)
    return flat


def committed(name: str) -> dict | None:
    """bench/results/<name> as committed in git HEAD, or None."""
    found = subprocess.run(
        ["git", "show", f"HEAD:bench/results/{name}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode:
        return None
    try:
        return dict(json.loads(found.stdout))
    except ValueError:
        return None


def worse(old: dict, new: dict) -> list[str]:
    """Every figure of ``new`` worse than in ``old`` by more than its noise, as lines."""
    before, after = _flatten(old), _flatten(new)
    stated = {**old.get("noise", {}), **new.get("noise", {})}
    lines = []
    for key in sorted(set(before) & set(after)):
        way = direction(key)
        if way is None:
            continue
        was, now = before[key], after[key]
        if any(part in key.rsplit(".", 1)[-1] for part in EXACT):
            noise = 0.0
        else:
            noise = max(NOISE_FLOOR, float(stated.get(key, DEFAULT_NOISE)))
        if was == now:
            continue
        change = (now - was) / abs(was) if was else math.copysign(math.inf, now - was)
        loss = change if way == "lower" else -change
        if loss > noise:
            shown = "new" if math.isinf(change) else f"{change * 100:+.0f} %"
            lines.append(
                f"WORSE: {key} {was:g} -> {now:g} ({shown}, noise {noise * 100:.0f} %"
                f"{'' if key in stated or noise == 0 else ', default'})"
            )
    return lines


def _load(old: dict, new: dict) -> str:
    """The machine's load average then and now, where the results record it: a noise
    measured inside one run does not cover a machine busier in one run than the other."""
    for key in sorted(new):
        if ("load_average" in key or "loadavg" in key) and key in old:
            try:
                return f" (load average {float(old[key]):g} then, {float(new[key]):g} now)"
            except (TypeError, ValueError):
                continue
    return ""


def guard(names: list[str]) -> str:
    """What got worse in these results files than in git HEAD."""
    lines = ["", "Against the committed figures (git HEAD):"]
    found = False
    for name in sorted(set(names)):
        old = committed(name)
        try:
            new = json.loads((RESULTS_DIR / name).read_text())
        except (OSError, ValueError):
            lines.append(f"  {name}: no results")
            continue
        if old is None:
            lines.append(f"  {name}: nothing committed to compare with")
            continue
        if new == old:
            lines.append(f"  {name}: as committed (nothing saved since)")
            continue
        got_worse = worse(old, new)
        found = found or bool(got_worse)
        lines.append(f"  {name}: {len(got_worse) or 'nothing'} worse{_load(old, new)}")
        lines += [f"{line} [{name}]" for line in got_worse]
    if not found:
        lines.append("Nothing got worse by more than its noise.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra = args[:cut], args[cut + 1 :]
    if "--compare" in args:
        args.remove("--compare")
        names = [RESULT_FILES[n] for n in args if n in RESULT_FILES] or list(RESULT_FILES.values())
        print(guard(names))
        return 0
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
    print(guard([RESULT_FILES[name] for name, _module in chosen if name in RESULT_FILES]))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
