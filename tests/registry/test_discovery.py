"""Discovery against real HTTP servers and sockets on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from minds371.errors import ServiceUnavailable
from minds371_registry import BlockchainRegistryProvider, HealthChecker
from minds371_registry.discovery import first_healthy

from .conftest import make_facts


async def test_one_of_three_down_healthy_come_first(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str], dead_endpoint: str
):
    a, c = http_endpoint(200), http_endpoint(204)
    await registry.register(make_facts(endpoints=(dead_endpoint, a, c)))
    results = await registry.endpoints("web")
    assert [r.url for r in results] == [a, c, dead_endpoint]
    assert [r.healthy for r in results] == [True, True, False]
    assert results[0].status == 200 and results[2].error
    assert (await registry.connect("web")).url == a


async def test_all_down_raises_naming_each_endpoint(
    registry: BlockchainRegistryProvider, http_endpoint: Callable[..., str], dead_endpoint: str
):
    sick = http_endpoint(500)
    await registry.register(make_facts(endpoints=(dead_endpoint, sick)))
    with pytest.raises(ServiceUnavailable) as info:
        await registry.connect("web")
    tried = [t["url"] for t in info.value.details["tried"]]
    assert tried == [dead_endpoint, sick]


async def test_answers_are_cached_for_the_ttl(http_endpoint: Callable[..., str]):
    now = [0.0]
    url = http_endpoint(200)
    async with HealthChecker(cache_ttl=5, clock=lambda: now[0]) as checker:
        first = await checker.check(url)
        assert (await checker.check(url)) is first
        now[0] = 6.0
        assert (await checker.check(url)) is not first


async def test_a_slow_endpoint_times_out():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        async with HealthChecker(timeout=0.2, cache_ttl=0) as checker:
            result = await checker.check(url)
    assert not result.healthy and "within 0.2 s" in (result.error or "")


async def test_tcp_endpoints_are_probed_by_connecting(dead_endpoint: str):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        live = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        dead = dead_endpoint.replace("http://", "tcp://").removesuffix("/health")
        async with HealthChecker(timeout=1, cache_ttl=0) as checker:
            results = await checker.check_all([dead, live])
    assert [(r.url, r.healthy) for r in results] == [(live, True), (dead, False)]


async def test_off_machine_endpoints_are_not_probed_in_tests():
    async with HealthChecker(cache_ttl=0) as checker:
        result = await checker.check("https://example.com/")
    assert not result.healthy and "network access is disabled" in (result.error or "")


def test_first_healthy_with_no_endpoints():
    with pytest.raises(ServiceUnavailable, match="no endpoints"):
        first_healthy("web", [])


def test_probe_routes_send_unresolvable_hosts_to_the_server_that_answers_for_them():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from minds371_registry import ProbeRoute

    seen: list[str] = []

    class Ingress(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers["Host"])
            healthy = self.headers["Host"] == "web.p1.sandbox.test"
            self.send_response(200 if healthy else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingress)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    async def probe() -> list[tuple[str, bool]]:
        route = ProbeRoute(".sandbox.test", base)
        async with HealthChecker(routes=[route], cache_ttl=0) as checker:
            found = await checker.check_all(
                ["http://web.p2.sandbox.test/", "http://web.p1.sandbox.test/"]
            )
        return [(r.url, r.healthy) for r in found]

    import anyio

    try:
        results = anyio.run(probe)
    finally:
        server.shutdown()
        server.server_close()
    assert results == [
        ("http://web.p1.sandbox.test/", True),
        ("http://web.p2.sandbox.test/", False),
    ]
    assert sorted(seen) == ["web.p1.sandbox.test", "web.p2.sandbox.test"]
