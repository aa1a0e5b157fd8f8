"""Closing a deployment retires its registry record, on every close path: ``minds371 close``, the
watcher (ttl, found closed) and a failed task's compensation. Against the served sandbox."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
import structlog

from minds371 import AgentRuntime, MemoryStateStore
from minds371.cli import main
from minds371.config import home_for
from minds371.errors import ProviderError
from minds371.tasks import AgentType, Task, TaskEvent, TaskResult, TaskStatus
from minds371_deploy._plugin import agent_for
from minds371_deploy._retire import retire_record
from minds371_deploy.reconcile import reconcile
from minds371_deploy.saga import CREATED
from minds371_deploy.watcher import DeploymentWatcher
from minds371_registry import (
    BlockchainRegistryProvider,
    LocalContentStore,
    LocalLedger,
    ServiceRecord,
)
from tests.deploy.conftest import Sandbox, sandbox, web_request

__all__ = ["sandbox"]  # the served sandbox fixture, shared with tests/deploy


async def _resolve(name: str) -> ServiceRecord:
    async with BlockchainRegistryProvider.default(read_only=True) as registry:
        return await registry.resolve(name)


async def _latest(name: str) -> tuple[int, bool]:
    resolved = await _resolve(name)
    return resolved.sequence, resolved.retired


async def test_minds371_close_retires_the_record_and_discover_says_retired(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    _quiet_cli_logging(monkeypatch)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("shop"))
    dseq = str(result["dseq"])
    code, out, err = await _main(capsys, "close", dseq, "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "dseq": dseq,
        "closed": True,
        "replicas_closed": [],
        "replicas_not_closed": {},
        "retired": ["shop"],
        "journaled": False,  # its task's state was in memory: nothing here to journal
    }
    assert int(dseq) not in sandbox.active_dseqs()
    code, out, _ = await _main(capsys, "discover", "shop")
    assert code == 1 and out.startswith("retired") and "http" not in out
    code, out, _ = await _main(capsys, "registry", "history", "shop")
    history = out.splitlines()
    assert code == 0 and len(history) == 2 and history[1].startswith("#2 ")
    assert " retired " in history[1] and f"dseq {dseq}" in history[1]


def _quiet_cli_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() would bind structlog to this test's captured stderr for the rest of the session.
    def configure(*args: object, **kwargs: object) -> None:
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=sys.__stderr__),
            cache_logger_on_first_use=False,
        )

    monkeypatch.setattr("minds371.cli.configure_cli_logging", configure)


async def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The CLI runs its own event loop, so it runs in a thread of its own.
    capsys.readouterr()
    code = await anyio.to_thread.run_sync(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_the_watchers_ttl_close_retires_the_record(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("brief", ttl=600))
        assert await _latest("brief") == (1, False)
        now = time.time() + 601
        watcher = DeploymentWatcher(agent_for(runtime), runtime.store, clock=lambda: now)
        actions = await watcher.check_once()
    assert [(a.kind, a.dseq) for a in actions] == [("expired", int(result["dseq"]))]
    assert await _latest("brief") == (2, True)


async def test_a_deployment_closed_elsewhere_is_retired_by_the_watcher(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", web_request("gone"))
            await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"])})
        actions = await DeploymentWatcher(agent_for(runtime), runtime.store).check_once()
        found = await runtime.execute_action("DISCOVER_SERVICE", {"name": "gone"})
    assert [a.kind for a in actions] == ["closed"]
    assert await _latest("gone") == (2, True)
    assert (found["status"], found["sequence"], found["endpoints"]) == ("retired", 2, [])


async def test_a_task_that_fails_after_registering_retires_what_it_registered(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, clean_environ: Path
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    # The monitor script is written after the record is published: a file where its folder
    # must go makes the task fail there, and its compensation close the deployment.
    state_dir = home_for(clean_environ, sandbox.url)  # a served sandbox's state is its own
    await anyio.Path(state_dir).mkdir(parents=True, exist_ok=True)
    await anyio.Path(state_dir / "deployments").write_text("in the way")
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60), pytest.raises(ProviderError, match="Not a directory"):
            await runtime.execute_action("DEPLOY_TO_AKASH", web_request("fragile"))
    tomb = await _resolve("fragile")
    assert (tomb.sequence, tomb.retired) == (2, True)
    assert tomb.record.dseq not in sandbox.active_dseqs()  # closed, then retired


async def test_reconcile_closing_a_failed_tasks_deployment_retires_its_record(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment registered under "orphan", then held by a task that failed without closing
    # it (its compensation was cut short): reconcile closes it, and must retire the record.
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    store = MemoryStateStore()
    request = web_request("orphan")
    async with AgentRuntime(store=store) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action("DEPLOY_TO_AKASH", request)
    dseq = int(result["dseq"])
    task = Task(agent_type=AgentType.DEPLOYMENT, payload=request)
    await store.create_task(task)
    await store.record_step(task.id, CREATED, {"dseq": dseq, "version": result["version"]})
    failed = TaskResult(task_id=task.id, status=TaskStatus.FAILED)
    await store.finish(
        failed, TaskEvent(task_id=task.id, seq=1, type="task.failed", status=TaskStatus.FAILED)
    )
    report = await reconcile(AgentRuntime(store=store))
    assert [c["dseq"] for c in report["closed"]] == [str(dseq)]
    assert dseq not in sandbox.active_dseqs()
    assert await _latest("orphan") == (2, True)


async def test_retiring_never_fails_a_close(clean_environ: Path) -> None:
    # A registry that cannot sign: the close stands, the failure is reported as False.
    def read_only() -> BlockchainRegistryProvider:
        return BlockchainRegistryProvider(
            ledger=LocalLedger(clean_environ / "l.db"),
            content=LocalContentStore(clean_environ / "c"),
            trusted_signers=["0x" + "11" * 20],
        )

    assert await retire_record(read_only, "web", 5, "failure") is False
