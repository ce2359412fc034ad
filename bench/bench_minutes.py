"""Benchmark the restricted minutes PDF: the whole path against WeasyPrint alone.

Builds a real conference on a fresh, migrated SQLite database (the embedded default) through
the hub's own services: an area, its agencies and people, N accepted referrals, a meeting
with realistic minutes per case (the six sections in the practice order, three agencies'
contributions, two actions), closed and approved by the chair. Then measures:

* minutes_pdf_s_16_cases / minutes_pdf_s_40_cases: ``meetings.minutes.render_minutes`` for
  the coordinator, full minutes: one gate decision and ledger entry per case, building the
  document, Jinja, WeasyPrint, hashing, and the ``minutes:downloaded`` entry, committed;
* weasyprint_bare_s_16_cases: ``weasyprint.HTML(string=...).write_pdf()`` alone on the same
  HTML, captured from a render beforehand (the same locked-down URL fetcher);
* ratio_16 = minutes_pdf_s_16_cases / weasyprint_bare_s_16_cases.

Each figure is the median of --runs timed runs after one warm-up. Goals: 16 cases <= 1.5 s,
40 cases <= 4 s, ratio <= 1.3. Results are merged into bench/results/minutes.json.

    python -m bench.bench_minutes [--runs 5] [--no-save]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results" / "minutes.json"
BASE_URL = "http://127.0.0.1:5000"
GOALS = {"minutes_pdf_s_16_cases": 1.5, "minutes_pdf_s_40_cases": 4.0, "ratio_16": 1.3}

GIVEN = [
    "Aisha",
    "Beth",
    "Carla",
    "Dana",
    "Eva",
    "Fiona",
    "Gita",
    "Hana",
    "Iris",
    "Jade",
    "Kira",
    "Lena",
    "Maya",
    "Nina",
    "Olga",
    "Pia",
    "Rosa",
    "Sara",
    "Tara",
    "Uma",
]
FAMILY = [
    "Archer",
    "Bowen",
    "Carver",
    "Dalton",
    "Ellery",
    "Fenwick",
    "Garner",
    "Hollis",
    "Ingram",
    "Jarvis",
    "Kemble",
    "Lowther",
    "Marlow",
    "Norris",
    "Oakley",
    "Prescott",
    "Quill",
    "Radley",
    "Sutton",
    "Tolley",
]
SECTIONS = {
    "referrer_summary": (
        "Police attended on Friday night after neighbours reported screaming. The victim had "
        "red marks to her neck and said he had held her against the wall until she could not "
        "breathe. This is the fourth call-out since June; he was arrested and bailed with "
        "conditions not to contact her or attend the address. The DASH scored 16 Yes, "
        "including strangulation, threats to kill and escalating jealousy since separation."
    ),
    "victim_views": (
        "The IDVA spoke to her on Monday at a safe time. She wants to stay in her flat with the "
        "children and asks for better locks and a panic alarm. She fears his brother more than "
        "him, because the brother has been seen outside the school. She agrees to the sharing "
        "of information with health and housing but not with her employer."
    ),
    "risk_victim": (
        "High risk of serious harm, likely before the trial date in March: strangulation, a "
        "breach of bail last week and the separation all point to escalation."
    ),
    "risk_children": (
        "Two children aged 4 and 7 witnessed the assault. Children's social care has opened "
        "an assessment; the school has been asked to flag any contact by either brother."
    ),
    "risk_perpetrator": (
        "He is drinking heavily, has lost his job and has told friends he has nothing left to "
        "lose. Probation has no current order; police will review his bail conditions."
    ),
    "risk_professionals": (
        "He threatened a housing officer in March. Visits to the address are to be made in "
        "pairs, and no one is to discuss the referral with him or his family."
    ),
}
CONTRIBUTIONS = [
    (
        "police",
        "Four calls for service since June, two with injuries; bail conditions in force "
        "until the trial; a marker is on the address for an immediate response.",
    ),
    (
        "health",
        "Attended A&E on 3 October with bruising to the neck, saying she fell; the GP "
        "notes low mood and anxiety since the summer.",
    ),
    (
        "housing",
        "Tenancy in her sole name; a repair visit in March was abandoned after he "
        "threatened staff; a sanctuary assessment can be arranged within a week.",
    ),
]
ACTIONS = [
    (
        "police",
        "Review bail conditions with the officer in the case and add an address marker "
        "for an immediate response to any call.",
    ),
    (
        "idva",
        "Agree a safety plan with the victim this week and update her on the outcome of "
        "the meeting at a safe time.",
    ),
]


def _build(cases: int) -> tuple[Any, int, Any]:
    """A fresh hub with one conference of `cases` cases, approved; (app, meeting id, actor)."""
    from agencies import services as agencies
    from agencies.models import AgencyType, Sector
    from cases import checklists
    from cases import services as referrals
    from consent.categories import ConsentState
    from hub.app import create_app
    from hub.core import db
    from hub.core.access import Actor, Role
    from hub.core.clock import today_london
    from hub.core.config import Settings
    from hub.core.migrate import upgrade
    from meetings import conduct, minutes, services
    from meetings.models import Meeting, MeetingKind

    folder = Path(tempfile.mkdtemp(prefix="bench-minutes-"))
    url = f"sqlite:///{folder / 'hub.sqlite3'}"
    upgrade(url)
    app = create_app(
        Settings(
            env="test",
            secret_key="bench-" + "x" * 40,
            database_url=url,
            instance_path=str(folder / "instance"),
            demo=False,
            base_url=BASE_URL,
        )
    )
    system = Actor.system("bench")
    with db.unit_of_work():
        area = agencies.create_area(system, name="Benchshire MARAC")
        made = {}
        for key, kind, sector in (
            ("csp", AgencyType.OTHER, Sector.STATUTORY),
            ("police", AgencyType.POLICE, Sector.STATUTORY),
            ("health", AgencyType.ACUTE_HEALTH, Sector.STATUTORY),
            ("housing", AgencyType.HOUSING, Sector.STATUTORY),
            ("idva", AgencyType.IDVA_SERVICE, Sector.VOLUNTARY),
        ):
            made[key] = agencies.create_agency(
                system,
                area,
                agencies.AgencyData(
                    name=f"Benchshire {key.title()}",
                    type=kind,
                    sector=sector,
                    isp_signed_on=date(2026, 1, 1),
                    isp_signed_by="Chief Officer",
                    isp_review_due_on=date(2030, 1, 1),
                    email_domains=f"{key}.bench",
                ),
            )
        people = {}
        for key, agency, roles in (
            ("coordinator", "csp", {Role.COORDINATOR}),
            ("chair", "csp", {Role.CHAIR}),
            ("police", "police", {Role.MARAC_REP, Role.PRACTITIONER}),
            ("health", "health", {Role.MARAC_REP, Role.PRACTITIONER}),
            ("housing", "housing", {Role.MARAC_REP, Role.PRACTITIONER}),
            ("idva", "idva", {Role.MARAC_REP, Role.PRACTITIONER}),
        ):
            people[key] = agencies.add_member(
                system,
                agencies.MemberData(
                    name=f"{key.title()} Person",
                    email=f"{key}@{agency}.bench",
                    agency_id=made[agency].id,
                    roles=frozenset(roles),
                ),
            )
        actors = {k: agencies.actor_for(m) for k, m in people.items()}
        agency_ids = {k: a.id for k, a in made.items()}
    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    answers = {q.id: {"answer": "yes" if n < 16 else "no"} for n, q in enumerate(questions)}
    referrer = actors["police"]
    for n in range(cases):
        with db.unit_of_work():
            referral = referrals.start_referral(referrer)
            referrals.save_victim(
                referrer,
                referral,
                referrals.PersonData(
                    given_name=GIVEN[n % 20],
                    family_name=FAMILY[n // 20 * 7 % 20] + str(n),
                    born_on=date(1980 + n % 20, 1 + n % 12, 1 + n % 28),
                ),
            )
            referrals.save_perpetrator(
                referrer,
                referral,
                referrals.PersonData(
                    given_name="Perp", family_name=f"Person{n}", born_on=date(1975, 1, 1)
                ),
                relationship="Ex-partner",
                children="Two children",
                children_count=2,
            )
            referrals.save_risk(
                referrer,
                referral,
                referrals.RiskData(checklist=checklists.DEFAULT_CHECKLIST, answers=answers),
            )
            referrals.save_details(
                referrer,
                referral,
                referrals.DetailsData(
                    incident="Assault at home; police attended.", victim_aware=True
                ),
            )
            referrals.save_whereabouts(
                referrer, referral, referrals.WhereaboutsData(address=f"Flat {n}, 1 Hidden Road")
            )
            referrals.save_sharing(
                referrer,
                referral,
                referrals.SharingChoice(state=ConsentState.GIVEN, evidence="In person, alone"),
            )
            referrals.submit_referral(referrer, referral)
            referrals.accept_referral(actors["coordinator"], referral)
    coordinator, chair = actors["coordinator"], actors["chair"]
    with db.unit_of_work() as uow:
        (meeting,) = services.schedule_meetings(
            coordinator,
            services.ScheduleData(
                first_on=today_london() + timedelta(days=14),
                start_time=clock_time(10, 0),
                venue="Civic Centre",
                kind=MeetingKind.AD_HOC,
            ),
        )
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting)
        meeting_id = meeting.id
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, meeting_id)
        conduct.mark_confidentiality_read(chair, meeting)
        for key in ("police", "health", "housing", "idva"):
            conduct.record_attendance(
                chair,
                meeting,
                conduct.AttendanceData(
                    kind="present",
                    agency_id=agency_ids[key],
                    name=f"{key.title()} Person",
                    role="MARAC representative",
                ),
            )
        for item in meeting.items:
            conduct.save_discussion(
                chair,
                meeting,
                item,
                {
                    **SECTIONS,
                    "informs_victim_agency_id": agency_ids["idva"],
                    "informs_victim_name": "Idva Person",
                },
            )
            for key, text in CONTRIBUTIONS:
                conduct.add_contribution(chair, meeting, item, agency_ids[key], text)
            for key, text in ACTIONS:
                conduct.add_action(
                    chair,
                    meeting,
                    item,
                    conduct.ActionData(
                        text=text,
                        owner_member_id=people[key].id,
                        due_on=today_london() + timedelta(days=7),
                    ),
                )
            conduct.set_outcome(chair, meeting, item, "discussed")
        held_on = meeting.held_on
    import time_machine

    from hub.core.clock import LONDON

    # A meeting is closed on its day: the clock moves to it for the close alone.
    with (
        time_machine.travel(datetime.combine(held_on, clock_time(15), LONDON)),
        db.unit_of_work() as uow,
    ):
        conduct.close_meeting(chair, uow.session.get(Meeting, meeting_id))
    with db.unit_of_work() as uow:
        minutes.approve_minutes(chair, uow.session.get(Meeting, meeting_id))
    return app, meeting_id, coordinator


def _render(app: Any, meeting_id: int, actor: Any, hook: Any = None) -> Any:
    from hub.core import db
    from meetings import minutes
    from meetings.models import Meeting

    with app.app_context(), db.unit_of_work(app.extensions["hub.db"]) as uow:
        return minutes.render_minutes(
            actor,
            uow.session.get(Meeting, meeting_id),
            minutes.SCOPE_FULL,
            base_url=BASE_URL,
            html_hook=hook,
        )


def _median_seconds(work: Any, runs: int) -> tuple[float, list[float]]:
    work()  # warm-up: fonts, templates, caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), timings


def measure(cases: int, runs: int) -> dict[str, Any]:
    from meetings import pdf

    app, meeting_id, coordinator = _build(cases)
    captured: dict[str, str] = {}

    def keep(html: str) -> str:
        captured["html"] = html
        return html

    sample = _render(app, meeting_id, coordinator, keep)
    full, full_runs = _median_seconds(lambda: _render(app, meeting_id, coordinator), runs)
    html = captured["html"]
    bare, bare_runs = _median_seconds(
        lambda: pdf.html_to_pdf(html, base_url=BASE_URL, fetcher=pdf.StaticOnlyFetcher(BASE_URL)),
        runs,
    )
    app.extensions["hub.db"].dispose()
    return {
        "cases": cases,
        "full_s": round(full, 4),
        "bare_s": round(bare, 4),
        "full_runs": [round(t, 4) for t in full_runs],
        "bare_runs": [round(t, 4) for t in bare_runs],
        "pages": len(__import__("pypdf").PdfReader(__import__("io").BytesIO(sample.data)).pages),
        "pdf_bytes": len(sample.data),
        "html_bytes": len(html),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results alone")
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("todo.notify").setLevel(logging.ERROR)
    sixteen = measure(16, args.runs)
    forty = measure(40, args.runs)
    results: dict[str, Any] = {
        "minutes_pdf_s_16_cases": sixteen["full_s"],
        "minutes_pdf_s_40_cases": forty["full_s"],
        "weasyprint_bare_s_16_cases": sixteen["bare_s"],
        "weasyprint_bare_s_40_cases": forty["bare_s"],
        "ratio_16": round(sixteen["full_s"] / sixteen["bare_s"], 3),
        "ratio_40": round(forty["full_s"] / forty["bare_s"], 3),
        "minutes_bench_detail": {"16": sixteen, "40": forty},
        "minutes_bench_database": "sqlite (embedded default, fresh and migrated)",
        "minutes_bench_runs": args.runs,
        "minutes_bench_measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "minutes_bench_python": platform.python_version(),
        "minutes_bench_cpus": os.cpu_count(),
        # Other work on the machine inflates every figure: the load when the run ended.
        "minutes_bench_loadavg_1m": round(os.getloadavg()[0], 2),
        "minutes_bench_goals": GOALS,
    }
    results["minutes_bench_goals_met"] = {key: results[key] <= goal for key, goal in GOALS.items()}
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
