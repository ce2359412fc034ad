"""Sign-in under stress, on SQLite and on a real PostgreSQL server it starts itself.

With the real dev IdP (tools/dev-idp) as Testshire Police's provider and argon2id at the
library's own (production) parameters, for each database it measures:

* ``home_ms_*_idle`` / ``home_ms_*_while_hanging``: a signed-in member's home page, 60
  times in a row, first with nothing else going on, then while 16 sign-ins wait on a
  provider that does not answer (more than the connection pool's 15): the issue's "an
  unrelated page's time while a provider hangs". ``errors_while_hanging`` counts answers
  that were not 200.
* ``burst_home_ms_*``: the same page while 30 wrong passwords for one account arrive at
  once from one address; ``burst_refusals_recorded`` must be 30 (none lost).
* ``answer_ms_p50_*``: how long the sign-in page takes to refuse an unknown address, a
  wrong password and a locked account (20 each, one after another): close figures mean
  the timing tells nobody which accounts exist.
* ``parallel_sign_in_failures``: of 18 sign-ins to one (demo) account at once, how many did
  not get in (500s, before this was fixed).
* ``withdrawn_key_trusted_s``: after the provider withdraws the key that signed an API
  token, how long the hub still accepts that token (polled every half second); bounded by
  ``HUB_OIDC_CACHE_SECONDS`` (``--cache-seconds``, default 300 as in production).
  ``withdrawn_key_trusted_after_refresh_s``: the same when the administrator presses
  **Fetch keys again** at the moment of withdrawal.

Requests go through the Flask test client, one thread each, as a threaded server would
run them. Figures go to bench/results/signin.json (unless --no-save) and are printed.

    python -m bench signin [-- --cache-seconds 300 --fast]
"""

from __future__ import annotations

import argparse
import contextvars
import json
import logging
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import merge_results  # noqa: E402 (after the path set-up above)

RESULTS = REPO / "bench" / "results" / "signin.json"
HANGING = 16
DISCOVERY = "/.well-known/openid-configuration"
_addresses = iter(range(1, 10**6))


