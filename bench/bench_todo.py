"""Benchmark a member's to-do list page on a real PostgreSQL server it starts itself.

Builds one MARAC area with 20 agencies and 500 members (25 each, one MARAC representative
per agency), 2,000 referrals, and a caseload of 40 cases per member (on the case team, and
the case given to the member's agency when another agency referred it), then tasks spread
over them the way a live hub has them: each about one of its owner's cases; nine in ten owned
by a member, one in ten in an agency's queue; one in five made from a meeting action (its
wording is minutes: the page asks the gate for a disclosure of each such case, and records
it); about 60% still open or in progress and the rest closed; due dates from 60 days ago to
60 days ahead; priorities mixed. It measures, with 10,000 and with 100,000 tasks in the table:

* ``my_list_ms_p50`` / ``my_list_ms_p95`` (100,000 tasks) and ``my_list_ms_p50_10k`` /
  ``my_list_ms_p95_10k``: server time of ``GET /tasks`` (the list filtered by the gate in the
  query, its count, the header counts, the queue count, the disclosures of the cases whose
  minutes the page shows, the owners' names, the whole page rendered), through the Flask
  test client in this process, signed in through the real sign-in pages as one of several
  sampled members in turn. The real gate decides: nothing is stubbed.
* ``my_list_ratio_100k_to_10k``: p95 at 100,000 over p95 at 10,000.
* ``my_list_cpu_ms_p50`` / ``_p95`` (and ``_10k``): this process's CPU time per request (the
  hub and the test client), and ``my_list_server_cpu_ms_mean`` (and ``_10k``): the database
  server's CPU time per request, from /proc. On a machine shared with other work the wall
  time holds everybody else's turns on the CPU as well; the CPU figures are what the page
  itself costs, and ``load_average`` says how busy the machine was.
* ``my_list_statements`` / ``my_list_statements_10k``: SQL statements one ``GET /tasks``
  sends through SQLAlchemy (median; ledger entries are written on the driver's connection
  and counted apart as ``my_list_ledger_entries``).

Goals: p95 <= 50 ms, and the 100,000 figure no more than 1.5 x the 10,000 figure.
Figures go to bench/results/todo.json (merged, unless --no-save) and are printed as JSON.

Each size gets a database of its own (same agencies, members and sampled members), and the
two are timed request by request in turn, so a busy moment on the machine hits both alike.

    python -m bench.bench_todo [--requests 300] [--members 10] [--fast]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import merge_results  # noqa: E402 (after the path set-up above)

RESULTS = REPO / "bench" / "results" / "todo.json"
AGENCIES = 20
MEMBERS = 500
REFERRALS = 2_000
CASELOAD = 40
MEETING_ACTIONS = 0.2
SIZES = (10_000, 100_000)
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway benchmark account
AGENCY_TYPES = [
    "police",
    "childrens_social_care",
    "adults_social_care",
    "acute_health",
    "primary_care",
    "mental_health",
    "housing",
    "probation",
    "idva_service",
    "specialist_ngo",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def build_people(app: Any) -> dict[str, Any]:
    """The area, agencies, members (with roles) and referrals, by bulk insert."""
    from sqlalchemy import insert, select

    from agencies.models import Agency, MaracArea, Member, MemberRole
    from cases.models import CaseTeamMember, NeedToKnowGrant, Referral
    from hub.core import db

    with app.app_context(), db.unit_of_work() as uow:
        s = uow.session
        area = MaracArea(name="Benchmark MARAC")
        s.add(area)
        s.flush()
        s.execute(
            insert(Agency),
            [
                {
                    "area_id": area.id,
                    "name": f"Agency {i:02d}",
                    "type": AGENCY_TYPES[i % 10],
                    "sector": "statutory",
                    "isp_signed_on": date(2026, 1, 1),
                    "isp_signed_by": "Chief Officer",
                    "isp_review_due_on": date(2030, 1, 1),
                }
                for i in range(AGENCIES)
            ],
        )
        agency_ids = list(s.execute(select(Agency.id).order_by(Agency.id)).scalars())
        s.execute(
            insert(Member),
            [
                {
                    "agency_id": agency_ids[i % AGENCIES],
                    "name": f"Member {i:03d}",
                    "email": f"member{i:03d}@bench.example",
                }
                for i in range(MEMBERS)
            ],
        )
        members = list(s.execute(select(Member.id, Member.agency_id).order_by(Member.id)))
        reps = {}
        roles = []
        for member_id, agency_id in members:
            roles.append({"member_id": member_id, "role": "practitioner"})
            if agency_id not in reps:
                reps[agency_id] = member_id
                roles.append({"member_id": member_id, "role": "marac_rep"})
        s.execute(insert(MemberRole), roles)
        s.execute(
            insert(Referral),
            [
                {
                    "area_id": area.id,
                    "reference": f"BM-2026-{i:05d}",
                    "status": "accepted",
                    "referring_agency_id": agency_ids[i % AGENCIES],
                    "referrer_id": members[i % MEMBERS][0],
                }
                for i in range(REFERRALS)
            ],
        )
        referrals = list(s.execute(select(Referral.id, Referral.referring_agency_id)))
        # Each member works a caseload: on the case team, and the case given to their agency
        # when another agency referred it (as sharing or an agenda would have given it).
        rng = random.Random(11)
        caseloads: dict[int, list[int]] = {}
        team, grants = [], set()
        for member_id, agency_id in members:
            load = rng.sample(referrals, CASELOAD)
            caseloads[member_id] = [r for r, _a in load]
            for referral_id, referring in load:
                team.append({"referral_id": referral_id, "member_id": member_id})
                if referring != agency_id:
                    grants.add((referral_id, agency_id))
        s.execute(insert(CaseTeamMember), team)
        s.execute(
            insert(NeedToKnowGrant),
            [
                {
                    "referral_id": referral_id,
                    "agency_id": agency_id,
                    "kind": "shared",
                    "purpose": "marac",
                    "source": "bench",
                }
                for referral_id, agency_id in sorted(grants)
            ],
        )
    return {
        "agencies": agency_ids,
        "members": members,
        "referrals": [r for r, _a in referrals],
        "caseloads": caseloads,
    }


def add_tasks(app: Any, people: dict[str, Any], count: int, start: int, seed: int) -> None:
    """Insert ``count`` tasks in batches, numbered from ``start``."""
    from sqlalchemy import insert

    from hub.core import db
    from todo.models import Task

    rng = random.Random(seed)
    today = date.today()
    moment = datetime.now(UTC)
    states = (
        ["open"] * 45
        + ["in_progress"] * 15
        + ["done"] * 30
        + ["not_possible_circumstances_changed"] * 5
        + ["not_done"] * 5
    )
    priorities = ["normal"] * 6 + ["high"] * 3 + ["urgent"]
    members = people["members"]
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with app.app_context(), db.unit_of_work() as uow:
            uow.session.execute(insert(Task), batch)
        batch.clear()

    for n in range(start, start + count):
        member_id, agency_id = members[rng.randrange(MEMBERS)]
        queued = rng.random() < 0.1
        state = rng.choice(states)
        action = rng.random() < MEETING_ACTIONS
        batch.append(
            {
                "agency_id": agency_id,
                "owner_member_id": None if queued else member_id,
                "referral_id": rng.choice(people["caseloads"][member_id]),
                "source": "meeting_action" if action else "template_item",
                "source_key": f"bench:{n}",
                "title": f"Benchmark task {n}: "
                + ("agreed action for the case" if action else "make a safety plan"),
                "details": "",
                "due_on": today + timedelta(days=rng.randint(-60, 60)),
                "priority": rng.choice(priorities),
                "state": state,
                "created_at": moment,
                "updated_at": moment,
                "closed_at": None if state in ("open", "in_progress") else moment,
                "version": 1,
            }
        )
        if len(batch) >= 5_000:
            flush()
    if batch:
        flush()


def sign_in_members(app: Any, member_ids: list[int]) -> list[Any]:
    """A signed-in test client per member, through the real sign-in pages."""
    import pyotp
    from argon2 import PasswordHasher

    from agencies.services import get_member
    from hub.auth import services as auth
    from hub.core import db
    from hub.core.access import Actor
    from hub.core.clock import now
    from tests.support.web import sign_in

    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    clients = []
    for member_id in member_ids:
        secret = pyotp.random_base32()
        with app.app_context(), db.unit_of_work():
            member = get_member(member_id)
            credential = auth.set_password(Actor.system("bench"), member, PASSWORD)
            credential.totp_secret = secret
            credential.totp_confirmed_at = now()
            email = member.email
        client = app.test_client()
        response = sign_in(client, email, PASSWORD, secret)
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed with {response.status_code}")
        clients.append(client)
    return clients


def count_statements(app: Any, client: Any) -> tuple[int, int]:
    """(SQL statements through SQLAlchemy, ledger entries written) for one GET /tasks."""
    from sqlalchemy import event, func, select

    from audit.models import AuditEntry
    from hub.core import db

    engine = app.extensions["hub.db"].engine
    seen: list[str] = []

    def count(*_args: Any) -> None:
        seen.append("")

    def entries() -> int:
        with app.app_context(), db.unit_of_work() as uow:
            return int(uow.session.execute(select(func.count(AuditEntry.id))).scalar_one())

    before = entries()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/tasks").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen), entries() - before


@dataclass
class Timings:
    """One size's requests: wall time, this process's CPU time, the database server's."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0


