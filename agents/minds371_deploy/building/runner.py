"""A bounded subprocess: argv only, its own process group, a deadline, captured redacted output.

Every command of the build step (git, build commands, the image builder) runs through
:func:`run_bounded`. The process starts in a new session, so that on a timeout (or a watchdog's
verdict, or cancellation) the whole group it spawned is killed, not just its leader. Output
(stdout and stderr together) is read line by line, redacted of registered secrets, handed to
``on_line`` and kept (its last :data:`TAIL_BYTES`) for the error message.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process

from minds371.logging import redact

__all__ = ["TAIL_BYTES", "CommandResult", "run_bounded"]

#: How much of a command's output is kept for its result (the end, where errors are).
TAIL_BYTES = 16 * 1024
#: Longest line passed on; the rest of a longer line is cut.
_MAX_LINE = 2000


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a bounded command ended.

    Attributes:
        returncode: Its exit status (negative: killed by that signal).
        output: The last :data:`TAIL_BYTES` of its output, redacted.
        stopped: Why it was stopped, if it was (``"timed out after 5 s"``, a watchdog's reason).
    """

    returncode: int
    output: str
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        """It exited with status 0 on its own."""
        return self.returncode == 0 and self.stopped is None

    def tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of output, for an error message."""
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


async def run_bounded(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    time_limit: float,
    on_line: Callable[[str], Awaitable[None]] | None = None,
    watchdog: Callable[[], str | None] | None = None,
    watch_every: float = 0.5,
) -> CommandResult:
    """Run ``argv`` (no shell) in ``cwd`` with exactly ``env``, for at most ``time_limit`` s.

    Args:
        argv: The program and its arguments.
        cwd: Working directory.
        env: The whole environment of the process (nothing is inherited).
        time_limit: Seconds until the process group is killed.
        on_line: Called with each redacted output line.
        watchdog: Polled every ``watch_every`` seconds; a non-``None`` answer is the reason to
            kill the process group now (a clone grown past its size limit).
        watch_every: Seconds between watchdog polls.

    Raises:
        OSError: the program could not be started (not installed, not executable).
    """
    process = await anyio.open_process(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tail = bytearray()
    stopped: str | None = None
    drained = anyio.Event()
    try:
        async with anyio.create_task_group() as group:

            async def read() -> None:
                assert process.stdout is not None
                pending = b""
                async for chunk in process.stdout:
                    tail.extend(chunk)
                    del tail[:-TAIL_BYTES]
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        await _emit(line, on_line)
                    pending = pending[-_MAX_LINE:]
                if pending:
                    await _emit(pending, on_line)
                drained.set()

            async def watch() -> None:
                nonlocal stopped
                assert watchdog is not None
                while True:
                    await anyio.sleep(watch_every)
                    reason = watchdog()
                    if reason is not None:
                        stopped = reason
                        _kill_group(process)
                        return

            group.start_soon(read)
            if watchdog is not None:
                group.start_soon(watch)
            with anyio.move_on_after(time_limit) as deadline:
                await process.wait()
            if deadline.cancelled_caught:
                stopped = stopped or f"timed out after {time_limit:g} s"
            # The leader is gone; what it left running in its group goes too, which closes the
            # pipe, so the reader sees the end of the output (a process that left the group and
            # kept the pipe open gets a few seconds, not forever).
            _kill_group(process)
            with anyio.move_on_after(5):
                await drained.wait()
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            _kill_group(process)
            await process.wait()
            await process.aclose()
    output = redact(tail.decode("utf-8", "replace"))
    return CommandResult(process.returncode or 0, str(output), stopped)


async def _emit(line: bytes, on_line: Callable[[str], Awaitable[None]] | None) -> None:
    if on_line is None:
        return
    text = line[:_MAX_LINE].decode("utf-8", "replace").rstrip("\r")
    if text.strip():
        await on_line(str(redact(text)))


def _kill_group(process: Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
