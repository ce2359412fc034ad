"""Benchmark the disclosure ledger on a real PostgreSQL server it starts itself.

Measures, with the figures merged into bench/results/audit.json:

* disclosures_per_s_unaudited / disclosures_per_s_audited and their ratio: WRITERS writer
  processes, each running one transaction after another for the same number of seconds.
  Each transaction inserts one small domain row and commits; audited, it also records one
  ledger entry (audit.ledger.record_in) in the same transaction, while the sealer leader
  (audit.sealer.run_sealer, in a process of its own as under `hub scheduler`) seals
  concurrently. Goal: ratio >= 0.85.
* seal_latency_ms_p50 / _p99 (commit to sealed), from the audited runs, with the machine
  saturated: each writer notes the time its commit returned for every entry; the sealer
  notes the time each of its batches committed. Goal: p99 <= 250 ms. The same, with the
  writers paced well below saturation (--paced-rate commits/s in all), as
  seal_latency_ms_p50_paced / _p99_paced.
* seal_lag_p99_ms_under_load: the same paced writers (--paced-rate, 200 commits/s in all)
  for --under-load-seconds, while a transaction that has written something stays open for
  30 seconds in another database on the same server (as a report or a migration of another
  application would). Sealing must not wait for it.
* inclusion_proof_ms at 1,000,000 entries, in PostgreSQL, through
  audit.services.prove_inclusion: the entries, leaves and subtree hashes are built with
  audit.merkle.TreeBuilder and bulk-loaded with COPY, a checkpoint is signed, then proofs
  for random indexes are timed (each one checked with audit.merkle.verify_inclusion
  against the entry's own bytes, outside the timing). Goal: <= 1 ms.

The server runs with production durability by default (fsync, synchronous_commit and
full_page_writes on), since the ratio depends on what a commit costs; --fast uses the test
suite's non-durable settings instead.

    python -m bench.bench_ledger [--seconds 10] [--writers 8] [--entries 1000000] [--fast]
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results" / "audit.json"
SPAWN = multiprocessing.get_context("spawn")
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
DOMAIN_TABLE = """
CREATE TABLE bench_disclosures (
    id bigserial PRIMARY KEY,
    referral_id integer NOT NULL,
    member_id integer NOT NULL,
    purpose varchar(40) NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
)
"""


# --- writer and sealer processes ---------------------------------------------------------------


def _writer(
    url: str,
    number: int,
    audited: bool,
    seconds: float,
    rate: float,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    from sqlalchemy import text

    from audit.ledger import Subject, record_in
    from hub.core.access import Actor
    from hub.core.db import Database, UnitOfWork

    database = Database(url, pool_size=1, max_overflow=0)
    actor = Actor(
        kind="member",
        member_id=1000 + number,
        agency_id=1 + number % 5,
        area_id=1,
        roles=frozenset(),
        name="bench",
    )
    insert = text(
        "INSERT INTO bench_disclosures (referral_id, member_id, purpose) "
        "VALUES (:referral, :member, 'referral:viewed')"
    )
    rng = random.Random(number)
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    ready.put(number)
    go.wait(120)
    commits = 0
    marks: list[tuple[int, float]] = []
    cpu = time.process_time()
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        if rate:
            # Paced: transaction k starts at k / rate, so the load stays below saturation.
            pause = started + commits / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        referral = rng.randrange(1, 100_000)
        uow = UnitOfWork(database)
        try:
            uow.session.execute(insert, {"referral": referral, "member": actor.member_id})
            entry = None
            if audited:
                entry = record_in(
                    uow.session,
                    actor,
                    "case:viewed",
                    Subject("referral", referral),
                    {"case": referral % 5000, "purpose": "triage"},
                )
            uow.commit()
            committed_at = time.time()
        finally:
            uow.close()
        commits += 1
        if entry is not None:
            marks.append((entry.id, committed_at))
    elapsed = time.monotonic() - started
    out.put((number, commits, elapsed, marks, time.process_time() - cpu))
    database.dispose()


def _sealer(url: str, stop: Any, ready: Any, out: Any) -> None:
    from audit.ledger import tree_size
    from audit.sealer import run_sealer
    from hub.core.db import Database

    database = Database(url)
    with database.session_factory() as session:
        base = tree_size(session)
    batches: list[tuple[float, int]] = []
    cpu = time.process_time()
    run_sealer(
        database,
        stop,  # a multiprocessing Event: is_set() and wait() as run_sealer needs
        on_batch=lambda count: batches.append((time.time(), count)),
        on_leader=lambda: ready.put("leader"),
    )
    out.put((base, batches, time.process_time() - cpu))
    database.dispose()


# --- throughput and seal latency ---------------------------------------------------------------

ELSEWHERE = "bench_elsewhere"


def _hold_elsewhere(server: Any, after: float, hold: float) -> None:
    """Keep a writing transaction open in another database for ``hold`` seconds."""
    time.sleep(after)
    with server.connect(ELSEWHERE, autocommit=False) as conn:
        conn.execute("INSERT INTO long_work (note) VALUES ('a long report')")
        time.sleep(hold)
        conn.commit()


def server_cpu_seconds(postmaster: int) -> float:
    """CPU time the PostgreSQL server has used: postmaster, live backends, reaped ones."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid: int | str) -> list[str]:
        raw = Path(f"/proc/{pid}/stat").read_text()
        return raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "

    own = fields(postmaster)
    # utime, stime, cutime, cstime are fields 14-17 of stat; here 0-based from field 3.
    total = sum(int(v) for v in own[11:15])
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = fields(entry)
        except (OSError, ValueError):
            continue
        if int(stat[1]) == postmaster:
            total += int(stat[11]) + int(stat[12])
    return total / tick


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_writers(
    server: Any,
    template: str,
    name: str,
    *,
    audited: bool,
    writers: int,
    seconds: float,
    rate: float = 0.0,
    elsewhere: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One timed run in a fresh database; return commits per second (and latencies).

    ``elsewhere`` = (after, hold): ``after`` seconds into the run, a transaction that has
    written a row opens in another database on the same server and stays open ``hold``
    seconds.
    """
    from sqlalchemy import text

    from hub.core.db import Database

    server.create_database(name, template=template)
    url = server.admin_url(name)
    sealer = None
    sealer_out = SPAWN.Queue()
    stop = SPAWN.Event()
    if audited:
        leader = SPAWN.Queue()
        sealer = SPAWN.Process(target=_sealer, args=(url, stop, leader, sealer_out), daemon=True)
        sealer.start()
        leader.get(timeout=60)
    ready, go, out = SPAWN.Queue(), SPAWN.Event(), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=_writer,
            args=(url, n, audited, seconds, rate / writers, ready, go, out),
            daemon=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    load = os.getloadavg()[0]
    server_cpu = server_cpu_seconds(server.pid)
    holder = None
    if elsewhere is not None:
        holder = threading.Thread(target=_hold_elsewhere, args=(server, *elsewhere), daemon=True)
    go.set()
    if holder is not None:
        holder.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    if holder is not None:
        holder.join(60)
    for proc in procs:
        proc.join(30)
    commits = sum(r[1] for r in results)
    elapsed = statistics.mean(r[2] for r in results)
    run: dict[str, Any] = {
        "commits": commits,
        "seconds": elapsed,
        "per_s": commits / elapsed,
        "loadavg_1m_before": load,
    }
    run["cpu_s_writers"] = sum(r[4] for r in results)
    if not audited:
        time.sleep(0.5)  # let the server reap the writers' backends
        run["cpu_s_sealer"] = 0.0
        run["cpu_s_server"] = server_cpu_seconds(server.pid) - server_cpu
    database = Database(url)
    try:
        if audited:
            assert sealer is not None
            deadline = time.monotonic() + 120
            while True:
                with database.engine.connect() as conn:
                    waiting = conn.execute(
                        text(
                            "SELECT count(*) FROM audit_entries e WHERE NOT EXISTS "
                            "(SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)"
                        )
                    ).scalar_one()
                if not waiting or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            stop.set()
            base, batches, sealer_cpu = sealer_out.get(timeout=60)
            sealer.join(30)
            run["cpu_s_sealer"] = sealer_cpu
            run["cpu_s_server"] = server_cpu_seconds(server.pid) - server_cpu
            with database.engine.connect() as conn:
                index_of = dict(conn.execute(text("SELECT entry_id, idx FROM audit_leaves")).all())
            # The sealer placed leaves base.., batch after batch: batch k covers up to ends[k].
            ends: list[int] = []
            times: list[float] = []
            size = base
            for at, count in batches:
                size += count
                ends.append(size)
                times.append(at)
            latencies: list[float] = []
            unsealed = 0
            for _, _, _, marks, _ in results:
                for entry_id, committed_at in marks:
                    idx = index_of.get(entry_id)
                    if idx is None:
                        unsealed += 1
                        continue
                    batch = bisect.bisect_right(ends, idx)
                    latencies.append((times[batch] - committed_at) * 1000)
            run.update(
                {
                    "entries": sum(len(r[3]) for r in results),
                    "unsealed_after_run": unsealed,
                    "seal_batches": len(batches),
                    "seal_batch_mean": (sum(c for _, c in batches) / len(batches))
                    if batches
                    else 0,
                    "latency_ms_p50": percentile(latencies, 0.50),
                    "latency_ms_p90": percentile(latencies, 0.90),
                    "latency_ms_p99": percentile(latencies, 0.99),
                    "latency_ms_max": max(latencies, default=float("nan")),
                }
            )
    finally:
        database.dispose()
        server.drop_database(name)
    cpu = run["cpu_s_writers"] + run["cpu_s_sealer"] + run["cpu_s_server"]
    run["cpu_ms_per_commit"] = cpu * 1000 / commits
    run["cpu_ms_per_commit_writers"] = run["cpu_s_writers"] * 1000 / commits
    run["cpu_ms_per_commit_server"] = run["cpu_s_server"] * 1000 / commits
    run["cpu_ms_per_commit_sealer"] = run["cpu_s_sealer"] * 1000 / commits
    return run


def measure_throughput(
    server: Any,
    *,
    writers: int,
    seconds: float,
    rounds: int,
    paced_rate: float,
    skip_paced: bool = False,
    under_load_seconds: float = 0.0,
) -> dict[str, Any]:
    from hub.core.migrate import upgrade

    template = "bench_template"
    server.create_database(template)
    upgrade(server.admin_url(template))
    with server.connect(template) as conn:
        conn.execute(DOMAIN_TABLE)
    unaudited: list[dict[str, Any]] = []
    audited: list[dict[str, Any]] = []
    for round_ in range(rounds):
        # Alternate, so a slow spell on a shared machine does not favour one side.
        for mode in ("unaudited", "audited"):
            run = run_writers(
                server,
                template,
                f"bench_{mode}_{round_}",
                audited=mode == "audited",
                writers=writers,
                seconds=seconds,
            )
            (audited if mode == "audited" else unaudited).append(run)
            extra = (
                f", seal p50 {run['latency_ms_p50']:.1f} ms p99 {run['latency_ms_p99']:.1f} ms"
                if mode == "audited"
                else ""
            )
            print(
                f"  round {round_ + 1} {mode:>9}: {run['per_s']:8.1f} commits/s, "
                f"{run['cpu_ms_per_commit']:.2f} CPU ms/commit{extra} "
                f"(load {run['loadavg_1m_before']:.1f})",
                file=sys.stderr,
                flush=True,
            )
    paced = None
    if paced_rate and not skip_paced:
        # Seal latency when the machine is not saturated: the same writers, paced.
        paced = run_writers(
            server,
            template,
            "bench_paced",
            audited=True,
            writers=writers,
            seconds=seconds,
            rate=paced_rate,
        )
        print(
            f"  paced ({paced_rate:g}/s)  audited: {paced['per_s']:8.1f} commits/s, seal p50 "
            f"{paced['latency_ms_p50']:.1f} ms p99 {paced['latency_ms_p99']:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    under_load = None
    if under_load_seconds and paced_rate:
        under_load = measure_under_load(
            server, template, writers=writers, seconds=under_load_seconds, rate=paced_rate
        )
    server.drop_database(template)
    results: dict[str, Any] = {"ledger_bench_runs": {}}
    if rounds:
        results.update(_throughput_results(unaudited, audited))
    if paced is not None:
        results.update(
            {
                "seal_latency_paced_per_s": round(paced["per_s"], 1),
                "seal_latency_ms_p50_paced": round(paced["latency_ms_p50"], 1),
                "seal_latency_ms_p99_paced": round(paced["latency_ms_p99"], 1),
                "seal_latency_ms_max_paced": round(paced["latency_ms_max"], 1),
            }
        )
        results["ledger_bench_runs"]["paced"] = [_rounded(paced)]
    if under_load is not None:
        results["ledger_bench_runs"].update(under_load.pop("ledger_bench_runs"))
        results.update(under_load)
    return results


#: Seconds into the under-load run at which the transaction elsewhere opens, and how long it
#: stays open.
UNDER_LOAD_AFTER = 5.0
UNDER_LOAD_HOLD = 30.0


def measure_under_load(
    server: Any, template: str, *, writers: int, seconds: float, rate: float
) -> dict[str, Any]:
    """Paced audited writers while a 30-second transaction is open in another database."""
    server.create_database(ELSEWHERE)
    try:
        with server.connect(ELSEWHERE) as conn:
            conn.execute("CREATE TABLE long_work (id bigserial PRIMARY KEY, note text)")
        run = run_writers(
            server,
            template,
            "bench_under_load",
            audited=True,
            writers=writers,
            seconds=seconds,
            rate=rate,
            elsewhere=(UNDER_LOAD_AFTER, UNDER_LOAD_HOLD),
        )
    finally:
        server.drop_database(ELSEWHERE)
    run["elsewhere_after_s"] = UNDER_LOAD_AFTER
    run["elsewhere_hold_s"] = UNDER_LOAD_HOLD
    print(
        f"  under load ({rate:g}/s, a {UNDER_LOAD_HOLD:g} s transaction in another database): "
        f"seal p50 {run['latency_ms_p50']:.1f} ms p99 {run['latency_ms_p99']:.1f} ms "
        f"max {run['latency_ms_max']:.1f} ms",
        file=sys.stderr,
        flush=True,
    )
    return {
        "seal_lag_p99_ms_under_load": round(run["latency_ms_p99"], 1),
        "seal_lag_p50_ms_under_load": round(run["latency_ms_p50"], 1),
        "seal_lag_max_ms_under_load": round(run["latency_ms_max"], 1),
        "ledger_bench_runs": {"under_load": [_rounded(run)]},
    }


def _throughput_results(
    unaudited: list[dict[str, Any]], audited: list[dict[str, Any]]
) -> dict[str, Any]:
    plain = statistics.mean(r["per_s"] for r in unaudited)
    ledger = statistics.mean(r["per_s"] for r in audited)
    cpu_plain = statistics.mean(r["cpu_ms_per_commit"] for r in unaudited)
    cpu_ledger = statistics.mean(r["cpu_ms_per_commit"] for r in audited)
    return {
        "disclosures_per_s_unaudited": round(plain, 1),
        "disclosures_per_s_audited": round(ledger, 1),
        "ratio": round(ledger / plain, 3),
        "cpu_ms_per_disclosure_unaudited": round(cpu_plain, 3),
        "cpu_ms_per_disclosure_audited": round(cpu_ledger, 3),
        "cpu_ms_per_disclosure_audited_writers": round(
            statistics.mean(r["cpu_ms_per_commit_writers"] for r in audited), 3
        ),
        "cpu_ms_per_disclosure_audited_server": round(
            statistics.mean(r["cpu_ms_per_commit_server"] for r in audited), 3
        ),
        "cpu_ms_per_disclosure_audited_sealer": round(
            statistics.mean(r["cpu_ms_per_commit_sealer"] for r in audited), 3
        ),
        "cpu_ratio": round(cpu_plain / cpu_ledger, 3),
        "seal_latency_ms_p50": round(statistics.median(r["latency_ms_p50"] for r in audited), 1),
        "seal_latency_ms_p99": round(max(r["latency_ms_p99"] for r in audited), 1),
        "seal_latency_ms_max": round(max(r["latency_ms_max"] for r in audited), 1),
        "ledger_bench_runs": {
            "unaudited": [_rounded(r) for r in unaudited],
            "audited": [_rounded(r) for r in audited],
        },
    }


def _rounded(run: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in run.items()}


# --- what PostgreSQL alone allows on this machine -------------------------------------------

#: pgbench scripts: the benchmark's transactions from a C client, so client-side Python
#: costs nothing and no sealer runs. "entry_only" adds a bare ledger entry shaped like
#: record_in's (about 200 bytes, stamped with the transaction id); "entry" adds it as
#: record_in writes it, with its four search references in the same statement;
#: "entry_notify" adds a NOTIFY to that, as writers did to wake the sealer before it polled.
#: The simple protocol for all: pgbench cannot type the entry's parameters.
PGBENCH_SCRIPTS = {
    "plain": """\\set r random(1, 100000)
BEGIN;
INSERT INTO bench_disclosures (referral_id, member_id, purpose) VALUES (:r, 1001, 'triage');
COMMIT;
""",
    "entry": """\\set r random(1, 100000)
\\set c :r % 5000
BEGIN;
INSERT INTO bench_disclosures (referral_id, member_id, purpose) VALUES (:r, 1001, 'triage');
WITH e AS (INSERT INTO audit_entries (body, action, at, txid) VALUES (convert_to(format(
'{"action":"referral%1$sviewed","actor":{"agency":2,"kind":"member","member":1001},"at":"%2$s",'
'"case":%3$s,"id":"%4$s","purpose":"triage","request":null,"subject":{"id":%5$s,"type":"referral"},'
'"v":1}', chr(58), clock_timestamp()::text, :c,
md5(clock_timestamp()::text), :r), 'UTF8'), 'referral' || chr(58) || 'viewed', now(),
pg_current_xact_id()::text::bigint) RETURNING id),
r AS (INSERT INTO audit_entry_refs (entry_id, kind, ref) SELECT e.id, w.value ->> 0, w.value ->> 1
FROM e, json_array_elements(json_build_array(json_build_array('agency', '2'),
json_build_array('case', :c::text), json_build_array('member', '1001'),
json_build_array('referral', :r::text))) AS w)
SELECT e.id FROM e;
COMMIT;
""",
}
_ENTRY_ONLY_TAIL = "RETURNING id) SELECT e.id FROM e;\nCOMMIT;\n"
PGBENCH_SCRIPTS["entry_only"] = (
    PGBENCH_SCRIPTS["entry"].split("RETURNING id),")[0] + _ENTRY_ONLY_TAIL
)
PGBENCH_SCRIPTS["entry_notify"] = PGBENCH_SCRIPTS["entry"].replace(
    "COMMIT;", "NOTIFY audit_entries;\nCOMMIT;"
)


def measure_ceiling(server: Any, *, writers: int, seconds: float, rounds: int) -> dict[str, Any]:
    """The same transactions from pgbench: the ratio PostgreSQL itself allows on this machine."""
    import re
    import subprocess
    import tempfile

    from hub.core.migrate import upgrade
    from tests.support.pgserver import find_bindir

    pgbench = find_bindir() / "pgbench"
    if not pgbench.is_file():
        print("  pgbench not found: ceiling skipped", file=sys.stderr)
        return {}
    template = "bench_ceiling_template"
    server.create_database(template)
    upgrade(server.admin_url(template))
    with server.connect(template) as conn:
        conn.execute(DOMAIN_TABLE)
    tps: dict[str, list[float]] = {name: [] for name in PGBENCH_SCRIPTS}
    with tempfile.TemporaryDirectory() as folder:
        for name, script in PGBENCH_SCRIPTS.items():
            Path(folder, f"{name}.sql").write_text(script)
        for round_ in range(rounds):
            for name in PGBENCH_SCRIPTS:
                database = f"bench_ceiling_{name}_{round_}"
                server.create_database(database, template=template)
                url = server.admin_url(database).replace("postgresql+psycopg://", "postgresql://")
                try:
                    done = subprocess.run(
                        [
                            str(pgbench),
                            "-n",
                            "-c",
                            str(writers),
                            "-j",
                            "2",
                            "-T",
                            f"{seconds:g}",
                            "-M",
                            "simple",
                            "-f",
                            str(Path(folder, f"{name}.sql")),
                            url,
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=seconds + 120,
                    )
                finally:
                    server.drop_database(database)
                found = re.search(r"tps = ([0-9.]+)", done.stdout)
                if found is None or "failed transactions: 0 " not in done.stdout:
                    raise RuntimeError(f"pgbench {name}: {done.stdout[-500:]}{done.stderr[-500:]}")
                tps[name].append(float(found.group(1)))
                print(
                    f"  round {round_ + 1} pgbench {name:>5}: {tps[name][-1]:8.1f} tps",
                    file=sys.stderr,
                    flush=True,
                )
    server.drop_database(template)
    plain = statistics.mean(tps["plain"])
    results: dict[str, Any] = {"pgbench_tps_unaudited": round(plain, 1)}
    for name in ("entry_only", "entry", "entry_notify"):
        mean = statistics.mean(tps[name])
        results[f"pgbench_tps_{name}"] = round(mean, 1)
        results[f"pgbench_ratio_{name}"] = round(mean / plain, 3)
    return results


# --- inclusion proofs at a million entries -----------------------------------------------------


def load_ledger(server: Any, name: str, entries: int) -> list[bytes]:
    """Bulk-load a sealed ledger of ``entries`` entries; return the entry bytes."""
    from audit import merkle
    from bench.bench_verify import make_entry
    from hub.core.migrate import upgrade

    server.create_database(name)
    upgrade(server.admin_url(name))
    rng = random.Random(20261123)
    started = time.perf_counter()
    bodies = [make_entry(i, rng, 1_760_000_000.0) for i in range(entries)]
    builder = merkle.TreeBuilder()
    leaf_hash = merkle.leaf_hash
    nodes = [node for body in bodies for node in builder.append(leaf_hash(body))]
    print(
        f"  built {entries} entries and {len(nodes)} subtree hashes in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with server.connect(name, autocommit=False) as conn:
        conn.execute("SET synchronous_commit = off")
        txid = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        with conn.cursor() as cur:
            with cur.copy(
                "COPY audit_entries (id, body, action, at, txid) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "bytea", "varchar", "timestamptz", "int8"])
                for i, body in enumerate(bodies):
                    action = body[body.index(b'"action":"') + 10 :].split(b'"', 1)[0].decode()
                    copy.write_row((i + 1, body, action, at + timedelta(seconds=i), txid))
            with cur.copy(
                "COPY audit_leaves (idx, entry_id, sealed_at) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int8", "timestamptz"])
                for i in range(entries):
                    copy.write_row((i, i + 1, at))
            with cur.copy("COPY audit_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int8", "bytea"])
                for node in nodes:
                    copy.write_row(node)
            cur.execute(
                "INSERT INTO audit_seal_batches (first_idx, count, horizon, sealed_at) "
                "VALUES (0, %s, %s, now())",
                (entries, txid + 1),
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), %s)", (entries,)
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE audit_entries")
        conn.execute("VACUUM ANALYZE audit_leaves")
        conn.execute("VACUUM ANALYZE audit_nodes")
    print(f"  loaded into PostgreSQL in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return bodies


def measure_proofs(server: Any, entries: int, proofs: int) -> dict[str, Any]:
    from audit import merkle, note, services
    from hub.core.db import Database

    name = "bench_proofs"
    bodies = load_ledger(server, name, entries)
    database = Database(server.admin_url(name))
    origin = "marac-hub.example/ledger"
    key = services.SigningKey(note.generate_signer_key("marac-hub.example"), origin)
    try:
        with database.session_factory() as session:
            checkpoint = services.sign_checkpoint(session, key)
            assert checkpoint is not None and checkpoint.tree_size == entries
            session.commit()
            root = note.open_checkpoint(checkpoint.note, key.vkey, origin).root
        assert root == merkle.root_from_leaves([merkle.leaf_hash(b) for b in bodies])
        rng = random.Random(9162)
        picks = [rng.randrange(entries) for _ in range(proofs)]
        warm = [rng.randrange(entries) for _ in range(200)]
        # In one open transaction, as an auditor's page would ask (its own cost only).
        in_session: list[float] = []
        with database.session_factory() as session:
            for index in warm:
                services.prove_inclusion(session, index)
            for index in picks:
                started = time.perf_counter()
                proof = services.prove_inclusion(session, index)
                in_session.append((time.perf_counter() - started) * 1000)
                assert proof is not None
                merkle.verify_inclusion(
                    index, entries, merkle.leaf_hash(bodies[index]), proof.proof, root
                )
        # Each in a transaction of its own, as `hub audit prove` does.
        own: list[float] = []
        for index in picks[: max(1, proofs // 4)]:
            started = time.perf_counter()
            with database.session_factory() as session:
                proof = services.prove_inclusion(session, index)
            own.append((time.perf_counter() - started) * 1000)
            assert proof is not None
        # How many statements one proof sends to the server.
        statements = count_statements(database, picks[0])
    finally:
        database.dispose()
        server.drop_database(name)
    return {
        "inclusion_proof_entries": entries,
        "inclusion_proof_ms": round(statistics.median(in_session), 4),
        "inclusion_proof_ms_postgres": round(statistics.median(in_session), 4),
        "inclusion_proof_ms_mean": round(statistics.mean(in_session), 4),
        "inclusion_proof_ms_p99": round(percentile(in_session, 0.99), 4),
        "inclusion_proof_ms_own_transaction": round(statistics.median(own), 4),
        "inclusion_proof_statements": statements,
    }


def count_statements(database: Any, index: int) -> int:
    from sqlalchemy import event

    from audit import services

    seen = []

    def count(*_: Any) -> None:
        seen.append(1)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.session_factory() as session:
            services.prove_inclusion(session, index)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    return len(seen)


# --- main --------------------------------------------------------------------------------------


def save(results: dict[str, Any]) -> None:
    merged: dict[str, Any] = {}
    if RESULTS.exists():
        try:
            merged = json.loads(RESULTS.read_text())
        except ValueError:
            merged = {}
    previous = merged.get("inclusion_proof_ms")
    if (
        "inclusion_proof_ms" in results
        and previous is not None
        and previous != merged.get("inclusion_proof_ms_postgres")
    ):
        # bench_verify writes its in-memory proof figure under the same key: keep it
        # under a name of its own before this benchmark's PostgreSQL figure replaces it.
        merged["inclusion_proof_ms_memory"] = previous
    merged.pop("inclusion_proof_source", None)
    runs = {**merged.get("ledger_bench_runs", {}), **results.pop("ledger_bench_runs", {})}
    merged.update(results)
    if runs:
        # A partial run (say, only --under-load-seconds) keeps the other runs' records.
        merged["ledger_bench_runs"] = runs
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="unaudited/audited run pairs")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=200.0,
        help="total commits/s of an extra paced audited run for seal latency (0: skip)",
    )
    parser.add_argument("--skip-paced", action="store_true", help="no paced run (under load stays)")
    parser.add_argument(
        "--under-load-seconds",
        type=float,
        default=45.0,
        help="length of the paced run with a 30 s transaction open in another database (0: skip)",
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger size for proofs")
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--fast", action="store_true", help="non-durable server settings")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    parser.add_argument("--skip-ceiling", action="store_true", help="no pgbench comparison")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results alone")
    args = parser.parse_args(argv)

    from tests.support.pgserver import PostgresServer

    settings = {} if args.fast else DURABLE
    server = PostgresServer(settings={**settings, "max_connections": "100"}).start()
    results: dict[str, Any] = {}
    try:
        with server.connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        if not args.skip_throughput:
            print(
                f"ledger throughput: {args.writers} writer processes, {args.seconds:g} s a run, "
                f"{args.rounds} rounds ({'non-durable' if args.fast else 'durable'} server)",
                file=sys.stderr,
                flush=True,
            )
            results.update(
                measure_throughput(
                    server,
                    writers=args.writers,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    paced_rate=args.paced_rate,
                    skip_paced=args.skip_paced,
                    under_load_seconds=args.under_load_seconds,
                )
            )
        if not args.skip_ceiling:
            print(
                "what PostgreSQL alone allows: the same transactions from pgbench", file=sys.stderr
            )
            results.update(
                measure_ceiling(
                    server, writers=args.writers, seconds=args.seconds, rounds=args.rounds
                )
            )
        if not args.skip_proofs:
            print(f"inclusion proofs at {args.entries} entries", file=sys.stderr, flush=True)
            results.update(measure_proofs(server, args.entries, args.proofs))
    finally:
        server.stop()
    results.update(
        {
            "ledger_bench_writers": args.writers,
            "ledger_bench_seconds": args.seconds,
            "ledger_bench_server": f"PostgreSQL {version}, "
            + ("fsync/synchronous_commit off" if args.fast else "fsync and synchronous_commit on"),
            "ledger_bench_cpus": os.cpu_count(),
            "ledger_bench_python": platform.python_version(),
            "ledger_bench_measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    print(json.dumps(results, indent=2))
    if not args.no_save:
        save(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
