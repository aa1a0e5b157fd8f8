"""``SandboxServer.pid``: the served sandbox's process, for CPU accounting."""

from __future__ import annotations

import anyio

from minds371_sandbox import SandboxServer


async def test_pid_names_the_running_server_process_until_it_stops():
    server = SandboxServer(block_time=60)
    assert server.pid is None
    async with server:
        pid = server.pid
        assert pid is not None
        cmdline = (await anyio.Path(f"/proc/{pid}/cmdline").read_bytes()).split(b"\0")
        assert b"serve" in cmdline and server.base_url.startswith("http://127.0.0.1:")
    assert server.pid is None
