"""The one scheduler process (`hub scheduler`): periodic jobs and the ledger sealer.

Never run inside web workers: two schedulers would run every job twice. A second
`hub scheduler` (the standby) waits on a lock (a PostgreSQL advisory lock, or a file lock
beside the SQLite database) and takes over when the first dies. Jobs are referenced by
text and keep stable ids; missed runs are coalesced into one.

A leader does not take its lock on trust: on PostgreSQL the lock lives on one connection,
and a database restart or a cut connection takes it away without telling anyone. So the
leader checks, every ``check_seconds`` and before each job, that its connection still holds
the lock; when it does not, it stops its jobs and its sealer and waits to lead again, so a
standby that took over is the only leader. A standby survives the database going away: it
reconnects and keeps waiting. Under systemd (``Type=notify``) the process reports ready,
pings the watchdog while it is leading or waiting, and says which in its status.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from filelock import FileLock
from gunicorn.systemd import sd_notify  # the same small notifier gunicorn uses for itself

from audit.sealer import LOCK_CONNECTION, libpq_url, run_sealer
from hub.core.db import Database, unit_of_work

log = logging.getLogger(__name__)
SCHEDULER_LOCK_KEY = 0x5343484544  # "SCHED"
_app: Any = None
_leadership: Leadership | None = None

#: (job id, function reference, trigger arguments). Ids are stable: never rename one. The
#: checkpoint job's interval comes from HUB_LEDGER_CHECKPOINT_MINUTES.
JOBS: list[tuple[str, str, dict[str, Any]]] = [
    ("ledger-checkpoint", "hub.scheduler:sign_checkpoint_job", {}),
    # To-do lists (#6): reminders 1 working day before the due date, escalation of overdue
    # tasks to the agency's MARAC representatives, hub-made rule tasks, daily digests.
    ("task-reminders", "todo.jobs:send_reminders", {"minutes": 15}),
    ("task-escalations", "todo.jobs:escalate_overdue", {"minutes": 15}),
    ("task-system-rules", "todo.jobs:generate_system_rule_tasks", {"minutes": 30}),
    ("task-digests", "todo.jobs:send_digests", {"minutes": 15}),
    # Retention (#17): queue what the area's policy says has expired, destroy what the
    # coordinator confirmed. Daily; a restarted scheduler runs it at once (it is idempotent).
    ("retention-nightly", "retention.jobs:run_retention", {"hours": 24}),
    # Transfers (#18): send within 1 working day, acknowledge within 2, list at the next
    # meeting; a task when one runs out.
    ("transfer-timers", "transfers.jobs:transfer_timers", {"minutes": 30}),
]


def app() -> Any:
    if _app is None:
        raise RuntimeError("the scheduler has not been started")
    return _app


def run_job(reference: str) -> None:
    """Run one job, named by text, inside the hub's application context.

    The executor's threads start with an empty context, so a job reaches the database and
    settings through the running app (``current_app``), the same way a request does. A job
    runs only while this process still holds the lock: a leader that lost it runs nothing.
    """
    from apscheduler.util import ref_to_obj

    leadership = _leadership
    if leadership is None or not leadership.held():
        log.warning("job %s not run: this scheduler no longer leads", reference)
        if leadership is not None:
            leadership.lost.set()
        return
    with app().app_context():
        ref_to_obj(reference)()


def sign_checkpoint_job() -> None:
    """Sign a checkpoint of the ledger if anything was sealed, or the last one is due again.

    Re-signing an unchanged tree on schedule keeps the served checkpoint's age meaningful:
    a checkpoint older than twice the schedule means signing has stopped, not a quiet hub.
    """
    from audit import services

    hub = app()
    interval = hub.extensions["hub.settings"].ledger_checkpoint_minutes * 60
    with unit_of_work(hub.extensions["hub.db"]) as uow:
        signed = services.sign_checkpoint(
            uow.session, hub.ledger_key(), max_age_seconds=max(interval - 30, 30)
        )
    if signed is not None:
        log.info("signed ledger checkpoint at size %d", signed.tree_size)


class Leadership:
    """The scheduler lock, held for one leadership term at a time.

    PostgreSQL: an advisory lock on a connection of its own (``held`` asks the server
    whether that connection still holds it). SQLite: a file lock beside the database.
    """

    def __init__(self, database: Database, instance_path: str) -> None:
        self.database = database
        self.instance_path = instance_path
        self.lost = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._file: FileLock | None = None
        self._unreachable = False

    def acquire(self, stop: threading.Event, tick: Callable[[], None] = lambda: None) -> bool:
        """Wait until this process holds the lock (True) or ``stop`` is set (False)."""
        self.lost.clear()
        if self.database.dialect != "postgresql":
            # Not thread-local: the job threads ask whether this process holds it.
            lock = FileLock(str(Path(self.instance_path) / "scheduler.lock"), thread_local=False)
            while not stop.is_set():
                tick()
                try:
                    lock.acquire(timeout=0.5)
                except TimeoutError:
                    continue
                self._file = lock
                return True
            return False
        while not stop.is_set():
            tick()
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(
                        libpq_url(self.database),
                        application_name=f"hub scheduler {os.getpid()}",
                        **LOCK_CONNECTION,
                    )
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)
                ).fetchone()
                if self._unreachable:
                    log.info("scheduler reached the database again")
                    self._unreachable = False
                if row and row[0]:
                    return True
            except psycopg.OperationalError as error:
                # The database is restarting or out of reach: keep waiting, never crash.
                if not self._unreachable:
                    log.warning("scheduler cannot reach the database (%s); retrying", error)
                    self._unreachable = True
                self._close()
            stop.wait(0.5)
        return False

    def held(self) -> bool:
        """Whether this process still holds the lock (asking the server, on PostgreSQL)."""
        if self.lost.is_set():
            return False
        if self._file is not None:
            return bool(self._file.is_locked)
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %s AND objid = %s AND objsubid = 1 AND pid = pg_backend_pid())",
                (SCHEDULER_LOCK_KEY >> 32, SCHEDULER_LOCK_KEY & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    def release(self) -> None:
        if self._file is not None:
            self._file.release()
            self._file = None
        self._close()

    def _close(self) -> None:
        # Closing the connection ends the session, and a session-level lock goes with it.
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def _notify(state: str) -> None:
    sd_notify(state, log)


def run(
    hub: Any,
    *,
    stop: threading.Event | None = None,
    announce: Callable[[], None] | None = None,
    on_step_down: Callable[[str], None] | None = None,
    check_seconds: float = 1.0,
) -> None:
    """Run the scheduler until stopped (Ctrl-C, SIGTERM, or ``stop`` being set).

    Leads when it holds the lock, stands by otherwise, and steps down (then waits to lead
    again) the moment it finds its lock gone. Raises SystemExit(1) if the sealer thread
    dies, so the supervisor restarts the process and the standby leads meanwhile.
    """
    global _app, _leadership
    _app = hub
    stop = stop or threading.Event()
    settings = hub.extensions["hub.settings"]
    database: Database = hub.extensions["hub.db"]
    leadership = Leadership(database, settings.instance_path)
    _notify("READY=1")
    try:
        while not stop.is_set():
            log.info("scheduler waiting for leadership")
            _notify("STATUS=standing by: waiting for the scheduler lock")
            if not leadership.acquire(stop, tick=lambda: _notify("WATCHDOG=1")):
                return
            _leadership = leadership
            try:
                reason = _lead_term(hub, leadership, stop, announce, check_seconds)
            finally:
                _leadership = None
                leadership.release()
            if reason is None:
                return
            if reason == _SEALER_DIED:
                raise SystemExit(1)  # the supervisor restarts it; the standby leads meanwhile
            log.warning("scheduler stepped down: %s", reason)
            if on_step_down:
                on_step_down(reason)
    finally:
        leadership.release()


_SEALER_DIED = "the ledger sealer stopped unexpectedly"


def _lead_term(
    hub: Any,
    leadership: Leadership,
    stop: threading.Event,
    announce: Callable[[], None] | None,
    check_seconds: float,
) -> str | None:
    """Lead until stopped (None) or until leadership is lost (the reason)."""
    settings = hub.extensions["hub.settings"]
    database: Database = hub.extensions["hub.db"]
    log.info("scheduler is the leader")
    _notify("STATUS=leading: jobs and the ledger sealer")
    if announce:
        announce()
    term = threading.Event()  # ends this term's sealer and jobs, not the process
    sealer: threading.Thread | None = None
    if database.dialect == "postgresql":  # SQLite seals inline, in each writer's transaction
        sealer = threading.Thread(
            target=run_sealer, args=(database, term), daemon=True, name="ledger-sealer"
        )
        sealer.start()
    scheduler = BackgroundScheduler(
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
            **(trigger or {"minutes": settings.ledger_checkpoint_minutes}),
        )
    reason: str | None = None
    try:
        scheduler.start()
        while not stop.wait(check_seconds):
            if not leadership.held():
                reason = "its lock on the database is gone (restart or lost connection)"
                break
            if sealer is not None and not sealer.is_alive():
                log.critical("the ledger sealer thread ended; the scheduler stops")
                reason = _SEALER_DIED
                break
            _notify("WATCHDOG=1")
    finally:
        leadership.lost.set()  # a job starting from now on does not run
        term.set()
        # Jobs already running finish their own transaction; none starts after this.
        scheduler.shutdown(wait=True)
        if sealer is not None:
            sealer.join(timeout=10)
    return reason
