"""Deploy latency and concurrency against ``minds371 sandbox serve`` with a known block time.

Run: ``python benchmarks/bench_deploy.py [--block-time 0.2] [--runs 5] [--concurrency 200]``

1. Latency: ``deploy()`` of a one-service SDL, from the call to every service ready, divided by
   the sandbox's own minimum for that deployment: the fastest fitting provider's bid delay + the
   lease visibility block + the image pull blocks, times the block time (``/sandbox/info``).
   Target: median ratio <= 1.10.
2. Load: ``--concurrency`` deployments at once through one client; all must succeed; wall time
   compared with one deployment's (target <= 2x); peak RSS of this (client) process; the CPU
   seconds the client (this process) and the server (its subprocess, from ``/proc``) spent during
   the burst, and the Console requests per deployment (both processes share the machine's cores,
   so these say which side a slow burst is waiting on).

The bid policy takes the first acceptable bid (``enough_bids=1``): the benchmark measures the
client's overhead, not a policy's deliberate wait for better bids.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import anyio
import httpx
import structlog

from minds371_akash import AkashIntegrationProvider, BidPolicy, DeploymentResult
from minds371_akash.market import ConsoleBackend, MarketBackend
from minds371_akash.networks import open_backend
from minds371_sandbox import SandboxServer

SDL = """
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.1}
        memory: {size: 128Mi}
        storage: {size: 256Mi}
  placement:
    dc:
      pricing:
        web: {denom: uact, amount: 1000}
deployment:
  web:
    dc: {profile: web, count: 1}
"""

POLL_DIVISOR = 8  # polls per block while waiting (the client's reaction time)
FIRST_FIT = BidPolicy(enough_bids=1, bid_window_blocks=0)


def _provider(backend: MarketBackend, block_time: float) -> AkashIntegrationProvider:
    return AkashIntegrationProvider(
        backend,
        policy=FIRST_FIT,
        bid_timeout=120,
        ready_timeout=300,
        poll_interval=block_time / POLL_DIVISOR,
    )


async def _minimum(server: SandboxServer, block_time: float) -> float:
    info = await server.info()
    config = info["config"]
    fastest = min(p["bid_delay_blocks"] for p in info["providers"] if p["audited"] and p["online"])
    blocks = fastest + int(config["lease_visibility_blocks"]) + int(config["pull_blocks"])
    return float(blocks * block_time)


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used, from ``/proc`` (None where unreadable)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _RequestCounter:
    """Counts the backend's HTTP requests by method and route (dseqs folded away)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    async def __call__(self, request: httpx.Request) -> None:
        parts = request.url.path.split("/")
        route = "/".join(
            "{id}" if part.isdigit() or part.startswith("akash1") else part for part in parts
        )
        self.counts[f"{request.method} {route}"] += 1


async def _timed(akash: AkashIntegrationProvider) -> tuple[float, DeploymentResult]:
    start = time.perf_counter()
    result = await akash.deploy(SDL)
    return time.perf_counter() - start, result


async def main(block_time: float, runs: int, concurrency: int) -> int:
    async with SandboxServer(block_time=block_time, api_keys=["bench-key"]) as server:
        minimum = await _minimum(server, block_time)
        async with open_backend(
            "sandbox", sandbox_url=server.base_url, api_key="bench-key"
        ) as backend:
            akash = _provider(backend, block_time)
            await _timed(akash)  # warm-up: imports, connections, JWT-free paths
            single: list[float] = []
            for _ in range(runs):
                elapsed, result = await _timed(akash)
                single.append(elapsed)
                await akash.close(result.dseq)
            median = statistics.median(single)
            print(f"block time                 {block_time:.3f} s")
            print(f"sandbox minimum            {minimum:.3f} s")
            print(f"deploy to ready (median)   {median:.3f} s over {runs} runs")
            print(f"  each                     {', '.join(f'{x:.3f}' for x in single)}")
            ratio = median / minimum
            print(f"ratio (target <= 1.10)     {ratio:.3f}")

            failures: list[str] = []
            done: list[DeploymentResult] = []
            counter = _RequestCounter()
            if isinstance(backend, ConsoleBackend):
                backend.http_client.event_hooks["request"].append(counter)

            async def one() -> None:
                try:
                    done.append(await akash.deploy(SDL))
                except Exception as exc:
                    failures.append(repr(exc)[:200])

            server_cpu = _process_cpu(server.pid)
            client_cpu = time.process_time()
            start = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(concurrency):
                    tg.start_soon(one)
            wall = time.perf_counter() - start
            client_cpu = time.process_time() - client_cpu
            server_end = _process_cpu(server.pid)
            rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"concurrent deployments     {len(done)}/{concurrency} succeeded")
            times = wall / median
            print(f"wall time                  {wall:.3f} s ({times:.2f}x one; target <= 2)")
            print(f"peak RSS (client process)  {rss_kib / 1024:.1f} MiB")
            print(f"client CPU in the burst    {client_cpu:.3f} s")
            if server_cpu is not None and server_end is not None:
                print(f"server CPU in the burst    {server_end - server_cpu:.3f} s")
            requests = sum(counter.counts.values())
            if requests:
                print(
                    f"requests                   {requests} "
                    f"({requests / concurrency:.2f} per deployment, {requests / wall:.0f}/s)"
                )
                for route, count in counter.counts.most_common():
                    print(f"  {route:32s} {count}")
            for failure in failures[:5]:
                print(f"  failure: {failure}")
            for result in done:
                await akash.close(result.dseq)
    ok = ratio <= 1.10 and not failures and wall <= 2 * median
    return 0 if ok else 1


def _cli() -> int:
    # A benchmark is an application: keep the library's info events off the measurement.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--block-time", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    return anyio.run(main, args.block_time, args.runs, args.concurrency)


if __name__ == "__main__":
    sys.exit(_cli())
