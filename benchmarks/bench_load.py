"""A thousand ``DEPLOY_TO_AKASH`` tasks at once against ``minds371 sandbox serve``.

Run: ``python benchmarks/bench_load.py [--mode memory|redis|both] [--tasks 1000]
[--block-time 0.1] [--workers 2] [--gc tuned|default] [--profile FILE]``

The sandbox runs as its own process (``minds371 sandbox serve``, fast blocks), so the client's CPU
is the client's alone. Its providers are the default set with enough capacity for every task
(``--providers`` file written here; the sandbox's own default capacity holds a few hundred such
deployments per provider, and the cheapest provider would fill up first).

* ``memory``: one process, the runtime's memory bus; one task alone first, then ``--tasks`` at
  once through the ``DeploymentAgent`` (request checks, registry, SDL, saga journal, deploy,
  registry record, monitor script), each in a fresh temporary ``MINDS371_HOME``. The process
  applies :func:`minds371.gc_tuning.tune_gc` first, as ``minds371 worker`` does and as the
  README advises a host that runs bursts (``--gc default`` leaves CPython's collector as it is).
* ``redis``: a ``redis-server`` on a free port and ``--workers`` processes started as
  ``minds371 worker --bus redis://127.0.0.1:PORT --concurrency N``, pointed at the served
  sandbox; this process dispatches onto the Redis Streams bus and awaits the results.

It prints the success count, wall time against one task's, p50/p99 time to ready (from
dispatch to the task's ``deployment.ready`` event), client CPU per task, the bytes the client
(or the workers) wrote to files per task, the sandbox server's CPU per task (not the client's,
but it shares the machine's cores), and the peak RSS of every process. On a VM whose file writes
cost CPU by the file system's state, the bytes written explain much of the spread between runs.
Targets: every task succeeds; wall time at most twice one task's plus 30 s; at most 400 MB RSS per
process; at most 5 ms of client CPU per task. Exit status 1 if a task failed or a deployment is
missing.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import json
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import structlog

from minds371 import AgentRuntime, AgentType, Task, TaskResult, TaskStatus
from minds371.gc_tuning import tune_gc
from minds371_akash.networks import SANDBOX_API_KEY
from minds371_sandbox import Capacity, SandboxServer, default_providers

GIB = 1024**3
MB = 1024 * 1024


def _request(name: str) -> dict[str, Any]:
    service = {"name": "web", "image": "nginx:1.27", "ports": [{"port": 80}]}
    return {"name": name, "infra_spec": {"services": [service], "max_price_uact": 100}}


def _task(name: str) -> Task:
    return Task(agent_type=AgentType.DEPLOYMENT, payload=_request(name))


def _providers_file(directory: Path, tasks: int) -> Path:
    """The default providers, each able to hold every task's deployment by itself."""
    cores = max(256, tasks) * 1000
    big = Capacity(
        cpu_millicores=cores,
        memory_bytes=max(1024, tasks * 2) * GIB,
        storage_bytes=max(16 * 1024, tasks * 8) * GIB,
        persistent_storage_bytes=max(8 * 1024, tasks * 8) * GIB,
    )
    specs = [p.model_copy(update={"capacity": big}) for p in default_providers()]
    path = directory / "providers.json"
    path.write_text(json.dumps([s.model_dump(mode="json") for s in specs]))
    return path


def _proc_number(pid: int, file: str, key: str) -> int:
    """The first number after ``key:`` in a live process's ``/proc/PID/<file>``; 0 if none."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def _peak_rss(pid: int) -> int:
    """A live process's peak resident set (``VmHWM``), in bytes."""
    return _proc_number(pid, "status", "VmHWM") * 1024


def _cpu_seconds(pid: int) -> float:
    """A live process's user plus system CPU seconds so far (``/proc/PID/stat``)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _written_bytes(pid: int) -> int:
    """Bytes a live process has written to files so far (``write_bytes`` of ``/proc/PID/io``).

    What it sent to the storage layer: state, journals, registry, scripts; not sockets.
    """
    return _proc_number(pid, "io", "write_bytes")


def _own_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Burst:
    """What one run of ``tasks`` at once measured."""

    wall: float
    cpu: float
    results: list[TaskResult]
    to_ready: list[float]
    rss: dict[str, int] = field(default_factory=dict)
    #: CPU seconds the worker processes spent on the burst (Redis mode).
    workers_cpu: float | None = None
    #: CPU seconds the sandbox server spent on the burst (it shares the machine's cores).
    sandbox_cpu: float | None = None
    #: Bytes the client (memory mode) or the workers (Redis mode) wrote to files in the burst.
    written: int = 0


async def _memory_burst(count: int, prefix: str, profile: cProfile.Profile | None) -> Burst:
    """``count`` tasks dispatched at once to one runtime on the memory bus."""
    async with AgentRuntime(concurrency=count) as runtime:
        dispatched = time.time()
        written = _written_bytes(os.getpid())
        start, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        handles = [await runtime.dispatch(_task(f"{prefix}-{i}")) for i in range(count)]
        results = [await handle.result() for handle in handles]
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        written = _written_bytes(os.getpid()) - written
        # Read after the measurement: following every task live would cost the client CPU.
        to_ready = [
            event.at.timestamp() - dispatched
            for handle in handles
            async for event in handle.events()
            if event.type == "deployment.ready"
        ]
    return Burst(wall, cpu, results, sorted(to_ready), written=written)


# -- Redis: worker processes ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds (polled: a worker's log is another process's file)."""
    while True:
        if condition():
            return
        await anyio.sleep(0.2)


