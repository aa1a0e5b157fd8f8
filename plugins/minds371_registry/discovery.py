"""Discovery with failover: probe a service's endpoints and order them healthy-first.

:class:`HealthChecker` probes every endpoint of a record at once (an anyio task group), each with a
short timeout, and caches each answer for ``cache_ttl`` seconds so that a busy caller does not
hammer a service. ``http(s)://`` endpoints get a ``GET`` (healthy on 2xx or 3xx; redirects are not
followed), ``tcp://`` endpoints a TCP connect; ``udp://`` cannot be probed and counts as down.
Endpoints off this machine are not probed while ``minds371.ALLOW_NETWORK`` is false.

Endpoints on addresses no public provider can own (loopback, private, link-local, ...; names are
resolved first) are not probed either, unless the checker is built with ``allow_private`` (the
environment's ``MINDS371_PROBE_PRIVATE=1``): they count as down, with the reason. Hosts a
:class:`ProbeRoute` covers are configured on purpose and are probed through their route.

Ordering is stable: healthy endpoints first, in the order the record lists them, then the rest.

A :class:`ProbeRoute` sends the probes of hosts under a domain somewhere else, keeping the
original ``Host`` header, the way a load balancer or an ``/etc/hosts`` entry would: the local
sandbox marketplace answers for its providers' ingress hosts (``*.sandbox.test``, which no DNS
resolves) that way, served on 127.0.0.1 or in process.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpx
from pydantic import BaseModel, ConfigDict

from minds371.config import is_loopback_url
from minds371.errors import ServiceUnavailable
from minds371.lifecycle import AsyncResource
from minds371_registry._addresses import Resolver, private_address_refusal

__all__ = ["EndpointHealth", "HealthChecker", "ProbeRoute", "first_healthy"]


@dataclass(frozen=True, slots=True)
class ProbeRoute:
    """Probe HTTP endpoints whose host ends with ``suffix`` at ``base_url`` instead.

    Attributes:
        suffix: A host suffix such as ``.sandbox.test``.
        base_url: Where such probes go (scheme, host, port); the path and query are kept and
            the original host is sent as the ``Host`` header.
        client: The client to send them with (e.g. one into an in-process ASGI app, which then
            counts as this machine); default: the checker's own.
    """

    suffix: str
    base_url: str
    client: httpx.AsyncClient | None = None

    def matches(self, host: str) -> bool:
        """Whether probes of ``host`` take this route."""
        return host == self.suffix.lstrip(".") or host.endswith(self.suffix)


class EndpointHealth(BaseModel):
    """The outcome of probing one endpoint.

    Attributes:
        url: The endpoint as the record lists it.
        healthy: Whether it answered as a healthy service does.
        status: The HTTP status it answered, for HTTP endpoints that answered.
        latency_ms: How long the probe took.
        error: Why it counts as down, when it does.
        checked_at: When it was probed (Unix seconds).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    healthy: bool
    status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    checked_at: float


