"""Supervision: the processes speak systemd's notify protocol, and deploy/ supervises them.

systemd restarts a unit whose process dies (Restart=always) and one that stops pinging its
watchdog (WatchdogSec). Here the test plays systemd's part: it listens on the notify socket
the processes are given, as systemd would, and reads what they say.
"""

from __future__ import annotations

import configparser
import itertools
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.core.migrate import upgrade
from tests.support.processes import (
    HUB,
    HubProcess,
    Scheduler,
    free_port,
    hub_env,
    stop_all,
    wait_for,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class NotifySocket:
    """The datagram socket systemd gives a Type=notify service, and what arrived on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def received(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def sockets(tmp_path: Path) -> Iterator[list[NotifySocket]]:
    made: list[NotifySocket] = []
    yield made
    for one in made:
        one.close()


def test_a_scheduler_reports_ready_and_pings_the_watchdog_leading_or_standing_by(
    sqlite_hub: str, tmp_path: Path, sockets: list[NotifySocket]
) -> None:
    leader_socket = NotifySocket(tmp_path / "leader.sock")
    standby_socket = NotifySocket(tmp_path / "standby.sock")
    sockets += [leader_socket, standby_socket]
    env = hub_env(sqlite_hub, tmp_path / "instance")
    leader = Scheduler("leader", {**env, "NOTIFY_SOCKET": str(leader_socket.path)}, tmp_path)
    processes = [leader]
    try:
        wait_for(lambda: leader.leads, 60, "the first scheduler leads")
        standby = Scheduler("standby", {**env, "NOTIFY_SOCKET": str(standby_socket.path)}, tmp_path)
        processes.append(standby)

        def said(sock: NotifySocket, *words: str) -> bool:
            got = sock.received()
            return all(any(w in m for m in got) for w in words) and (
                sum("WATCHDOG=1" in m for m in got) >= 2
            )

        wait_for(lambda: said(leader_socket, "READY=1", "STATUS=leading"), 30, "leader")
        wait_for(lambda: said(standby_socket, "READY=1", "STATUS=standing by"), 30, "standby")
        assert not any("STATUS=leading" in m for m in standby_socket.received())
    finally:
        stop_all(processes)


def test_hub_serve_reports_ready(
    sqlite_hub: str, tmp_path: Path, sockets: list[NotifySocket]
) -> None:
    notify = NotifySocket(tmp_path / "web.sock")
    sockets.append(notify)
    web = HubProcess(
        "web",
        ["serve", "--port", str(free_port()), "--workers", "1"],
        {**hub_env(sqlite_hub, tmp_path / "instance"), "NOTIFY_SOCKET": str(notify.path)},
        tmp_path,
    )
    try:
        wait_for(lambda: any("READY=1" in m for m in notify.received()), 60, "gunicorn is ready")
    finally:
        web.stop()


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name)
    return parser


def hub_command(line: str) -> list[str]:
    words = shlex.split(line)
    assert words[0].endswith("/hub"), line
    return words[1:]


def runs(command: list[str]) -> bool:
    """Whether `hub` knows the command and its options (asking it for the command's help)."""
    names = list(itertools.takewhile(lambda word: not word.startswith("-"), command))
    done = subprocess.run(
        [str(HUB), *names, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    options = [w.split("=")[0] for w in command if w.startswith("--")]
    return done.returncode == 0 and all(option in done.stdout for option in options)


def test_the_systemd_units_restart_the_web_and_two_schedulers_whatever_stops_them() -> None:
    web = unit("marac-hub-web.service")
    assert hub_command(web["Service"]["ExecStart"])[:1] == ["serve"]
    assert runs(hub_command(web["Service"]["ExecStart"]))
    scheduler = unit("marac-hub-scheduler@.service")
    assert hub_command(scheduler["Service"]["ExecStart"]) == ["scheduler"]
    for service in (web, scheduler):
        assert service["Service"]["Restart"] == "always"
        assert service["Service"]["Type"] == "notify"
    assert int(scheduler["Service"]["WatchdogSec"]) >= 10
    wanted = unit("marac-hub.target")["Unit"]["Wants"].split()
    assert {
        "marac-hub-web.service",
        "marac-hub-scheduler@1.service",
        "marac-hub-scheduler@2.service",
        "marac-hub-health.timer",
    } <= set(wanted)
    check = unit("marac-hub-health.service")["Service"]["ExecStart"]
    assert "/healthz" in check and "--fail" in check


def test_the_compose_file_restarts_and_checks_each_hub_process() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in ("web", "scheduler", "scheduler-standby"):
        found = services[name]
        assert found["restart"] == "unless-stopped", name
        assert found["healthcheck"]["test"], name
        assert runs(found["command"][1:]), found["command"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["scheduler"]["command"] == services["scheduler-standby"]["command"]
    assert "marac_app" in services["web"]["environment"]["DATABASE_URL"]
    for name in ("scheduler", "scheduler-standby"):
        assert "marac_sealer" in services[name]["environment"]["DATABASE_URL"]
    assert services["migrate"]["command"][-1] == "hub db upgrade && hub db grant"
