"""A runtime whose tasks other processes share is warned off the per-process embedded sandbox."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from minds371 import AgentRuntime, MemoryStateStore
from minds371.state.redis import RedisStateStore
from tests.servers.redis_server import redis_server

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/test.sh)"
)
EVENT = "minds371.deploy.embedded_sandbox_per_process"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.mark.parametrize(("sandbox_url", "warned"), [(None, True), ("http://127.0.0.1:9", False)])
async def test_a_shared_runtime_without_a_served_sandbox_is_warned(
    redis_url: str,
    clean_environ: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_url: str | None,
    warned: bool,
) -> None:
    if sandbox_url is None:
        monkeypatch.delenv("MINDS371_SANDBOX_URL", raising=False)
    else:
        monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox_url)
    with capture_logs() as logs:
        async with (
            RedisStateStore(redis_url, namespace=f"warn{warned}") as shared,
            AgentRuntime(store=shared),
        ):
            pass
    said = [e for e in logs if e["event"] == EVENT]
    assert bool(said) is warned
    if warned:
        assert "MINDS371_SANDBOX_URL" in said[0]["say"]


async def test_a_runtime_of_its_own_on_the_embedded_sandbox_is_not_warned(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MINDS371_SANDBOX_URL", raising=False)
    with capture_logs() as logs:
        async with AgentRuntime(store=MemoryStateStore()):
            pass
    assert [e for e in logs if e["event"] == EVENT] == []
