"""Two real `hub scheduler` processes: exactly one runs the jobs; kill it and the other takes
over. On SQLite the lock is a file lock beside the database, on PostgreSQL an advisory lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.core import db
from hub.core.clock import today_london
from hub.core.workdays import add_working_days
from tests.tasks.test_reminders import Inbox, _free_port
from todo import services
from todo.models import Task, TaskNotification, TaskSource

HUB = Path(sys.executable).with_name("hub")
LEADER = "Scheduler is running."


class Scheduler:
    """One `hub scheduler` process with its output in a file."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.log = folder / f"{name}.log"
        self.handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(HUB), "scheduler"],
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def is_leader(self) -> bool:
        return LEADER in self.output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def smtp() -> Iterator[int]:
    from aiosmtpd.controller import Controller

    controller = Controller(Inbox(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def _due_tomorrow_task(world: Any, actors: Any, title: str) -> int:
    with db.unit_of_work():
        return services.create_task(
            actors["coordinator"],
            agency_id=world.agencies["police"],
            owner_member_id=world["police_officer"].member_id,
            referral_id=None,
            source=TaskSource.MEETING_ACTION,
            title=title,
            due_on=add_working_days(today_london(), 1),
        ).id


def _reminded(task_id: int) -> bool:
    with db.unit_of_work():
        return db.session().get(Task, task_id).reminded_at is not None


def _reminders(task_id: int) -> int:
    with db.unit_of_work():
        return len(
            db.session()
            .execute(
                select(TaskNotification.id).where(
                    TaskNotification.task_id == task_id, TaskNotification.kind == "reminder"
                )
            )
            .all()
        )


@pytest.mark.slow
def test_exactly_one_scheduler_runs_jobs_and_the_other_takes_over(
    app, world, actors, database_url, tmp_path, smtp
) -> None:
    settings = app.extensions["hub.settings"]
    env = {
        **os.environ,
        "HUB_ENV": "test",
        "SECRET_KEY": settings.secret_key,
        "DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": settings.instance_path,
        "HUB_SMTP_HOST": "127.0.0.1",
        "HUB_SMTP_PORT": str(smtp),
        "HUB_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUB_DEMO", None)
    first = _due_tomorrow_task(world, actors, "First task")
    schedulers = [Scheduler("a", env, tmp_path), Scheduler("b", env, tmp_path)]
    try:
        leader = wait_for(
            lambda: next((s for s in schedulers if s.is_leader), None), what="a leader"
        )
        other = next(s for s in schedulers if s is not leader)
        wait_for(lambda: _reminded(first), what="the leader's reminder job")
        # todo.jobs logs each run that did something ("reminded 1 tasks").
        wait_for(lambda: "reminded 1 tasks" in leader.output, what="the leader's job log")
        time.sleep(2)  # give the other every chance to run something it should not
        assert not other.is_leader, other.output
        assert "reminded" not in other.output, other.output
        assert other.process.poll() is None  # still waiting, not crashed
        assert _reminders(first) == 1

        leader.kill()  # a crash: no clean shutdown, the lock goes with the process
        second = _due_tomorrow_task(world, actors, "Second task")
        wait_for(lambda: other.is_leader, what="the other scheduler to take over")
        wait_for(lambda: _reminded(second), what="the new leader's reminder job")
        assert _reminders(first) == 1 and _reminders(second) == 1
        wait_for(lambda: "reminded 1 tasks" in other.output, what="the new leader's job log")
    finally:
        for scheduler in schedulers:
            scheduler.stop()
