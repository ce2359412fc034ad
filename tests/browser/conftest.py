"""Browser tests: Debian's Chromium driven by Playwright against a live hub."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.support.agencies_sso import Providers, agency_idps, connect_providers
from tests.support.idp import DevIdP

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: `make test` installs Debian's chromium package"
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_port() -> int:
    """One free loopback port for every test's live hub (tests run one after another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(app: Any, live_port: int) -> Iterator[str]:
    """Serve the test's app on 127.0.0.1:<live_port> in a thread; yield its base URL.

    The port stays the same for the session, so identity providers started once can
    register the hub's redirect URIs; the app's base URL (HUB_BASE_URL) is set to match,
    as a deployment sets it.
    """
    base = f"http://127.0.0.1:{live_port}"
    settings = dataclasses.replace(app.extensions["hub.settings"], base_url=base)
    app.extensions["hub.settings"] = app.config["HUB_SETTINGS"] = settings
    server = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()  # free the port for the next test's server
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser_idps(live_port: int) -> Iterator[tuple[DevIdP, DevIdP]]:
    """Testshire Police's and Testshire Hospital's providers, knowing the live hub's URLs."""
    with agency_idps([f"http://127.0.0.1:{live_port}"]) as running:
        yield running


@pytest.fixture
def browser_providers(world: Any, browser_idps: tuple[DevIdP, DevIdP]) -> Providers:
    return connect_providers(world, *browser_idps)


@pytest.fixture
def shoot(output_dir: Any, request: pytest.FixtureRequest) -> Any:
    """Save a full-page screenshot named after the test and the step, for people to look at."""
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    backend = (
        request.node.callspec.params.get("database_url", "")
        if hasattr(request.node, "callspec")
        else ""
    )

    def take(page: Any, step: str) -> None:
        name = f"{request.node.originalname}-{backend}-{step}.png".replace("/", "_")
        page.screenshot(path=str(folder / name), full_page=True)

    return take