def _address() -> str:
    """A distinct client address for each browser, so the per-address rate limit of the
    sign-in pages does not refuse the benchmark's own requests."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _browser(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = _address()
    return client


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def make_app(url: str, cache_seconds: int) -> Any:
    from hub.app import create_app
    from hub.core.config import Settings
    from hub.core.migrate import upgrade

    upgrade(url)
    settings = Settings(
        env="test",
        secret_key="bench-secret-key-" + "x" * 32,
        database_url=url,
        instance_path=tempfile.mkdtemp(prefix="signin-bench-"),
        demo=True,
        oidc_timeout_seconds=90,
        oidc_cache_seconds=cache_seconds,
        # Counting stays on; the limit is high so the answer-time rounds never lock by chance.
        login_max_failures=1000,
    )
    return contextvars.copy_context().run(create_app, settings)


def set_up(app: Any) -> tuple[Any, Any, int]:
    """The test world, a provider for Testshire Police (the dev IdP), an API client."""
    import os

    from agencies import services as agencies
    from hub.auth import identity
    from hub.core import db
    from hub.core.access import Actor
    from tests.support.agencies_sso import (
        POLICE_SECRET_ENV,
        POLICE_USERS,
        RECORDS_CLIENT,
        SECRETS,
        _clients,
    )
    from tests.support.idp import DevIdP
    from tests.support.world import build_world

    with app.app_context():
        world = build_world()
    idp = DevIdP().start(
        clients=_clients(SECRETS[POLICE_SECRET_ENV], ["http://127.0.0.1:5000"]),
        users=POLICE_USERS,
    )
    os.environ[POLICE_SECRET_ENV] = SECRETS[POLICE_SECRET_ENV]
    with app.app_context(), db.unit_of_work():
        provider = identity.add_provider(
            Actor.system(),
            agencies.get_agency(world.agencies["police"]),
            identity.ProviderData(
                issuer=idp.issuer, client_id="marac-hub", client_secret_env=POLICE_SECRET_ENV
            ),
        )
        identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=world.agencies["police"],
                client_id=RECORDS_CLIENT,
                name="Police records system",
                scopes=frozenset({"referrals:read"}),
            ),
        )
        provider_id = provider.id
    return world, idp, provider_id


def signed_in(app: Any, person: Any) -> Any:
    from tests.support.web import sign_in

    browser = _browser(app)
    assert sign_in(browser, person.email, person.password, person.totp_secret).status_code == 302
    return browser


def home_times(browser: Any, count: int) -> tuple[list[float], int]:
    times, errors = [], 0
    for _ in range(count):
        elapsed, response = _timed(lambda: browser.get("/"))
        times.append(elapsed)
        errors += response.status_code != 200
    return times, errors


def measure_hang(app: Any, world: Any, idp: Any) -> dict[str, Any]:
    reader = signed_in(app, world["idva"])
    home_times(reader, 10)  # warm
    idle, _ = home_times(reader, 60)
    agency = world.agencies["police"]
    idp.hang(DISCOVERY)
    with ThreadPoolExecutor(max_workers=HANGING) as pool:
        waiting = [
            pool.submit(lambda: _browser(app).get(f"/sign-in/agency/{agency}/start"))
            for _ in range(HANGING)
        ]
        idp.wait_for_waiting(HANGING, timeout=60)
        busy, errors = home_times(reader, 60)
        still = idp.stats()["waiting"]
        idp.release()
        started = [f.result(timeout=120).status_code for f in waiting]
    return {
        "home_ms_p50_idle": _ms(idle, 0.5),
        "home_ms_p95_idle": _ms(idle, 0.95),
        "home_ms_p50_while_hanging": _ms(busy, 0.5),
        "home_ms_p95_while_hanging": _ms(busy, 0.95),
        "home_ms_max_while_hanging": _ms(busy, 1.0),
        "errors_while_hanging": errors,
        "hanging_at_provider_throughout": still == HANGING,
        "hanging_sign_ins_then_redirected": started.count(302),
    }


def measure_burst(app: Any, world: Any) -> dict[str, Any]:
    from sqlalchemy import func, select

    from audit.models import AuditEntry
    from hub.core import db
    from tests.support.web import csrf_token

    reader = signed_in(app, world["idva"])
    person = world["nurse"]
    with app.app_context(), db.unit_of_work() as uow:
        before = uow.session.execute(
            select(func.count()).where(AuditEntry.action == "signin:failed")
        ).scalar_one()
    attacker_address = _address()
    browsers = []
    for _ in range(30):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = attacker_address  # one address, as reported
        browsers.append((browser, csrf_token(browser, "/sign-in")))
    done = threading.Event()
    times: list[float] = []

    def read() -> None:
        while not done.is_set():
            times.append(_timed(lambda: reader.get("/"))[0])

    def wrong(pair: tuple[Any, str]) -> int:
        response = pair[0].post(
            "/sign-in",
            data={"csrf_token": pair[1], "email": person.email, "password": "not the password!"},
        )
        return int(response.status_code)

    watcher = threading.Thread(target=read)
    watcher.start()
    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(wrong, browsers))
    done.set()
    watcher.join()
    with app.app_context(), db.unit_of_work() as uow:
        after = uow.session.execute(
            select(func.count()).where(AuditEntry.action == "signin:failed")
        ).scalar_one()
    return {
        "burst_home_ms_p50": _ms(times, 0.5),
        "burst_home_ms_max": _ms(times, 1.0),
        "burst_home_requests": len(times),
        "burst_refusals_recorded": after - before,
        "burst_answers_422": statuses.count(422),
    }


def measure_answers(app: Any, world: Any) -> dict[str, Any]:
    from hub.auth.models import LocalCredential
    from hub.core import db
    from hub.core.clock import now
    from tests.support.web import submit

    locked = world["housing_officer"]
    with app.app_context(), db.unit_of_work() as uow:
        uow.session.get(LocalCredential, locked.member_id).locked_until = now() + timedelta(hours=1)
    cases = {
        "unknown": ("nobody.at.all@police.test", "some password here"),
        "wrong_password": (world["police_rep"].email, "not the password!"),
        "locked": (locked.email, locked.password),  # the right password, locked
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _round in range(20):
        for name, (email, password) in cases.items():
            browser = _browser(app)
            browser.get("/sign-in")
            elapsed, response = _timed(
                lambda b=browser, e=email, p=password: submit(
                    b, "/sign-in", {"email": e, "password": p}
                )
            )
            assert response.status_code == 422, (name, response.status_code)
            times[name].append(elapsed)
    return {f"answer_ms_p50_{name}": _ms(values, 0.5) for name, values in times.items()}


def measure_parallel_sign_ins(app: Any, world: Any) -> dict[str, Any]:
    from hub.auth.models import LocalCredential
    from hub.core import db
    from tests.support.web import csrf_token

    person = world["health_rep"]  # an agency without its own provider
    with app.app_context(), db.unit_of_work() as uow:
        uow.session.get(LocalCredential, person.member_id).is_demo = True  # no second factor
    browsers = [_browser(app) for _ in range(18)]
    pairs = [(b, csrf_token(b, "/sign-in")) for b in browsers]
    with ThreadPoolExecutor(max_workers=18) as pool:
        results = list(
            pool.map(
                lambda pair: pair[0].post(
                    "/sign-in",
                    data={
                        "csrf_token": pair[1],
                        "email": person.email,
                        "password": person.password,
                    },
                ),
                pairs,
            )
        )
    return {"parallel_sign_in_failures": sum(1 for r in results if r.status_code != 302)}


def measure_withdrawal(app: Any, idp: Any, provider_id: int, cache_seconds: int) -> dict[str, Any]:
    from hub.auth import identity
    from hub.core import db
    from hub.core.access import Actor
    from tests.support.agencies_sso import RECORDS_CLIENT, RECORDS_SECRET

    client = app.test_client()

    def accepted(token: str) -> bool:
        response = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        return bool(response.status_code == 200)

    def trusted_for(refresh: bool) -> float:
        token = idp.client_credentials_token(RECORDS_CLIENT, RECORDS_SECRET, "referrals:read")
        assert accepted(token)  # cached now
        idp.rotate_keys(retain=False)
        withdrawn = time.monotonic()
        if refresh:
            with app.app_context(), db.unit_of_work():
                identity.refresh_provider(Actor.system(), identity.get_provider(provider_id))
        while accepted(token):
            if time.monotonic() - withdrawn > cache_seconds + 60:
                raise AssertionError("the withdrawn key was still trusted")
            time.sleep(0.5)
        return round(time.monotonic() - withdrawn, 1)

    return {
        "withdrawn_key_trusted_after_refresh_s": trusted_for(refresh=True),
        "withdrawn_key_trusted_s": trusted_for(refresh=False),
    }


def run_backend(url: str, cache_seconds: int) -> dict[str, Any]:
    app = make_app(url, cache_seconds)
    world, idp, provider_id = set_up(app)
    try:
        figures: dict[str, Any] = {}
        figures.update(measure_hang(app, world, idp))
        figures.update(measure_burst(app, world))
        figures.update(measure_answers(app, world))
        figures.update(measure_parallel_sign_ins(app, world))
        figures.update(measure_withdrawal(app, idp, provider_id, cache_seconds))
        return figures
    finally:
        idp.stop()
        app.extensions["hub.db"].dispose()


def run(cache_seconds: int, fast: bool, backends: list[str]) -> dict[str, Any]:
    from tests.support.pgserver import PostgresServer

    logging.disable(logging.WARNING)
    figures: dict[str, Any] = {}
    if "sqlite" in backends:
        folder = Path(tempfile.mkdtemp(prefix="signin-bench-sqlite-"))
        figures["sqlite"] = run_backend(f"sqlite:///{folder / 'hub.sqlite3'}", cache_seconds)
    if "postgresql" in backends:
        durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
        server = PostgresServer(settings=None if fast else durable)
        server.start()
        try:
            server.create_database("signin_bench")
            figures["postgresql"] = run_backend(server.admin_url("signin_bench"), cache_seconds)
        finally:
            server.stop()
    figures["cache_seconds"] = cache_seconds
    figures["hanging_sign_ins"] = HANGING
    figures["durable"] = not fast
    figures["machine"] = f"{platform.machine()} {platform.python_version()}"
    figures["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache-seconds", type=int, default=300, help="HUB_OIDC_CACHE_SECONDS (default 300)"
    )
    parser.add_argument("--fast", action="store_true", help="non-durable PostgreSQL settings")
    parser.add_argument(
        "--backend", action="append", choices=["sqlite", "postgresql"], help="default: both"
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    figures = run(args.cache_seconds, args.fast, args.backend or ["sqlite", "postgresql"])
    print(json.dumps(figures, indent=2))
    if not args.no_save:
        merge_results(RESULTS, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