@contextlib.asynccontextmanager
async def _redis_server(directory: Path) -> AsyncIterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis mode needs redis-server on PATH")
    port = _free_port()
    cmd = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    cmd += ["no", "--dir", str(directory)]
    process = await anyio.open_process(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with anyio.fail_after(10):
            while True:
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    await anyio.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        with anyio.move_on_after(10, shield=True):
            await process.wait()


async def _redis_burst(
    count: int,
    prefix: str,
    *,
    sandbox_url: str,
    workers: int,
    home: Path,
    sandbox_pid: int | None = None,
) -> Burst:
    """``count`` tasks dispatched onto the Redis Streams bus, served by ``workers`` processes.

    The workers run ``minds371 worker --bus URL --concurrency N`` with the served sandbox as their
    network (``MINDS371_SANDBOX_URL``, and the Console routes at ``MINDS371_CONSOLE_URL`` for
    ``--network console``), their state in the same Redis; this process dispatches with
    :class:`minds371.bus.remote.RemoteTasks` and awaits each task's result from there.
    """
    from minds371.bus.remote import RemoteTasks

    async with _redis_server(home) as url:
        env = {
            **os.environ,
            "MINDS371_SANDBOX_URL": sandbox_url,
            "MINDS371_CONSOLE_URL": sandbox_url,
            "MINDS371_CONSOLE_API_KEY": "sandbox-local-key",
        }
        concurrency = max(1, -(-count // workers))
        cmd = [sys.executable, "-m", "minds371.cli", "--log-level", "ERROR", "worker"]
        cmd += ["--bus", url, "--concurrency", str(concurrency)]
        paths = [home / f"worker-{n}.log" for n in range(workers)]
        logs = [path.open("wb") for path in paths]
        # Each worker its own home (its monitor scripts and embedded registry), as on separate
        # hosts; the tasks' state is shared in Redis.
        procs = [
            await anyio.open_process(
                cmd,
                env={**env, "MINDS371_HOME": str(home / f"worker-{n}")},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for n, log in enumerate(logs)
        ]
        try:
            # Measure from the moment every worker serves (their start is not the burst's).
            with anyio.fail_after(60):
                await _until(lambda: all(b"serving" in path.read_bytes() for path in paths))
            async with RemoteTasks(url) as remote:
                dispatched = time.time()
                start, cpu = time.perf_counter(), time.process_time()
                workers_cpu = sum(_cpu_seconds(p.pid) for p in procs)
                written = sum(_written_bytes(p.pid) for p in procs)
                sandbox_cpu = _cpu_seconds(sandbox_pid) if sandbox_pid else 0.0
                handles = [await remote.dispatch(_task(f"{prefix}-{i}")) for i in range(count)]
                results = [await handle.result() for handle in handles]
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                workers_cpu = sum(_cpu_seconds(p.pid) for p in procs) - workers_cpu
                written = sum(_written_bytes(p.pid) for p in procs) - written
                if sandbox_pid:
                    sandbox_cpu = _cpu_seconds(sandbox_pid) - sandbox_cpu
                to_ready = [
                    event.at.timestamp() - dispatched
                    for handle in handles
                    async for event in handle.events()
                    if event.type == "deployment.ready"
                ]
            rss = {f"worker {n + 1}": _peak_rss(p.pid) for n, p in enumerate(procs)}
        finally:
            for proc in procs:
                proc.terminate()
            with anyio.CancelScope(shield=True):
                for proc in procs:
                    with anyio.move_on_after(20):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
            for log in logs:
                log.close()
    burst = Burst(wall, cpu, results, sorted(to_ready), rss, workers_cpu, written=written)
    burst.sandbox_cpu = sandbox_cpu if sandbox_pid else None
    return burst


# -- report --------------------------------------------------------------------------------------


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _report(mode: str, tasks: int, one: Burst, burst: Burst, rss: dict[str, int]) -> bool:
    statuses = collections.Counter(r.status.value for r in burst.results if r is not None)
    errors = collections.Counter(
        f"{r.error.type}: {r.error.message[:120]}"
        for r in burst.results
        if r is not None and r.error is not None
    )
    dseqs = {str(r.output["dseq"]) for r in burst.results if r is not None and r.output}
    ok = statuses.get(TaskStatus.COMPLETED.value) == tasks and len(dseqs) == tasks
    limit = 2 * one.wall + 30
    print(f"mode                       {mode}")
    print(f"succeeded                  {statuses.get('completed', 0)} of {tasks} {dict(statuses)}")
    for error, n in errors.most_common(5):
        print(f"  {n} x {error}")
    print(f"distinct deployments       {len(dseqs)}")
    print(f"one task                   {one.wall:.2f} s")
    print(
        f"{tasks} at once{'':<{15 - len(str(tasks))}}"
        f"{burst.wall:.2f} s ({burst.wall / one.wall:.1f}x one task; target <= {limit:.1f} s)"
    )
    print(
        f"time to ready              p50 {_percentile(burst.to_ready, 50):.2f} s, "
        f"p99 {_percentile(burst.to_ready, 99):.2f} s ({len(burst.to_ready)} ready events)"
    )
    print(f"client CPU per task        {burst.cpu / tasks * 1000:.2f} ms (target <= 5)")
    if burst.workers_cpu is not None:
        print(f"workers' CPU per task      {burst.workers_cpu / tasks * 1000:.2f} ms")
    who = "workers" if burst.workers_cpu is not None else "client"
    print(f"file writes per task       {burst.written / tasks / 1024:.0f} KiB ({who})")
    if burst.sandbox_cpu is not None:
        print(f"sandbox CPU per task       {burst.sandbox_cpu / tasks * 1000:.2f} ms (not client)")
    for name, size in rss.items():
        print(f"peak RSS {name:<18}{size / MB:.0f} MB")
    return ok


async def main(args: argparse.Namespace, home: Path) -> int:
    ok = True
    with contextlib.ExitStack() as stack:
        providers = _providers_file(home, args.tasks)
        async with SandboxServer(block_time=args.block_time, providers_file=providers) as server:
            os.environ["MINDS371_SANDBOX_URL"] = server.base_url
            assert server.pid is not None
            # Each task deposits 0.5 ACT: the wallet gets enough for every burst of the run
            # (1,000 tasks in each of two modes would otherwise outspend its starting 1,000 ACT).
            await server.set_balance(SANDBOX_API_KEY, 10**9 + 4 * (args.tasks + 1) * 10**6)
            if args.mode in ("memory", "both"):
                profile = cProfile.Profile() if args.profile else None
                one = await _memory_burst(1, "single", None)
                if args.gc == "tuned":
                    tune_gc()  # once the plugins are loaded, as a worker does when it serves
                sandbox_cpu = _cpu_seconds(server.pid)
                burst = await _memory_burst(args.tasks, "burst", profile)
                burst.sandbox_cpu = _cpu_seconds(server.pid) - sandbox_cpu
                if profile is not None:
                    profile.dump_stats(args.profile)
                rss = {"client": _own_peak_rss(), "sandbox": _peak_rss(server.pid)}
                ok &= _report("memory bus, one process", args.tasks, one, burst, rss)
            if args.mode in ("redis", "both"):
                where = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=home)))
                one = await _redis_burst(
                    1, "rsingle", sandbox_url=server.base_url, workers=args.workers, home=where
                )
                burst = await _redis_burst(
                    args.tasks,
                    "rburst",
                    sandbox_url=server.base_url,
                    workers=args.workers,
                    home=where,
                    sandbox_pid=server.pid,
                )
                rss = {"client": _own_peak_rss(), **burst.rss, "sandbox": _peak_rss(server.pid)}
                ok &= _report(f"redis, {args.workers} workers", args.tasks, one, burst, rss)
    return 0 if ok else 1


def _cli() -> int:
    # A benchmark is an application: keep the library's info events off the measurement.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("memory", "redis", "both"), default="memory")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--block-time", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--gc",
        choices=("tuned", "default"),
        default="tuned",
        help="memory mode: tune this process's garbage collector as minds371 worker does",
    )
    parser.add_argument("--profile", help="write a cProfile of the burst (memory mode) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minds371-bench-") as home:
        os.environ["MINDS371_HOME"] = home
        return anyio.run(main, args, Path(home))


if __name__ == "__main__":
    sys.exit(_cli())
