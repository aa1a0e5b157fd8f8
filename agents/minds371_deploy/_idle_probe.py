"""Reading a deployment's activity counter: the ``probe`` of a request's ``idle`` (see below).

A probe is a path on the deployment's own HTTP endpoints (the ingress hosts its leases report),
in one of two forms, each a counter that grows with the requests the service answers:

* ``/requests`` (any path): the body is that count, a non-negative whole number in decimal
  (``42``, with or without a final newline; a JSON number is the same text);
* ``/metrics#http_requests_total`` (a path and a metric name): the body is Prometheus' text
  exposition format, and the count is the sum of every sample of that metric (all its labels).

The answer must be ``200``; anything else (another status, a body that is not such a count, a
metric that is not there, no answer within the timeout, no HTTP endpoint) is a *probe failure*:
reported, never taken for idleness. A service should not count the probe's own requests.

What providers report as endpoints is untrusted, so a probe refuses hosts on loopback or private
addresses unless a :class:`~minds371_registry.ProbeRoute` covers them (the sandbox's ingress) or
``MINDS371_PROBE_PRIVATE=1``, follows no redirect, and reads at most :data:`MAX_BODY` bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpx

import minds371
from minds371.config import is_loopback_url
from minds371_registry import ProbeRoute
from minds371_registry._addresses import private_address_refusal

__all__ = ["MAX_BODY", "IdleProbe", "ProbeFailed", "read_counters"]

#: The most of a probe's answer that is read; a longer body is a failure.
MAX_BODY = 256 * 1024
_COUNT = re.compile(r"\s*(\d{1,30})\s*\Z")
# One sample line of the text format: name, optional {labels}, value, optional timestamp.
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?\s*\Z")


class ProbeFailed(Exception):
    """The probe could not read a count (the reason is the message); not a sign of idleness."""


@dataclass(frozen=True, slots=True)
class IdleProbe:
    """A request's ``idle.probe``, split: the path (with its query) and the metric, if any."""

    path: str
    metric: str | None = None

    @classmethod
    def parse(cls, text: str) -> IdleProbe:
        """Split a validated ``probe`` (``/path`` or ``/path#metric``)."""
        path, _, metric = text.partition("#")
        return cls(path, metric or None)

    def count(self, body: str) -> float:
        """The activity count in a probe's answer.

        Raises:
            ProbeFailed: the body is not this probe's kind of count.
        """
        if self.metric is None:
            match = _COUNT.match(body)
            if match is None:
                raise ProbeFailed(
                    f"{self.path} did not answer a request count (a whole number): {body[:60]!r}"
                )
            return float(int(match.group(1)))
        total, found = 0.0, False
        for line in body.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _SAMPLE.match(line.strip())
            if match is None or match.group(1) != self.metric:
                continue
            try:
                value = float(match.group(3))
            except ValueError:
                raise ProbeFailed(
                    f"{self.metric} has a sample that is not a number: {match.group(3)[:30]!r}"
                ) from None
            if not math.isfinite(value):
                raise ProbeFailed(f"{self.metric} has a sample that is not finite")
            total, found = total + value, True
        if not found:
            raise ProbeFailed(f"{self.path} has no {self.metric} sample")
        return total


async def read_counters(
    urls: Sequence[str],
    probe: IdleProbe,
    *,
    routes: Sequence[ProbeRoute] = (),
    allow_private: bool = False,
    per_probe: float = 5.0,
) -> dict[str, float]:
    """Read the count of ``probe`` at every endpoint in ``urls`` (``http://host`` each).

    Args:
        urls: The deployment's HTTP endpoints (its replicas' too).
        probe: The request's ``idle.probe``.
        routes: Where the probes of some hosts go (the sandbox's ingress hosts).
        allow_private: Probe loopback and private addresses too (``MINDS371_PROBE_PRIVATE``).
        per_probe: Seconds one endpoint may take to answer in full.

    Returns:
        ``{endpoint: count}`` for every endpoint.

    Raises:
        ProbeFailed: no endpoint was given, or any endpoint's count could not be read (one
            unread endpoint could be the one that is busy).
    """
    if not urls:
        raise ProbeFailed(
            "no lease reports an HTTP endpoint to probe (its provider may be unreachable)"
        )
    counts: dict[str, float] = {}
    failures: dict[str, str] = {}
    # A client of its own only for endpoints no routed client reaches: making one loads the CA
    # bundle (tens of ms), which a pass over the embedded sandbox never needs.
    unrouted = any(
        not any(r.matches(urlsplit(u).hostname or "") and r.client for r in routes) for u in urls
    )
    async with (
        httpx.AsyncClient(timeout=per_probe, follow_redirects=False) if unrouted else _no_client()
    ) as own:

        async def one(url: str) -> None:
            try:
                with anyio.fail_after(per_probe):
                    counts[url] = await _read(url, probe, routes, own, allow_private)
            except TimeoutError:
                failures[url] = f"no answer within {per_probe:g} s"
            except ProbeFailed as exc:
                failures[url] = str(exc)

        async with anyio.create_task_group() as group:
            for url in urls:
                group.start_soon(one, url)
    if failures:
        raise ProbeFailed("; ".join(f"{url}{probe.path}: {why}" for url, why in failures.items()))
    return counts


@asynccontextmanager
async def _no_client() -> AsyncIterator[None]:
    yield None


async def _read(
    url: str,
    probe: IdleProbe,
    routes: Sequence[ProbeRoute],
    own: httpx.AsyncClient | None,
    allow_private: bool,
) -> float:
    host = urlsplit(url).hostname or ""
    route = next((r for r in routes if r.matches(host)), None)
    headers: Mapping[str, str] = {}
    target = url.rstrip("/") + probe.path
    client = own
    if route is not None:
        headers = {"host": urlsplit(url).netloc}
        target = route.base_url.rstrip("/") + probe.path
        client = route.client or own
    else:
        if not allow_private:
            refusal = await private_address_refusal(host)
            if refusal is not None:
                raise ProbeFailed(f"not probed: {refusal}, which no public provider can own")
        if not minds371.ALLOW_NETWORK and not is_loopback_url(url):
            raise ProbeFailed("not probed: network access is disabled (minds371.ALLOW_NETWORK)")
    assert client is not None  # made whenever an endpoint has no routed client
    try:
        async with client.stream("GET", target, headers=headers) as response:
            if response.status_code != 200:
                raise ProbeFailed(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise ProbeFailed(f"the answer is longer than {MAX_BODY} bytes")
    except httpx.HTTPError as exc:
        raise ProbeFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    return probe.count(body.decode("utf-8", errors="replace"))
