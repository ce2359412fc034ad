"""Benchmark retention on a PostgreSQL server it starts: destroying 10,000 expired cases,
the pages of an unrelated area while that runs, and one subject's bundle from a ledger of
1,000,000 entries.

The areas' history is bulk-generated with COPY by ``bench.bench_returns`` (victims,
perpetrators, referrals heard or closed, held meetings with their agenda items): eleven
areas with about 11,000 cases in the year, each area's coordinator adopting the default
policy (six years from the last referral) except one, the unrelated area. A million ledger
entries are then written with COPY, each a gate disclosure naming one case of any area
(about 90 per case), as the ledger of a hub that has run for some years would hold.

* ``destroy_10k_s``: ``hub retention run`` as a process of its own (what the nightly job
  does), on the day six years and a month after the year, destroying every confirmed case
  of the ten areas (``destroyed_cases`` says how many): the run's wall time less that of
  the same command with nothing to destroy (start-up and the queue pass), in each area one
  unit of work with its one ledger entry;
* ``unrelated_p95_ratio``: the case page of the unrelated area as its coordinator sees it
  (``cases.services.open_case`` through the gate, with its ledger entry, in a unit of
  work), p95 while the destruction runs over its p95 before; goal at most 1.5;
* ``sar_bundle_s``: ``subject_access.services.build`` for one victim of the unrelated area,
  reading her cases through the gate and her disclosures from the million-entry ledger by
  its indexed references (median of ``--rounds``); goal at most 2 s.

Figures go to bench/results/retention.json (merged, unless --no-save or --quick).

    python -m bench.bench_retention [--rounds 5] [--quick] [--no-save]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import merge_results  # noqa: E402 (after the path set-up above)

RESULTS = REPO / "bench" / "results" / "retention.json"
AREAS = 11
CASES = 11_000
LEDGER_ENTRIES = 1_000_000
GOALS = {"unrelated_p95_ratio": 1.5, "sar_bundle_s": 2.0}
SEED = 20_261_208


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def write_ledger(
    app: Any, case_areas: dict[int, int], members: dict[int, tuple[int, int]], n: int
) -> None:
    """COPY ``n`` gate disclosures, each naming one case, with their search references."""
    rng = random.Random(SEED)
    cases = sorted(case_areas)
    engine = app.extensions["hub.db"].engine
    raw = engine.raw_connection()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        driver = raw.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # the hub's limit is for requests
            cursor.execute("SELECT coalesce(max(id), 0) FROM audit_entries")
            first = int(cursor.fetchone()[0]) + 1
            refs: list[tuple[int, str, str]] = []
            with cursor.copy("COPY audit_entries (id, body, action, at) FROM STDIN") as copy:
                for k in range(n):
                    entry_id = first + k
                    case_id = cases[rng.randrange(len(cases))]
                    area = case_areas[case_id]
                    member, agency = members[area]
                    at = moment + timedelta(seconds=k)
                    body = {
                        "action": "case:viewed",
                        "actor": {
                            "agency": agency,
                            "area": area,
                            "kind": "member",
                            "member": member,
                        },
                        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "bases": ["referral:6(1)(e):9(2)(g)"],
                        "case": case_id,
                        "categories": ["identity", "risk"],
                        "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                        "purpose": "marac",
                        "relation": "coordinator",
                        "request": uuid.UUID(int=rng.getrandbits(128)).hex,
                        "subject": {"id": case_id, "type": "case"},
                        "v": 1,
                        "withheld": ["whereabouts"],
                    }
                    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
                    copy.write_row((entry_id, encoded, "case:viewed", at))
                    refs += [
                        (entry_id, "case", str(case_id)),
                        (entry_id, "member", str(member)),
                        (entry_id, "agency", str(agency)),
                        (entry_id, "area", str(area)),
                    ]
            with cursor.copy("COPY audit_entry_refs (entry_id, kind, ref) FROM STDIN") as copy:
                for row in refs:
                    copy.write_row(row)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), "
                "(SELECT max(id) FROM audit_entries))"
            )
            cursor.execute("RESET statement_timeout")
        driver.commit()
    finally:
        raw.close()


def vacuum(app: Any) -> None:
    from sqlalchemy import text

    engine = app.extensions["hub.db"].engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SET statement_timeout = 0"))
        connection.execute(text("VACUUM ANALYZE"))
        connection.execute(text("RESET statement_timeout"))


def run(areas: int, cases: int, entries: int, rounds: int) -> dict[str, Any]:
    import logging

    from sqlalchemy import func, select, update

    from agencies import services as agencies
    from agencies.models import Member
    from bench.bench_returns import generate, write
    from bench.bench_todo import make_app
    from cases import services as referrals
    from cases.models import Referral
    from hub.core import db
    from hub.core.access import Role
    from hub.core.clock import today_london
    from retention import policy, services
    from retention.jobs import run_retention
    from retention.models import Erasure, RetentionReview, ReviewStatus
    from returns.compute import Quarter
    from subject_access import services as sar
    from subject_access.models import RequestStatus, SubjectAccessRequest
    from tests.support.pgserver import PostgresServer

    logging.disable(logging.WARNING)
    quarter = Quarter.containing(today_london()).previous
    server = PostgresServer(
        settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    )
    server.start()
    app = None
    try:
        app = make_app(server, "retention_bench")
        database = app.extensions["hub.db"]
        started = time.monotonic()
        rows, built = generate(areas, cases, 1, quarter)
        write(app, rows)
        del rows
        # The unrelated area: a middling one, which adopts no policy and so loses nothing.
        unrelated = sorted(built.areas, key=lambda a: built.cases[a])[len(built.areas) // 2]
        coordinators = {a: agencies_actor(app, built.coordinators[a]) for a in built.areas}
        rules = {
            c.value: (r.months, r.trigger.value, r.action.value) for c, r in policy.DEFAULTS.items()
        }
        for area in built.areas:
            if area == unrelated:
                continue
            with db.unit_of_work(database):
                policy.adopt_policy(
                    coordinators[area], policy.PolicyData(rules, "Benchmark schedule")
                )
        with db.unit_of_work(database) as uow:
            case_areas = {
                r[0]: r[1] for r in uow.session.execute(select(Referral.id, Referral.area_id))
            }
            members = {}
            for area in built.areas:
                member = uow.session.get_one(Member, built.coordinators[area])
                members[area] = (member.id, member.agency_id)
        write_ledger(app, case_areas, members, entries)
        vacuum(app)
        print(f"built in {time.monotonic() - started:.0f} s", file=sys.stderr)

        # Queue, and confirm every case, as the coordinators would have over the weeks.
        day = services.months_after(quarter.ends_on, 73)
        run_retention(today=day, database=database)
        with db.unit_of_work(database) as uow:
            uow.session.execute(
                update(RetentionReview)
                .where(RetentionReview.status == ReviewStatus.DUE)
                .values(status=ReviewStatus.CONFIRMED)
            )
            confirmed = len(
                set(
                    uow.session.execute(
                        select(RetentionReview.case_id).where(
                            RetentionReview.status == ReviewStatus.CONFIRMED,
                            RetentionReview.record_class == "case",
                        )
                    ).scalars()
                )
            )
        vacuum(app)

        # The unrelated area's case page before, and while, the destruction runs.
        who = coordinators[unrelated]
        pages = [c for c, a in case_areas.items() if a == unrelated]

        def case_page() -> float:
            began = time.perf_counter()
            with db.unit_of_work(database):
                referrals.open_case(who, random.choice(pages))
            return (time.perf_counter() - began) * 1000

        for _ in range(50):
            case_page()
        before = [case_page() for _ in range(400)]
        env = {
            **os.environ,
            "DATABASE_URL": server.admin_url("retention_bench"),
            "HUB_ENV": "development",
            "HUB_INSTANCE_PATH": app.instance_path,
            "PYTHONPATH": str(REPO),
        }
        command = [
            sys.executable,
            "-c",
            "from hub.cli import main; main()",
            "retention",
            "run",
            "--today",
            day.isoformat(),
        ]
        during: list[float] = []
        done = threading.Event()
        wall: list[float] = []
        output: list[str] = []

        def destroy() -> None:
            began = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            wall.append(time.perf_counter() - began)
            output.append(result.stdout + result.stderr)
            done.set()

        worker = threading.Thread(target=destroy)
        worker.start()
        while not done.is_set():
            during.append(case_page())
        worker.join()
        began = time.perf_counter()
        idle = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        idle_s = time.perf_counter() - began
        if idle.returncode != 0:
            raise RuntimeError(f"the second run failed: {idle.stdout}{idle.stderr}")
        with db.unit_of_work(database) as uow:
            destroyed = uow.session.scalar(select(func.count()).select_from(Erasure)) or 0
            left = uow.session.scalar(
                select(func.count())
                .select_from(RetentionReview)
                .where(RetentionReview.status == ReviewStatus.CONFIRMED)
            )
        if destroyed != confirmed or left:
            raise RuntimeError(f"{destroyed} of {confirmed} cases destroyed: {output[0][-3000:]}")

        # One victim's subject access bundle, from the million-entry ledger.
        with db.unit_of_work(database) as uow:
            case_id = pages[0]
            victim = uow.session.get_one(Referral, case_id).victim_id
            agency_id = members[unrelated][1]
        with db.unit_of_work(database):
            dpo_member = agencies.add_member(
                agencies_system(),
                agencies.MemberData(
                    name="Data Protection Officer",
                    email="dpo@bench.example",
                    agency_id=agency_id,
                    roles=frozenset({Role.AUDITOR}),
                ),
            )
            dpo_id = dpo_member.id
        dpo = agencies_actor(app, dpo_id)
        with db.unit_of_work(database) as uow:
            found = sar.receive_request(
                dpo,
                sar.RequestData("The Subject", "", "Victim", "Subject", None, today_london()),
            )
            found.subject_person_id = victim
            found.status = RequestStatus.IN_REVIEW
            request_id = found.id
        times = []
        logged = 0
        for _ in range(rounds):
            began = time.perf_counter()
            with db.unit_of_work(database) as uow:
                bundle = sar.build(dpo, uow.session.get_one(SubjectAccessRequest, request_id))
                logged = sum(len(c.log) for c in bundle.cases)
            times.append(time.perf_counter() - began)
        figures: dict[str, Any] = {
            "destroy_10k_s": round(max(wall[0] - idle_s, 0.0), 2),
            "destroy_run_wall_s": round(wall[0], 2),
            "idle_run_wall_s": round(idle_s, 2),
            "destroyed_cases": destroyed,
            "unrelated_p95_ms_before": round(_percentile(before, 0.95), 1),
            "unrelated_p95_ms_during": round(_percentile(during, 0.95), 1),
            "unrelated_pages_during": len(during),
            "unrelated_p95_ratio": round(_percentile(during, 0.95) / _percentile(before, 0.95), 2),
            "sar_bundle_s": round(statistics.median(times), 3),
            "sar_bundle_s_max": round(max(times), 3),
            "sar_bundle_disclosures": logged,
            "ledger_entries": entries,
            "areas": areas,
            "cases": len(case_areas),
            "cpus": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 2),
            "machine": f"{platform.machine()} {platform.python_version()}",
            "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "goals": GOALS,
        }
        figures["goals_met"] = {k: figures[k] <= goal for k, goal in GOALS.items()}
        return figures
    finally:
        if app is not None:
            app.extensions["hub.db"].dispose()
        server.stop()


def agencies_system() -> Any:
    from hub.core.access import Actor

    return Actor.system("bench")


def agencies_actor(app: Any, member_id: int) -> Any:
    from agencies import services as agencies
    from hub.core import db

    with db.unit_of_work(app.extensions["hub.db"]):
        return agencies.actor_for(agencies.get_member(member_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="subject access bundles built")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of everything; prints, never saves"
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        figures = run(AREAS, CASES // 10, LEDGER_ENTRIES // 10, 3)
    else:
        figures = run(AREAS, CASES, LEDGER_ENTRIES, args.rounds)
    print(json.dumps(figures, indent=2))
    if not (args.no_save or args.quick):
        merge_results(RESULTS, figures)
    met = figures["goals_met"]
    print(
        "goals met"
        if all(met.values())
        else f"goals MISSED: {[k for k, v in met.items() if not v]}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
