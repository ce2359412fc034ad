"""Real `hub` processes for fault tests: started, watched through their output, killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

HUB = Path(sys.executable).with_name("hub")
LEADING = "Scheduler is running."
STEPPED_DOWN = "Scheduler stepped down"
T = TypeVar("T")


def as_role(url: str, role: str) -> str:
    """The same database URL, signed in as another role (the test servers trust loopback)."""
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def hub_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    """The environment of a `hub` process in a test (no demo, its own instance folder)."""
    env = {
        **os.environ,
        "HUB_ENV": "test",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-1234567890",
        "DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(instance),
        "HUB_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUB_DEMO", None)
    env.update(extra)
    return env


class HubProcess:
    """One `hub ...` process with its output in a file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        self._handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(HUB), *args],
            env=dict(env),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._handle.close()


class Scheduler(HubProcess):
    """A `hub scheduler` process; it says in its output when it leads and steps down."""

    def __init__(self, name: str, env: Mapping[str, str], folder: Path) -> None:
        super().__init__(name, ["scheduler"], env, folder)

    @property
    def leads(self) -> bool:
        """Whether its latest word is that it leads (not that it stepped down since)."""
        out = self.output
        return self.alive and out.rfind(LEADING) > out.rfind(STEPPED_DOWN)

    @property
    def terms(self) -> int:
        return self.output.count(LEADING)


def wait_for(condition: Callable[[], T], seconds: float, what: str) -> T:
    """Poll ``condition`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting until {what}")
        time.sleep(0.05)


def free_port() -> int:
    from tests.support.pgserver import free_port as pick

    return pick()


def stop_all(processes: list[Any]) -> None:
    for proc in processes:
        proc.stop()
