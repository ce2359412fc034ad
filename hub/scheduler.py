"""The one scheduler process (`hub scheduler`): periodic jobs and the ledger sealer.

Never run inside web workers: two schedulers would run every job twice. A second
`hub scheduler` waits on a lock (a PostgreSQL advisory lock, or a file lock beside the
SQLite database) and takes over when the first dies. Jobs are referenced by text and keep
stable ids; missed runs are coalesced into one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from apscheduler.schedulers.blocking import BlockingScheduler
from filelock import FileLock

from audit.sealer import libpq_url, run_sealer
from hub.core.db import Database, unit_of_work

log = logging.getLogger(__name__)
SCHEDULER_LOCK_KEY = 0x5343484544  # "SCHED"
_app: Any = None

#: (job id, function reference, trigger arguments). Ids are stable: never rename one.
JOBS: list[tuple[str, str, dict[str, Any]]] = [
    ("ledger-checkpoint", "hub.scheduler:sign_checkpoint_job", {"minutes": 5}),
    # To-do lists (#6): reminders 1 working day before the due date, escalation of overdue
    # tasks to the agency's MARAC representatives, hub-made rule tasks, daily digests.
    ("task-reminders", "todo.jobs:send_reminders", {"minutes": 15}),
    ("task-escalations", "todo.jobs:escalate_overdue", {"minutes": 15}),
    ("task-system-rules", "todo.jobs:generate_system_rule_tasks", {"minutes": 30}),
    ("task-digests", "todo.jobs:send_digests", {"minutes": 15}),
]


def app() -> Any:
    if _app is None:
        raise RuntimeError("the scheduler has not been started")
    return _app


def run_job(reference: str) -> None:
    """Run one job, named by text, inside the hub's application context.

    The executor's threads start with an empty context, so a job reaches the database and
    settings through the running app (``current_app``), the same way a request does.
    """
    from apscheduler.util import ref_to_obj

    with app().app_context():
        ref_to_obj(reference)()


def sign_checkpoint_job() -> None:
    """Sign a checkpoint of the ledger if anything was sealed since the last one."""
    from audit import services

    hub = app()
    with unit_of_work(hub.extensions["hub.db"]) as uow:
        signed = services.sign_checkpoint(uow.session, hub.ledger_key())
    if signed is not None:
        log.info("signed ledger checkpoint at size %d", signed.tree_size)


@contextmanager
def leadership(database: Database, instance_path: str, stop: threading.Event) -> Iterator[bool]:
    """Hold the scheduler lock for the life of the block; wait while another holds it."""
    if database.dialect == "postgresql":
        with psycopg.connect(libpq_url(database), autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)
                ).fetchone()
                if row and row[0]:
                    yield True
                    return
                stop.wait(0.5)
            yield False
        return
    lock = FileLock(str(Path(instance_path) / "scheduler.lock"))
    while not stop.is_set():
        try:
            lock.acquire(timeout=0.5)
        except TimeoutError:
            continue
        try:
            yield True
        finally:
            lock.release()
        return
    yield False


def run(hub: Any, *, stop: threading.Event | None = None, announce: Any = None) -> None:
    """Run the scheduler until stopped (Ctrl-C, SIGTERM, or ``stop`` being set)."""
    global _app
    _app = hub
    stop = stop or threading.Event()
    settings = hub.extensions["hub.settings"]
    database: Database = hub.extensions["hub.db"]
    log.info("scheduler waiting for leadership")
    with leadership(database, settings.instance_path, stop) as leader:
        if not leader:
            return
        log.info("scheduler is the leader")
        if announce:
            announce()
        sealer = threading.Thread(
            target=run_sealer, args=(database, stop), daemon=True, name="ledger-sealer"
        )
        sealer.start()
        scheduler = BlockingScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        )
        started = datetime.now(UTC)
        for job_id, func, trigger in JOBS:
            # Each job runs once at start (a restarted scheduler catches up at once), then on
            # its interval; the job refers to its function by text.
            scheduler.add_job(
                "hub.scheduler:run_job",
                "interval",
                args=[func],
                id=job_id,
                name=func,
                replace_existing=True,
                next_run_time=started,
                **trigger,
            )
        watcher = threading.Thread(
            target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
        )
        watcher.start()
        sign_checkpoint_job()  # a fresh checkpoint at start, so the public URL has one
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            stop.set()
            sealer.join(timeout=5)