def measure(clients: dict[int, list[Any]], requests: int, postmaster: int) -> dict[int, Timings]:
    """Time GET /tasks, alternating between the sizes request by request.

    Wall time is what a person waits for, and on a machine shared with other work it holds
    every other process's turn on the CPU too; CPU time (the hub's, in this process, and the
    database server's) is what the page itself costs, and stays put when the machine is busy.
    """
    from bench.bench_ledger import server_cpu_seconds

    timings = {size: Timings() for size in clients}
    for group in clients.values():  # warm up every client (and the server's caches)
        for client in group:
            for _ in range(5):
                assert client.get("/tasks").status_code == 200
    for i in range(requests):
        for size, group in clients.items():
            client = group[i % len(group)]
            server_before = server_cpu_seconds(postmaster)
            cpu = time.process_time()
            started = time.perf_counter()
            response = client.get("/tasks")
            timings[size].wall_ms.append((time.perf_counter() - started) * 1000)
            timings[size].cpu_ms.append((time.process_time() - cpu) * 1000)
            timings[size].server_cpu_s += server_cpu_seconds(postmaster) - server_before
            if response.status_code != 200:
                raise RuntimeError(f"/tasks answered {response.status_code}")
    return timings


def vacuum(app: Any) -> None:
    """VACUUM ANALYZE after the bulk load, as autovacuum would do on a live server."""
    from sqlalchemy import text

    engine = app.extensions["hub.db"].engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def make_app(server: Any, name: str) -> Any:
    """A migrated database and an app on it, bound only to its own context.

    create_app binds its database as the context's default; made in a copy of the context,
    two apps in one process never reach each other's database.
    """
    import contextvars
    import tempfile

    from hub.app import create_app
    from hub.core.config import Settings
    from hub.core.migrate import upgrade

    server.create_database(name)
    url = server.admin_url(name)
    upgrade(url)
    settings = Settings(
        env="test",
        secret_key="bench-secret-key-" + "x" * 32,
        database_url=url,
        instance_path=tempfile.mkdtemp(prefix="todo-bench-"),
    )
    return contextvars.copy_context().run(create_app, settings)


