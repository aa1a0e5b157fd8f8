"""Workers elect one deployment watcher: a lost lease is re-leased once, a killed leader replaced.

Real parts: redis-server on a free loopback port, ``minds371 sandbox serve`` on 127.0.0.1, and
either two watcher runners in this process on two Redis clients (as two workers would hold them)
or two ``minds371 worker`` processes.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371 import AgentRuntime
from minds371.bus.leader import WatchLeadership
from minds371.state.redis import RedisStateStore
from minds371.tasks import TaskStatus
from minds371_deploy._plugin import agent_for, watcher_for
from minds371_deploy.watcher import RELET, DeploymentWatcher
from tests.deploy.conftest import Sandbox
from tests.deploy.test_workers import (  # noqa: F401 - redis_url is a fixture
    CLAIM_IDLE,
    deploy_task,
    redis_url,
    serving,
    worker,
)

#: Seconds the watcher's lease lives in the in-process test.
TTL = 5.0


def leases_of(sandbox: Sandbox, dseq: int) -> list[dict[str, Any]]:
    (deployment,) = [d for d in sandbox.deployments() if int(d["dseq"]) == dseq]
    return list(deployment["leases"])


async def test_two_workers_watching_one_state_re_lease_a_lost_lease_once(
    redis_url: str,  # noqa: F811
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    namespace = "watch-once"
    deployer = RedisStateStore(redis_url, namespace=namespace)
    runtime = AgentRuntime(store=deployer)
    # The deploying runtime's own watcher service never leads (it never takes the lease).
    watcher_for(runtime).store = WatchLeadership(deployer, ttl=TTL).fenced(deployer)
    async with runtime:
        task = deploy_task("watched")
        await runtime.dispatch(task)
        with anyio.fail_after(60):
            while (
                record := await deployer.get_task(task.id)
            ) is None or not record.status.is_final:
                await anyio.sleep(0.1)
        assert record.result is not None and record.status is TaskStatus.COMPLETED, record.result
        result = record.result.output
        dseq = int(result["dseq"])
        sandbox.admin(
            "POST",
            "/sandbox/leases/close",
            json={"owner": result["owner"], "dseq": dseq, "gseq": 1},
        )
        before = leases_of(sandbox, dseq)
        assert not [lease for lease in before if lease["state"] == "active"]
        agent = agent_for(runtime)
        one, two = (RedisStateStore(redis_url, namespace=namespace) for _ in range(2))
        async with one, two, anyio.create_task_group() as group:
            leaders = [WatchLeadership(store, ttl=TTL) for store in (one, two)]
            watchers = [
                DeploymentWatcher(agent, leader.fenced(store), relet_bid_wait=10.0)
                for leader, store in zip(leaders, (one, two), strict=True)
            ]
            for leader in leaders:
                group.start_soon(leader.keep)
            with anyio.fail_after(10):
                while not any(leader.leading for leader in leaders):
                    await anyio.sleep(0.05)
            passes: list[list[Any]] = [[], []]

            async def watch(index: int) -> None:
                passes[index] = await watchers[index].check_once()

            with anyio.fail_after(60):
                async with anyio.create_task_group() as both:
                    both.start_soon(watch, 0)
                    both.start_soon(watch, 1)
            assert sum(leader.leading for leader in leaders) == 1
            group.cancel_scope.cancel()
        relets = [a for p in passes for a in p if a.kind == "relet"]
        assert [(a.dseq, a.data["gseq"]) for a in relets] == [(dseq, 1)]
        assert [p for p in passes if p] == [[a for p in passes for a in p]]  # one worker acted
        after = leases_of(sandbox, dseq)
        new = [lease for lease in after if lease not in before]
        assert len(new) == 1 and new[0]["state"] == "active", after
        steps = await deployer.steps(task.id)
        assert len([s for s in steps if s.name == RELET]) == 1
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": dseq})


async def test_a_worker_that_lost_the_watchers_lease_journals_nothing(
    redis_url: str,  # noqa: F811
) -> None:
    from minds371.state.redis import LeaseLost

    async with RedisStateStore(redis_url, namespace="fenced") as store:
        leader = WatchLeadership(store, ttl=TTL)
        view = leader.fenced(store)
        assert await view.list_tasks() == []  # a worker that does not lead watches nothing
        assert await leader.hold_once()
        await view.record_step("t1", "deployment.relet", {"dseq": 1})
        # Another worker took the lease (this one stalled past it): its writes are refused.
        await store.client.set(leader.key, "another-token")
        with pytest.raises(LeaseLost):
            await view.record_step("t1", "deployment.relet", {"dseq": 1})
        assert [s.name for s in await store.steps("t1")] == ["deployment.relet"]
        assert not await leader.hold_once()
        assert not leader.leading
        with pytest.raises(LeaseLost):
            await view.steps("t1")  # a pass under way stops at its next deployment
        assert await store.client.get(leader.key) == b"another-token"
        await leader.release()  # not its own: left alone
        assert await store.client.get(leader.key) == b"another-token"


def watching(log: Path) -> bool:
    """Whether a worker's log says it became the watcher."""
    return '"minds371.worker.watching"' in log.read_text()


def test_when_the_watching_worker_is_killed_another_takes_over_watching(
    redis_url: str,  # noqa: F811
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    namespace = "watch-takeover"
    with (
        worker(redis_url, namespace, tmp_path / "home1", sandbox, logs[0]) as one,
        worker(redis_url, namespace, tmp_path / "home2", sandbox, logs[1]) as two,
    ):
        serving((one, logs[0]), (two, logs[1]))
        deadline = time.monotonic() + 30
        while not any(watching(log) for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.05)
        time.sleep(1.0)  # a few renewals: the other worker must still not watch
        leading = [i for i, log in enumerate(logs) if watching(log)]
        assert len(leading) == 1
        (index,) = leading
        leader, other = (one, two) if index == 0 else (two, one)
        killed_at = time.monotonic()
        leader.send_signal(signal.SIGKILL)
        assert leader.wait(timeout=10) == -signal.SIGKILL
        deadline = killed_at + 30
        while not watching(logs[1 - index]):
            assert other.poll() is None and time.monotonic() < deadline, logs[1 - index]
            time.sleep(0.05)
        took = time.monotonic()
    ttl = CLAIM_IDLE * 0.75
    print(f"watcher taken over {took - killed_at:.2f} s after its leader was killed (ttl {ttl} s)")
    # Within the lease's lifetime plus one round of trying (ttl / 5), with slack for a busy host.
    assert took - killed_at < ttl + ttl / 5 + 2.0
