"""Browser tests: Debian's Chromium driven by Playwright against a live hub."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

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


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """Serve the test's app on a free 127.0.0.1 port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


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