class HealthChecker(AsyncResource):
    """Probes endpoints concurrently, with a per-probe timeout and a cache.

    Args:
        timeout: Seconds a probe may take before the endpoint counts as down.
        cache_ttl: Seconds a probe's answer is reused (0 turns the cache off).
        health_path: A path appended to HTTP endpoints for the probe (e.g. ``/healthz``); by
            default the endpoint URL itself is fetched.
        http_client: An httpx client to use (not closed here); one is created when omitted.
        routes: Where to send the probes of some hosts (see :class:`ProbeRoute`).
        allow_private: Probe endpoints on loopback, private and other non-public addresses too
            (a deployment on a private network, a test server on this machine).
        resolve: Gives a host name's addresses for that check (default: the system resolver).
        clock: Seconds, monotonic (injected by tests).
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        cache_ttl: float = 10.0,
        health_path: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        routes: Sequence[ProbeRoute] = (),
        allow_private: bool = False,
        resolve: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = tuple(routes)
        self.allow_private = allow_private
        self._resolve = resolve
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.health_path = health_path
        self._own_client = http_client is None
        # Made on the first probe: a client loads the CA bundle (tens of ms), and most
        # registry uses (register, resolve) never probe.
        self._http_client = http_client
        self._clock = clock
        self._cache: dict[str, tuple[float, EndpointHealth]] = {}

    async def aclose(self) -> None:
        """Close the HTTP client if this checker created it."""
        if self._own_client and self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http_client is None:
            self._http_client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._http_client

    def forget(self) -> None:
        """Drop every cached answer."""
        self._cache.clear()

    async def check_all(self, urls: Sequence[str]) -> list[EndpointHealth]:
        """Probe ``urls`` concurrently; return them healthy-first (stable within each group)."""
        results: dict[int, EndpointHealth] = {}

        async def one(index: int, url: str) -> None:
            results[index] = await self.check(url)

        async with anyio.create_task_group() as group:
            for index, url in enumerate(urls):
                group.start_soon(one, index, url)
        ordered = [results[i] for i in range(len(urls))]
        return [r for r in ordered if r.healthy] + [r for r in ordered if not r.healthy]

    async def check(self, url: str) -> EndpointHealth:
        """Probe one endpoint (or reuse a fresh cached answer)."""
        now = self._clock()
        cached = self._cache.get(url)
        if cached is not None and now < cached[0]:
            return cached[1]
        result = await self._probe(url)
        if self.cache_ttl > 0:
            self._cache[url] = (self._clock() + self.cache_ttl, result)
        return result

    async def _probe(self, url: str) -> EndpointHealth:
        import minds371

        scheme = urlsplit(url).scheme
        route = self._route(url) if scheme in ("http", "https") else None
        if route is None and not self.allow_private:
            refusal: str | None = None
            with anyio.move_on_after(self.timeout) as scope:  # a resolver can hang far longer
                refusal = await self._refusal(url)
            if scope.cancelled_caught:
                return _down(url, f"not probed: its host did not resolve within {self.timeout} s")
            if refusal is not None:
                return _down(
                    url,
                    f"not probed: {refusal}, which no public provider can own "
                    "(set MINDS371_PROBE_PRIVATE=1 to probe such addresses)",
                )
        local = is_loopback_url(route.base_url if route else url) or bool(route and route.client)
        if not minds371.ALLOW_NETWORK and not local:
            return _down(url, "not probed: network access is disabled (minds371.ALLOW_NETWORK)")
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.timeout):
                if scheme in ("http", "https"):
                    return await self._probe_http(url, started, route)
                if scheme == "tcp":
                    return await self._probe_tcp(url, started)
        except TimeoutError:
            return _down(url, f"no answer within {self.timeout} s", started)
        return _down(url, f"cannot probe {scheme}:// endpoints")

    async def _refusal(self, url: str) -> str | None:
        import minds371

        host = urlsplit(url).hostname or ""
        if not minds371.ALLOW_NETWORK and not is_loopback_url(url):
            # Resolving a name is itself network traffic; such a probe is refused below anyway.
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return None
        if self._resolve is None:
            return await private_address_refusal(host)
        return await private_address_refusal(host, resolve=self._resolve)

    def _route(self, url: str) -> ProbeRoute | None:
        host = urlsplit(url).hostname or ""
        return next((r for r in self.routes if r.matches(host)), None)

    async def _probe_http(
        self, url: str, started: float, route: ProbeRoute | None = None
    ) -> EndpointHealth:
        target = url.rstrip("/") + self.health_path if self.health_path else url
        client, headers = self._client, {}
        if route is not None:
            parts = urlsplit(target)
            headers = {"host": parts.netloc}
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            target = route.base_url.rstrip("/") + path
            client = route.client or self._client
        try:
            # Only the status line and headers matter: the body is never read, so an endpoint
            # cannot make the prober download anything.
            async with client.stream("GET", target, headers=headers) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return _down(url, f"{type(exc).__name__}: {exc}".rstrip(": "), started)
        healthy = 200 <= status < 400
        return EndpointHealth(
            url=url,
            healthy=healthy,
            status=status,
            latency_ms=_elapsed_ms(started),
            error=None if healthy else f"HTTP {status}",
            checked_at=time.time(),
        )

    async def _probe_tcp(self, url: str, started: float) -> EndpointHealth:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            return _down(url, "a tcp:// endpoint needs a host and a port", started)
        try:
            stream = await anyio.connect_tcp(parts.hostname, parts.port)
        except OSError as exc:
            return _down(url, f"{type(exc).__name__}: {exc}", started)
        await stream.aclose()
        return EndpointHealth(
            url=url, healthy=True, latency_ms=_elapsed_ms(started), checked_at=time.time()
        )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _down(url: str, error: str, started: float | None = None) -> EndpointHealth:
    return EndpointHealth(
        url=url,
        healthy=False,
        latency_ms=None if started is None else _elapsed_ms(started),
        error=error,
        checked_at=time.time(),
    )


def first_healthy(name: str, results: Sequence[EndpointHealth]) -> EndpointHealth:
    """The first healthy endpoint of ``results``.

    Raises:
        ServiceUnavailable: if none is healthy, naming every endpoint tried and why it failed.
    """
    for result in results:
        if result.healthy:
            return result
    tried = "; ".join(f"{r.url} ({r.error})" for r in results) or "no endpoints"
    raise ServiceUnavailable(
        f"no endpoint of {name!r} is healthy: tried {tried}",
        retryable=True,
        details={"name": name, "tried": [r.model_dump() for r in results]},
    )
