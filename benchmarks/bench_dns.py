"""How fast a domain's record moves: RFC 2136 updates to a local BIND9, Cloudflare's stand-in.

Run: ``python benchmarks/bench_dns.py [--updates 100]`` (needs ``named``, Debian package bind9)

Starts ``named`` on 127.0.0.1 with a zone that takes TSIG-signed updates (as the tests do), then
for each update measures the signed no-op check a deploy makes before spending, the upsert (a
CNAME moved to a new ingress host, as after a failover) and the time until ``named`` serves the
new target. Then the same upserts against the local Cloudflare stand-in over HTTP. Prints
median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import dns.asyncquery
import dns.message

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minds371_deploy.domains import DnsRecord
from minds371_deploy.domains.cloudflare import CloudflareProvider
from minds371_deploy.domains.rfc2136 import Rfc2136Provider, Rfc2136Settings
from tests.servers.bind import Bind, running_bind
from tests.servers.cloudflare import cloudflare_standin


def _summary(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    print(
        f"{label:<34} median {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"
    )


async def _timed(samples: list[float], call: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await call()
    samples.append(time.perf_counter() - started)


async def _bind(server: Bind, updates: int) -> None:
    provider = Rfc2136Provider(
        Rfc2136Settings(
            server=server.server,
            port=server.port,
            zone=server.zone,
            key_name=server.key_name,
            key_secret=server.key_secret,
        )
    )
    name = f"app.{server.zone}"
    checks: list[float] = []
    upserts: list[float] = []
    served: list[float] = []
    for index in range(updates):
        await _timed(checks, lambda: provider.check(name))
        target = f"h{index}.ingress.p{index % 3}.test"
        started = time.perf_counter()
        await provider.upsert(DnsRecord(name, "CNAME", target))
        upserts.append(time.perf_counter() - started)
        while True:
            query = dns.message.make_query(name, "CNAME")
            answer = await dns.asyncquery.tcp(query, server.server, port=server.port)
            if answer.answer and answer.answer[0][0].to_text().rstrip(".") == target:
                break
        served.append(time.perf_counter() - started)
    _summary("rfc2136 check (signed no-op)", checks)
    _summary("rfc2136 upsert", upserts)
    _summary("rfc2136 upsert until served", served)


async def _cloudflare(updates: int) -> None:
    with cloudflare_standin() as standin:
        standin.tokens.add("bench-token")
        zone = standin.add_zone("example.com")
        provider = CloudflareProvider(api_token="bench-token", zone_id=zone, api_url=standin.url)
        upserts: list[float] = []
        for index in range(updates):
            record = DnsRecord("app.example.com", "CNAME", f"h{index}.test", proxied=True)
            started = time.perf_counter()
            await provider.upsert(record)
            upserts.append(time.perf_counter() - started)
        _summary("cloudflare stand-in upsert", upserts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    args = parser.parse_args()
    with running_bind(Path(tempfile.mkdtemp(prefix="bench-dns-"))) as server:
        anyio.run(_bind, server, args.updates)
    anyio.run(_cloudflare, min(args.updates, 50))


if __name__ == "__main__":
    main()
