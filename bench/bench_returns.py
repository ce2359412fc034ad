"""Benchmark the quarterly data return at national size, on a PostgreSQL server it starts.

About 120,000 cases a year over 290 MARAC areas (SafeLives' national dataset counts about
that many cases a year across the MARACs of England and Wales), bulk-generated with COPY
into one migrated database: the areas, a dozen agencies each with a coordinator, a chair
and a practitioner per agency, victims and perpetrators, referrals (heard or closed once
discussed; some still waiting, accepted or rejected, never on an agenda), held meetings
with their discussed agenda items, a few cases deferred from one meeting to the next, and
next quarter's meetings planned with cases listed. By default two years of history: the
rolling year the benchmark reads, and the year before it.

Then, through the hub's own service functions (what the return page and
``GET /api/v1/returns/{quarter}`` call: ``returns.services.quarter_return`` and
``returns.lifecycle.status_of``), each in a unit of work of its own as a request has, under
the actor of the area's coordinator (``agencies.services.actor_for``):

* ``returns_one_area_ms`` (p95; ``_p50`` too): the largest area's last complete quarter
  with its rolling year, ``--rounds`` times;
* ``returns_all_areas_s``: every area's return in turn, one after the other (median of
  ``--all-rounds`` passes);
* ``returns_dashboard_ms_p95`` (and ``_p50``): the largest area's dashboard (eight
  quarters of charts, ``returns.services.dashboard``), ``--rounds`` times;
* ``returns_statements_small`` and ``returns_statements_large``: the SQL statements one
  return sends for the smallest and for the largest area (SQLAlchemy's
  ``before_cursor_execute``), with the cases each area's year holds; the same for the
  dashboard (``returns_dashboard_statements_small``, ``_large``).

Goals: one area at most 200 ms, all areas at most 30 s, the same statements at both sizes.
Figures go to bench/results/returns.json (merged, unless --no-save or --quick) and are
printed as JSON.

    python -m bench.bench_returns [--rounds 50] [--all-rounds 3] [--quick] [--no-save]
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import merge_results  # noqa: E402 (after the path set-up above)

RESULTS = REPO / "bench" / "results" / "returns.json"
AREAS = 290
CASES_A_YEAR = 120_000
QUICK_AREAS = 29
GOALS = {"returns_one_area_ms": 200.0, "returns_all_areas_s": 30.0, "statements_ratio": 1.0}
SEED = 20_261_207

#: The agencies of every area: (name, agency type, sector, weight as a referrer). The
#: police refer about 64 % of cases (SafeLives: 36 % come from other agencies).
AGENCIES = (
    ("Police", "police", "statutory", 64),
    ("IDVA Service", "idva_service", "voluntary", 10),
    ("Hospital Trust", "acute_health", "statutory", 4),
    ("Surgery", "primary_care", "statutory", 2),
    ("Mental Health Trust", "mental_health", "statutory", 3),
    ("Housing", "housing", "statutory", 4),
    ("Children's Services", "childrens_social_care", "statutory", 6),
    ("Adult Social Care", "adults_social_care", "statutory", 2),
    ("Probation", "probation", "statutory", 2),
    ("Women's Aid", "specialist_ngo", "voluntary", 2),
    ("Education Safeguarding", "education", "statutory", 1),
    ("Community Safety", "other", "statutory", 0),
)
ETHNICITIES = (
    ("White British", 78),
    ("White Other", 5),
    ("Asian British", 6),
    ("Black British", 4),
    ("Mixed", 3),
    ("Arab", 1),
    ("", 2),
    ("Prefer not to say", 1),
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _noise(first: float, second: float) -> float:
    mean = (first + second) / 2
    return round(abs(first - second) / mean, 3) if mean else 0.0


# --------------------------------------------------------------------------- the data


@dataclass
class Built:
    """What the build made: per area its id, coordinator and the cases of the timed year."""

    areas: list[int] = field(default_factory=list)
    coordinators: dict[int, int] = field(default_factory=dict)
    cases: dict[int, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)


class Ids:
    """Ids handed out before the rows are written (the sequences are set afterwards)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.last[table] = self.last.get(table, 0) + 1
        return self.last[table]


