"""The nightly retention run, for the one scheduler process (and ``hub retention run``)."""

from __future__ import annotations

import logging
from datetime import date

from hub.core.access import Actor
from hub.core.clock import today_london
from hub.core.db import Database, unit_of_work
from retention import services

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("scheduler")


def run_retention(
    *, today: date | None = None, database: Database | None = None, actor: Actor = SCHEDULER
) -> list[tuple[int, dict[str, int], dict[str, int]]]:
    """Queue what has expired and destroy what was confirmed, one area per transaction.

    Each area's destruction is one unit of work: it removes all it removes, with its one
    ledger entry, or nothing. One area that fails is logged and the others still run.
    """
    from sqlalchemy import select

    from agencies.models import MaracArea

    day = today or today_london()
    with unit_of_work(database) as uow:
        areas = list(uow.session.execute(select(MaracArea.id).order_by(MaracArea.id)).scalars())
    done = []
    failed: list[int] = []
    for area_id in areas:
        try:
            with unit_of_work(database):
                queued = services.queue_expired(actor, area_id, day)
                destroyed = services.destroy_due(actor, area_id, day)
        except Exception:
            log.exception("retention run for area %s failed; the other areas still run", area_id)
            failed.append(area_id)
            continue
        if queued or destroyed.classes:
            log.info(
                "retention, area %s: queued %s, destroyed %s",
                area_id,
                dict(queued),
                dict(destroyed.classes),
            )
        done.append((area_id, dict(queued), dict(destroyed.classes)))
    if failed:
        raise RetentionFailed(failed, done)
    return done


class RetentionFailed(RuntimeError):
    """Some areas' runs failed (each rolled back whole); the others' are done."""

    def __init__(self, areas: list[int], done: list[tuple[int, dict[str, int], dict[str, int]]]):
        super().__init__(f"the retention run failed for areas {areas}; see the log")
        self.areas = areas
        self.done = done
