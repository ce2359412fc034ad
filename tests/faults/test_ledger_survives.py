"""The ledger under the faults production throws, all in one run, with real processes.

Writer processes (the application role) record disclosures throughout. The leading
`hub scheduler` is killed with SIGKILL in the middle of a seal batch, the standby takes
over, the database is then stopped abruptly and started again, and a third scheduler is
started after it. Afterwards: exactly one leader; the tree has no gap and no duplicate;
every committed entry is sealed, each within the lag bound; nothing rolled back appears;
and `hub audit export` then `hub audit verify` say OK.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from audit.ledger import Subject, build_entry, record_in
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork
from tests.audit.test_ledger_concurrency import check_tree
from tests.faults.conftest import Cluster
from tests.faults.test_scheduler_restart import sole_leader
from tests.support.processes import HUB, Scheduler, hub_env, stop_all, wait_for

pytestmark = pytest.mark.postgres_only

SPAWN = multiprocessing.get_context("spawn")
WRITERS = 4
RATE = 25  # commits per second per writer: well below what the machine can do
WRITE_SECONDS = 14.0
BACKLOG = 20_000  # entries waiting when the first scheduler starts: a long first batch
LAG_BOUND = 30  # seconds from commit to seal, across a kill and a database restart


def _writer(url: str, number: int, seconds: float, go: Any, out: Any) -> None:
    """Record disclosures at a steady pace; keep going through the database's absence."""
    database = Database(url, pool_size=1, max_overflow=0)
    actor = Actor.system(f"writer-{number}")
    rng = random.Random(number)
    committed: list[tuple[str, float]] = []
    uncertain: list[str] = []  # the commit failed with the connection: done or not
    rolled_back: list[str] = []
    go.wait(120)
    started = time.monotonic()
    sequence = 0
    while time.monotonic() < started + seconds:
        pause = started + sequence / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sequence += 1
        uow = UnitOfWork(database)
        try:
            try:
                entry = record_in(
                    uow.session,
                    actor,
                    "case:viewed",
                    Subject("referral", sequence),
                    {"writer": number, "seq": sequence},
                )
            except Exception:
                time.sleep(0.1)  # the database is away: nothing was written
                continue
            uuid = json.loads(entry.body)["id"]
            if rng.random() < 0.1:
                uow.rollback()
                rolled_back.append(uuid)
                continue
            try:
                uow.commit()
            except Exception:
                uncertain.append(uuid)
                time.sleep(0.1)
                continue
            committed.append((uuid, time.time()))
        finally:
            uow.close()
    out.put((number, committed, uncertain, rolled_back))
    database.dispose()


def backlog(cluster: Cluster, total: int) -> set[str]:
    """Entries committed while no sealer ran (each transaction stamps its own txid)."""
    actor = Actor.system("backlog")
    bodies = [
        build_entry(actor, "case:viewed", Subject("referral", n), {"seq": n}) for n in range(total)
    ]
    database = Database(cluster.admin_url)
    try:
        with database.engine.connect() as conn:
            for start in range(0, total, 500):
                conn.execute(
                    text(
                        "INSERT INTO audit_entries (body, action, at) "
                        "SELECT b, 'case:viewed', now() "
                        "FROM unnest(CAST(:bodies AS bytea[])) WITH ORDINALITY AS t(b, n) "
                        "ORDER BY n"
                    ),
                    {"bodies": bodies[start : start + 500]},
                )
                conn.commit()
    finally:
        database.dispose()
    return {json.loads(body)["id"] for body in bodies}


def sealing_now(admin: Database, who: str) -> bool:
    """Whether the scheduler named ``who`` is inside a seal batch's transaction right now."""
    with admin.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :who "
                    "AND state IN ('active', 'idle in transaction') "
                    "AND (query LIKE '%NOT EXISTS (SELECT 1 FROM audit_leaves l%' "
                    "OR query LIKE 'WITH l AS (INSERT INTO audit_leaves%')"
                ),
                {"who": who},
            ).scalar_one()
        )


def leaves(admin: Database) -> int:
    with admin.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_leaves")).scalar_one())