def area_sizes(rng: random.Random, areas: int, cases: int) -> list[int]:
    """Cases a year per area: log-normally spread (a few large cities, many small areas),
    at least 40, summing to about ``cases``."""
    raw = [rng.lognormvariate(0, 0.7) for _ in range(areas)]
    scale = cases / sum(raw)
    return [max(40, round(r * scale)) for r in raw]


def _weighted(rng: random.Random, pairs: Iterable[tuple[Any, int]]) -> Any:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _meeting_days(starts: date, ends: date, every: int) -> list[date]:
    """Meeting days every ``every`` days from the first Tuesday on or after ``starts``."""
    day = starts + timedelta(days=(1 - starts.weekday()) % 7)
    found = []
    while day <= ends:
        found.append(day)
        day += timedelta(days=every)
    return found


def generate(
    areas: int, cases: int, years: int, quarter: Any
) -> tuple[dict[str, list[dict[str, Any]]], Built]:
    """Every row, by table, in the order they must be written; and what was built."""
    rng = random.Random(SEED)
    ids = Ids()
    rows: dict[str, list[dict[str, Any]]] = {
        "marac_areas": [],
        "agencies": [],
        "members": [],
        "member_roles": [],
        "people": [],
        "referrals": [],
        "referral_parties": [],
        "meetings": [],
        "agenda_items": [],
    }
    built = Built()
    timed_from = quarter.year_to()[0].starts_on
    timed_to = quarter.ends_on
    first_day = timed_from.replace(year=timed_from.year - (years - 1))
    moment = datetime.combine(first_day, clock_time(9), UTC)
    agency_types = [kind for _name, kind, _sector, _weight in AGENCIES]
    referrer_weights = [weight for *_rest, weight in AGENCIES]
    for n, size in enumerate(area_sizes(rng, areas, cases), start=1):
        area_id = ids.next("marac_areas")
        code = f"A{n:03d}"
        rows["marac_areas"].append(
            {"id": area_id, "name": f"Area {n:03d} MARAC", "created_at": moment}
        )
        agencies = []
        practitioners = []
        for name, kind, sector, _weight in AGENCIES:
            agency_id = ids.next("agencies")
            agencies.append(agency_id)
            rows["agencies"].append(
                {
                    "id": agency_id,
                    "area_id": area_id,
                    "name": f"Area {n:03d} {name}",
                    "type": kind,
                    "sector": sector,
                    "isp_signed_on": date(2025, 1, 1),
                    "isp_signed_by": "Chief Officer",
                    "isp_review_due_on": date(2030, 1, 1),
                    "created_at": moment,
                }
            )
            member_id = ids.next("members")
            practitioners.append(member_id)
            rows["members"].append(
                {
                    "id": member_id,
                    "agency_id": agency_id,
                    "name": f"{name} Practitioner {n:03d}",
                    "email": f"practitioner.{agency_id}@{code.lower()}.bench.test",
                    "created_at": moment,
                }
            )
            rows["member_roles"].append({"member_id": member_id, "role": "practitioner"})
        by_type = dict(zip(agency_types, agencies, strict=True))
        for role, agency_type in (("coordinator", "other"), ("chair", "police")):
            member_id = ids.next("members")
            rows["members"].append(
                {
                    "id": member_id,
                    "agency_id": by_type[agency_type],
                    "name": f"{role.title()} {n:03d}",
                    "email": f"{role}@{code.lower()}.bench.test",
                    "created_at": moment,
                }
            )
            rows["member_roles"].append({"member_id": member_id, "role": role})
            if role == "coordinator":
                coordinator = member_id
            else:
                chair = member_id
        built.areas.append(area_id)
        built.coordinators[area_id] = coordinator
        # Meetings: weekly for the largest areas, fortnightly, or monthly for small ones.
        every = 7 if size > 900 else 14 if size > 300 else 28
        last_day = timed_to + timedelta(days=91)  # next quarter's meetings, planned
        days = _meeting_days(first_day, last_day, every)
        meeting_ids = []
        for day in days:
            meeting_id = ids.next("meetings")
            meeting_ids.append(meeting_id)
            held = day <= timed_to
            rows["meetings"].append(
                {
                    "id": meeting_id,
                    "area_id": area_id,
                    "held_on": day,
                    "start_time": clock_time(10),
                    "kind": "scheduled",
                    "cadence": "weekly" if every == 7 else "fortnightly" if every == 14 else "",
                    "cutoff_on": day - timedelta(days=5),
                    "status": "held" if held else "planned",
                    "chair_id": chair,
                    "coordinator_id": coordinator,
                    "closed_at": datetime.combine(day, clock_time(13), UTC) if held else None,
                    "closed_by_id": chair if held else None,
                    "created_by_id": coordinator,
                    "created_at": datetime.combine(day - timedelta(days=30), clock_time(9), UTC),
                }
            )
        held_meetings = [i for i, day in enumerate(days) if day <= timed_to]
        # Referrals: a case is a victim-perpetrator pair; about 2 % name two perpetrators.
        per_year = round(size / 1.02)
        referrals = per_year * years
        earlier: list[tuple[int, int, int]] = []  # (referral, victim, perpetrator)
        positions: dict[int, int] = {}
        counted = 0
        for k in range(referrals):
            referral_id = ids.next("referrals")
            slot = held_meetings[min(len(held_meetings) - 1, k * len(held_meetings) // referrals)]
            meeting_day = days[slot]
            referred_on = meeting_day - timedelta(days=rng.randint(7, 20))
            repeat = bool(earlier) and rng.random() < 0.3
            if repeat:
                previous, victim_id, perpetrator_id = rng.choice(earlier[-per_year:])
            else:
                previous = None
                victim_id, perpetrator_id = ids.next("people"), ids.next("people")
                ethnicity = _weighted(rng, ETHNICITIES)
                rows["people"].append(
                    {
                        "id": victim_id,
                        "area_id": area_id,
                        "given_name": "Victim",
                        "family_name": f"{code}-{referral_id}",
                        "born_on": referred_on - timedelta(days=rng.randint(16 * 365, 70 * 365))
                        if rng.random() < 0.97
                        else None,
                        "gender": _weighted(rng, (("Female", 90), ("Male", 6), ("", 4))),
                        "language": "English",
                        "ethnicity": ethnicity,
                        "disability": _weighted(rng, (("no", 70), ("yes", 10), ("not_known", 20))),
                        "lgbt": _weighted(rng, (("no", 70), ("yes", 2), ("not_known", 28))),
                        "match_key": f" victim {code.lower()}-{referral_id} ",
                        "created_at": moment,
                    }
                )
                rows["people"].append(
                    {
                        "id": perpetrator_id,
                        "area_id": area_id,
                        "given_name": "Perpetrator",
                        "family_name": f"{code}-{referral_id}",
                        "born_on": referred_on - timedelta(days=rng.randint(15 * 365, 70 * 365))
                        if rng.random() < 0.9
                        else None,
                        "gender": "Male",
                        "match_key": f" perpetrator {code.lower()}-{referral_id} ",
                        "created_at": moment,
                    }
                )
            earlier.append((referral_id, victim_id, perpetrator_id))
            agency_id = agencies[rng.choices(range(len(agencies)), referrer_weights)[0]]
            submitted = datetime.combine(referred_on, clock_time(11), UTC)
            closed = rng.random() < 0.6
            rows["referrals"].append(
                {
                    "id": referral_id,
                    "area_id": area_id,
                    "reference": f"{code}-{referred_on.year}-{referral_id:06d}",
                    "status": "closed" if closed else "heard",
                    "referring_agency_id": agency_id,
                    "referrer_id": practitioners[agencies.index(agency_id)],
                    "victim_id": victim_id,
                    "referred_on": referred_on,
                    "visible_high_risk": True,
                    "incidents_12m": rng.randint(1, 6),
                    "is_repeat": repeat,
                    "previous_referral_id": previous,
                    "children_count": _weighted(
                        rng, ((0, 40), (1, 25), (2, 20), (3, 8), (4, 3), (None, 4))
                    ),
                    "referral_basis": "public_task",
                    "submitted_at": submitted,
                    "decided_at": submitted + timedelta(days=1),
                    "decided_by_id": coordinator,
                    "closed_at": submitted + timedelta(days=60) if closed else None,
                    "closed_by_id": coordinator if closed else None,
                    "created_at": submitted,
                    "updated_at": submitted,
                }
            )
            pairs = [perpetrator_id]
            if rng.random() < 0.02:  # a second perpetrator: a second case
                second = ids.next("people")
                rows["people"].append(
                    {
                        "id": second,
                        "area_id": area_id,
                        "given_name": "Perpetrator",
                        "family_name": f"{code}-{referral_id}-2",
                        "born_on": referred_on - timedelta(days=rng.randint(15 * 365, 60 * 365)),
                        "gender": "Male",
                        "match_key": f" perpetrator {code.lower()}-{referral_id}-2 ",
                        "created_at": moment,
                    }
                )
                pairs.append(second)
            for person_id in pairs:
                rows["referral_parties"].append(
                    {
                        "id": ids.next("referral_parties"),
                        "referral_id": referral_id,
                        "person_id": person_id,
                        "role": "perpetrator",
                        "relationship_to_victim": "Ex-partner",
                    }
                )
            # Heard where it is discussed; about 3 % deferred from the meeting before.
            deferred_from = None
            if slot > 0 and rng.random() < 0.03:
                before = meeting_ids[slot - 1]
                positions[before] = positions.get(before, 0) + 1
                deferred_from = ids.next("agenda_items")
                rows["agenda_items"].append(
                    _item(deferred_from, before, referral_id, positions[before], repeat)
                    | {"status": "deferred", "deferral_kind": "information"}
                )
            meeting_id = meeting_ids[slot]
            positions[meeting_id] = positions.get(meeting_id, 0) + 1
            rows["agenda_items"].append(
                _item(
                    ids.next("agenda_items"), meeting_id, referral_id, positions[meeting_id], repeat
                )
                | {"status": "discussed", "deferred_from_item_id": deferred_from}
            )
            if timed_from <= meeting_day <= timed_to:
                counted += len(pairs)
        built.cases[area_id] = counted
        # Referrals never heard: waiting, accepted for the next meetings (listed), rejected.
        planned = [i for i, day in enumerate(days) if day > timed_to]
        for k in range(max(3, per_year // 6)):
            referral_id = ids.next("referrals")
            victim_id = ids.next("people")
            rows["people"].append(
                {
                    "id": victim_id,
                    "area_id": area_id,
                    "given_name": "Victim",
                    "family_name": f"{code}-{referral_id}",
                    "born_on": date(1990, 1, 1),
                    "gender": "Female",
                    "ethnicity": "White British",
                    "match_key": f" victim {code.lower()}-{referral_id} ",
                    "created_at": moment,
                }
            )
            status = ("submitted", "accepted", "rejected")[k % 3]
            on = timed_to + timedelta(days=1 + k % 60)
            rows["referrals"].append(
                {
                    "id": referral_id,
                    "area_id": area_id,
                    "reference": f"{code}-{on.year}-{referral_id:06d}",
                    "status": status,
                    "referring_agency_id": agencies[0],
                    "referrer_id": practitioners[0],
                    "victim_id": victim_id,
                    "referred_on": on,
                    "children_count": 1,
                    "referral_basis": "public_task",
                    "submitted_at": datetime.combine(on, clock_time(11), UTC),
                    "created_at": datetime.combine(on, clock_time(10), UTC),
                    "updated_at": datetime.combine(on, clock_time(11), UTC),
                }
            )
            if status == "accepted" and planned:
                meeting_id = meeting_ids[planned[k % len(planned)]]
                positions[meeting_id] = positions.get(meeting_id, 0) + 1
                rows["agenda_items"].append(
                    _item(ids.next("agenda_items"), meeting_id, referral_id, positions[meeting_id])
                )
    built.totals = {table: len(found) for table, found in rows.items()}
    return rows, built


def _item(
    item_id: int, meeting_id: int, referral_id: int, position: int, repeat: bool = False
) -> dict[str, Any]:
    return {
        "id": item_id,
        "meeting_id": meeting_id,
        "referral_id": referral_id,
        "position": position,
        "is_repeat": repeat,
        "status": "listed",
    }


def write(app: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    """COPY every table's rows, each column as the hub's model would fill it (its default
    where the row leaves it out), then move each table's id sequence past the rows."""
    from psycopg import sql

    from hub.core.db import Base

    engine = app.extensions["hub.db"].engine
    tables = Base.metadata.tables
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        with driver.cursor() as cursor:
            for name, found in rows.items():
                table = tables[name]
                columns = list(table.columns)
                json_columns = {c.name for c in columns if c.type.__class__.__name__ == "JSON"}
                defaults: dict[str, Any] = {}
                for column in columns:
                    default = column.default
                    if column.name in json_columns:
                        defaults[column.name] = []
                    elif default is None:
                        defaults[column.name] = None
                    elif getattr(default, "is_scalar", False):
                        defaults[column.name] = default.arg  # type: ignore[attr-defined]
                    else:  # the one callable default the models use: now()
                        defaults[column.name] = fixed
                names = [c.name for c in columns]
                statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
                    table=sql.Identifier(name),
                    columns=sql.SQL(", ").join(map(sql.Identifier, names)),
                )
                with cursor.copy(statement) as copy:
                    for row in found:
                        values = []
                        for column_name in names:
                            value = row.get(column_name, defaults[column_name])
                            if column_name in json_columns:
                                value = json.dumps(value)
                            elif isinstance(value, enum.Enum):
                                value = value.value
                            values.append(value)
                        copy.write_row(values)
                if "id" in table.columns and found:
                    cursor.execute(
                        sql.SQL(
                            "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                            "(SELECT max(id) FROM {table}))"
                        ).format(name=sql.Literal(name), table=sql.Identifier(name))
                    )
        driver.commit()
    finally:
        raw.close()


def vacuum(app: Any) -> None:
    from sqlalchemy import text

    engine = app.extensions["hub.db"].engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


# --------------------------------------------------------------------------- the timing


def coordinator_actor(app: Any, member_id: int) -> Any:
    """The actor the area's coordinator acts as when signed in."""
    from agencies.services import actor_for, get_member
    from hub.core import db

    with app.app_context(), db.unit_of_work():
        return actor_for(get_member(member_id))


def one_return(app: Any, who: Any, quarter: Any) -> tuple[int, int]:
    """What the return page and the API compute for one area: the quarter with its rolling
    year, and the lifecycle's status (warnings, latest version), in one unit of work."""
    from hub.core import db
    from returns import lifecycle, services

    with app.app_context(), db.unit_of_work():
        found = services.quarter_return(who, quarter)
        life = lifecycle.status_of(who, quarter, found)
    return found.year_totals["cases_total"], len(life.warnings)


def dashboard(app: Any, who: Any, quarter: Any) -> int:
    """The dashboard's charts for the two years to the quarter."""
    from hub.core import db
    from returns import services

    with app.app_context(), db.unit_of_work():
        return len(services.dashboard(who, quarter).charts)


@contextmanager
def counting(app: Any) -> Iterator[list[int]]:
    from sqlalchemy import event

    engine = app.extensions["hub.db"].engine
    found = [0]

    def count(*_args: Any) -> None:
        found[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", count)


def run(areas: int, cases: int, years: int, rounds: int, all_rounds: int) -> dict[str, Any]:
    import logging

    from bench.bench_todo import make_app
    from hub.core.clock import today_london
    from returns.compute import Quarter
    from tests.support.pgserver import PostgresServer

    logging.disable(logging.WARNING)
    quarter = Quarter.containing(today_london()).previous
    server = PostgresServer(
        settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    )
    server.start()
    app = None
    try:
        app = make_app(server, "returns_bench")
        started = time.monotonic()
        rows, built = generate(areas, cases, years, quarter)
        generated = time.monotonic() - started
        write(app, rows)
        del rows
        vacuum(app)
        build_s = time.monotonic() - started
        print(
            f"{sum(built.cases.values()):,} cases in the year over {areas} areas built in "
            f"{build_s:.0f} s ({generated:.0f} s generating)",
            file=sys.stderr,
        )
        actors = {a: coordinator_actor(app, built.coordinators[a]) for a in built.areas}
        small = min(built.areas, key=lambda a: built.cases[a])
        large = max(built.areas, key=lambda a: built.cases[a])
        for area in (small, large):  # warm the caches, check the counts
            counted, _warnings = one_return(app, actors[area], quarter)
            if counted != built.cases[area]:
                raise RuntimeError(
                    f"area {area}: {counted} cases counted, {built.cases[area]} built"
                )
        load_before = os.getloadavg()[0]
        one: list[float] = []
        small_ms: list[float] = []
        for _ in range(rounds):
            for area, into in ((large, one), (small, small_ms)):
                began = time.perf_counter()
                one_return(app, actors[area], quarter)
                into.append((time.perf_counter() - began) * 1000)
        charts: list[float] = []
        for _ in range(rounds):
            began = time.perf_counter()
            dashboard(app, actors[large], quarter)
            charts.append((time.perf_counter() - began) * 1000)
        passes: list[float] = []
        for _ in range(all_rounds):
            began = time.perf_counter()
            for area in built.areas:
                one_return(app, actors[area], quarter)
            passes.append(time.perf_counter() - began)
        statements = {}
        for label, area in (("small", small), ("large", large)):
            with counting(app) as found:
                one_return(app, actors[area], quarter)
            statements[label] = found[0]
            with counting(app) as found:
                dashboard(app, actors[area], quarter)
            statements[f"dashboard_{label}"] = found[0]
        half = len(one) // 2
        figures: dict[str, Any] = {
            "returns_one_area_ms": round(_percentile(one, 0.95), 1),
            "returns_one_area_ms_p50": round(statistics.median(one), 1),
            "returns_one_area_cases": built.cases[large],
            "returns_small_area_ms_p95": round(_percentile(small_ms, 0.95), 1),
            "returns_small_area_ms_p50": round(statistics.median(small_ms), 1),
            "returns_small_area_cases": built.cases[small],
            "returns_dashboard_ms_p95": round(_percentile(charts, 0.95), 1),
            "returns_dashboard_ms_p50": round(statistics.median(charts), 1),
            "returns_dashboard_statements_small": statements["dashboard_small"],
            "returns_dashboard_statements_large": statements["dashboard_large"],
            "returns_all_areas_s": round(statistics.median(passes), 2),
            "returns_all_areas_s_max": round(max(passes), 2),
            "returns_statements_small": statements["small"],
            "returns_statements_large": statements["large"],
            "statements_ratio": round(statements["large"] / statements["small"], 3),
            "quarter": quarter.key,
            "areas": areas,
            "cases_in_year": sum(built.cases.values()),
            "years_of_history": years,
            "rows": built.totals,
            "rounds": rounds,
            "all_rounds": all_rounds,
            "build_seconds": round(build_s),
            "durable": True,
            "load_average": round((load_before + os.getloadavg()[0]) / 2, 2),
            "cpus": os.cpu_count(),
            "machine": f"{platform.machine()} {platform.python_version()}",
            "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "goals": GOALS,
        }
        figures["goals_met"] = {key: figures[key] <= goal for key, goal in GOALS.items()}
        figures["noise"] = {
            "returns_one_area_ms": _noise(
                _percentile(one[:half], 0.95), _percentile(one[half:], 0.95)
            ),
            "returns_one_area_ms_p50": _noise(
                statistics.median(one[:half]), statistics.median(one[half:])
            ),
            "returns_all_areas_s": _noise(min(passes), max(passes)) if len(passes) > 1 else 0.2,
        }
        return figures
    finally:
        if app is not None:
            app.extensions["hub.db"].dispose()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="timed returns of one area")
    parser.add_argument("--all-rounds", type=int, default=3, help="passes over all areas")
    parser.add_argument("--years", type=int, default=2, help="years of history (1 or more)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_AREAS} areas, a tenth of the cases, one year; prints, never saves",
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        areas, cases, years, rounds = QUICK_AREAS, CASES_A_YEAR // 10, 1, 20
    else:
        areas, cases, years, rounds = AREAS, CASES_A_YEAR, max(1, args.years), args.rounds
    figures = run(areas, cases, years, rounds, args.all_rounds)
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
