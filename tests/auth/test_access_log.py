"""The access log of ``hub serve`` (gunicorn) never holds a secret from a URL or a header."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_invitation_tokens_codes_and_bearer_tokens_stay_out_of_the_access_log(
    tmp_path: Path, sqlite_template: Path
) -> None:
    database = tmp_path / "hub.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = _free_port()
    env = {
        **os.environ,
        "HUB_ENV": "development",
        "DATABASE_URL": f"sqlite:///{database}",
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    hub = Path(sys.executable).with_name("hub")
    server = subprocess.Popen(
        [str(hub), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    invitation, code, state, bearer = (secrets.token_urlsafe(32) for _ in range(4))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/sign-in", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "hub serve died"
                time.sleep(0.2)
        assert requests.get(f"{base}/invitation/{invitation}", timeout=10).status_code == 404
        requests.get(f"{base}/auth/callback?code={code}&state={state}", timeout=10)
        requests.get(
            f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        )
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "/invitation/[redacted]" in output  # the request is logged, without its token
    assert "/auth/callback" in output
    for secret in (invitation, code, state, bearer):
        assert secret not in output
