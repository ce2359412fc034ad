"""Two real `hub scheduler` processes, and the database restarts under them.

Before, the standby crashed on the restart, the leader lost its advisory lock without
noticing and carried on, and a scheduler started afterwards led too: every job ran twice.
Now exactly one leads afterwards, and it is the one that holds the locks.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audit.ledger import SEALER_LOCK_KEY
from hub.scheduler import SCHEDULER_LOCK_KEY
from tests.faults.conftest import Cluster, lock_holders
from tests.support.processes import STEPPED_DOWN, Scheduler, hub_env, stop_all, wait_for


def sole_leader(cluster: Cluster, schedulers: list[Scheduler]) -> Scheduler | None:
    """The one scheduler that says it leads and holds both locks, if exactly one does."""
    leading = [s for s in schedulers if s.leads]
    scheduler_locks = lock_holders(cluster, SCHEDULER_LOCK_KEY)
    sealer_locks = lock_holders(cluster, SEALER_LOCK_KEY)
    if len(leading) != 1 or len(scheduler_locks) != 1 or len(sealer_locks) != 1:
        return None
    leader = leading[0]
    if scheduler_locks != [f"hub scheduler {leader.pid}"]:
        return None
    if sealer_locks != [f"hub ledger sealer {leader.pid}"]:
        return None
    return leader


def test_after_a_database_restart_exactly_one_scheduler_leads(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = hub_env(cluster.sealer_url, tmp_path / "instance")
    schedulers = [Scheduler("a", env, tmp_path), Scheduler("b", env, tmp_path)]
    try:
        first = wait_for(lambda: sole_leader(cluster, schedulers), 60, "one scheduler leads")
        standby = next(s for s in schedulers if s is not first)

        cluster.server.restart(immediate=True, down_seconds=1.0)  # a crash of the server

        # The old leader finds its lock gone and steps down; one of the two leads again.
        wait_for(lambda: STEPPED_DOWN in first.output, 30, "the old leader steps down")
        leader = wait_for(lambda: sole_leader(cluster, schedulers), 60, "one leads again")
        assert standby.alive, "the standby must survive the restart:\n" + standby.output
        assert first.alive, first.output

        # A scheduler started now stands by, and the leadership stays where it is.
        late = Scheduler("c", env, tmp_path)
        schedulers.append(late)
        wait_for(lambda: "scheduler waiting for leadership" in late.output, 60, "c waits")
        time.sleep(2)  # several of every scheduler's lock checks
        assert sole_leader(cluster, schedulers) is leader
        assert not late.leads and late.alive
        others = [s for s in schedulers if s is not leader]
        assert all(not s.leads for s in others)
    except AssertionError:
        for scheduler in schedulers:
            print(f"--- {scheduler.name} ---\n{scheduler.output[-3000:]}")
        raise
    finally:
        stop_all(schedulers)


pytestmark = pytest.mark.postgres_only
