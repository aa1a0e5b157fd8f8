"""``minds371 worker``: serve a Redis bus until SIGTERM or Ctrl-C (see :mod:`minds371.bus.worker`).

Exit codes: 0 after a graceful stop, 1 when Redis fails, 2 for bad options (a bad URL, a state
backend several processes cannot share).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import anyio

from minds371.errors import ConfigurationError


async def run_worker_command(args: argparse.Namespace) -> int:
    """The ``worker`` sub-command's handler."""
    from minds371.bus.redis import RedisTaskBus
    from minds371.bus.worker import BUS_ENV, WorkerConfig, public_url, serve_worker
    from minds371.gc_tuning import tune_gc

    url = args.bus or os.environ.get(BUS_ENV, "").strip()
    if not url:
        raise ConfigurationError(f"--bus: give the Redis URL of the bus (or set {BUS_ENV})")
    config = WorkerConfig(
        bus_url=url,
        state=args.state,
        concurrency=args.concurrency,
        namespace=args.namespace,
        claim_idle=args.claim_idle,
        grace=args.grace,
    )
    stop = anyio.Event()

    def ready(bus: RedisTaskBus) -> None:
        tune_gc()  # a worker runs many tasks at once: see minds371.gc_tuning
        print(
            f"minds371 worker {bus.consumer}: serving {public_url(url)} (stream {bus.stream}), "
            f"concurrency {config.concurrency}; SIGTERM or Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )

    async with anyio.create_task_group() as group:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if stop.is_set():
                        group.cancel_scope.cancel()  # a second signal: hand back at once
                        return
                    print(
                        f"minds371 worker: stopping; running tasks get {config.grace:g} s "
                        "to finish (signal again to hand them back now)",
                        file=sys.stderr,
                        flush=True,
                    )
                    stop.set()

        group.start_soon(on_signal)
        await serve_worker(config, stop, on_ready=ready)
        group.cancel_scope.cancel()
    print("minds371 worker: stopped", file=sys.stderr, flush=True)
    return 0