def run(requests: int, sample: int, fast: bool) -> dict[str, Any]:
    """Build one database per size, then time the sizes' requests interleaved, so a busy
    moment on the machine falls on both alike."""
    import logging

    from tests.support.pgserver import PostgresServer

    logging.disable(logging.WARNING)
    durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    server = PostgresServer(settings=None if fast else durable)
    server.start()
    apps = []
    try:
        clients: dict[int, list[Any]] = {}
        by_app: dict[int, Any] = {}
        for size in SIZES:
            app = make_app(server, f"todo_bench_{size}")
            apps.append(app)
            people = build_people(app)
            add_tasks(app, people, size, 0, seed=size)
            vacuum(app)
            sampled = [m for m, _a in random.Random(7).sample(people["members"], sample)]
            clients[size] = sign_in_members(app, sampled)
            by_app[size] = app
        load_before = os.getloadavg()[0]
        timings = measure(clients, requests, server.pid)
        figures: dict[str, Any] = {}
        for size in SIZES:
            suffix = "" if size == SIZES[-1] else f"_{size // 1000}k"
            found = timings[size]
            figures[f"my_list_ms_p50{suffix}"] = round(statistics.median(found.wall_ms), 2)
            figures[f"my_list_ms_p95{suffix}"] = round(_percentile(found.wall_ms, 0.95), 2)
            figures[f"my_list_cpu_ms_p50{suffix}"] = round(statistics.median(found.cpu_ms), 2)
            figures[f"my_list_cpu_ms_p95{suffix}"] = round(_percentile(found.cpu_ms, 0.95), 2)
            figures[f"my_list_server_cpu_ms_mean{suffix}"] = round(
                found.server_cpu_s * 1000 / len(found.wall_ms), 2
            )
            counted = [count_statements(by_app[size], c) for c in clients[size]]
            figures[f"my_list_statements{suffix}"] = statistics.median(c[0] for c in counted)
            figures[f"my_list_ledger_entries{suffix}"] = statistics.median(c[1] for c in counted)
        figures["my_list_ratio_100k_to_10k"] = round(
            figures["my_list_ms_p95"] / figures["my_list_ms_p95_10k"], 3
        )
        figures["tasks"] = SIZES[-1]
        figures["agencies"] = AGENCIES
        figures["members"] = MEMBERS
        figures["requests"] = requests
        figures["members_sampled"] = sample
        figures["durable"] = not fast
        figures["load_average"] = round((load_before + os.getloadavg()[0]) / 2, 2)
        figures["cpus"] = os.cpu_count()
        figures["machine"] = f"{platform.machine()} {platform.python_version()}"
        figures["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return figures
    finally:
        for app in apps:
            app.extensions["hub.db"].dispose()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per size")
    parser.add_argument("--members", type=int, default=10, help="members signed in and sampled")
    parser.add_argument("--fast", action="store_true", help="non-durable PostgreSQL settings")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    figures = run(args.requests, args.members, args.fast)
    print(json.dumps(figures, indent=2))
    if not args.no_save:
        merge_results(RESULTS, figures)
    goals_met = figures["my_list_ms_p95"] <= 50 and figures["my_list_ratio_100k_to_10k"] <= 1.5
    print("goals met" if goals_met else "goals MISSED", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
