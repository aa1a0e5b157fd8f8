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
    async with HealthChecker(cache_ttl=5, clock=lambda: now[0], allow_private=True) as checker:
        first = await checker.check(url)
        assert (await checker.check(url)) is first
        now[0] = 6.0
        assert (await checker.check(url)) is not first


async def test_a_slow_endpoint_times_out():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        async with HealthChecker(timeout=0.2, cache_ttl=0, allow_private=True) as checker:
            result = await checker.check(url)
    assert not result.healthy and "within 0.2 s" in (result.error or "")


async def test_tcp_endpoints_are_probed_by_connecting(dead_endpoint: str):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        live = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        dead = dead_endpoint.replace("http://", "tcp://").removesuffix("/health")
        async with HealthChecker(timeout=1, cache_ttl=0, allow_private=True) as checker:
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


# -- addresses no public provider can own ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "is a loopback address"),
        ("localhost", "localhost is this machine"),
        ("api.localhost", "api.localhost is this machine"),
        ("10.1.2.3", "a private or reserved address"),
        ("172.16.0.9", "a private or reserved address"),
        ("192.168.1.1", "a private or reserved address"),
        ("100.64.0.1", "a private or reserved address"),
        ("0.0.0.0", "a private or reserved address"),
        ("[fc00::1]", "a private or reserved address"),
        ("169.254.169.254", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
    ],
)
async def test_non_public_addresses_are_not_probed(host: str, why: str):
    async with HealthChecker(cache_ttl=0, timeout=0.5) as checker:
        http = await checker.check(f"http://{host}:8080/health")
        tcp = await checker.check(f"tcp://{host}:5432")
    for result in (http, tcp):
        assert not result.healthy and result.status is None and result.latency_ms is None
        assert why in (result.error or "") and "no public provider can own" in (result.error or "")


async def test_a_live_loopback_service_is_probed_only_when_allowed(
    http_endpoint: Callable[..., str],
):
    from .conftest import hits

    url = http_endpoint(200)
    async with HealthChecker(cache_ttl=0) as checker:
        refused = await checker.check(url)
    assert not refused.healthy and "MINDS371_PROBE_PRIVATE=1" in (refused.error or "")
    assert hits(url) == 0
    async with HealthChecker(cache_ttl=0, allow_private=True) as checker:
        assert (await checker.check(url)).healthy
    assert hits(url) == 1


async def test_names_are_refused_by_what_they_resolve_to():
    from minds371_registry._addresses import Resolver, private_address_refusal

    def resolver(*addresses: str) -> Resolver:
        async def resolve(host: str) -> list[str]:
            return list(addresses)

        return resolve

    rebinding = resolver("93.184.216.34", "10.0.0.7")  # one public answer is not enough
    assert await private_address_refusal("svc.example.net", resolve=rebinding) == (
        "svc.example.net resolves to 10.0.0.7, a private or reserved address"
    )
    public = resolver("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert await private_address_refusal("svc.example.net", resolve=public) is None
    assert await private_address_refusal("93.184.216.34") is None


async def test_a_name_is_checked_by_what_it_resolves_to_before_any_probe(
    monkeypatch: pytest.MonkeyPatch,
):
    import anyio

    import minds371

    monkeypatch.setattr(minds371, "ALLOW_NETWORK", True)  # names are resolved only then

    async def private(host: str) -> list[str]:
        return ["169.254.169.254"]

    async def hanging(host: str) -> list[str]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with HealthChecker(cache_ttl=0, resolve=private) as checker:
        result = await checker.check("http://metadata.example.net/latest/")
    assert not result.healthy and result.error == (
        "not probed: metadata.example.net resolves to 169.254.169.254, a link-local address, "
        "which no public provider can own (set MINDS371_PROBE_PRIVATE=1 to probe such addresses)"
    )
    async with HealthChecker(cache_ttl=0, timeout=0.2, resolve=hanging) as checker:
        result = await checker.check("tcp://slow.example.net:5432")
    assert result.error == "not probed: its host did not resolve within 0.2 s"
