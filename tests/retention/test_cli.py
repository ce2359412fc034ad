"""`hub retention run`: what the nightly job does, from the command line."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.core import db
from retention.models import RetentionReview, ReviewStatus
from tests.retention.conftest import a_year, adopt


def test_hub_retention_run_queues_what_expired_on_the_day_given(
    app, world, database_url, tmp_path, monkeypatch
) -> None:
    year = a_year(world)
    adopt(year.coordinator)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HUB_ENV", "development")
    runner = CliRunner()
    early = runner.invoke(main, ["retention", "run"], catch_exceptions=False)
    assert early.exit_code == 0, early.output
    assert "Retention run done for 1 area." in early.output and "queued" not in early.output
    later = runner.invoke(
        main, ["retention", "run", "--today", "2040-01-01"], catch_exceptions=False
    )
    assert later.exit_code == 0, later.output
    assert "Area 1: queued 17 (actions 2, case 3," in later.output
    with db.unit_of_work(app.extensions["hub.db"]) as uow:
        statuses = {
            (r.case_id, r.record_class.value): r.status
            for r in uow.session.execute(select(RetentionReview)).scalars()
        }
    assert statuses[(year.heard[0], "case")] is ReviewStatus.DUE
    assert (year.other, "case") in statuses  # not held: due too, by 2040


def test_the_scheduler_runs_retention_daily() -> None:
    from apscheduler.util import ref_to_obj

    from hub.scheduler import JOBS
    from retention.jobs import run_retention

    (job,) = [j for j in JOBS if j[0] == "retention-nightly"]
    assert ref_to_obj(job[1]) is run_retention and job[2] == {"hours": 24}