def unsealed(admin: Database) -> int:
    with admin.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM audit_entries e WHERE NOT EXISTS "
                    "(SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)"
                )
            ).scalar_one()
        )


def sealed_at(admin: Database) -> dict[str, float]:
    """{entry uuid: when its leaf was sealed (epoch seconds)}."""
    with admin.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.body, extract(epoch FROM l.sealed_at) FROM audit_leaves l "
                "JOIN audit_entries e ON e.id = l.entry_id"
            )
        ).all()
    return {json.loads(bytes(body))["id"]: float(at) for body, at in rows}


def test_kill_restart_and_a_late_scheduler_leave_one_leader_and_a_whole_ledger(
    cluster: Cluster, tmp_path: Path
) -> None:
    waiting_before = backlog(cluster, BACKLOG)
    admin = Database(cluster.admin_url)
    env = hub_env(
        cluster.sealer_url,
        tmp_path / "instance",
        HUB_LEDGER_MAX_SEAL_LAG_SECONDS=str(LAG_BOUND),
        HUB_LEDGER_CHECKPOINT_MINUTES="1",
    )
    go, out = SPAWN.Event(), SPAWN.Queue()
    writers = [
        SPAWN.Process(
            target=_writer, args=(cluster.app_url, n, WRITE_SECONDS, go, out), daemon=True
        )
        for n in range(WRITERS)
    ]
    schedulers: list[Scheduler] = []
    try:
        for proc in writers:
            proc.start()
        go.set()

        # The first scheduler leads and starts on the backlog; kill it inside that batch.
        first = Scheduler("a", {**env, "PGAPPNAME": "scheduler-a"}, tmp_path)
        schedulers.append(first)
        wait_for(lambda: sealing_now(admin, "scheduler-a"), 60, "a is inside a seal batch")
        first.kill()
        assert leaves(admin) < BACKLOG, "the kill did not land inside the first batch"

        standby = Scheduler("b", env, tmp_path)
        schedulers.append(standby)
        wait_for(lambda: leaves(admin) >= BACKLOG, 60, "the next scheduler seals the backlog")

        time.sleep(2)
        cluster.server.restart(immediate=True, down_seconds=1.0)
        late = Scheduler("c", env, tmp_path)
        schedulers.append(late)

        results = [out.get(timeout=WRITE_SECONDS + 120) for _ in writers]
        for proc in writers:
            proc.join(30)
        wait_for(lambda: unsealed(admin) == 0, 60, "every committed entry is sealed")
        leader = wait_for(lambda: sole_leader(cluster, schedulers), 60, "exactly one leader")
        assert leader in (standby, late)
        assert all(s.alive for s in schedulers if s is not first)

        committed = {uuid: at for _, done, _, _ in results for uuid, at in done}
        uncertain = {uuid for _, _, maybe, _ in results for uuid in maybe}
        rolled_back = {uuid for _, _, _, undone in results for uuid in undone}
        assert len(committed) > WRITERS * RATE * 5, "the writers barely wrote: nothing tested"

        tree = check_tree(admin)  # no gap, no duplicate, batches tile the leaves
        seals = sealed_at(admin)
        assert set(committed) <= set(tree), "a committed entry is missing from the tree"
        assert not rolled_back & set(tree), "a rolled-back entry was sealed"
        assert set(tree) - set(committed) - uncertain == waiting_before
        late_seals = {
            uuid: round(seals[uuid] - at, 1)
            for uuid, at in committed.items()
            if seals[uuid] - at > LAG_BOUND
        }
        assert not late_seals, f"sealed later than {LAG_BOUND} s after commit: {late_seals}"

        # Offline, the whole history verifies.
        bundle = tmp_path / "bundle"
        for args in (["audit", "export", str(bundle)], ["audit", "verify", str(bundle)]):
            run = subprocess.run(
                [str(HUB), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith("OK: ")
    except AssertionError:
        for scheduler in schedulers:
            print(f"--- {scheduler.name} ---\n{scheduler.output[-4000:]}")
        raise
    finally:
        for proc in writers:
            if proc.is_alive():
                proc.kill()
        stop_all(schedulers)
        admin.dispose()
